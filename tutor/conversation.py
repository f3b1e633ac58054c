"""One conversation's state: what a follow-up is resolved against.

A page session (and a `genai-tutor chat` process) keeps one Conversation: the recent turns, the
current topic (the concept and the sections of the last answer), the guiding or check question the
tutor is waiting on, whether guided (Socratic) mode is on, a demo it offered to run, and (inherited)
the quiz state with the last demo run's trace.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tutor.quiz_turn import QuizSession

RECENT = 10  # turns kept (learner and tutor messages together)


@dataclass
class Guiding:
    """A guiding question the tutor asked and is waiting on (guided mode, or an answer's check)."""

    concept: str
    question: int  # index into the concept's teaching questions
    hints: int = 0  # hints given so far; after two, the tutor explains
    covered: set[int] = field(default_factory=set)  # expectations the learner has stated
    check: bool = False  # an answer's check question (one round of feedback), not guided mode


@dataclass
class Conversation(QuizSession):
    turns: list[tuple[str, str]] = field(default_factory=list)  # (role, text), the last RECENT
    concept: str | None = None  # the current topic: the concept of the last explanation
    sections: list[str] = field(default_factory=list)  # the sections cited in the last answer
    layers: set[str] = field(default_factory=set)  # teaching layers of the concept already shown
    guiding: Guiding | None = None
    guide_mode: bool = False  # ask before telling
    questioned: dict[str, set[int]] = field(default_factory=dict)  # guiding questions asked, per concept
    offer: str | None = None  # a command the tutor offered to run ("Shall I run ...?")
    prediction: tuple | None = None  # (tool, tools.base.Prediction): the learner is predicting a re-run

    def remember(self, role: str, text: str) -> None:
        if text:
            self.turns = [*self.turns, (role, text[:2000])][-RECENT:]

    def on_topic(self, concept: str, sections: list[str], layers: set[str]) -> None:
        """The answer just given is about `concept`; a follow-up now refers to it."""
        if concept != self.concept:
            self.layers = set()
        self.concept, self.sections = concept, sections
        self.layers |= layers

    def next_question(self, concept: str, count: int) -> int:
        """The concept's next guiding question not yet asked in this conversation (then round again)."""
        asked = self.questioned.setdefault(concept, set())
        fresh = [i for i in range(count) if i not in asked] or list(range(count))
        if len(fresh) == count:
            asked.clear()
        asked.add(fresh[0])
        return fresh[0]

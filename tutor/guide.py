"""Guided (Socratic) mode and check questions: ask before telling, then answer the learner's reply.

The tutor asks one of the concept's authored guiding questions. The learner's free-text reply is
compared, by sentence embeddings (the offline MiniLM), with the question's expectations (the key points
a good answer contains) and the concept's misconceptions. The feedback names what was right, corrects
a misconception it recognises, and gives the authored hint for the first point still missing; after two
hints (one for an answer's check question) it explains in full. The outcome is recorded in the same
learner model as the quiz when the learner has a name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from knowledge.lessons import load_lessons
from knowledge.quizbank import QuizItem
from knowledge.teaching import Misconception, Teaching
from tools.markup import code
from tutor.conversation import Conversation, Guiding
from tutor.events import Citations, Event, Notice, Options, TextDelta
from tutor.grading import content_words, split_sentences, uses_words
from tutor.learner_store import LearnerError
from tutor.quiz import QuizEngine
from tutor.teach import Teacher, plain_answer

# A spoken-style reply is short and the authored point is a full sentence, so a point counts as said at
# a lower similarity than a quiz's key point (0.55); measured on tests/test_guide.py's scripted learners.
POINT_HIT = 0.42
MISCONCEPTION_HIT = 0.6  # a sentence of the reply this close to a misconception states it...
MISCONCEPTION_MARGIN = 0.05  # ...when it is also closer to the misconception than to its correction
HINTS = {False: 2, True: 1}  # hints before the full explanation: guided mode, a check question
SKIP = re.compile(r"^\s*(?:skip|pass|next|tell me|just tell me|show me the answer|give up)\W*$", re.I)


@dataclass
class Judgement:
    covered: list[int]  # the expectations the reply states
    misconception: Misconception | None


class Guide:
    def __init__(self, teacher: Teacher, engine: QuizEngine):
        self.teacher, self.engine = teacher, engine
        self.lessons = {c: lesson.id for lesson in reversed(load_lessons()) for c in lesson.concepts}

    def ask(self, conv: Conversation, slug: str, check: bool = False) -> int:
        """Pose the concept's next guiding question; its index."""
        item = self.teacher.teaching[slug]
        index = conv.next_question(slug, len(item.questions))
        conv.guiding = Guiding(slug, index, check=check)
        return index

    def start(self, conv: Conversation, slug: str) -> Iterator[Event]:
        """Guided mode on a concept: a question instead of an explanation."""
        index = self.ask(conv, slug)
        question = self.teacher.teaching[slug].questions[index].ask
        conv.on_topic(slug, [], set())
        yield TextDelta(
            f"🧭 **Let's think it through: {self.teacher.title(slug)}**\n\n{question}\n\n"
            "*Answer in your own words; a guess is fine. Type **skip** to get the explanation.*"
        )

    def command(self, conv: Conversation, topic: str) -> Iterator[Event]:
        """`/guide TOPIC` asks about the topic; `/guide on` and `/guide off` switch guided mode."""
        if topic.casefold() in ("on", "off"):
            conv.guide_mode = topic.casefold() == "on"
            yield TextDelta(
                "Guided mode is on: I'll ask you a question before I explain."
                if conv.guide_mode
                else "Guided mode is off: I'll explain first and check with one short question."
            )
            return
        slug = topic_of(self.teacher, topic) if topic else conv.concept
        if slug is None:
            yield Notice(
                f"I have no guided questions on {code(topic or 'that')}. Try `/guide attention`.", "info"
            )
            return
        yield from self.start(conv, slug)

    def judge(self, item: Teaching, guiding: Guiding, text: str) -> Judgement:
        """Which expectations the reply states and which misconception, if any. A sentence states a
        point when it is close to it and closer to it than to the question (restating the question
        is not an answer), or the reply uses most of its words; a reply that states a misconception
        earns no point."""
        question = item.questions[guiding.question]
        points = [e.point for e in question.expectations]
        said = split_sentences(text)
        said += [text] if len(said) > 1 else []
        wrongs, rights = [m.wrong for m in item.misconceptions], [m.right for m in item.misconceptions]
        v = np.array(self.teacher.embedder.embed([question.ask, *points, *wrongs, *rights, *said]))
        n, m = len(points), len(wrongs)
        asked, p, w, r, s = (
            v[0],
            v[1 : 1 + n],
            v[1 + n : 1 + n + m],
            v[1 + n + m : 1 + n + 2 * m],
            v[-len(said) :],
        )
        to_wrong, to_right = (w @ s.T).max(axis=1), (r @ s.T).max(axis=1)
        best = int(to_wrong.argmax())
        if to_wrong[best] >= MISCONCEPTION_HIT and to_wrong[best] >= to_right[best] + MISCONCEPTION_MARGIN:
            return Judgement([], item.misconceptions[best])
        close = ((p @ s.T) >= POINT_HIT) & ((p @ s.T) > (s @ asked))  # (points, sentences)
        used = content_words(text)
        covered = [i for i, point in enumerate(points) if close[i].any() or uses_words(point, used)]
        return Judgement(covered, None)

    def reply(self, conv: Conversation, text: str) -> Iterator[Event]:
        """The learner's answer to the open guiding question: feedback, a hint, or the explanation."""
        guiding = conv.guiding
        slug = guiding.concept
        item = self.teacher.teaching[slug]
        question = item.questions[guiding.question]
        if SKIP.match(text):
            conv.guiding = None
            yield from self._explain(conv, item, slug, guiding, text, record=False)
            return
        judgement = self.judge(item, guiding, text)
        fresh = [i for i in judgement.covered if i not in guiding.covered]
        guiding.covered |= set(judgement.covered)
        lines = []
        if judgement.misconception is not None:
            m = judgement.misconception
            lines.append(f"⚠️ **A common mix-up:** *{m.wrong}* In fact: {m.right}")
        lines += [f"✅ **Right:** {question.expectations[i].point}" for i in sorted(fresh)]
        missing = [i for i in range(len(question.expectations)) if i not in guiding.covered]
        if not missing and judgement.misconception is None:
            conv.guiding = None
            lines.append("🎉 **That's the heart of it.**")
            yield TextDelta("\n\n".join(lines) + "\n\n")
            yield from self._record(conv, item, slug, guiding, text, True)
            yield Options(self.teacher.options(slug))
            return
        if guiding.hints < HINTS[guiding.check]:
            target = question.expectations[missing[guiding.hints % len(missing)]] if missing else None
            if not lines:
                lines.append("Not quite yet, but let's build on it.")
            if target is not None:
                lines.append(f"💡 **Hint:** {target.hint}")
            guiding.hints += 1
            lines.append("*Try again in your own words, or type **skip** for the explanation.*")
            yield TextDelta("\n\n".join(lines))
            return
        conv.guiding = None
        yield TextDelta("\n\n".join(lines) + "\n\n" if lines else "")
        yield from self._explain(conv, item, slug, guiding, text, record=True)

    def _explain(self, conv, item: Teaching, slug: str, guiding: Guiding, text: str, record: bool):
        question = item.questions[guiding.question]
        points = "\n".join(f"- {e.point}" for e in question.expectations)
        yield TextDelta(
            f"**Here is the explanation.**\n\n{plain_answer(item.plain)}\n\n"
            f"**What a full answer says:**\n{points}\n\n"
        )
        yield Citations(self.teacher.cite(slug, ["plain"]))
        if record:
            yield from self._record(conv, item, slug, guiding, text, False)
        yield Options(self.teacher.options(slug))

    def _record(self, conv, item: Teaching, slug: str, guiding: Guiding, text: str, correct: bool):
        """The outcome in the learner model (named learners only)."""
        if not conv.learner.strip():
            yield TextDelta("*Type your name at the top to have your answers count towards your progress.*")
            return
        question = item.questions[guiding.question]
        quiz_item = QuizItem(
            id=f"guide-{slug}-{guiding.question + 1}",
            concept=slug,
            difficulty=2,
            type="short_answer",
            question=question.ask,
            explanation=item.plain,
            lesson=self.lessons[slug],
            reference=" ".join(e.point for e in question.expectations),
            key_points=[e.point for e in question.expectations],
        )
        try:
            fb = self.engine.record_guided(conv.learner, conv.token, quiz_item, text, correct)
        except LearnerError as e:
            yield Notice(str(e), "info")
            return
        yield TextDelta(
            f"📈 Mastery of *{self.teacher.title(slug)}*: {fb.p_before:.0%} → {fb.p_after:.0%}"
            + (" · 🎉 **mastered!**" if fb.mastered else "")
        )


def topic_of(teacher: Teacher, text: str) -> str | None:
    """The concept a `/guide TOPIC` names, or None."""
    words = text.casefold()
    for slug, concept in teacher.concepts.items():
        if words in (slug, concept.title.casefold(), slug.replace("-", " ")):
            return slug
    best, score = teacher.closest_concepts(text)[0]
    return best if score >= 0.3 else None

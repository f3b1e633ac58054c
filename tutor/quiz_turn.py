"""The quiz inside a chat: "quiz me", "quiz me on diffusion", "/quiz run", answers, and "/quiz stop".

A QuizSession is one page session's (or one terminal's) quiz state: who is answering, the running
score, and the questions about the last demo still to ask. The open question itself lives in the
learner store, so a reload or a restart never loses it and an answer is graded exactly once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from knowledge.quizbank import QuizItem
from tools.markup import code
from tutor.events import Event, Notice, QuizAsk, QuizResult, TextDelta
from tutor.learner_store import LearnerError
from tutor.quiz import QuizEngine

REQUEST = re.compile(r"^\s*(?:/quiz\b|quiz me\b|test me\b|give me a quiz\b|start (?:a|the) quiz\b)", re.I)
STOP = {"stop", "end", "quit", "exit", "done"}
RUN = re.compile(r"\b(?:run|trace|demo)\b", re.I)
MAX_CHOICE_ANSWER = 60  # longer messages while a choice question is open are chat, not answers


@dataclass
class QuizSession:
    learner: str = ""
    token: str | None = None  # the browser's own id (see learner_store.learner_key)
    active: bool = False
    asked: int = 0
    right: int = 0
    focus: list[str] | None = None
    run_items: list[QuizItem] = field(default_factory=list)
    last_trace: object = None  # tools.trace.PipelineTrace of the last demo
    open_id: str | None = None
    open_has_choices: bool = False

    def score(self) -> str:
        return f"Score this session: **{self.right}/{self.asked}**" if self.asked else ""


def _no_questions(_trace) -> list[QuizItem]:
    return []


class QuizTurns:
    def __init__(self, engine: QuizEngine, run_questions: Callable[[object], list[QuizItem]] = _no_questions):
        """`run_questions(trace)`: the questions about a demo run (the registry asks the tool that ran)."""
        self.engine = engine
        self.run_questions = run_questions

    @staticmethod
    def is_request(message: str) -> bool:
        return bool(REQUEST.match(message))

    @staticmethod
    def expects_answer(session: QuizSession | None, message: str) -> bool:
        """Whether this message answers the open question (commands and long questions are chat)."""
        if session is None or not session.open_id or message.startswith("/") or REQUEST.match(message):
            return False
        return not session.open_has_choices or (len(message) <= MAX_CHOICE_ANSWER and "?" not in message)

    def remember_run(self, session: QuizSession, trace) -> int:
        """Keep a demo's trace for questions about it; the number of such questions."""
        session.last_trace = trace
        session.run_items = self.run_questions(trace)
        return len(session.run_items)

    def request(self, session: QuizSession, message: str) -> Iterator[Event]:
        rest = REQUEST.sub("", message, count=1).strip(" .!?")
        rest = re.sub(r"^(?:me\s+)?(?:on|about)\s+", "", rest, flags=re.I)
        if rest.casefold() in STOP:
            session.active, session.open_id = False, None
            yield TextDelta(f"Quiz stopped. {session.score()}".strip())
            return
        try:
            if RUN.search(rest):
                if session.last_trace is None:
                    yield Notice(
                        "Run a demo first (for example `/demo text The cat sat`), then ask me about it.",
                        "info",
                    )
                    return
                if not session.run_items:
                    session.run_items = self.run_questions(session.last_trace)
                session.focus = None
            else:
                focus = self.engine.topic(rest) if rest else None
                if focus == set():
                    yield Notice(
                        f"I have no quiz on {code(rest)}. Here is a question from what you are learning.",
                        "info",
                    )
                    focus = None
                session.focus = sorted(focus) if focus else None
            session.active = True
            yield from self._ask(session)
        except LearnerError as e:
            yield Notice(str(e), "info")

    def answer(self, session: QuizSession, text: str, question_id: str | None = None) -> Iterator[Event]:
        try:
            feedback = self.engine.answer(
                session.learner, text, question_id or session.open_id, session.token
            )
        except LearnerError as e:
            yield Notice(str(e), "info")
            return
        session.open_id = None
        session.asked += 1
        session.right += int(feedback.correct)
        yield QuizResult(feedback, session.score())
        if session.active:
            yield from self._ask(session)

    def _ask(self, session: QuizSession) -> Iterator[Event]:
        engine = self.engine
        if session.run_items:
            learner_id = engine.store.learner(session.learner, token=session.token)
            question = engine.pose(learner_id, session.run_items.pop(0), "trace")
        else:
            focus = set(session.focus) if session.focus else None
            question = engine.next_question(session.learner, focus, session.token)
        if question is None:
            session.active = False
            where = " on this topic" if session.focus else ""
            yield TextDelta(
                f"🎉 You have mastered everything{where} that I can quiz you on right now. Reviews come back "
                f"when they are due. {session.score()}"
            )
            return
        session.open_id, session.open_has_choices = question.id, bool(question.choices)
        yield QuizAsk(question, session.score())

"""What one chat turn emits, in order, to the page and the CLI alike."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Citation:
    lesson_id: str
    title: str
    section: str
    concepts: list[str]

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class TextDelta:
    """A piece of the answer's Markdown, appended to what came before."""

    text: str


@dataclass(frozen=True)
class Notice:
    """Something the learner should know (bad input, a backend error) and what to do about it."""

    text: str
    level: str = "warning"  # "info" | "warning" | "error"


@dataclass(frozen=True)
class Citations:
    citations: list[Citation]


@dataclass(frozen=True)
class ToolStart:
    name: str
    args: dict


@dataclass(frozen=True)
class ToolProgress:
    name: str
    line: str
    row: object = None  # a finished training epoch (tools.trace.EpochRow), when the tool reports one


@dataclass(frozen=True)
class ToolEnd:
    """A tool run finished: with its trace when it worked, with a learner-facing error when not."""

    name: str
    args: dict
    ok: bool
    duration_ms: float
    trace: object = None  # tools.trace.PipelineTrace
    error: str | None = None

    def summary(self) -> dict:
        return {"name": self.name, "args": self.args, "ok": self.ok, "duration_ms": self.duration_ms}


@dataclass(frozen=True)
class QuizAsk:
    """A quiz question for the learner (tutor.quiz.Question); choices become buttons in the page."""

    question: object
    score: str = ""


@dataclass(frozen=True)
class QuizResult:
    """The graded answer (tutor.quiz.Feedback) and the running score."""

    feedback: object
    score: str = ""


@dataclass(frozen=True)
class TurnDone:
    answer: str
    citations: list[Citation] = field(default_factory=list)
    tools: list[dict] = field(default_factory=list)
    timings: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "answer": self.answer,
            "citations": [c.to_dict() for c in self.citations],
            "tools": self.tools,
            "timings": self.timings,
        }


Event = TextDelta | Notice | Citations | ToolStart | ToolProgress | ToolEnd | QuizAsk | QuizResult | TurnDone

"""What one chat turn emits, in order, to the page and the CLI alike."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Citation:
    """A lesson section the answer came from."""

    lesson_id: str
    title: str
    section: str
    concepts: list[str]

    def to_dict(self) -> dict:
        return {"kind": "lesson", **asdict(self)}

    def label(self) -> str:
        return f"*{self.title}* — {self.section}"


@dataclass(frozen=True)
class TraceCitation:
    """A stage (and step or layer) of the conversation's last run that the answer came from."""

    tool: str
    stage: str
    step: int | None = None
    layer: int | None = None

    def _at(self) -> dict:
        return {"step": self.step} if self.step is not None else {"layer": self.layer} if self.layer else {}

    def to_dict(self) -> dict:
        return {"kind": "trace", "tool": self.tool, "stage": self.stage, **self._at()}

    def where(self) -> str:
        """ "sampling, step 2": the stage, and the step or layer within it."""
        return ", ".join([self.stage, *(f"{k} {v}" for k, v in self._at().items())])

    def label(self) -> str:
        return f"your **{self.tool}** run — {self.where()}"


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
    citations: list[Citation | TraceCitation]


@dataclass(frozen=True)
class ToolStart:
    name: str
    args: dict


@dataclass(frozen=True)
class ToolProgress:
    name: str
    line: str
    row: object = None  # a live update (e.g. a finished training epoch), when the tool reports one
    folder: str | None = None  # the run's artifacts folder, for pictures drawn from live rows


@dataclass(frozen=True)
class ToolEnd:
    """A tool run finished: with its trace when it worked, with a learner-facing error when not."""

    name: str
    args: dict
    ok: bool
    duration_ms: float
    trace: object = None  # tools.trace.PipelineTrace
    error: str | None = None
    folder: str | None = None  # the run's artifacts folder: its pictures, and where views draw theirs
    shown: bool = True  # False: the page closes the step but draws no trace (a comparison follows)

    def summary(self) -> dict:
        return {"name": self.name, "args": self.args, "ok": self.ok, "duration_ms": self.duration_ms}


@dataclass(frozen=True)
class Comparison:
    """Two runs of one tool that differ in one setting, to be shown side by side (the tool's compare)."""

    name: str
    a: object  # tools.trace.PipelineTrace: the earlier run
    b: object  # ...and the re-run
    folder: str | None = None


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

    def markdown(self) -> str:
        return self.feedback.text + (f"\n\n{self.score}" if self.score else "")


@dataclass(frozen=True)
class Option:
    """A next step offered under an answer (a button in the page): `say` is sent as the learner's
    next message when it is chosen."""

    label: str
    say: str

    def to_dict(self) -> dict:
        return {"label": self.label, "say": self.say}


@dataclass(frozen=True)
class Options:
    """The next steps offered under this turn's answer."""

    options: list[Option]


@dataclass(frozen=True)
class TurnDone:
    answer: str
    citations: list[Citation | TraceCitation] = field(default_factory=list)
    tools: list[dict] = field(default_factory=list)
    timings: dict = field(default_factory=dict)
    options: list[Option] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "answer": self.answer,
            "citations": [c.to_dict() for c in self.citations],
            "tools": self.tools,
            "timings": self.timings,
            "options": [o.to_dict() for o in self.options],
        }


Event = (
    TextDelta
    | Notice
    | Citations
    | Options
    | ToolStart
    | ToolProgress
    | ToolEnd
    | Comparison
    | QuizAsk
    | QuizResult
    | TurnDone
)

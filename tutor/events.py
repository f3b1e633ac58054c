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


Event = TextDelta | Notice | Citations | TurnDone

"""Teaching content in layers: for every concept of the map, authored and checked.

`knowledge/teaching/<slug>.yaml` holds a concept's plain-words explanation, an analogy, a worked
example (with the demo that shows it, when one fits), a deeper explanation, the common misconceptions
with their corrections, and guiding questions with the key points (expectations) a good answer
contains, each with a hint. The tutor composes its answers from these layers instead of trusting a
small model's prose. Loading validates them: every concept of the map complete, nothing unknown.
The layers a learner reads are ingested beside the lesson sections and cited like them.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator

from knowledge import PACKAGE_DIR
from knowledge.lessons import Chunk, load_concepts

TEACHING_DIR = PACKAGE_DIR / "teaching"
# The sections a learner reads, in the order of the layers, with their headings as cited.
LAYERS = {
    "plain": "In plain words",
    "analogy": "An analogy",
    "example": "A worked example",
    "deeper": "Going deeper",
    "misconceptions": "Common misconceptions",
}


class TeachingError(ValueError):
    """Teaching content that cannot be used; the message names the file and the problem."""


class Expectation(BaseModel):
    point: str = Field(min_length=10)  # what a good answer says, in a learner's words
    hint: str = Field(min_length=10)  # leads to the point without giving it away


class Misconception(BaseModel):
    wrong: str = Field(min_length=10)  # as a learner would say it
    right: str = Field(min_length=10)  # the correction


class Guide(BaseModel):
    ask: str = Field(min_length=10)
    expectations: list[Expectation] = Field(min_length=2, max_length=3)


class Teaching(BaseModel):
    concept: str
    plain: str
    analogy: str = Field(min_length=20)
    example: str = Field(min_length=20)
    demo: str | None = None  # the command that shows the concept live
    deeper: str = Field(min_length=40)
    misconceptions: list[Misconception] = Field(min_length=2, max_length=3)
    questions: list[Guide] = Field(min_length=2, max_length=3)

    @field_validator("plain")
    @classmethod
    def _short(cls, text: str) -> str:
        if not 2 <= len(sentences(text)) <= 4:
            raise ValueError("the plain-words explanation needs 2-4 sentences")
        return text

    @field_validator("demo")
    @classmethod
    def _a_demo_command(cls, text: str | None) -> str | None:
        if text is not None and not text.startswith("/demo "):
            raise ValueError("demo must be a /demo command")
        return text

    def layer(self, name: str) -> str:
        """A layer's text as a learner reads it (misconceptions as corrections)."""
        if name == "misconceptions":
            return "\n".join(f"- *Not quite:* {m.wrong} *In fact:* {m.right}" for m in self.misconceptions)
        return getattr(self, name)


def sentences(text: str) -> list[str]:
    """Sentences of authored prose (a full stop inside a number or a name does not end one)."""
    return [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z\"'(])", text.strip()) if s]


@functools.lru_cache(maxsize=2)
def load_teaching(directory: Path = TEACHING_DIR) -> dict[str, Teaching]:
    """Every concept's teaching content, validated; a gap or an unknown file is a TeachingError."""
    concepts = load_concepts()
    out: dict[str, Teaching] = {}
    for path in sorted(directory.glob("*.yaml")):
        try:
            item = Teaching.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        except yaml.YAMLError as e:
            raise TeachingError(f"{path.name}: not valid YAML ({e})") from e
        except ValidationError as e:
            problems = "; ".join(".".join(map(str, er["loc"])) + ": " + er["msg"] for er in e.errors())
            raise TeachingError(f"{path.name}: {problems}") from e
        if item.concept != path.stem or item.concept not in concepts:
            raise TeachingError(f"{path.name}: concept {item.concept!r} must be the file name and in the map")
        out[item.concept] = item
    missing = sorted(set(concepts) - set(out))
    if missing:
        raise TeachingError(f"no teaching content for: {', '.join(missing)}")
    return out


def teaching_id(slug: str) -> str:
    """The id a concept's teaching layers are stored and cited under (beside the lessons' ids)."""
    return f"teaching-{slug}"


def teaching_chunks(teaching: dict[str, Teaching]) -> list[Chunk]:
    """The layers a learner reads, one retrieval chunk each, titled by the concept."""
    titles = {slug: c.title for slug, c in load_concepts().items()}
    return [
        Chunk(
            f"{teaching_id(slug)}/{heading}/0",
            teaching_id(slug),
            titles[slug],
            heading,
            (slug,),
            item.layer(name),
        )
        for slug, item in teaching.items()
        for name, heading in LAYERS.items()
    ]

"""The quiz item bank: `knowledge/quizzes/*.yaml`, validated when loaded.

Item types: multiple choice (each wrong option names the misconception behind it, with feedback),
true/false (with the misconception behind the wrong value), and short answer (a reference answer and
the key points a good answer contains). Every item names one concept and the lesson that teaches it.
A broken item is a QuizBankError naming the file and the item.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from knowledge import PACKAGE_DIR
from knowledge.lessons import load_concepts, load_lessons

QUIZ_DIR = PACKAGE_DIR / "quizzes"


class QuizBankError(ValueError):
    pass


class Option(BaseModel):
    text: str = Field(min_length=1)
    correct: bool = False
    misconception: str | None = None
    feedback: str | None = None

    @model_validator(mode="after")
    def _wrong_options_explain_themselves(self):
        if not self.correct and not (self.misconception and self.feedback):
            raise ValueError(f"wrong option {self.text!r} needs a misconception and feedback")
        return self


class QuizItem(BaseModel):
    id: str = Field(min_length=1)
    concept: str
    difficulty: Literal[1, 2, 3]
    type: Literal["multiple_choice", "true_false", "short_answer"]
    question: str = Field(min_length=5)
    explanation: str = Field(min_length=5)
    lesson: str
    options: list[Option] = Field(default_factory=list)
    answer: bool | None = None  # true_false
    misconception: str | None = None  # true_false: behind the wrong value
    feedback: str | None = None
    reference: str | None = None  # short_answer
    key_points: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _fields_for_type(self):
        if self.type == "multiple_choice":
            if not 2 <= len(self.options) <= 5:
                raise ValueError("multiple_choice needs 2-5 options")
            if sum(o.correct for o in self.options) != 1:
                raise ValueError("multiple_choice needs exactly one correct option")
        elif self.type == "true_false":
            if self.answer is None or not (self.misconception and self.feedback):
                raise ValueError("true_false needs answer, misconception and feedback")
        elif not (self.reference and self.key_points):
            raise ValueError("short_answer needs reference and key_points")
        return self


def load_bank(directory: Path = QUIZ_DIR) -> list[QuizItem]:
    """All items, validated against the concept map and the lessons."""
    concepts = load_concepts()
    lessons = {lesson.id: lesson for lesson in load_lessons()}
    items: list[QuizItem] = []
    seen: dict[str, str] = {}
    for path in sorted(directory.glob("*.yaml")):
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        except yaml.YAMLError as e:
            raise QuizBankError(f"{path.name}: not valid YAML ({e})") from e
        for n, entry in enumerate(raw, 1):
            name = f"{path.name}: item {entry.get('id', f'#{n}') if isinstance(entry, dict) else f'#{n}'}"
            try:
                item = QuizItem.model_validate(entry)
            except ValidationError as e:
                problems = "; ".join(
                    ".".join(map(str, er["loc"])) + ": " * bool(er["loc"]) + er["msg"] for er in e.errors()
                )
                raise QuizBankError(f"{name}: {problems}") from e
            if item.id in seen:
                raise QuizBankError(f"{name}: id already used in {seen[item.id]}")
            if item.concept not in concepts:
                raise QuizBankError(f"{name}: unknown concept {item.concept!r}")
            if item.lesson not in lessons or item.concept not in lessons[item.lesson].concepts:
                raise QuizBankError(
                    f"{name}: lesson {item.lesson!r} does not exist or does not teach {item.concept}"
                )
            seen[item.id] = path.name
            items.append(item)
    return items

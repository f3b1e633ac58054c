"""Lessons: markdown files with YAML frontmatter, validated against the concept map and split into
section chunks for retrieval.

A lesson's frontmatter has `id`, `title`, `concepts` (slugs from concepts.yaml, the first is the main
one) and `requires` (ids of lessons to read first). The body is split at `#`/`##`/`###` headings so a
chunk is one section a learner can read on its own; long sections are split again by characters.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import yaml
from langchain_text_splitters import MarkdownHeaderTextSplitter, RecursiveCharacterTextSplitter

from knowledge import CONCEPTS_FILE, LESSONS_DIR

CHUNK_CHARS = 1000  # all-MiniLM-L6-v2 reads at most 256 word pieces (~1000 characters)
CHUNK_OVERLAP = 120
HEADINGS = [("#", "h1"), ("##", "h2"), ("###", "h3")]


class LessonError(ValueError):
    """A lesson file that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class Concept:
    slug: str
    title: str
    about: str
    requires: tuple[str, ...]


@dataclass(frozen=True)
class Lesson:
    id: str
    title: str
    concepts: tuple[str, ...]
    requires: tuple[str, ...]
    body: str
    path: Path


@dataclass(frozen=True)
class Chunk:
    id: str  # stable location key: lesson id / section / part
    lesson_id: str
    title: str
    section: str
    concepts: tuple[str, ...]
    text: str

    @property
    def embed_text(self) -> str:
        """What is embedded: the lesson title and section give a short chunk its topic."""
        return f"{self.title}. {self.section}.\n{self.text}"

    @property
    def hash(self) -> str:
        payload = json.dumps([self.embed_text, self.concepts], ensure_ascii=False)
        return hashlib.sha256(payload.encode()).hexdigest()[:32]


def load_concepts(path: Path = CONCEPTS_FILE) -> dict[str, Concept]:
    items = yaml.safe_load(path.read_text())
    return {
        c["slug"]: Concept(c["slug"], c["title"], c["about"], tuple(c.get("requires") or ())) for c in items
    }


def _parse(path: Path) -> Lesson:
    text = path.read_text(encoding="utf-8")
    if not text.startswith("---\n"):
        raise LessonError(f"{path.name}: no YAML frontmatter (the file must start with '---').")
    try:
        _, front, body = text.split("---\n", 2)
        meta = yaml.safe_load(front) or {}
    except (ValueError, yaml.YAMLError) as e:
        raise LessonError(f"{path.name}: frontmatter is not valid YAML ({e}).") from e
    missing = [k for k in ("id", "title", "concepts", "requires") if k not in meta]
    if missing:
        raise LessonError(f"{path.name}: frontmatter lacks {', '.join(missing)}.")
    if meta["id"] != path.stem:
        raise LessonError(f"{path.name}: id {meta['id']!r} must equal the file name {path.stem!r}.")
    if not meta["concepts"]:
        raise LessonError(f"{path.name}: 'concepts' is empty.")
    return Lesson(
        id=meta["id"],
        title=str(meta["title"]),
        concepts=tuple(meta["concepts"]),
        requires=tuple(meta["requires"] or ()),
        body=body.strip(),
        path=path,
    )


def load_lessons(directory: Path = LESSONS_DIR, concepts: dict[str, Concept] | None = None) -> list[Lesson]:
    """All lessons in `directory`, validated: known concept slugs, existing prerequisite lessons."""
    concepts = concepts if concepts is not None else load_concepts()
    lessons = [_parse(p) for p in sorted(directory.glob("*.md"))]
    ids = {lesson.id for lesson in lessons}
    for lesson in lessons:
        unknown = [c for c in lesson.concepts if c not in concepts]
        if unknown:
            raise LessonError(f"{lesson.path.name}: unknown concept slugs {unknown} (see concepts.yaml).")
        absent = [r for r in lesson.requires if r not in ids]
        if absent:
            raise LessonError(f"{lesson.path.name}: 'requires' names lessons that do not exist: {absent}.")
    return lessons


def split_lesson(lesson: Lesson) -> list[Chunk]:
    """Section chunks of one lesson, each with a stable id derived from its place in the lesson."""
    sections = MarkdownHeaderTextSplitter(HEADINGS, strip_headers=True).split_text(lesson.body)
    chars = RecursiveCharacterTextSplitter(chunk_size=CHUNK_CHARS, chunk_overlap=CHUNK_OVERLAP)
    chunks, seen = [], set()
    for doc in sections:
        section = " › ".join(doc.metadata[k] for k in ("h2", "h3") if k in doc.metadata) or "Introduction"
        for part, text in enumerate(chars.split_text(doc.page_content)):
            key = f"{lesson.id}/{section}/{part}"
            while key in seen:  # two sections with the same heading
                key += "+"
            seen.add(key)
            chunks.append(Chunk(key, lesson.id, lesson.title, section, lesson.concepts, text))
    return chunks

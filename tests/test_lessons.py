"""The lessons: valid frontmatter, the concept map covered, the seed topics each their own lesson."""

from __future__ import annotations

import pytest
import yaml

from knowledge import CONCEPTS_FILE, LESSONS_DIR
from knowledge.lessons import LessonError, load_concepts, load_lessons, split_lesson
from tests.helpers import SHARED

REQUIRED_SECTIONS = ["Overview", "Data flow", "Training", "Prediction trace", "Key insight"]
# The five pages the project grew from, each taught by its own lesson.
SEED_LESSONS = ["what-is-generative-ai", "genai-applications", "key-models", "image-generation", "dall-e-api"]


@pytest.fixture(scope="module")
def lessons():
    return load_lessons()


def test_the_concept_map_keeps_every_shared_slug():
    """The repository's map is the source of truth and grows; it never renames or drops a slug of
    ../shared/concepts.yaml (learners' records and the shared eval set refer to them)."""
    if not (SHARED / "concepts.yaml").exists():
        pytest.skip("../shared is not beside this checkout")
    ours = {c["slug"] for c in yaml.safe_load(CONCEPTS_FILE.read_text())}
    shared = {c["slug"] for c in yaml.safe_load((SHARED / "concepts.yaml").read_text())}
    assert shared - ours == set()


def test_every_concept_is_covered_by_a_lesson(lessons):
    covered = {c for lesson in lessons for c in lesson.concepts}
    assert set(load_concepts()) - covered == set()


def test_seed_topics_have_their_own_lessons(lessons):
    assert set(SEED_LESSONS) <= {lesson.id for lesson in lessons}


@pytest.mark.parametrize("path", sorted(LESSONS_DIR.glob("*.md")), ids=lambda p: p.stem)
def test_lesson_structure(path, lessons):
    lesson = next(lesson for lesson in lessons if lesson.id == path.stem)
    headings = [line[3:].strip() for line in lesson.body.splitlines() if line.startswith("## ")]
    assert [h for h in REQUIRED_SECTIONS if h not in headings] == []
    assert 500 <= len(lesson.body.split()) <= 2000
    chunks = split_lesson(lesson)
    assert all(0 < len(c.text) <= 1000 for c in chunks)
    assert len({c.id for c in chunks}) == len(chunks)


def test_broken_lessons_are_named_in_the_error(tmp_path):
    good = (LESSONS_DIR / "tokenization.md").read_text()
    (tmp_path / "tokenization.md").write_text(good.replace("concepts: [", "concepts: [not-a-concept, "))
    with pytest.raises(LessonError, match=r"tokenization\.md: unknown concept slugs \['not-a-concept'\]"):
        load_lessons(tmp_path)
    (tmp_path / "tokenization.md").write_text("# no frontmatter\n")
    with pytest.raises(LessonError, match=r"tokenization\.md: no YAML frontmatter"):
        load_lessons(tmp_path)
    (tmp_path / "tokenization.md").write_text(good.replace("id: tokenization", "id: tokens"))
    with pytest.raises(LessonError, match="must equal the file name"):
        load_lessons(tmp_path)

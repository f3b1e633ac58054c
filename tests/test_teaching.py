"""The teaching layers: complete for every concept of the map, validated at load, ingested and found."""

from __future__ import annotations

import shutil

import pytest

from knowledge.lessons import load_concepts
from knowledge.teaching import TEACHING_DIR, TeachingError, load_teaching, sentences, teaching_id


def test_every_concept_has_every_layer():
    teaching = load_teaching()
    assert set(teaching) == set(load_concepts())
    for slug, item in teaching.items():
        assert 2 <= len(sentences(item.plain)) <= 4, slug
        assert item.analogy and item.example and item.deeper, slug
        assert 2 <= len(item.misconceptions) <= 3 and 2 <= len(item.questions) <= 3, slug
        for question in item.questions:
            assert 2 <= len(question.expectations) <= 3, slug
            for e in question.expectations:
                assert e.point.casefold() not in e.hint.casefold(), f"{slug}: a hint gives its point away"


def test_demo_commands_name_real_tools(tutor):
    for slug, item in load_teaching().items():
        if item.demo:
            word = item.demo.split()[1]
            assert tutor.registry.resolve(word), f"{slug}: {item.demo}"


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda text: text.replace("misconceptions:", "misconceptions_gone:"), "misconceptions"),
        (lambda text: text.replace("concept: sampling", "concept: sampling-x"), "file name"),
        (lambda text: text.replace("demo: ", "demo: run "), "demo"),
    ],
)
def test_broken_teaching_content_is_refused_with_the_file_named(tmp_path, edit, problem):
    folder = tmp_path / "teaching"
    shutil.copytree(TEACHING_DIR, folder)
    path = folder / "sampling.yaml"
    path.write_text(edit(path.read_text()))
    with pytest.raises(TeachingError, match=problem) as error:
        load_teaching(folder)
    assert "sampling.yaml" in str(error.value)


def test_a_missing_concept_is_refused(tmp_path):
    folder = tmp_path / "teaching"
    shutil.copytree(TEACHING_DIR, folder)
    (folder / "gan.yaml").unlink()
    with pytest.raises(TeachingError, match="no teaching content for: gan"):
        load_teaching(folder)


def test_layers_are_ingested_and_found_like_lesson_sections(store):
    analogy = load_teaching()["sampling"].analogy
    hits = store.search(analogy, k=3)  # the layer's own text finds the layer, cited as a section
    top = hits[0]
    assert (top.lesson_id, top.section, top.text) == (teaching_id("sampling"), "An analogy", analogy)
    assert hits[0].concepts == ["sampling"] and hits[0].title == load_concepts()["sampling"].title


def test_the_concept_each_tool_stage_shows_is_in_the_map(tutor):
    concepts = load_concepts()
    for name, cls in tutor.registry.classes.items():
        assert set(cls.concepts.values()) <= set(concepts), name

"""The concept map picture: every concept of the map, below its prerequisites, coloured by the
learner's own mastery, due reviews ringed."""

from __future__ import annotations

import uuid

from matplotlib.colors import to_hex

from knowledge.lessons import load_concepts
from tutor.concept_map import NOT_STARTED, figure, levels, positions


def test_every_concept_sits_below_its_prerequisites():
    concepts = load_concepts()
    level, place = levels(concepts), positions(concepts)
    assert set(place) == set(concepts)
    for slug, concept in concepts.items():
        for required in concept.requires:
            assert level[required] < level[slug] and place[required][1] > place[slug][1]
    assert len(set(place.values())) == len(place)  # no two boxes on one spot


def test_boxes_show_the_learners_mastery_and_due_reviews(tutor):
    token = uuid.uuid4().hex
    tutor.quiz.engine.store.learner("Map Reader", token=token)
    rows = [dict(r) for r in tutor.quiz.engine.progress("Map Reader", token).concepts]  # a fresh learner
    for r in rows:
        if r["slug"] == "sampling":
            r.update(attempts=3, p_known=0.97, mastered=True)
    texts = figure(load_concepts(), rows, {"gan"}).axes[0].texts
    boxes = {t.get_text(): t for t in texts if t.get_text()}  # (the lines are empty annotations)
    assert len(boxes) == len(load_concepts())
    sampling = next(t for k, t in boxes.items() if k.startswith("Sampling"))
    embeddings = next(t for k, t in boxes.items() if k.startswith("Embeddings"))
    gan = next(t for k, t in boxes.items() if "adversarial" in k)
    assert "97%" in sampling.get_text() and "✓" in sampling.get_text()
    assert to_hex(embeddings.get_bbox_patch().get_facecolor()) == NOT_STARTED
    assert to_hex(sampling.get_bbox_patch().get_facecolor()) != NOT_STARTED
    assert to_hex(gan.get_bbox_patch().get_edgecolor()) == "#e03131"  # its review is due

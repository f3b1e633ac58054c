"""The tutor's understanding of a message, on the labelled phrasing set (tests/data/router_phrasings.yaml):
precision per class, and no demo launched by any phrasing that is not a demo request."""

from __future__ import annotations

import importlib.util

import pytest

from tests.helpers import ROOT


@pytest.fixture(scope="module")
def report(tutor):
    spec = importlib.util.spec_from_file_location("bench_intents", ROOT / "bench" / "intents.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert len(bench.labelled()) >= 150
    return bench.evaluate(tutor.understanding)


def test_no_phrasing_but_a_demo_request_launches_a_demo(report):
    assert report["launched_by_accident"] == []
    assert report["classes"]["demo"]["precision"] == 1.0


def test_every_class_is_understood(report):
    for label, scores in report["classes"].items():
        assert scores["precision"] is not None and scores["precision"] >= 0.9, (label, report["wrong"])
        assert scores["recall"] >= 0.85, (label, report["wrong"])

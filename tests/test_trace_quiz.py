"""Questions about the learner's own run: built from a real trace, answers read from it, graded exactly."""

from __future__ import annotations

import pytest

from knowledge.lessons import load_concepts, load_lessons
from knowledge.quizbank import load_bank
from tools.config import ToolConfig
from tools.registry import Registry
from tutor.learner_store import LearnerStore
from tutor.quiz import QuizEngine


@pytest.fixture(scope="module")
def run(text_tool):
    args = {"prompt": "Cats like to", "mode": "continue", "max_new_tokens": 5, "temperature": 1.0, "seed": 3}
    return text_tool(args)


def trace_items(trace) -> list:
    """The questions the tool that made the run asks about it (through the registry, as the tutor does)."""
    return Registry(ToolConfig()).questions(trace)


def _right(item) -> str:
    return next(o.text for o in item.options if o.correct)


def test_answers_are_read_from_the_trace(run):
    steps = run.stage("sampling").data["steps"]
    top = next(i for i in trace_items(run) if "-top-" in i.id)
    assert _right(top) == repr(max(steps[1]["before"], key=lambda c: c["prob"])["token"])
    lens = next(i for i in trace_items(run) if i.id.endswith("-lens"))
    final = run.layers[-1].data["top"][0]["id"]
    first = min(n for n, row in enumerate(run.layers, 1) if row.data["top"][0]["id"] == final)
    assert _right(lens) == f"layer {first}"
    tokens = next(i for i in trace_items(run) if i.id.endswith("-tokens"))
    assert _right(tokens) == str(len(run.stage("tokenization").data["ids"]))
    greedy = next(i for i in trace_items(run) if "-greedy-" in i.id)
    step = int(greedy.id.rsplit("-", 1)[1])
    assert greedy.answer == (steps[step - 1]["chosen"]["rank_before"] == 1)
    assert len(trace_items(run)) == 4


def test_items_are_valid_and_point_at_real_lessons(run):
    lessons = {lesson.id: lesson for lesson in load_lessons()}
    for item in trace_items(run):
        assert item.concept in lessons[item.lesson].concepts
        if item.type == "multiple_choice":
            texts = [o.text for o in item.options]
            assert len(set(texts)) == len(texts) >= 2


def test_trace_questions_are_graded_exactly(run, tmp_path, embedder):
    engine = QuizEngine(
        LearnerStore(tmp_path / "l.db"), load_bank(), list(load_concepts().values()), embedder
    )
    learner = engine.store.learner("Runner")
    for item in trace_items(run):
        q = engine.pose(learner, item, "trace")
        if item.type == "true_false":
            right, wrong = ("True", "False") if item.answer else ("False", "True")
        else:
            index = next(n for n, o in enumerate(item.options) if o.correct)
            right, wrong = "ABCD"[index], "ABCD"[(index + 1) % len(item.options)]
        assert engine.answer("Runner", right, q.id).correct
        q = engine.pose(learner, item, "trace")
        feedback = engine.answer("Runner", wrong, q.id)
        assert not feedback.correct and "Misconception" in feedback.text
    kinds = {a["kind"] for a in engine.store.attempts(learner)}
    assert kinds == {"trace"}


def test_questions_about_a_training_run_are_read_from_its_epoch_rows(settings):
    import torch

    from tools.training_demo import TrainingDemoTool

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        trace = TrainingDemoTool(settings)(
            {"model": "gan", "width": 8, "batch_size": 64, "epochs": 3, "seed": 1}
        )
    finally:
        torch.set_num_threads(threads)
    items = {i.id.rsplit("-", 2)[-2] + "-" + i.id.rsplit("-", 1)[-1]: i for i in trace_items(trace)}
    lowest = min(trace.training, key=lambda r: r.loss).epoch
    assert _right(items["lowest-loss"]) == f"epoch {lowest}"
    fake = {r.epoch: r.metrics["d_acc_fake"] for r in trace.training}
    below = [e for e, acc in fake.items() if acc < 0.7]
    expected = below[0] if below else min(fake, key=fake.get)
    assert _right(items["d-fake"]) == f"epoch {expected}"


def test_questions_about_an_image_run_are_read_from_its_denoising_steps(settings):
    from tools.image_generation import ImageGenerationTool

    trace = ImageGenerationTool(settings)({"prompt": "a blue square", "steps": 4, "guidance_scale": 3.0})
    items = {i.id.rsplit("-", 1)[-1]: i for i in trace_items(trace)}
    steps = trace.stage("denoising").data["steps"]
    assert _right(items["sigma"]) == f"it fell from {steps[0]['sigma']:.3g} to {steps[-1]['sigma_after']:.3g}"
    assert steps[-1]["sigma_after"] < steps[0]["sigma"]
    assert items["guidance"].answer is (trace.stage("guidance").data["unet_passes_per_step"] == 2)

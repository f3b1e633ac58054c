"""Guided (Socratic) mode on scripted learners: a right answer, a partial one, a misconception, and two
wrong answers then the explanation; the outcome counts in the learner model like a quiz answer."""

from __future__ import annotations

import uuid

from knowledge.teaching import load_teaching
from tutor.conversation import Conversation

SAMPLING = load_teaching()["sampling"]


def guide(tutor, conv: Conversation, *messages: str) -> list[dict]:
    return [tutor.reply(m, conv) for m in messages]


def start(tutor, conv: Conversation, topic: str = "sampling") -> dict:
    asked = tutor.reply(f"/guide {topic}", conv)
    assert conv.guiding is not None and not conv.guiding.check
    assert load_teaching()[conv.guiding.concept].questions[conv.guiding.question].ask in asked["answer"]
    return asked


def test_a_right_answer_is_confirmed_point_by_point_and_counts(tutor):
    name, token = "Guided Gwen", uuid.uuid4().hex
    conv = Conversation(learner=name, token=token)
    start(tutor, conv)
    assert (
        conv.guiding.question == 0
    )  # "Why would a chatbot that always picks the single most likely token..."
    (result,) = guide(
        tutor,
        conv,
        "It would always produce the same predictable text for the same prompt, and it can get stuck "
        "in a loop repeating the same words.",
    )
    for expectation in SAMPLING.questions[0].expectations:
        assert f"✅ **Right:** {expectation.point}" in result["answer"]
    assert "That's the heart of it" in result["answer"] and conv.guiding is None
    assert "Mastery of *Sampling" in result["answer"]
    progress = tutor.quiz.engine.progress(name, token)
    row = next(r for r in progress.concepts if r["slug"] == "sampling")
    assert row["attempts"] == 1 and row["correct"] == 1 and row["p_known"] > 0.3


def test_a_partial_answer_gets_what_was_right_and_a_hint_for_the_rest(tutor):
    conv = Conversation()
    start(tutor, conv)
    partial, rest = guide(
        tutor,
        conv,
        "It always gives the same answer to the same prompt.",
        "and it can loop, repeating itself over and over",
    )
    first, second = SAMPLING.questions[0].expectations
    assert f"✅ **Right:** {first.point}" in partial["answer"]
    assert f"💡 **Hint:** {second.hint}" in partial["answer"] and second.point not in partial["answer"]
    assert f"✅ **Right:** {second.point}" in rest["answer"] and "That's the heart of it" in rest["answer"]


def test_a_misconception_is_named_and_corrected(tutor):
    conv = Conversation()
    start(tutor, conv, "diffusion models")
    (result,) = guide(tutor, conv, "the model removes all the noise in one go")
    wrong = next(m for m in load_teaching()["diffusion-models"].misconceptions if "one go" in m.wrong)
    assert f"⚠️ **A common mix-up:** *{wrong.wrong}* In fact: {wrong.right}" in result["answer"]
    assert "✅" not in result["answer"] and "💡 **Hint:**" in result["answer"]
    assert conv.guiding is not None  # still the learner's turn


def test_two_wrong_answers_get_two_hints_then_the_explanation(tutor):
    name, token = "Guided Gus", uuid.uuid4().hex
    conv = Conversation(learner=name, token=token)
    start(tutor, conv)
    first, second, third = guide(tutor, conv, "I don't know", "Because computers are slow.", "no idea")
    hints = [e.hint for e in SAMPLING.questions[0].expectations]
    assert "💡 **Hint:**" in first["answer"] and "💡 **Hint:**" in second["answer"]
    assert {h for h in hints if h in first["answer"] + second["answer"]} == set(hints)  # a different hint
    assert "Here is the explanation." in third["answer"] and SAMPLING.plain in third["answer"]
    assert all(e.point in third["answer"] for e in SAMPLING.questions[0].expectations)
    assert third["citations"][0]["section"] == "In plain words" and conv.guiding is None
    row = next(r for r in tutor.quiz.engine.progress(name, token).concepts if r["slug"] == "sampling")
    assert row["attempts"] == 1 and row["correct"] == 0


def test_guided_mode_asks_before_it_tells_and_skip_explains(tutor):
    conv = Conversation(guide_mode=True)
    asked = tutor.reply("What does the guidance scale do?", conv)
    assert asked["answer"].startswith("🧭 **Let's think it through: Classifier-free guidance")
    assert "In plain words" not in asked["answer"] and conv.guiding is not None
    told = tutor.reply("skip", conv)
    assert load_teaching()["classifier-free-guidance"].plain in told["answer"]
    # a new question is not taken as an answer: it starts a new guided question
    again = tutor.reply("How does a GAN learn?", conv)
    assert again["answer"].startswith("🧭") and conv.guiding.concept == "gan"

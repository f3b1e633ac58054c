"""One chat turn on the real embedded model: grounded answers, citations, honest refusals, bad input."""

from __future__ import annotations

import json

from tutor.chat import clean_message
from tutor.events import Citations, Notice, TextDelta, TurnDone


def run(tutor, message, history=()):
    events = list(tutor.turn(message, history))
    assert isinstance(events[-1], TurnDone)
    return events


def test_answer_is_composed_from_checked_content_and_cited(tutor):
    from knowledge.teaching import load_teaching

    events = run(tutor, "How does Stable Diffusion work?")
    done = events[-1]
    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert done.answer == "".join(d.text for d in deltas)
    # Plain words first: the concept's authored plain layer, cited as such.
    first = done.citations[0]
    assert first.section == "In plain words" and first.lesson_id.startswith("teaching-")
    slug = first.concepts[0]
    assert slug in ("stable-diffusion", "latent-space", "diffusion-models")
    assert done.answer.startswith("**In plain words:** " + load_teaching()[slug].plain)
    # then the lesson section that answers the question, quoted and cited
    lesson = done.citations[1]
    assert (
        not lesson.lesson_id.startswith("teaching-") and f"*{lesson.title}* — {lesson.section}" in done.answer
    )
    # then one check question from the concept's guiding questions, and no model prose at all
    asked = [q.ask for q in load_teaching()[slug].questions]
    assert any(f"**Check yourself:** {q}" in done.answer for q in asked)
    assert "In short" not in done.answer
    labels = [o.label for o in done.options]
    assert labels[:4] == ["Simpler", "An example", "Deeper", "Quiz me on this"]
    assert [e for e in events if isinstance(e, Citations)][0].citations == done.citations
    assert 0 < done.timings["retrieval_ms"] <= done.timings["ttft_ms"] <= done.timings["total_ms"]


def test_guidance_question_cites_classifier_free_guidance(tutor):
    result = tutor.ask("What does the guidance scale do?")
    assert any("classifier-free-guidance" in c["concepts"] for c in result["citations"])
    json.dumps(result)  # the CLI prints it as JSON


def test_off_topic_question_is_declined_honestly(tutor):
    done = run(tutor, "What is the best recipe for lasagne with spinach?")[-1]
    assert done.citations == [] and done.tools == []
    assert "outside what I can help with" in done.answer and "I teach how generative AI works" in done.answer
    assert done.options  # and what to do instead


def test_empty_whitespace_and_control_character_messages(tutor):
    for message in ["", "   \n\t ", "\x00\x07\x1b", None]:
        events = run(tutor, message)
        assert isinstance(events[0], Notice) and "empty" in events[0].text
        assert events[-1].citations == []
    assert clean_message("what\x00 is\x1b a token?\n") == "what is a token?"


def test_overlong_message_is_refused_with_the_limit(tutor, settings):
    events = run(tutor, "why " * settings.max_message_chars)
    assert isinstance(events[0], Notice)
    assert f"{settings.max_message_chars:,}" in events[0].text
    # ...and the next turn works as usual.
    assert run(tutor, "What is a token?")[-1].citations

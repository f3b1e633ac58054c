"""One chat turn on the real embedded model: grounded answers, citations, honest refusals, bad input."""

from __future__ import annotations

import json

from tutor.chat import clean_message
from tutor.events import Citations, Notice, TextDelta, TurnDone


def run(tutor, message, history=()):
    events = list(tutor.turn(message, history))
    assert isinstance(events[-1], TurnDone)
    return events


def test_answer_is_grounded_streamed_and_cited(tutor):
    events = run(tutor, "How does Stable Diffusion work?")
    done = events[-1]
    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert len(deltas) > 3  # the model's words arrive in pieces
    assert done.answer == "".join(d.text for d in deltas)
    cited = {c.lesson_id for c in done.citations}
    assert any("stable-diffusion" in c.concepts for c in done.citations), cited
    # The lesson passage leads the answer, quoted from the lesson the first citation names.
    assert done.answer.startswith(f"**From the lesson *{done.citations[0].title}*")
    top = tutor.store.search("How does Stable Diffusion work?", k=1)[0]
    assert top.text.split("\n")[0][:60] in done.answer
    assert "**In short:**" in done.answer and len(done.answer.split("**In short:**")[1].strip()) > 10
    assert [e for e in events if isinstance(e, Citations)][0].citations == done.citations
    assert 0 < done.timings["retrieval_ms"] <= done.timings["ttft_ms"] <= done.timings["total_ms"]


def test_guidance_question_cites_classifier_free_guidance(tutor):
    result = tutor.ask("What does the guidance scale do?")
    assert any("classifier-free-guidance" in c["concepts"] for c in result["citations"])
    json.dumps(result)  # the CLI prints it as JSON


def test_off_topic_question_is_answered_honestly(tutor):
    done = run(tutor, "What is the best recipe for lasagne with spinach?")[-1]
    assert done.citations == []
    assert "could not find this in my lessons" in done.answer


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

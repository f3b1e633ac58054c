"""Predict, then reveal: before re-running the last demo with one setting changed, the tutor asks the
learner what will happen (option buttons), then runs it and sets the outcome against the prediction.
The tool that made the run states the prediction and judges it (tools.base.Tool.prediction/verdict)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from tutor import explore
from tutor.conversation import Conversation
from tutor.events import Comparison, Event, Notice, Option, Options, TextDelta


def _prediction(tutor, conv: Conversation):
    trace = conv.last_trace
    if trace is None or trace.tool not in tutor.registry.classes:
        return None
    return tutor.registry.get(trace.tool).prediction(trace)


def offer(tutor, conv: Conversation) -> list[Option]:
    """The option offered under a finished demo when its tool has a prediction to make."""
    return [Option("Predict, then reveal", "/predict")] if _prediction(tutor, conv) else []


def ask(tutor, conv: Conversation) -> Iterator[Event]:
    guess = _prediction(tutor, conv)
    if guess is None:
        yield Notice("Run a text or image demo first; then I can ask you to predict a change to it.", "info")
        return
    conv.prediction = (conv.last_trace.tool, guess)
    yield TextDelta(f"🔮 **Predict first.** {guess.question} Pick one; then I run it and we compare.")
    yield Options([Option(label, f"/reveal {i}") for i, label in enumerate(guess.choices)])


def reveal(tutor, conv: Conversation, text: str, runs=None) -> Iterator[Event]:
    (tool, guess), conv.prediction = conv.prediction or (None, None), None
    picked = int(text) if re.fullmatch(r"\d", text.strip()) else -1
    if guess is None or not 0 <= picked < len(guess.choices):
        yield Notice("There is no open prediction: type `/predict` after a text or image demo.", "info")
        return
    comparison = None
    for event in explore.rerun(tutor, conv, f"{guess.knob} {guess.value}", runs):
        comparison = event if isinstance(event, Comparison) else comparison
        yield event
    if comparison is not None:
        right, why = tutor.registry.get(tool).verdict(guess, picked, comparison.a, comparison.b)
        yield TextDelta(
            "\n\n" + ("✅ **Your prediction was right.** " if right else "❌ **Not this time.** ") + why
        )

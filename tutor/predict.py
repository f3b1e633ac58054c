"""Predict, then reveal: before re-running the last demo with one setting changed, the tutor asks the
learner what will happen (option buttons), then runs it and sets the outcome against the prediction,
pointing at the picture that settles it.

- text: "At temperature 0.2, which token will the model draw first?" (the choices: the last run's
  top candidates at step 1);
- image (the shapes model): "At guidance 7.5, will it still draw the right colour and shape?".
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from tools.markup import code
from tutor import explore
from tutor.conversation import Conversation
from tutor.events import Comparison, Event, Notice, Option, Options, TextDelta


@dataclass
class Prediction:
    tool: str
    knob: str
    value: str
    choices: list[str]


def offer(conv: Conversation) -> list[Option]:
    """The option offered under a finished demo when a prediction fits it."""
    trace = conv.last_trace
    if trace is not None and trace.tool in ("text_generation", "image_generation"):
        return [Option("Predict, then reveal", "/predict")]
    return []


def ask(conv: Conversation) -> Iterator[Event]:
    trace = conv.last_trace
    if trace is None or trace.tool not in ("text_generation", "image_generation"):
        yield Notice("Run a text or image demo first; then I can ask you to predict a change to it.", "info")
        return
    if trace.tool == "text_generation":
        step = trace.stage("sampling").data["steps"][0]
        choices = [c["token"] for c in step["before"][:4]]
        value = "0.2" if trace.config.get("temperature") != 0.2 else "1.5"
        question = f"If I run it again at **temperature {value}**, which token will the model draw first?"
        conv.prediction = Prediction(trace.tool, "temperature", value, choices)
        labels = [repr(c) for c in choices]
    else:
        value = "7.5" if trace.config.get("guidance_scale") != 7.5 else "1.5"
        question = (
            f"If I draw {code(trace.prompt, 60)} again at **guidance {value}**, same seed, will the model "
            "still get the colour and the shape right?"
        )
        conv.prediction = Prediction(trace.tool, "guidance_scale", value, ["yes", "no"])
        labels = ["Yes, still right", "No, it will go wrong"]
    yield TextDelta(f"🔮 **Predict first.** {question} Pick one; then I run it and we compare.")
    yield Options([Option(label, f"/reveal {i}") for i, label in enumerate(labels)])


def reveal(tutor, conv: Conversation, text: str, runs=None) -> Iterator[Event]:
    guess, conv.prediction = conv.prediction, None
    picked = int(text) if re.fullmatch(r"\d", text.strip()) else -1
    if guess is None or not 0 <= picked < len(guess.choices):
        yield Notice("There is no open prediction: type `/predict` after a text or image demo.", "info")
        return
    comparison = None
    for event in explore.rerun(tutor, conv, f"{guess.knob} {guess.value}", runs):
        comparison = event if isinstance(event, Comparison) else comparison
        yield event
    if comparison is not None:
        yield TextDelta("\n\n" + verdict(guess, guess.choices[picked], comparison.a, comparison.b))


def verdict(guess: Prediction, picked: str, a, b) -> str:
    if guess.tool == "text_generation":
        step = b.stage("sampling").data["steps"][0]
        drawn = step["chosen"]["token"]
        right = drawn == picked
        why = (
            f"At temperature {guess.value} the favourite's share went from "
            f"{step['before'][0]['prob']:.0%} to {step['after'][0]['prob']:.0%} before the draw: see the "
            "orange bars of run B in the picture above."
        )
        head = f"You predicted {code(repr(picked))}; the model drew {code(repr(drawn))}."
    else:
        read = b.stage("final_image").data.get("pixel_classifier", {})
        words = set(re.findall(r"[a-z]+", b.prompt.casefold()))
        still_right = bool(read) and read.get("colour") in words and read.get("shape") in words
        right = still_right == (picked == "yes")
        what = f"{read.get('colour') or 'an unclear colour'}, {read.get('shape') or 'an unclear shape'}"
        head = f"You predicted {'yes' if picked == 'yes' else 'no'}; at guidance {guess.value} a pixel "
        head += f"classifier reads {code(what)}."
        why = (
            "Compare run A and run B side by side above: stronger guidance pushes this small model "
            "past what it learned."
        )
    return ("✅ **Your prediction was right.** " if right else "❌ **Not this time.** ") + head + " " + why

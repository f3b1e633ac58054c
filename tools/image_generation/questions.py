"""Questions about an image-generation run: how the noise level moved, and what guidance cost."""

from __future__ import annotations

import re

from knowledge.quizbank import QuizItem
from tools.base import Prediction
from tools.markup import code
from tools.questions import choice, true_false
from tools.trace import PipelineTrace


def questions(trace: PipelineTrace) -> list[QuizItem]:
    steps = trace.stage("denoising").data["steps"]
    if len(steps) < 2:
        return []
    first, last = steps[0]["sigma"], steps[-1]["sigma_after"]
    items = [
        choice(
            trace,
            "sigma",
            "noise-schedule",
            "diffusion-models",
            f"In your run, how did the noise level σ change over the {len(steps)} denoising steps?",
            f"it fell from {first:.3g} to {last:.3g}",
            [
                (
                    f"it rose from {last:.3g} to {first:.3g}",
                    "denoising adds noise step by step",
                    "That is the forward (training) process; generation runs it backwards, removing noise.",
                ),
                (
                    f"it stayed at {first:.3g}",
                    "the noise level is fixed during sampling",
                    "The scheduler lowers σ at every step; that is what the schedule is for.",
                ),
                (
                    f"it fell from {first:.3g} to {first / 2:.3g}",
                    "only half the noise is ever removed",
                    "The last step ends near zero noise, so what is left is the image.",
                ),
            ],
            f"The scheduler's noise level went from {first:.3g} at step 1 to {last:.3g} after step "
            f"{len(steps)}: each step removes part of the predicted noise.",
        )
    ]
    guidance = trace.stage("guidance").data
    scale = guidance["scale"]
    items.append(
        true_false(
            trace,
            "guidance",
            "classifier-free-guidance",
            "text-encoders-guidance",
            f"In your run (guidance scale {scale:g}), the U-Net ran twice per step: once with your prompt "
            "and once with an empty prompt.",
            guidance["unet_passes_per_step"] == 2,
            "guidance is a separate model that checks the image"
            if guidance["unet_passes_per_step"] == 2
            else "guidance always costs a second pass",
            f"The trace records {guidance['unet_passes_per_step']} U-Net pass(es) per step at scale "
            f"{scale:g}.",
            "Classifier-free guidance compares the prediction with and without the prompt and moves further "
            "along their difference; at scale 1 there is nothing to compare, so one pass is enough.",
        )
    )
    return [i for i in items if i is not None]


def prediction(trace: PipelineTrace) -> Prediction | None:
    """Whether much stronger guidance still draws the prompt (the shapes model, which a classifier reads)."""
    if "pixel_classifier" not in trace.stage("final_image").data:
        return None
    value = "7.5" if trace.config.get("guidance_scale") != 7.5 else "1.5"
    question = (
        f"If I draw {code(trace.prompt, 60)} again at **guidance {value}**, same seed, will the model still "
        "get the colour and the shape right?"
    )
    return Prediction(question, "guidance_scale", value, ["Yes, still right", "No, it will go wrong"])


def verdict(guess: Prediction, picked: int, a: PipelineTrace, b: PipelineTrace) -> tuple[bool, str]:
    read = b.stage("final_image").data.get("pixel_classifier", {})
    words = set(re.findall(r"[a-z]+", b.prompt.casefold()))
    still_right = bool(read) and read.get("colour") in words and read.get("shape") in words
    what = f"{read.get('colour') or 'an unclear colour'}, {read.get('shape') or 'an unclear shape'}"
    return still_right == (picked == 0), (
        f"You predicted {'yes' if picked == 0 else 'no'}; at guidance {guess.value} a pixel classifier reads "
        f"{code(what)}. Compare run A and run B side by side above: stronger guidance pushes this small "
        "model past what it learned."
    )

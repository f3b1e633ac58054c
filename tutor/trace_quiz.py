"""Questions about the learner's own run, read from its pipeline trace and graded exactly.

After a demo the tutor can ask "in your run, which token was most likely at step 2?". Every answer
and every wrong option comes from the trace itself, so grading needs no judgement: the options are the
run's own candidates (tokens, layers, steps, epochs), and the misconception behind each wrong option
says what confusing it with the right one would mean. One builder per kind of trace; a trace with too
little in it (a one-step run) simply yields fewer questions.
"""

from __future__ import annotations

import hashlib

from knowledge.quizbank import Option, QuizItem
from tools.trace import PipelineTrace


def _id(trace: PipelineTrace, what: str) -> str:
    digest = hashlib.sha1(trace.model_dump_json().encode()).hexdigest()[:8]
    return f"trace-{trace.tool}-{digest}-{what}"


def _choice(
    trace,
    what,
    concept,
    lesson,
    question,
    right,
    wrong: list[tuple[str, str, str]],
    explanation,
    difficulty=2,
) -> QuizItem | None:
    """A multiple-choice item; `wrong` holds (text, misconception, feedback) and repeats are dropped."""
    options, seen = [Option(text=right, correct=True)], {right}
    for text, misconception, feedback in wrong:
        if text not in seen and len(options) < 4:
            seen.add(text)
            options.append(Option(text=text, misconception=misconception, feedback=feedback))
    if len(options) < 2:
        return None
    # The right answer's place comes from the trace's hash, so it is not always first yet is reproducible.
    at = int(hashlib.sha1(what.encode()).hexdigest(), 16) % len(options)
    options.insert(at, options.pop(0))
    return QuizItem(
        id=_id(trace, what),
        concept=concept,
        difficulty=difficulty,
        type="multiple_choice",
        question=question,
        options=options,
        explanation=explanation,
        lesson=lesson,
    )


def _true_false(trace, what, concept, lesson, question, answer, misconception, feedback, explanation):
    return QuizItem(
        id=_id(trace, what),
        concept=concept,
        difficulty=2,
        type="true_false",
        question=question,
        answer=answer,
        misconception=misconception,
        feedback=feedback,
        explanation=explanation,
        lesson=lesson,
    )


def text_generation_items(trace: PipelineTrace) -> list[QuizItem]:
    items = []
    steps = trace.stage("sampling").data["steps"]
    if steps:
        step = steps[1] if len(steps) > 1 else steps[0]
        top = step["before"]
        chosen = step["chosen"]
        wrong = []
        for cand in top[1:]:
            drawn = cand["id"] == chosen["id"]
            wrong.append(
                (
                    repr(cand["token"]),
                    "the token drawn is always the most likely one" if drawn else "any listed candidate led",
                    f"{cand['token']!r} had p = {cand['prob']:.1%}"
                    + (", and it was drawn: sampling can pick a less likely token." if drawn else "."),
                )
            )
        items.append(
            _choice(
                trace,
                f"top-{step['step']}",
                "next-token-prediction",
                "next-token-sampling",
                f"In your run, which token was the most likely at step {step['step']}, before sampling?",
                repr(top[0]["token"]),
                wrong,
                f"At step {step['step']} the model gave {top[0]['token']!r} p = {top[0]['prob']:.1%}; "
                f"the sampler drew {chosen['token']!r}.",
            )
        )
        greedy_steps = [s for s in steps if s["chosen"]["rank_before"] == 1]
        item_step = next((s for s in steps if s["chosen"]["rank_before"] > 1), steps[0])
        rank = item_step["chosen"]["rank_before"]
        items.append(
            _true_false(
                trace,
                f"greedy-{item_step['step']}",
                "sampling",
                "next-token-sampling",
                f"In your run, the token drawn at step {item_step['step']} "
                f"({item_step['chosen']['token']!r}) was the model's most likely token at that step.",
                rank == 1,
                "sampling always takes the most likely token"
                if rank > 1
                else "sampling never takes the most likely token",
                f"It was the number {rank} candidate (p = {item_step['chosen']['prob_before']:.1%}). "
                f"In this run {len(greedy_steps)} of {len(steps)} draws were the top token.",
                "With a temperature above 0 the token is drawn at random from the reshaped probabilities, "
                "so the most likely token usually wins but not always.",
            )
        )
    if trace.layers:
        final = trace.layers[-1].data["top"][0]
        first = next(i for i, row in enumerate(trace.layers, 1) if row.data["top"][0]["id"] == final["id"])
        n = len(trace.layers)
        others = [1, max(1, first - 3), min(n, first + 3), n, max(1, n // 2)]
        items.append(
            _choice(
                trace,
                "lens",
                "transformer",
                "transformer-attention",
                f"In your run, at which layer did the model's final guess {final['token']!r} first become "
                "the top guess under the logit lens?",
                f"layer {first}",
                [
                    (
                        f"layer {k}",
                        "the prediction is settled in the first layer"
                        if k < first
                        else "only the last layer knows the answer",
                        f"At layer {k} the top guess was {trace.layers[k - 1].data['top'][0]['token']!r}.",
                    )
                    for k in others
                    if k != first
                ],
                f"The logit lens reads each layer's hidden state through the final norm and unembedding; "
                f"{final['token']!r} led from layer {first} of {n} on.",
                difficulty=3,
            )
        )
    tokens = trace.stage("tokenization").data.get("tokens", [])
    if tokens:
        n = len(tokens)
        items.append(
            _choice(
                trace,
                "tokens",
                "tokenization",
                "tokenization",
                "How many tokens did your prompt become (with the chat template around it)?",
                str(n),
                [
                    (str(n - k), "one token per word", "Counting words undercounts: words split into pieces.")
                    for k in (n // 3, n // 2)
                    if n - k > 0
                ]
                + [
                    (str(n + n // 2), "one token per character", "Tokens are usually longer than one letter.")
                ],
                f"The tokenizer turned the text into {n} ids; the first few: {tokens[:6]}.",
                difficulty=1,
            )
        )
    return [i for i in items if i is not None]


def _epochs(rows, right: int, wrong_note: str) -> list[tuple[str, str, str]]:
    others = [r.epoch for r in rows if r.epoch != right]
    picks = sorted(set(others[:1] + others[-1:] + others[len(others) // 2 : len(others) // 2 + 1]))
    return [
        (f"epoch {e}", wrong_note, f"Look at the row for epoch {e} in your training table.") for e in picks
    ]


def training_items(trace: PipelineTrace) -> list[QuizItem]:
    rows = trace.training
    if len(rows) < 2:
        return []
    items = []
    lowest = min(rows, key=lambda r: r.loss)
    items.append(
        _choice(
            trace,
            "lowest-loss",
            "training-loss",
            "training-loss",
            "In your training run, at which epoch was the training loss lowest?",
            f"epoch {lowest.epoch}",
            _epochs(rows, lowest.epoch, "the loss always falls every epoch, so the last is lowest")
            if lowest.epoch != rows[-1].epoch
            else _epochs(rows, lowest.epoch, "the first epochs learn the most, so their loss is lowest"),
            f"Epoch {lowest.epoch} had loss {lowest.loss:.4f}; the run went from {rows[0].loss:.4f} to "
            f"{rows[-1].loss:.4f}.",
        )
    )
    fake = [(r.epoch, r.metrics["d_acc_fake"]) for r in rows if "d_acc_fake" in r.metrics]
    if fake:
        below = next((e for e, acc in fake if acc < 0.7), None)
        if below is not None:
            question = "at which epoch did the discriminator's accuracy on fake images first drop below 70%?"
            right, why = below, f"At epoch {below} it was right on {dict(fake)[below]:.0%} of the fakes."
        else:
            right = min(fake, key=lambda f: f[1])[0]
            question = "at which epoch was the discriminator worst at spotting fake images?"
            why = f"At epoch {right} it was right on only {dict(fake)[right]:.0%} of the fakes."
        items.append(
            _choice(
                trace,
                "d-fake",
                "gan",
                "gans-convolutions",
                f"In your GAN run, {question}",
                f"epoch {right}",
                _epochs(rows, right, "the discriminator gets steadily better at spotting fakes"),
                why + " When the generator improves, the discriminator is fooled more often.",
            )
        )
    accuracy = [(r.epoch, r.metrics["val_accuracy"]) for r in rows if "val_accuracy" in r.metrics]
    if accuracy:
        best = max(accuracy, key=lambda a: a[1])[0]
        items.append(
            _choice(
                trace,
                "best-accuracy",
                "gpt",
                "gpt-text-generation",
                "In your character-level GPT run, after which epoch was the held-out next-character "
                "accuracy highest?",
                f"epoch {best}",
                _epochs(rows, best, "accuracy on training text and held-out text are the same thing"),
                f"After epoch {best} it predicted {dict(accuracy)[best]:.0%} of held-out characters.",
            )
        )
    return [i for i in items if i is not None]


def image_generation_items(trace: PipelineTrace) -> list[QuizItem]:
    steps = trace.stage("denoising").data["steps"]
    if len(steps) < 2:
        return []
    first, last = steps[0]["sigma"], steps[-1]["sigma_after"]
    items = [
        _choice(
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
        _true_false(
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


BUILDERS = {
    "text_generation": text_generation_items,
    "training_demo": training_items,
    "image_generation": image_generation_items,
}


def trace_items(trace: PipelineTrace) -> list[QuizItem]:
    """Questions about this run, or [] for a trace no builder reads."""
    builder = BUILDERS.get(trace.tool)
    return builder(trace) if builder else []

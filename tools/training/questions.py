"""Questions about a training run: the epoch of the lowest loss, when the GAN's discriminator was
fooled, when the character GPT predicted held-out text best, how few steps a flow model needs."""

from __future__ import annotations

from knowledge.quizbank import QuizItem
from tools.questions import choice
from tools.trace import PipelineTrace


def _epochs(rows, right: int, wrong_note: str) -> list[tuple[str, str, str]]:
    others = [r.epoch for r in rows if r.epoch != right]
    picks = sorted(set(others[:1] + others[-1:] + others[len(others) // 2 : len(others) // 2 + 1]))
    return [
        (f"epoch {e}", wrong_note, f"Look at the row for epoch {e} in your training table.") for e in picks
    ]


def _lowest_loss(trace: PipelineTrace) -> QuizItem | None:
    rows = trace.training
    lowest = min(rows, key=lambda r: r.loss)
    return choice(
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


def _lessons_kept(trace: PipelineTrace) -> QuizItem | None:
    """A LoRA run: what the adapters, trained on code, did to the held-out loss on the lessons."""
    base, now = trace.stage("base model").data["held_out_loss"]["lessons"], trace.training[-1].metrics
    after = now["val_lessons_loss"]
    answers = {
        "rose": ("It rose", "the adapters fit code and bend the model a little away from the lessons"),
        "fell": ("It fell", "learning code helps every text"),
        "same": (
            "It stayed exactly the same",
            "the base weights are frozen, so nothing about the lessons changes",
        ),
    }
    right = "rose" if after > base + 0.005 else "fell" if after < base - 0.005 else "same"
    return choice(
        trace,
        "lessons-kept",
        "adapting-models",
        "adapting-models",
        "In your LoRA run, while the adapters trained on code, what happened to the held-out loss on the "
        "lessons (with the adapters switched on)?",
        answers[right][0],
        [
            (
                text,
                why,
                f"It went from {base:.3f} (the base model) to {after:.3f} after the adapters trained.",
            )
            for key, (text, why) in answers.items()
            if key != right
        ],
        f"It went from {base:.3f} to {after:.3f}. The base weights did not change, but the adapters add to "
        "every layer's output on any text, so the lessons are read differently while they are on; switched "
        "off, the base model is back exactly.",
    )


def questions(trace: PipelineTrace) -> list[QuizItem]:
    rows = trace.training
    if len(rows) < 2:
        return []
    items = [_lowest_loss(trace)] if trace.config.get("model") != "lora" else [_lessons_kept(trace)]
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
            choice(
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
            choice(
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
    items += [_fewest_steps(trace), _latents_used(trace)]
    return [i for i in items if i is not None]


def _fewest_steps(trace: PipelineTrace) -> QuizItem | None:
    """A flow-matching run: the fewest Euler steps whose digits came within 0.1 of the most-step ones."""
    if trace.config.get("model") != "flow":
        return None
    from tools.training import flow  # loaded already: this run trained with it

    sweep = trace.stage("step sweep")
    rms = {int(k): float(v) for k, v in sweep.data["rms_from_finest"].items()}
    finest = max(rms)
    close = [k for k in sorted(rms) if k < finest and rms[k] <= flow.CLOSE]
    if not close:
        return None
    right = close[0]
    wrong = [
        (
            f"{k} step{'s' * (k > 1)}",
            "more steps are always needed to get close" if k > right else "one step is enough for any flow",
            f"With {k} step{'s' * (k > 1)} the digits were {rms[k]:.2f} from the {finest}-step ones.",
        )
        for k in sorted(rms)
        if k not in (right, finest)
    ]
    return choice(
        trace,
        "fewest-steps",
        "modern-image-generation",
        "modern-image-generation",
        f"In your flow-matching run, what is the fewest Euler steps whose digits came within 0.1 (RMS "
        f"pixel distance) of the {finest}-step digits?",
        f"{right} step{'s' * (right > 1)}",
        wrong,
        f"{right} steps landed {rms[right]:.2f} away and 1 step {rms[1]:.2f}: the learned paths are nearly "
        "straight, but the first step from pure noise points at the average digit.",
    )


def _latents_used(trace: PipelineTrace) -> QuizItem | None:
    """A VAE run: how many latent numbers carry information (KL above 0.1 nats) after training."""
    if trace.config.get("model") != "vae":
        return None
    from tools.training import vae  # loaded already: this run trained with it

    kl = trace.stage("training").data["kl_per_latent"]
    used, beta, listed = vae.informative(kl), trace.config["beta"], ", ".join(f"{v:.2f}" for v in kl)
    return choice(
        trace,
        "latents-used",
        "vae",
        "variational-autoencoders",
        f"In your VAE run (beta = {beta:g}), how many of its {len(kl)} latent numbers carried information "
        "about the digit after training (KL above 0.1 nats)?",
        str(used),
        [
            (
                str(n),
                "every latent number always carries information"
                if n > used
                else "the KL term always switches latent numbers off",
                f"Look at the KL per latent number in the training stage: {listed}.",
            )
            for n in range(len(kl) + 1)
            if n != used
        ],
        f"The KL per latent number was {listed} nats. A number whose KL is "
        "near 0 has every digit's cloud equal to N(0, 1): it says nothing. A larger beta switches more "
        "of them off.",
    )

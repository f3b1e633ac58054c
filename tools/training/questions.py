"""Questions about a training run: the epoch of the lowest loss, when the GAN's discriminator was
fooled, when the character GPT predicted held-out text best."""

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


def questions(trace: PipelineTrace) -> list[QuizItem]:
    rows = trace.training
    if len(rows) < 2:
        return []
    items = []
    lowest = min(rows, key=lambda r: r.loss)
    items.append(
        choice(
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
    return [i for i in items if i is not None]

"""How a training run is shown: the epochs as a table with the loss scaled to the run, the loss curves
as a chart (both players' losses for a GAN), the latest sample while it trains, and one input traced
through the trained model's layers."""

from __future__ import annotations

from pathlib import Path

from tools.markup import code, plain
from tools.trace import EpochRow, PipelineTrace
from tools.views import Part, bar, labelled_strip, line_chart, markdown, picture, spread, stage_table

BAR = 12


def training_table(rows: list[EpochRow], shown: int = 12) -> str:
    """The run epoch by epoch (at most `shown` rows, evenly spread, first and last kept): the loss with
    a bar from the run's lowest (short) to highest (full)."""
    losses = [row.loss for row in rows]
    low, span = min(losses), (max(losses) - min(losses)) or 1.0
    picked = [rows[i] for i in spread(len(rows), shown)]
    lines = ["| epoch | loss | | seconds | observation |", "|---:|---:|---|---:|---|"]
    for row in picked:
        share = 0.08 + 0.92 * (row.loss - low) / span  # the lowest loss still shows as a sliver
        note = plain(row.metrics.get("observation", ""))
        lines.append(f"| {row.epoch} | {row.loss:.4f} | `{bar(share, BAR)}` | {row.seconds:.1f} | {note} |")
    if len(picked) < len(rows):
        lines.append(f"\n{len(picked)} of {len(rows)} epochs; the chart has every one.")
    return "\n".join(lines)


def live_heading(rows: list[EpochRow]) -> str:
    """Where the run stands against its limits: the epochs asked and the time budget."""
    last = rows[-1].metrics
    used = sum(r.seconds for r in rows)
    return (
        f"#### Training live: epoch {rows[-1].epoch} of {last.get('epochs_asked', '?')} · "
        f"{used:.0f} s of the {last.get('time_budget_s', 0):g} s budget · **Stop training** ends it "
        "after the current batch"
    )


def loss_chart(rows: list[EpochRow], path: Path) -> str:
    if all("g_loss" in r.metrics and "d_loss" in r.metrics for r in rows):
        series = {
            "generator": [r.metrics["g_loss"] for r in rows],
            "discriminator": [r.metrics["d_loss"] for r in rows],
        }
    else:
        series = {"loss": [r.loss for r in rows]}
    return line_chart(series, [r.epoch for r in rows], path, "training loss", "epoch")


def accuracy_chart(rows: list[EpochRow], path: Path) -> str:
    series = {
        "D right on real": [r.metrics["d_acc_real"] for r in rows],
        "D right on fake": [r.metrics["d_acc_fake"] for r in rows],
    }
    return line_chart(series, [r.epoch for r in rows], path, "discriminator accuracy", "epoch")


def _accuracy(rows: list[EpochRow], path: Path) -> list[Part]:
    if not rows or "d_acc_real" not in rows[0].metrics:
        return []
    return [
        picture(
            "discriminator accuracy",
            lambda: accuracy_chart(rows, path),
            "How often the discriminator was right, on real digits and on the generator's fakes: near 1 "
            "on both, it is winning; near 0.5, the fakes fool it half the time.",
        )
    ]


def sample_strip(rows: list[EpochRow], path: Path, shown: int = 8) -> str:
    pictures = [r for r in rows if str(r.metrics.get("sample", "")).endswith(".png")]
    picks = [pictures[i] for i in spread(len(pictures), shown)]
    return labelled_strip(
        [r.metrics["sample"] for r in picks], [f"epoch {r.epoch}" for r in picks], path, 128
    )


def _samples(rows: list[EpochRow], path: Path) -> list[Part]:
    if sum(str(r.metrics.get("sample", "")).endswith(".png") for r in rows) < 2:
        return []
    return [
        picture(
            "samples by epoch",
            lambda: sample_strip(rows, path),
            "The same fixed inputs drawn after each epoch, left to right: watch noise turn into digits.",
        )
    ]


def compare_losses(a: PipelineTrace, b: PipelineTrace, folder: Path) -> Part:
    """The two runs' loss curves on one chart."""
    longest = max(a.training, b.training, key=len)

    def draw() -> str:
        series = {"run A": [r.loss for r in a.training], "run B": [r.loss for r in b.training]}
        return line_chart(series, [r.epoch for r in longest], folder / "compare-loss.png", "loss", "epoch")

    return picture(
        "both loss curves",
        draw,
        "The loss per epoch of run A and run B: the same data and seed, one setting changed.",
    )


def layer_table(trace: PipelineTrace) -> str:
    rows = [
        "#### Prediction trace through the trained model's layers",
        "",
        "| layer | output shape | summary |",
        "|---|---|---|",
    ]
    rows += [f"| {plain(row.name)} | {code(row.shape)} | {plain(row.summary)} |" for row in trace.layers]
    return "\n".join(rows)


def _chart(rows: list[EpochRow], path: Path) -> Part:
    return picture(
        "loss chart",
        lambda: loss_chart(rows, path),
        "The loss per epoch: falling means the model fits its data better."
        if len(rows) < 2 or "g_loss" not in rows[0].metrics
        else "Both players' losses per epoch: in a GAN they pull against each other, neither simply falls.",
    )


def _sample(row: EpochRow) -> list[Part]:
    sample = row.metrics.get("sample")
    if isinstance(sample, str) and sample.endswith(".png"):
        return [picture("sample", lambda: sample, f"Samples after epoch {row.epoch}.")]
    if isinstance(sample, str) and sample:
        return [markdown("sample", lambda: f"Sample after epoch {row.epoch}: {plain(sample)}")]
    return []


def views(trace: PipelineTrace, folder: Path) -> list[Part]:
    rows = trace.training
    parts = [markdown("stage table", lambda: stage_table(trace))]
    if rows:
        parts += [
            markdown(
                "training table",
                lambda: (
                    "#### Training trace, epoch by epoch (measured in this run)\n\n" + training_table(rows)
                ),
            ),
            _chart(rows, folder / "loss.png"),
            *_accuracy(rows, folder / "accuracy.png"),
            *_samples(rows, folder / "samples.png"),
        ]
    if trace.layers:
        parts.append(markdown("layer table", lambda: layer_table(trace)))
    return parts


def live(rows: list[EpochRow], folder: Path) -> list[Part]:
    """While it trains: the table so far, the chart redrawn, the latest sample."""
    return [
        markdown("training table", lambda: live_heading(rows) + "\n\n" + training_table(rows)),
        _chart(rows, folder / f"loss-after-epoch-{rows[-1].epoch}.png"),  # a new name: the page reloads it
        *_accuracy(rows, folder / f"accuracy-after-epoch-{rows[-1].epoch}.png"),
        *_sample(rows[-1]),
    ]

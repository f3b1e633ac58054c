"""How a training run is shown: the epochs as a table with the loss scaled to the run, the loss curves
as a chart (both players' losses for a GAN), the latest sample while it trains, and one input traced
through the trained model's layers."""

from __future__ import annotations

from pathlib import Path

from tools.markup import code, code_block, plain
from tools.trace import EpochRow, PipelineTrace
from tools.views import (
    Part,
    bar,
    labelled_strip,
    line_chart,
    markdown,
    picture,
    save_figure,
    spread,
    stage_table,
)

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
    if all("val_code_loss" in r.metrics for r in rows):  # LoRA: both texts' held-out loss, both phases
        series = {
            "held-out lessons": [r.metrics["val_lessons_loss"] for r in rows],
            "held-out code": [r.metrics["val_code_loss"] for r in rows],
        }
        adapted = next((r.epoch for r in rows if r.metrics["phase"] == "adapters"), None)
        title = f"held-out loss; adapters from epoch {adapted}" if adapted else "held-out loss (base)"
        return line_chart(series, [r.epoch for r in rows], path, title, "epoch")
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


def _step_sweep(trace: PipelineTrace, folder: Path) -> list[Part]:
    """A flow-matching run: the same noise sampled with more and more Euler steps."""
    sweep = trace.stage("step sweep")
    rms = sweep.data["rms_from_finest"]
    labels = [
        f"{a.caption}\n{float(rms[k]):.2f} from last" for a, k in zip(sweep.artifacts, rms, strict=True)
    ]
    return [
        picture(
            "step sweep",
            lambda: labelled_strip([a.path for a in sweep.artifacts], labels, folder / "step-sweep.png", 128),
            "The trained model turns the same 16 noise images into digits with 1 to "
            f"{list(rms)[-1]} Euler steps; under each, how far (RMS pixel distance) the result is from the "
            "last. One step gives a blur, the average digit; a few already give digits.",
        )
    ]


def latent_scatter(stage, path: Path) -> str:
    """Every kept digit's latent mean as a dot coloured by its label, on the map's axes."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    points, labels = stage.data["scatter"]["mean"], stage.data["scatter"]["label"]
    fig = Figure(figsize=(4.4, 4))
    ax = fig.subplots()
    for digit in range(10):
        xs = [p for p, label in zip(points, labels, strict=True) if label == digit]
        ax.scatter(
            [p[0] for p in xs], [p[1] for p in xs], s=9, color=colormaps["tab10"](digit), label=str(digit)
        )
    ax.set(xlabel="latent 1", ylabel="latent 2", title="where each digit is encoded")
    ax.legend(title="digit", fontsize=7, title_fontsize=8, loc="center left", bbox_to_anchor=(1, 0.5))
    return save_figure(fig, path)


def _latent(trace: PipelineTrace, folder: Path) -> list[Part]:
    """A VAE run: where the digits landed in the latent plane, the plane decoded, and reconstructions."""
    stage = trace.stage("latent map")
    plane, pairs = stage.artifacts
    return [
        picture(
            "latent scatter",
            lambda: latent_scatter(stage, folder / "latent-scatter.png"),
            f"Each dot is one digit's code (the encoder's mean), coloured by what the digit is: "
            f"{len(stage.data['scatter']['label'])} digits. Look for clusters: the VAE was never told the "
            "labels, yet alike digits land near each other.",
        ),
        picture(
            "latent map",
            lambda: plane.path,
            "The same plane decoded: each square is the decoder's picture for one point, on the scatter's "
            "axes (latent 1 left to right, latent 2 bottom to top). Neighbouring points give similar "
            "digits that morph into each other.",
        ),
        picture(
            "reconstructions",
            lambda: pairs.path,
            "Eight digits (top row) and what the decoder makes of their codes (bottom row): two numbers "
            "keep the gist of a digit and lose its details.",
        ),
    ]


def _before_after(trace: PipelineTrace, _folder: Path) -> list[Part]:
    """A LoRA run: the same prompt continued by the base model and by the adapted one, and the checks."""
    sampling = trace.stage("sampling")
    checks = trace.stage("checks").data
    prompt = sampling.data["prompt"]

    def draw() -> str:
        base, adapted = (code_block(prompt + sampling.data[k], "text") for k in ("base", "adapted"))
        rows = [
            (
                "only the adapters train",
                f"{checks['trainable']:,} of {checks['trainable'] + checks['total']:,} parameters",
            ),
            ("the base weights stay as they were", f"largest change {checks['base_weights_max_change']:g}"),
            (
                "adapters off gives the base model back",
                f"held-out losses {'identical' if checks['adapters_off_identical'] else 'different'}",
            ),
            (
                "merging B A into W changes nothing",
                f"largest logit difference {checks['merged_max_logit_gap']:.1e}",
            ),
            ("each weight change is low-rank", f"rank {max(checks['delta_rank'].values())} at most"),
        ]
        table = "| LoRA's promise | measured in this run |\n|---|---|\n" + "\n".join(
            f"| {a} | {b} |" for a, b in rows
        )
        return (
            "#### The same prompt, before and after the adapters (same seed)\n\n"
            f"Base model, trained on the lessons:\n\n{base}\n\n"
            f"With the adapters, trained on code:\n\n{adapted}\n\n{table}"
        )

    return [markdown("before and after", draw)]


# The pictures only one family's runs have, by the trace's model.
FAMILY_PARTS = {"flow": _step_sweep, "vae": _latent, "lora": _before_after}


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


def compare_insights(a: PipelineTrace, b: PipelineTrace) -> Part:
    """What each run's own numbers concluded, one under the other."""
    return markdown(
        "both insights",
        lambda: f"**Run A:** {plain(a.key_insight)}\n\n**Run B:** {plain(b.key_insight)}",
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
    caption = "The loss per epoch: falling means the model fits its data better."
    if rows and "g_loss" in rows[0].metrics:
        caption = (
            "Both players' losses per epoch: in a GAN they pull against each other, neither simply falls."
        )
    if rows and "val_code_loss" in rows[0].metrics:
        caption = (
            "The loss on text neither phase trained on, lessons and code, epoch by epoch: the base model "
            "learns the lessons first; once the adapters train, the code loss drops and the lessons' "
            "rises a little."
        )
    return picture("loss chart", lambda: loss_chart(rows, path), caption)


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
            *FAMILY_PARTS.get(trace.config.get("model"), lambda _trace, _folder: [])(trace, folder),
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

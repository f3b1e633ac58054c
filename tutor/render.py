"""A pipeline trace rendered for a learner, as Markdown for the chat: the stages, the prediction
forming layer by layer (logit lens) with where each layer attends, and each sampling step as a
probability bar chart. Every string that came from a run or a learner goes through `plain`, and a
section that cannot be drawn becomes a one-line note (`safely`), never a failed turn."""

from __future__ import annotations

import logging
from collections.abc import Callable

from tutor.markup import code, plain

log = logging.getLogger(__name__)

BAR = 24  # characters of a full (100%) bar
SHOWN_STEPS = 8  # sampling steps drawn in the chat; the JSON has all of them


def _bar(prob: float) -> str:
    filled = round(prob * BAR)
    return "█" * filled + "·" * (BAR - filled)


def _cell(text: str) -> str:
    return plain(repr(text))


def safely(draw: Callable[[], str], what: str) -> str:
    """`draw()`, or a short note saying that this part could not be drawn (the rest still is)."""
    try:
        return draw()
    except Exception as exc:  # one broken part must not cost the learner the whole answer
        log.exception("could not draw %s", what)
        return (
            f"*⚠️ The {what} could not be drawn here ({type(exc).__name__}); the trace JSON has the numbers.*"
        )


def stage_table(trace) -> str:
    rows = ["| stage | input | output | ms | what happened |", "|---|---|---|---:|---|"]
    for s in trace.stages:
        shape = lambda t: f"{code(t.shape)} {plain(t.dtype)}" if t else ""  # noqa: E731
        rows.append(
            f"| {plain(s.name)} | {shape(s.input)} | {shape(s.output)} | {s.duration_ms:.0f} "
            f"| {plain(s.note)} |"
        )
    return "\n".join(rows)


def lens_table(trace) -> str:
    rows = [
        "| layer | top guess | p | runner-up | attends most to (heads averaged) | most focused head |",
        "|---|---|---:|---|---|---|",
    ]
    for row in trace.layers:
        top = row.data["top"]
        attn = row.data["attention"]
        focus = attn["most_focused_head"]
        mean = attn["mean_over_heads"][0]
        rows.append(
            f"| {plain(row.name)} | {_cell(top[0]['token'])} | {top[0]['prob']:.0%} "
            f"| {_cell(top[1]['token'])} "
            f"{top[1]['prob']:.0%} | {_cell(mean['token'])} ({mean['weight']:.0%}) | head {focus['head']}: "
            f"{_cell(focus['token'])} ({focus['weight']:.0%}) |"
        )
    return "\n".join(rows)


def sampling_chart(trace) -> str:
    steps = _sampling_steps(trace) or []
    lines = []
    for step in steps[:SHOWN_STEPS]:
        chosen = step["chosen"]
        lines.append(
            f"step {step['step']}: drew {chosen['token']!r}  "
            f"(p {chosen['prob_before']:.0%} before, {chosen['prob_after']:.0%} after "
            "temperature/top-k/top-p)"
        )
        for cand in step["before"]:
            mark = "◀" if cand["id"] == chosen["id"] else ""
            lines.append(f"  {cand['token']!r:>14} {_bar(cand['prob'])} {cand['prob']:6.1%} {mark}")
    more = f"\n… {len(steps) - SHOWN_STEPS} more steps in the trace JSON." if len(steps) > SHOWN_STEPS else ""
    return "```\n" + "\n".join(lines) + "\n```" + more


def training_table(trace) -> str:
    """The training trace, epoch by epoch, with the loss as a bar and the observation read from it."""
    top = max(row.loss for row in trace.training) or 1.0
    rows = ["| epoch | loss | | seconds | observation |", "|---:|---:|---|---:|---|"]
    for row in trace.training:
        bar = _bar(max(row.loss, 0) / top)[: BAR // 2]
        note = plain(row.metrics.get("observation", ""))
        rows.append(f"| {row.epoch} | {row.loss:.4f} | `{bar}` | {row.seconds:.1f} | {note} |")
    return "\n".join(rows)


def loss_chart(rows, path: str) -> str:
    """A small PNG line chart of the loss per epoch (PIL only), saved at `path`; returns the path."""
    from PIL import Image, ImageDraw

    w, h, pad = 480, 200, 36
    img = Image.new("RGB", (w, h), "white")
    draw = ImageDraw.Draw(img)
    losses = [row.loss for row in rows]
    low, high = min(losses), max(losses)
    span = (high - low) or 1.0
    n = max(len(losses) - 1, 1)
    points = [
        (pad + (w - 2 * pad) * i / n, h - pad - (h - 2 * pad) * (loss - low) / span)
        for i, loss in enumerate(losses)
    ]
    draw.line([(pad, pad // 2), (pad, h - pad), (w - pad // 2, h - pad)], fill="#888", width=1)  # axes
    if len(points) > 1:
        draw.line(points, fill="#e8590c", width=3)
    for x, y in points:
        draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill="#e8590c")
    draw.text((4, pad // 2 - 6), f"{high:.3g}", fill="#333")
    draw.text((4, h - pad - 6), f"{low:.3g}", fill="#333")
    draw.text((pad, h - pad + 6), "epoch 1", fill="#333")
    draw.text((w - pad - 50, h - pad + 6), f"epoch {rows[-1].epoch}", fill="#333")
    draw.text((w // 2 - 40, 4), "training loss", fill="#333")
    img.save(path)
    return path


def _spread(total: int, shown: int) -> list[int]:
    """At most `shown` indexes into `total` items, evenly spaced, first and last included."""
    n = min(shown, total)
    return sorted({round(i * (total - 1) / max(n - 1, 1)) for i in range(n)})


def preview_strip(paths: list[str], path: str, shown: int = 10, size: int = 96) -> str:
    """Up to `shown` evenly spaced step previews side by side in one PNG (first and last included)."""
    from PIL import Image

    picks = [paths[i] for i in _spread(len(paths), shown)]
    strip = Image.new("RGB", (size * len(picks), size), "white")
    for i, p in enumerate(picks):
        strip.paste(
            Image.open(p).convert("RGB").resize((size, size), Image.Resampling.NEAREST), (i * size, 0)
        )
    strip.save(path)
    return path


def layer_table(trace) -> str:
    rows = ["| layer | output shape | summary |", "|---|---|---|"]
    rows += [f"| {plain(row.name)} | {code(row.shape)} | {plain(row.summary)} |" for row in trace.layers]
    return "\n".join(rows)


def denoising_table(trace, shown: int = 12) -> str:
    """Every denoising step (at most `shown`, evenly spaced): timestep, noise level, guidance, time."""
    steps = trace.stage("denoising").data["steps"]
    picks = _spread(len(steps), shown)
    rows = [
        "| step | timestep | noise level σ | σ after | guidance Δ (RMS) | predicted clean vs final | ms |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for i in picks:
        r = steps[i]
        delta = "—" if r.get("guidance_delta_rms") is None else f"{r['guidance_delta_rms']:.3g}"
        x0 = "—" if r.get("x0_rms_to_final") is None else f"{r['x0_rms_to_final']:.3g}"
        sigmas = f"{r['sigma']:.3g} | {r['sigma_after']:.3g}"
        rows.append(f"| {r['step']} | {r['timestep']:g} | {sigmas} | {delta} | {x0} | {r['ms']:.0f} |")
    more = f"\n\n{len(steps) - len(picks)} more steps in the trace JSON." if len(steps) > len(picks) else ""
    return "\n".join(rows) + more


def _sampling_steps(trace) -> list | None:
    """The text tool's sampling steps (token candidates and the one drawn), if this trace has them."""
    stage = next((s for s in trace.stages if s.name == "sampling"), None)
    steps = stage.data.get("steps") if stage else None
    return steps if steps and isinstance(steps, list) and "chosen" in steps[0] else None


def render_trace(trace) -> str:
    parts = [
        f"### {plain(trace.title)}",
        f"Prompt: {plain(trace.prompt)} · device {code(trace.device)} · seed {trace.seed}",
    ]
    if "text" in trace.output:
        parts.append(f"**Output:** {plain(trace.output['text'])}")
    parts += ["#### Pipeline stages", safely(lambda: stage_table(trace), "stage table")]
    tokens = next((s.data.get("tokens") for s in trace.stages if s.name == "tokenization"), None)
    if tokens:
        parts.append("**Tokens:** " + " ".join(code(repr(t)) for t in tokens[:60]))
    if any(s.name == "denoising" for s in trace.stages):
        parts += ["#### Denoising, step by step (previews below: the sample, then the predicted clean image)"]
        parts.append(safely(lambda: denoising_table(trace), "denoising table"))
    if trace.training:
        parts += [
            "#### Training trace, epoch by epoch (measured in this run)",
            safely(lambda: training_table(trace), "training table"),
        ]
    if trace.layers and "top" in trace.layers[0].data:
        parts += [
            "#### Prediction trace through the layers (logit lens, last prompt position)",
            safely(lambda: lens_table(trace), "logit-lens table"),
        ]
    elif trace.layers:
        parts += [
            "#### Prediction trace through the trained model's layers",
            safely(lambda: layer_table(trace), "layer table"),
        ]
    if _sampling_steps(trace):
        parts += [
            "#### Sampling, step by step (top candidates before sampling)",
            safely(lambda: sampling_chart(trace), "sampling chart"),
        ]
    parts.append(f"**Key insight:** {plain(trace.key_insight)}  \n*Total: {trace.total_ms / 1000:.1f} s*")
    return "\n\n".join(parts)


def compare_table(open_run, api_run) -> str:
    """Two ToolEnd events side by side: what an open pipeline and a hosted API each let us observe."""

    def column(end) -> dict:
        if not end.ok:
            return {"ran": f"no: {plain(end.error.split('.')[0])}"}
        t = end.trace
        tensors = sum(bool(s.input or s.output) for s in t.stages)
        steps = next((len(s.data.get("steps", [])) for s in t.stages if s.name == "denoising"), None)
        return {
            "ran": f"yes, on {t.device}, {t.total_ms / 1000:.1f} s",
            "stages observed": str(len(t.stages)),
            "stages with tensor shapes": str(tensors),
            "denoising steps seen": str(steps) if steps is not None else "none (hidden inside the service)",
            "seed / reproducible": f"{t.seed} / yes" if t.device != "api" else "no seed / no",
            "revised prompt": next(
                (plain(s.data["revised_prompts"][0]) for s in t.stages if s.data.get("revised_prompts")), "—"
            ),
            "cost": next(
                (
                    f"≈ ${s.data['usd']:.3f}"
                    for s in t.stages
                    if s.name == "cost" and s.data.get("usd") is not None
                ),
                "free (runs here)" if t.device != "api" else "unknown",
            ),
        }

    left, right = column(open_run), column(api_run)
    rows = ["| | open pipeline (image_generation) | image API (image_api) |", "|---|---|---|"]
    for key in dict.fromkeys([*left, *right]):
        rows.append(f"| {key} | {left.get(key, '—')} | {right.get(key, '—')} |")
    return (
        "#### Side by side\n\n"
        + "\n".join(rows)
        + (
            "\n\nThe open pipeline shows every step (its noise level, guidance and previews); the API shows "
            "only what goes in and what comes out."
        )
    )

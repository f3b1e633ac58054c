"""How a run is shown. A tool's `views(trace, folder)` returns Parts; each is drawn only when the page
shows it, so a part that cannot be drawn becomes a one-line note and costs nothing else. The helpers
here are the generic pieces every tool may use: the stage table, a text bar, a line chart, a labelled
strip of pictures. Every string that came from a run or a learner goes through `plain`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tools.markup import code, plain

BAR = 24  # characters of a full (100%) text bar


@dataclass(frozen=True)
class Part:
    """One piece of a run's answer: Markdown, a picture (a PNG path) with a caption under it, or a sound
    (a WAV path) to play."""

    kind: Literal["markdown", "image", "audio"]
    what: str  # a short name, for the note shown if it cannot be drawn
    draw: Callable[[], str]  # the Markdown text, or the path of the picture it wrote
    caption: str = ""  # for pictures: what to look at (Markdown, ours)


def markdown(what: str, draw: Callable[[], str]) -> Part:
    return Part("markdown", what, draw)


def picture(what: str, draw: Callable[[], str], caption: str = "") -> Part:
    return Part("image", what, draw, caption)


def audio(what: str, draw: Callable[[], str], caption: str = "") -> Part:
    return Part("audio", what, draw, caption)


def save_figure(fig, path: Path) -> str:
    """A matplotlib figure written as a PNG at `path`; the path, for a picture Part."""
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return str(path)


def bar(share: float, width: int = BAR) -> str:
    filled = round(max(0.0, min(share, 1.0)) * width)
    return "█" * filled + "·" * (width - filled)


def stage_table(trace) -> str:
    """Every stage: its input and output shapes, its time, and what happened."""

    def shape(t) -> str:
        return f"{code(t.shape)} {plain(t.dtype)}" if t else ""

    rows = ["| stage | input | output | ms | what happened |", "|---|---|---|---:|---|"]
    rows += [
        f"| {plain(s.name)} | {shape(s.input)} | {shape(s.output)} | {s.duration_ms:.0f} | {plain(s.note)} |"
        for s in trace.stages
    ]
    return "#### Pipeline stages\n\n" + "\n".join(rows)


def tokens_line(tokens: Sequence[str], shown: int = 60) -> str:
    return "**Tokens:** " + " ".join(code(repr(t)) for t in tokens[:shown])


def spread(total: int, shown: int) -> list[int]:
    """At most `shown` indexes into `total` items, evenly spaced, first and last included."""
    n = min(shown, total)
    return sorted({round(i * (total - 1) / max(n - 1, 1)) for i in range(n)})


def line_chart(series: dict[str, list[float]], xs: list[int], path: Path, title: str, x_label: str) -> str:
    """A small PNG line chart (PIL only) of one or more series over `xs`, saved at `path`."""
    from PIL import Image, ImageDraw

    w, h, pad = 480, 200, 36
    colours = ["#e8590c", "#1c7ed6", "#2f9e44", "#862e9c"]
    values = [v for ys in series.values() for v in ys]
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    n = max(len(xs) - 1, 1)
    img = Image.new("RGB", (w, h), "white")
    draw = ImageDraw.Draw(img)
    draw.line([(pad, pad // 2), (pad, h - pad), (w - pad // 2, h - pad)], fill="#888", width=1)  # axes
    for k, (name, ys) in enumerate(series.items()):
        colour = colours[k % len(colours)]
        points = [
            (pad + (w - 2 * pad) * i / n, h - pad - (h - 2 * pad) * (y - low) / span)
            for i, y in enumerate(ys)
        ]
        if len(points) > 1:
            draw.line(points, fill=colour, width=3)
        for x, y in points:
            draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=colour)
        if len(series) > 1:
            draw.text((w - pad - 110, pad // 2 + 12 * k), f"— {name}", fill=colour)
    draw.text((4, pad // 2 - 6), f"{high:.3g}", fill="#333")
    draw.text((4, h - pad - 6), f"{low:.3g}", fill="#333")
    draw.text((pad, h - pad + 6), f"{x_label} {xs[0]}", fill="#333")
    draw.text((w - pad - 50, h - pad + 6), f"{x_label} {xs[-1]}", fill="#333")
    draw.text((w // 2 - 40, 4), title, fill="#333")
    img.save(path)
    return str(path)


def labelled_strip(paths: list[str], labels: list[str], path: Path, size: int = 96) -> str:
    """Pictures side by side in one PNG, each `size` pixels high at its own aspect ratio, each with its
    label (one or more lines) under it."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=12)
    lines = max(label.count("\n") + 1 for label in labels)
    frames = []
    for p in paths:
        with Image.open(p) as frame:
            width = max(1, round(size * frame.width / frame.height))
            frames.append(frame.convert("RGB").resize((width, size), Image.Resampling.NEAREST))
    strip = Image.new("RGB", (sum(f.width for f in frames), size + 6 + 15 * lines), "white")
    draw = ImageDraw.Draw(strip)
    x = 0
    for frame, label in zip(frames, labels, strict=True):
        strip.paste(frame, (x, 0))
        draw.multiline_text(
            (x + frame.width // 2, size + 4), label, fill="#222", font=font, anchor="ma", align="center"
        )
        x += frame.width
    strip.save(path)
    return str(path)


def output_image(trace) -> list[Part]:
    """The run's final picture, when its output names one."""
    image = trace.output.get("image")
    if not (isinstance(image, str) and image.endswith(".png")):
        return []
    return [picture("final image", lambda: image)]


def compare_runs(a, b) -> str:
    """What differs between two runs' settings, and each one's output and time, as a table."""
    changed = [k for k in sorted(set(a.config) | set(b.config)) if a.config.get(k) != b.config.get(k)]
    rows = ["| | run A | run B |", "|---|---|---|"]
    rows += [f"| **{plain(k)}** | {code(a.config.get(k))} | {code(b.config.get(k))} |" for k in changed]
    for name, pick in (("output", _output_text), ("time", lambda t: f"{t.total_ms / 1000:.1f} s")):
        rows.append(f"| {name} | {pick(a)} | {pick(b)} |")
    what = ", ".join(changed) or "nothing"
    return f"#### Run A and run B: only {plain(what)} changed\n\n" + "\n".join(rows)


def _output_text(trace) -> str:
    text = trace.output.get("text") or trace.output.get("code")
    return (
        code(text, 80) if isinstance(text, str) else "the picture below" if trace.output.get("image") else "—"
    )


def side_by_side(a, b, folder: Path) -> list[Part]:
    """The two runs' final pictures next to each other, when both made one."""
    images = [t.output.get("image") for t in (a, b)]
    if not all(isinstance(i, str) and i.endswith(".png") for i in images):
        return []
    return [
        picture(
            "side by side",
            lambda: labelled_strip(images, ["run A", "run B"], folder / "a-b.png", size=192),
            "Run A (left) and run B (right): the same prompt, one setting changed.",
        )
    ]

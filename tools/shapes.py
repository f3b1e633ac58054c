"""Shapes: a procedurally drawn, captioned image dataset for the project's own text-to-image model.

Each sample is one coloured shape (circle, square or triangle) of some size, at some position, on a
plain background, with a caption that names the colour and shape and, some of the time, the size,
position and background, in varied phrasings ("draw a small blue square in the top left"). Images are
drawn at 4x and downsampled so edges are anti-aliased. Everything follows from a seed.

`classify` reads a colour and a shape back from a picture with plain pixel rules; the benchmark
validates it on this dataset's ground truth and then grades what the model drew with it.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

SIZE = 32  # pixels per side of every image
SUPERSAMPLE = 4  # drawn at 4x, then downsampled: anti-aliased edges

SHAPES = ("circle", "square", "triangle")
COLOURS = {  # name -> RGB; the hues are at least 25 degrees apart so a classifier can tell them apart
    "red": (220, 35, 35),
    "orange": (245, 135, 20),
    "yellow": (240, 215, 30),
    "green": (40, 170, 60),
    "blue": (35, 80, 225),
    "purple": (145, 55, 200),
}
BACKGROUNDS = {"white": (255, 255, 255), "black": (0, 0, 0), "gray": (128, 128, 128)}
SIZES = {"small": (4.0, 5.5), "large": (8.5, 10.5)}  # half-width in pixels: uniform in this range
POSITIONS = {  # name -> centre as a fraction of the side
    "center": (0.5, 0.5),
    "top left": (0.3, 0.3),
    "top right": (0.7, 0.3),
    "bottom left": (0.3, 0.7),
    "bottom right": (0.7, 0.7),
}
TEMPLATES = (  # {thing} is e.g. "small red circle"; {where} is "" or e.g. " in the top left"
    "a {thing}{bg}{where}",
    "draw a {thing}{bg}{where}",
    "generate an image of a {thing}{bg}{where}",
    "a picture of a {thing}{bg}{where}",
    "an image showing a {thing}{where}{bg}",
    "{thing}{where}{bg}",
    "please make a {thing}{bg}{where}",
    "show me a {thing}{where}{bg}",
)


@dataclass(frozen=True)
class Sample:
    image: np.ndarray  # (SIZE, SIZE, 3) uint8
    caption: str
    colour: str
    shape: str
    background: str
    size: str
    position: str


def draw(shape: str, colour: str, background: str, half: float, centre: tuple[float, float]) -> np.ndarray:
    """One shape, half-width `half` pixels, centred at `centre` (pixels), as (SIZE, SIZE, 3) uint8."""
    s = SUPERSAMPLE
    img = Image.new("RGB", (SIZE * s, SIZE * s), BACKGROUNDS[background])
    pen = ImageDraw.Draw(img)
    cx, cy, h = centre[0] * s, centre[1] * s, half * s
    box = (cx - h, cy - h, cx + h, cy + h)
    if shape == "circle":
        pen.ellipse(box, fill=COLOURS[colour])
    elif shape == "square":
        pen.rectangle(box, fill=COLOURS[colour])
    elif shape == "triangle":  # apex up, base as wide as it is tall: half of its bounding box
        pen.polygon([(cx, cy - h), (cx + h, cy + h), (cx - h, cy + h)], fill=COLOURS[colour])
    else:
        raise ValueError(f"unknown shape {shape!r}")
    return np.asarray(img.resize((SIZE, SIZE), Image.Resampling.BOX))


def caption(
    rng: np.random.Generator, colour: str, shape: str, background: str, size: str, position: str
) -> str:
    """A caption that always names colour and shape; size, background and position only sometimes."""
    thing = f"{size} {colour} {shape}" if rng.random() < 0.5 else f"{colour} {shape}"
    bg = f" on a {background} background" if rng.random() < 0.6 else ""
    where = ""
    if rng.random() < 0.5:
        where = " in the center" if position == "center" else f" in the {position}"
    template = TEMPLATES[rng.integers(len(TEMPLATES))]
    return template.format(thing=thing, bg=bg, where=where)


def sample(rng: np.random.Generator) -> Sample:
    colour = rng.choice(list(COLOURS))
    shape = rng.choice(SHAPES)
    background = rng.choice(list(BACKGROUNDS))
    size = rng.choice(list(SIZES))
    position = rng.choice(list(POSITIONS))
    half = rng.uniform(*SIZES[size])
    fx, fy = POSITIONS[position]
    jitter = rng.uniform(-1.5, 1.5, size=2)  # pixels, so positions are regions rather than points
    centre = (fx * SIZE + jitter[0], fy * SIZE + jitter[1])
    image = draw(shape, colour, background, half, centre)
    text = caption(rng, colour, shape, background, size, position)
    return Sample(image, text, str(colour), str(shape), str(background), str(size), str(position))


def dataset(n: int, seed: int) -> list[Sample]:
    """`n` samples; the same seed always gives the same samples."""
    rng = np.random.default_rng(seed)
    return [sample(rng) for _ in range(n)]


def classify(image: np.ndarray | Image.Image) -> tuple[str | None, str | None]:
    """(colour, shape) read from a picture of one shape, or None where it cannot tell.

    Background: the median of the border pixels. Foreground: pixels far from it. Colour: the hue of
    the mean foreground pixel, nearest palette hue. Shape: which corners of its bounding box it covers:
    a square all four, a triangle (apex up) the bottom two, a circle none.
    """
    img = np.asarray(Image.fromarray(np.asarray(image)).convert("RGB").resize((SIZE, SIZE)), dtype=np.float32)
    border = np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]])  # (4 * SIZE, 3)
    bg = np.median(border, axis=0)
    far = np.abs(img - bg).max(-1)  # (SIZE, SIZE) largest channel difference
    mask = far > 60
    if mask.sum() < 6:
        return None, None
    strong = far > 0.5 * far[mask].max()  # the inside of the shape, without anti-aliased edge pixels
    r, g, b = (img[strong].mean(0) / 255).tolist()
    hue, _, sat = colorsys.rgb_to_hls(r, g, b)
    colour = None
    if sat > 0.25:
        dist = {
            name: min(abs(hue - h), 1 - abs(hue - h))
            for name, h in ((n, colorsys.rgb_to_hls(*(np.array(c) / 255))[0]) for n, c in COLOURS.items())
        }
        colour = min(dist, key=dist.get)
    cover = np.clip(far / np.percentile(far[strong], 90), 0, 1)  # (SIZE, SIZE) share covered by the shape
    ys, xs = np.nonzero(cover > 0.5)
    top, bottom, left, right = ys.min(), ys.max(), xs.min(), xs.max()  # bounding box
    top_corners = (cover[top, left] + cover[top, right]) / 2
    bottom_corners = (cover[bottom, left] + cover[bottom, right]) / 2
    shape = "square" if top_corners > 0.25 else "triangle" if bottom_corners > 0.25 else "circle"
    return colour, shape

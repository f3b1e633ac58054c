"""The 8x8 handwritten digits that ship with scikit-learn (offline), and PNG grids of 8x8 images.

The GAN and the diffusion demo both learn these 1,797 tiny grey images; pixels are 0..16 in the
dataset and [-1, 1] in the models (the range a tanh output and Gaussian noise both live in).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from tools.trace import Artifact, Stage

SCALE = 8  # each pixel becomes an 8x8 block in the PNG, so an 8x8 digit is 64x64 on screen


def load() -> tuple[np.ndarray, np.ndarray]:
    """The raw images (1797, 8, 8) with pixels 0..16, and their labels (1797,)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.images, digits.target


def normalise(images: np.ndarray) -> torch.Tensor:
    """(N, 8, 8) pixels 0..16 -> (N, 1, 8, 8) float32 in [-1, 1]."""
    return torch.from_numpy(images).float().unsqueeze(1) / 8.0 - 1.0


def save_grid(images: torch.Tensor, path: Path, cols: int = 8) -> Path:
    """(N, 1, 8, 8) in [-1, 1] -> one PNG, `cols` images a row, upscaled with nearest neighbours."""
    n, _, h, w = images.shape
    rows = -(-n // cols)
    grid = torch.full((rows * (h + 1) + 1, cols * (w + 1) + 1), -0.5)  # a 1-pixel grey border
    for i, img in enumerate(images.detach().float().cpu().clamp(-1, 1)):
        r, c = divmod(i, cols)
        grid[1 + r * (h + 1) : 1 + r * (h + 1) + h, 1 + c * (w + 1) : 1 + c * (w + 1) + w] = img[0]
    pixels = ((grid + 1) * 127.5).round().to(torch.uint8).numpy()  # (H, W) 0..255
    image = Image.fromarray(pixels)  # uint8 (H, W): greyscale "L"
    image = image.resize((image.width * SCALE, image.height * SCALE), Image.Resampling.NEAREST)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


def samples_stage(note: str, source: torch.Tensor, samples: torch.Tensor, grids: list, rows: list) -> Stage:
    """The data-flow stage for the fixed batch drawn after every epoch, with one grid per epoch."""
    from tools.training.loop import describe

    return Stage(
        name="samples",
        note=note,
        input=describe(source),
        output=describe(samples),
        duration_ms=0.0,
        data={"pixel_mean": round(samples.mean().item(), 4), "pixel_std": round(samples.std().item(), 4)},
        artifacts=[
            Artifact(kind="image", path=str(p), caption=f"samples after epoch {r.epoch}")
            for p, r in zip(grids, rows, strict=True)
        ],
    )

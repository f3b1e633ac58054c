"""The 8x8 handwritten digits that ship with scikit-learn (offline), and PNG grids of 8x8 images.

The GAN and the diffusion demo both learn these 1,797 tiny grey images; pixels are 0..16 in the
dataset and [-1, 1] in the models (the range a tanh output and Gaussian noise both live in).
"""

from __future__ import annotations

import time
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


def prepared(device: str) -> tuple[np.ndarray, np.ndarray, torch.Tensor, float]:
    """What every digits model starts from: the raw images (1797, 8, 8) 0..16, their labels (1797,),
    the normalised tensor (1797, 1, 8, 8) in [-1, 1] on `device`, and the milliseconds that took."""
    t0 = time.perf_counter()
    raw, labels = load()
    x = normalise(raw).to(device)
    return raw, labels, x, (time.perf_counter() - t0) * 1000


def normalise(images: np.ndarray) -> torch.Tensor:
    """(N, 8, 8) pixels 0..16 -> (N, 1, 8, 8) float32 in [-1, 1]."""
    return torch.from_numpy(images).float().unsqueeze(1) / 8.0 - 1.0


def save_grid(images: torch.Tensor, path: Path, cols: int = 4) -> Path:
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


def data_stages(raw: np.ndarray, labels: np.ndarray, x: torch.Tensor, load_ms: float) -> list[Stage]:
    """The dataset and normalised-tensor stages every digits model starts with."""
    from tools.training.loop import describe

    return [
        Stage(
            name="dataset",
            note=f"{len(raw):,} handwritten digits from scikit-learn, 8x8 pixels with values 0..16.",
            output=describe(torch.from_numpy(raw), example=str(raw[0, 2].astype(int).tolist())),
            duration_ms=round(load_ms, 2),
            data={"examples": len(raw), "per_label": np.bincount(labels).tolist()},
        ),
        Stage(
            name="normalised tensor",
            note="Pixels scaled to [-1, 1] (x / 8 - 1), the same scale as Gaussian noise and a tanh output.",
            input=describe(torch.from_numpy(raw)),
            output=describe(x),
            duration_ms=0.0,
            data={"min": round(x.min().item(), 3), "max": round(x.max().item(), 3)},
        ),
    ]

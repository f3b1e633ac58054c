"""Which pixels attended to which word: the U-Net's cross-attention, read while the pipeline runs.

Forward hooks on every cross-attention layer (`attn2`) recompute that layer's attention weights from
its own inputs (queries from the pixels, keys from the caption's token vectors), so the run itself is
untouched. For the prompted half of the batch, the weights are averaged over heads, upsampled from
the layer's resolution to the image's, and summed over layers and steps: one map per caption token,
in the spirit of DAAM (Tang et al., 2022) for Stable Diffusion. Word pieces are merged into words.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from tools.trace import Artifact, Stage, TensorInfo

SPECIAL = {"[CLS]", "[SEP]", "[PAD]", "<|startoftext|>", "<|endoftext|>"}


class WordMaps:
    def __init__(self, pipe, size: int):
        self.pipe, self.size = pipe, size
        self.total: torch.Tensor | None = None  # (tokens, size, size)

    def attach(self) -> list:
        layers = [m for name, m in self.pipe.unet.named_modules() if name.endswith("attn2")]
        return [layer.register_forward_hook(self._read, with_kwargs=True) for layer in layers]

    def _read(self, attn, args, kwargs, _out) -> None:
        hidden, context = args[0] if args else kwargs["hidden_states"], kwargs.get("encoder_hidden_states")
        if context is None or hidden.ndim != 3:
            return
        with torch.no_grad():
            half = (
                hidden.shape[0] // 2 if hidden.shape[0] > 1 else 0
            )  # [empty caption, caption] with guidance
            q, k = attn.to_q(hidden[half:]), attn.to_k(context[half:])
            q, k = attn.head_to_batch_dim(q), attn.head_to_batch_dim(k)
            weights = attn.get_attention_scores(q, k, None).float()  # (heads, pixels, tokens)
            mean = weights.mean(0)  # (pixels, tokens)
            side = int(math.isqrt(mean.shape[0]))
            grid = mean.T.reshape(1, -1, side, side)  # (1, tokens, side, side)
            grid = F.interpolate(grid, size=(self.size, self.size), mode="bilinear", align_corners=False)[0]
        self.total = grid if self.total is None else self.total + grid

    def words(self, tokens: list[str]) -> list[tuple[str, np.ndarray]]:
        """(word, map scaled to 0-1) for each word of the caption, word pieces merged."""
        if self.total is None:
            return []
        out: list[tuple[str, np.ndarray]] = []
        for token, grid in zip(tokens, self.total.cpu().numpy(), strict=False):
            if token in SPECIAL:
                continue
            if token.startswith("##") and out:
                out[-1] = (out[-1][0] + token[2:], out[-1][1] + grid)
            else:
                out.append((token.removesuffix("</w>"), grid.copy()))
        return [(word, _contrast(grid)) for word, grid in out]


def _contrast(grid: np.ndarray) -> np.ndarray:
    """A map stretched to 0-1 (its least attended pixel 0, its most attended 1)."""
    low, high = float(grid.min()), float(grid.max())
    return (grid - low) / max(high - low, 1e-8)


def heat_picture(heat: np.ndarray, path: Path, px: int = 128) -> str:
    """A word's map as a picture: bright where the word was attended to most."""
    from matplotlib import colormaps

    rgb = (colormaps["magma"](heat)[..., :3] * 255).astype(np.uint8)
    Image.fromarray(rgb).resize((px, px), Image.Resampling.BILINEAR).save(path)
    return str(path)


def stage(maps: WordMaps, tokens: list[str], image: Image.Image, folder: Path) -> Stage:
    """One map per word of the caption (the final image first, to compare with)."""
    words = maps.words(tokens)
    picture = folder / "word-image.png"
    image.convert("RGB").resize((128, 128), Image.Resampling.NEAREST).save(picture)
    paths = [heat_picture(heat, folder / f"word-{i}.png") for i, (_, heat) in enumerate(words)]
    peaks = {word: round(float(heat.mean()), 3) for word, heat in words}  # low: a few bright pixels
    spread_out = min(peaks, key=peaks.get) if peaks else ""
    return Stage(
        name="cross_attention",
        note=f"The U-Net's cross-attention, summed over its layers and steps, gives one map per word "
        f"({', '.join(peaks)}); {spread_out!r} is the most concentrated: its pixels are where that "
        "word was read.",
        input=TensorInfo(shape=[len(tokens)], dtype="str", example="caption tokens"),
        output=TensorInfo(shape=[len(words), maps.size, maps.size], dtype="float32", example="word maps"),
        duration_ms=0.0,  # read during the denoising steps, already counted there
        data={
            "words": [w for w, _ in words],
            "maps": paths,
            "image": str(picture),
            "mean_weight": peaks,
            "grids": [np.round(heat, 2).tolist() for _, heat in words],  # (size, size) each, 0-1
        },
        artifacts=[Artifact(kind="image", path=p, caption=w) for p, (w, _) in zip(paths, words, strict=True)],
    )

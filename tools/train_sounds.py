"""Train the sounds text-to-audio model: the shapes trainer (tools/train_shapes.py) on mel spectrograms.

    python -m tools.train_sounds --seed 0 --steps 5000 --out tools/weights/sounds_diffusion

A text-to-audio diffusion model is a text-to-image one whose pictures are spectrograms: every sound of
the procedural dataset (tools/sounds.py) becomes its (32, 32) log-mel spectrogram
(tools/audio_features.py), one channel, and the same U-Net recipe learns to draw those from MiniLM's
token vectors. Turning a drawn spectrogram back into a waveform (Griffin-Lim) is not learned, so it is
not part of training.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from tools import audio_features, sounds
from tools.train_shapes import UNET, Recipe
from tools.train_shapes import main as train_main

WEIGHTS = Path(__file__).resolve().parent / "weights" / "sounds_diffusion"


def _mel_pictures(n: int, seed: int) -> tuple[torch.Tensor, list[str]]:
    """(N, 1, 32, 32) uint8 log-mel spectrograms (low bands first) and their captions."""
    samples = sounds.dataset(n, seed)
    mels = []
    for start in range(0, n, 1000):  # (1000, 8192) waves at a time
        waves = np.stack([s.audio for s in samples[start : start + 1000]])
        mels.append(audio_features.mel_spectrogram(waves))  # (B, 32, 32) in -1..1
    pictures = np.round((np.concatenate(mels) + 1) * 127.5).astype(np.uint8)[:, None]
    return torch.from_numpy(pictures), [s.caption for s in samples]


SOUNDS = Recipe(
    name="sounds_diffusion",
    module="tools.train_sounds",
    pictures=_mel_pictures,
    unet={**UNET, "in_channels": 1, "out_channels": 1},
    about="text-to-audio diffusion model trained by this project (tools/train_sounds.py) on procedurally\n"
    "made sounds (tools/sounds.py), drawn as log-mel spectrograms (tools/audio_features.py; 32 mel bands\n"
    "x 32 frames of 32 ms at 8 kHz)",
    out=str(WEIGHTS),
)

if __name__ == "__main__":
    train_main(recipe=SOUNDS)

"""SoundsDiffusionPipeline: the project's own small text-to-audio model as a diffusers pipeline.

It is the shapes pipeline (tools/diffusion_pipeline.py) drawing a different kind of picture: the U-Net
denoises a one-channel (32, 32) log-mel spectrogram (32 mel bands, low first, x 32 frames of 32 ms)
from the caption's MiniLM token vectors, and Griffin-Lim (tools/audio_features.py) turns the finished
spectrogram into a waveform by guessing the phase the spectrogram does not keep. Weights:
tools/weights/sounds_diffusion/, trained by tools/train_sounds.py on tools/sounds.py.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from diffusers.utils import BaseOutput

from tools.audio_features import griffin_lim
from tools.diffusion_pipeline import ShapesDiffusionPipeline, load_pipeline
from tools.sounds import RATE

WEIGHTS = Path(__file__).resolve().parent / "weights" / "sounds_diffusion"
ITERATIONS = 48  # Griffin-Lim's rounds of phase guessing


@dataclass
class SoundsPipelineOutput(BaseOutput):
    audios: np.ndarray  # (B, samples) float32 in -1..1, at `rate`
    spectrograms: np.ndarray  # (B, 32 mel bands, 32 frames) in -1..1, low bands first
    rate: int
    vocoder_ms: float  # Griffin-Lim's time for the whole batch


class SoundsDiffusionPipeline(ShapesDiffusionPipeline):
    def decode(self, latents: torch.Tensor, iterations: int = ITERATIONS) -> SoundsPipelineOutput:
        """The final samples are spectrograms; Griffin-Lim makes each a waveform in `iterations` rounds."""
        mels = latents.float().clamp(-1, 1)[:, 0].cpu().numpy()  # (B, 32, 32)
        start = time.perf_counter()
        audios = np.stack([griffin_lim(m, iterations) for m in mels])  # (B, samples)
        peaks = np.abs(audios).max(axis=1, keepdims=True)
        audios = audios / np.maximum(peaks / 0.99, 1.0)  # a waveform louder than full scale is scaled down
        ms = round((time.perf_counter() - start) * 1000, 2)
        return SoundsPipelineOutput(audios=audios, spectrograms=mels, rate=RATE, vocoder_ms=ms)


def load_sounds_pipeline(path: str | Path = WEIGHTS, dtype=torch.float32) -> SoundsDiffusionPipeline:
    return load_pipeline(path, dtype, kind=SoundsDiffusionPipeline)

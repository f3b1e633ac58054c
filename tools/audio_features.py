"""Sound as a picture and back: the log-mel spectrogram a text-to-audio model generates, and
Griffin-Lim, which turns one back into a waveform without a trained vocoder.

At 8 kHz with a 512-sample window and a hop of 256 (frames centred on their sample, the last one
dropped), a sound of `sounds.LENGTH` samples is 32 frames; 32 mel bands between 60 Hz and 4 kHz make
it a (32, 32) picture, scaled to -1..1 like the shapes images. A mel spectrogram keeps how loud each
band is and drops the phase, so Griffin-Lim guesses one: it alternates between the magnitudes we want
and a phase consistent with some real waveform, a few dozen times. The result sounds a little
metallic, which is the lesson's point about vocoders.
"""

from __future__ import annotations

import functools
import wave
from pathlib import Path

import numpy as np
import torch

from tools.sounds import RATE

N_FFT, HOP = 512, 256  # samples per frame, and between frames (half a frame: Hann windows add up to 1)
N_MELS = 32
FMIN, FMAX = 60.0, 4000.0
DB_FLOOR = -80.0  # decibels mapped to -1; 0 dB (a full-scale sine) is mapped to +1


def _mel(hz):
    return 2595.0 * np.log10(1.0 + np.asarray(hz) / 700.0)


def _hz(mel):
    return 700.0 * (10 ** (np.asarray(mel) / 2595.0) - 1.0)


def _edges() -> np.ndarray:
    """N_MELS + 2 frequencies (Hz) evenly spaced in mel: band i rises from edge i to i + 1, falls to i + 2."""
    return _hz(np.linspace(_mel(FMIN), _mel(FMAX), N_MELS + 2))


def band_centres() -> np.ndarray:
    """Each mel band's centre frequency in Hz, lowest first, (N_MELS,)."""
    return _edges()[1:-1]


@functools.cache
def mel_filters() -> torch.Tensor:
    """Triangular filters on the mel scale, (N_MELS, N_FFT // 2 + 1 = 257), each summing to one; made
    once (every spectrogram and every Griffin-Lim run uses them). Read-only."""
    bins = np.fft.rfftfreq(N_FFT, 1 / RATE)
    edges = _edges()
    filters = np.zeros((N_MELS, len(bins)))
    for i in range(N_MELS):
        low, centre, high = edges[i : i + 3]
        rise, fall = (bins - low) / (centre - low), (high - bins) / (high - centre)
        filters[i] = np.clip(np.minimum(rise, fall), 0, None)
        if filters[i].sum() == 0:  # narrower than one FFT bin: take the nearest bin
            filters[i, np.abs(bins - centre).argmin()] = 1.0
        filters[i] /= filters[i].sum()
    return torch.tensor(filters, dtype=torch.float32)


def _stft(wave: torch.Tensor) -> torch.Tensor:
    """(bins, samples // HOP + 1) complex, each frame centred on its sample."""
    return torch.stft(wave, N_FFT, HOP, window=torch.hann_window(N_FFT), center=True, return_complex=True)


def mel_spectrogram(wave: np.ndarray) -> np.ndarray:
    """(N_MELS, frames) in -1..1: each band's loudness, frame by frame; (N, N_MELS, frames) for a
    batch of waves (N, samples)."""
    magnitude = _stft(torch.as_tensor(wave, dtype=torch.float32)).abs()[..., :-1]  # (257, frames)
    mel = mel_filters() @ magnitude / (N_FFT / 4)  # a full-scale sine peaks near 1 (0 dB)
    db = 20 * torch.log10(mel.clamp_min(10 ** (DB_FLOOR / 20)))
    return (1 + 2 * db / -DB_FLOOR).clamp(-1, 1).numpy().astype(np.float32)


def _unmel(target: torch.Tensor, steps: int = 60) -> torch.Tensor:
    """Non-negative linear-bin magnitudes whose mel bands match `target` as closely as it can:
    least squares by multiplicative updates (which never go negative), from the filters' transpose."""
    filters = mel_filters()  # (N_MELS, 257)
    x = filters.T @ target  # (257, frames)
    for _ in range(steps):
        x = x * (filters.T @ target) / (filters.T @ (filters @ x) + 1e-9)
    return x


def griffin_lim(mel: np.ndarray, iterations: int = 48, seed: int = 0) -> np.ndarray:
    """A waveform whose mel spectrogram is close to `mel` (N_MELS, frames), (samples,) float32."""
    db = (torch.as_tensor(mel, dtype=torch.float32).clamp(-1, 1) - 1) * -DB_FLOOR / 2
    target_mel = 10 ** (db / 20) * (N_FFT / 4)
    magnitude = _unmel(target_mel)  # back to linear bins, (257, frames)
    magnitude = torch.cat([magnitude, magnitude[:, -1:]], dim=1)  # the dropped last frame, repeated
    length = mel.shape[1] * HOP
    generator = torch.Generator().manual_seed(seed)
    phase = torch.rand(magnitude.shape, generator=generator) * 2 * torch.pi

    def wave_from(phase: torch.Tensor) -> torch.Tensor:
        window = torch.hann_window(N_FFT)
        spec = torch.polar(magnitude, phase)
        return torch.istft(spec, N_FFT, HOP, window=window, center=True, length=length)

    for _ in range(iterations):
        phase = _stft(wave_from(phase)).angle()
    return wave_from(phase).numpy().astype(np.float32)


def write_wav(audio: np.ndarray, rate: int, path: Path) -> str:
    """16-bit mono WAV: int16 samples as they are, floats in -1..1 scaled to them."""
    if audio.dtype != np.int16:
        audio = np.round(np.clip(audio, -1, 1) * 32767).astype(np.int16)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(audio.astype("<i2").tobytes())
    return str(path)


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """A 16-bit mono WAV file's samples (int16) and sample rate."""
    with wave.open(str(path), "rb") as f:
        return np.frombuffer(f.readframes(f.getnframes()), dtype="<i2"), f.getframerate()

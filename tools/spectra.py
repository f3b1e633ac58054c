"""Short-time spectra with NumPy: a signal cut into Hann-windowed frames, each frame's FFT.

Used where a picture or a rule needs frequencies over time (the speech demo's spectrogram, the sound
rules' loudest frequency per frame); the audio model's own mel features use torch.stft instead.
"""

from __future__ import annotations

import numpy as np


def frame_spectra(x: np.ndarray, window: int, hop: int) -> np.ndarray:
    """(frames, window // 2 + 1) complex: the rfft of each Hann-windowed `window`-sample frame, one
    every `hop` samples from the start; a trailing part shorter than a frame is dropped."""
    frames = 1 + (len(x) - window) // hop
    windows = np.lib.stride_tricks.sliding_window_view(x, window)[::hop][:frames] * np.hanning(window)
    return np.fft.rfft(windows, axis=1)

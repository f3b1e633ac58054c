"""How a speech run is shown: the audio to play, the waveform and the spectrogram with the phonemes
marked where the model put them, and how long each phoneme lasted; each picture says what to look at.
The spectrogram is computed here (numpy's FFT over Hann windows) from the run's own samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from tools.audio_features import read_wav
from tools.markup import plain
from tools.spectra import frame_spectra
from tools.trace import Fact, PipelineTrace
from tools.views import Part, audio, markdown, picture, save_figure, stage_table

WINDOW, HOP = 1024, 256  # samples per spectrogram frame, and between frames


def spectrogram(samples: np.ndarray, rate: int) -> dict:
    """Magnitudes in dB, (WINDOW // 2 + 1 bins, frames), with each bin's frequency."""
    x = samples.astype(np.float32) / 32768.0
    x = np.pad(x, (0, max(0, WINDOW - len(x))))
    magnitude = np.abs(frame_spectra(x, WINDOW, HOP)).T  # (bins, frames)
    db = 20 * np.log10(np.maximum(magnitude, 1e-5))
    hz = np.fft.rfftfreq(WINDOW, 1 / rate)
    return {"db": db.astype(np.float32), "hz": hz, "window": WINDOW, "hop": HOP}


def _audio(trace: PipelineTrace) -> np.ndarray:
    return read_wav(trace.output["audio"])[0]


def _timed(trace: PipelineTrace) -> bool:
    """Whether the model handed out its phoneme durations (Piper does; a transformers folder not)."""
    return any(s.name == "durations" for s in trace.stages)


def _bounds(trace: PipelineTrace) -> list[tuple[str, float, float]]:
    """(phoneme, start s, end s) for every phoneme the model timed; none when it timed none."""
    if not _timed(trace):
        return []
    data = trace.stage("durations").data
    rate, out, at = data["sample_rate"], [], 0
    for row in data["phonemes"]:
        out.append((row["phoneme"], at / rate, (at + row["samples"]) / rate))
        at += row["samples"]
    return out


def _mark(ax, bounds, top: float) -> None:
    for phoneme, start, end in bounds:
        ax.axvline(start, color="#868e96", linewidth=0.4)
        if phoneme.strip() and end - start > 0.02:
            ax.text((start + end) / 2, top, phoneme, ha="center", va="bottom", fontsize=7)


def waveform_figure(trace: PipelineTrace) -> Figure:
    samples, rate = _audio(trace), trace.stage("waveform").data["sample_rate"]
    fig = Figure(figsize=(9, 2.6))
    ax = fig.subplots()
    t = np.arange(len(samples)) / rate
    ax.plot(t, samples / 32768.0, linewidth=0.4, color="#1c7ed6")
    ax.set_xlim(0, t[-1] if len(t) else 1)
    ax.set_ylim(-1, 1.25)
    _mark(ax, _bounds(trace), 1.02)
    ax.set_xlabel("seconds")
    ax.set_ylabel("amplitude")
    ax.set_title("The waveform, with each phoneme where the model placed it", fontsize=9)
    return fig


def spectrogram_figure(trace: PipelineTrace) -> Figure:
    samples, rate = _audio(trace), trace.stage("waveform").data["sample_rate"]
    return spectrogram_plot(samples, rate, _bounds(trace), "The spectrogram: energy per frequency over time")


def spectrogram_plot(samples: np.ndarray, rate: int, bounds: list, title: str) -> Figure:
    """Energy per frequency over time, up to 8 kHz, with phoneme `bounds` marked when there are any."""
    spec = spectrogram(samples, rate)
    keep = spec["hz"] <= 8000  # speech lives below 8 kHz
    top = float(spec["hz"][keep][-1])
    fig = Figure(figsize=(9, 3.2))
    ax = fig.subplots()
    seconds = spec["db"].shape[1] * HOP / rate
    image = ax.imshow(
        spec["db"][keep], origin="lower", aspect="auto", cmap="magma", extent=(0, seconds, 0, top),
        vmin=spec["db"].max() - 80, vmax=spec["db"].max(),
    )  # fmt: skip
    _mark(ax, bounds, top * 1.006)
    ax.set_xlabel("seconds")
    ax.set_ylabel("frequency (Hz)")
    ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax, label="dB", pad=0.01)
    return fig


def durations_figure(trace: PipelineTrace) -> Figure:
    rows = [r for r in trace.stage("durations").data["phonemes"] if r["phoneme"].strip()]
    rate = trace.stage("durations").data["sample_rate"]
    fig = Figure(figsize=(min(0.22 * len(rows) + 2, 12), 2.6))
    ax = fig.subplots()
    ax.bar(range(len(rows)), [r["samples"] / rate * 1000 for r in rows], color="#e8590c")
    ax.set_xticks(range(len(rows)), [r["phoneme"] for r in rows], fontsize=7)
    ax.set_ylabel("ms")
    ax.set_title("How long the model made each phoneme (its duration predictor)", fontsize=9)
    return fig


def views(trace: PipelineTrace, folder: Path) -> list[Part]:
    timed = _timed(trace)
    parts = [markdown("stage table", lambda: stage_table(trace))]
    if timed:
        said = trace.stage("phonemes").data["sentences"]
        parts.append(markdown("phonemes", lambda: "**Phonemes:** " + " · ".join(plain(s) for s in said)))
    parts += [
        audio("the spoken sentence", lambda: trace.output["audio"]),
        picture(
            "waveform",
            lambda: save_figure(waveform_figure(trace), folder / "waveform.png"),
            "The sound pressure over time"
            + ("; the grey lines are phoneme boundaries. " if timed else ". ")
            + "Vowels are the tall, regular stretches; the quiet gaps are pauses the model chose.",
        ),
        picture(
            "spectrogram",
            lambda: save_figure(spectrogram_figure(trace), folder / "spectrogram.png"),
            "Bright horizontal bands under vowels are the formants (what makes an 'a' differ from an "
            "'i'); the hiss of 's' and 'f' spreads high up. Generated speech has this structure because "
            "the model learned it from recordings.",
        ),
    ]
    if timed:
        parts.append(
            picture(
                "durations",
                lambda: save_figure(durations_figure(trace), folder / "durations.png"),
                "One bar per phoneme: the model decided these lengths before making any sound. "
                "`length_scale` stretches them all.",
            )
        )
    return parts


PAUSES = set("^$_.,;:!?—-")  # piper's start and end marks, and punctuation (pauses, not sounds)


def spoken(rows: list[dict]) -> list[dict]:
    """The phonemes that are sounds: not the spaces, the pauses or piper's start and end marks."""
    return [r for r in rows if r["phoneme"].strip() and r["phoneme"] not in PAUSES]


def insight(durations: dict, seconds: float, length_scale: float) -> str:
    sounds = spoken(durations["phonemes"])
    per = seconds / max(len(sounds), 1) * 1000
    return (
        f"The voice spoke {len(sounds)} phonemes in {seconds:.2f} s, {per:.0f} ms each on average at "
        f"length_scale {length_scale:g}. It chose every phoneme's length first, then drew the waveform to "
        "fill those lengths: speech is generated from sounds and timings, not from letters."
    )


def facts(trace: PipelineTrace) -> list[Fact]:
    return [Fact(text=s.note, stage=s.name) for s in trace.stages] + [
        Fact(text=f"Key insight: {trace.key_insight}", stage="durations")
    ]

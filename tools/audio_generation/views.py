"""How an audio-generation run is shown: the sound to play, the spectrogram forming out of noise step by
step (the sample and the model's predicted clean spectrogram), the finished spectrogram with its
frequencies, the waveform Griffin-Lim made, and what the signal rules heard; each picture says what to
look at. Spectrograms are drawn low pitches at the bottom, time left to right, loud = bright."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.figure import Figure
from PIL import Image

from tools import audio_features
from tools.denoising_readout import preview
from tools.diffusion_views import denoising_table, step_facts, strip
from tools.trace import Fact, PipelineTrace
from tools.views import Part, audio, markdown, picture, save_figure, stage_table, tokens_line

CONCEPTS = {
    "tokenization": "tokenization",
    "text_encoding": "text-encoder",
    "initial_noise": "diffusion-models",
    "denoising": "diffusion-models",
    "guidance": "classifier-free-guidance",
    "spectrogram": "audio-generation",
    "phase_reconstruction": "audio-generation",
    "waveform": "audio-generation",
    "listening": "audio-generation",
}
_MAGMA = torch.tensor(colormaps["magma"](np.linspace(0, 1, 256))[:, :3], dtype=torch.float32)  # (256, 3)


def to_rgb(x: torch.Tensor) -> torch.Tensor:
    """A spectrogram sample (1, bands, frames) in -1..1 -> (3, bands, frames) colours, low bands at the
    bottom (row 0 of the array is the lowest band, so it is flipped)."""
    level = ((x[0].float().clamp(-1, 1) + 1) * 127.5).round().long().flip(0)  # (bands, frames)
    return _MAGMA[level].permute(2, 0, 1)


def mel_picture(mel: np.ndarray) -> Image.Image:
    return preview(torch.as_tensor(mel)[None], to_rgb)


def band_hz(band: int) -> float:
    """The centre frequency of a mel band, in Hz."""
    return float(audio_features.band_centres()[band])


def describe(what: dict) -> str:
    """'a rising sweep ending high', 'three beeps (middle)', 'noise', from sounds.measure or sounds.asked."""
    kind, pitch = what.get("kind"), what.get("pitch")
    if kind is None:
        return "no particular sound" + (f" ({pitch} pitch)" if pitch else "")
    if kind == "noise":
        return "a burst of noise"
    band = f" ({pitch} pitch)" if pitch else ""
    if kind == "beeps":
        count = what.get("beeps")
        return f"{count if count else 'some'} beeps{band}"
    return {"tone": "a steady tone", "rising": "a rising sweep", "falling": "a falling sweep"}[kind] + band


def formed_at(steps: list[dict]) -> int:
    """The first step from which the predicted clean spectrogram stays within a tenth of its first distance
    to the final one: when the sound was decided."""
    first = max(steps[0]["x0_rms_to_final"], 1e-8)
    return next((r["step"] for r in steps if r["x0_rms_to_final"] <= 0.1 * first), len(steps))


def insight(steps: list[dict], listening: dict, vocoder: dict, run_ms: float) -> str:
    settled = formed_at(steps)
    text = (
        f"The spectrogram was decided by step {settled} of {len(steps)}: from then on the model's predicted "
        f"clean spectrogram stayed within a tenth of its first distance to the final one. "
    )
    text += f"Signal rules hear {describe(listening['heard'])}"
    if listening["match"] is not None:
        text += f"; the caption asked for {describe(listening['asked'])}: " + (
            "a match. " if listening["match"] else "not a match. "
        )
    else:
        text += ". "
    return text + (
        f"Griffin-Lim's guessed phase leaves {vocoder['rms_error_db']:.1f} dB of difference, which you "
        f"hear as a slightly rough, metallic edge. The whole run took {run_ms / 1000:.2f} s."
    )


def _samples(trace: PipelineTrace) -> tuple[np.ndarray, int]:
    samples, rate = audio_features.read_wav(trace.output["audio"])
    return samples / 32768.0, rate


def spectrogram_figure(trace: PipelineTrace) -> Figure:
    mel = np.asarray(trace.stage("spectrogram").data["mel"])  # (bands, frames), low band first
    seconds = mel.shape[1] * audio_features.HOP / audio_features.RATE
    fig = Figure(figsize=(6.4, 3.0))
    ax = fig.subplots()
    image = ax.imshow((mel + 1) * 40 - 80, origin="lower", aspect="auto", cmap="magma", vmin=-80, vmax=0,
                      extent=(0, seconds, -0.5, mel.shape[0] - 0.5))  # fmt: skip
    ticks = [0, 8, 16, 24, mel.shape[0] - 1]
    ax.set_yticks(ticks, [f"{band_hz(b):.0f}" for b in ticks])
    ax.set_xlabel("seconds")
    ax.set_ylabel("mel band centre (Hz)")
    ax.set_title("The generated spectrogram: what the model drew", fontsize=9)
    fig.colorbar(image, ax=ax, label="dB", pad=0.01)
    return fig


def waveform_figure(trace: PipelineTrace) -> Figure:
    x, rate = _samples(trace)
    fig = Figure(figsize=(6.4, 2.2))
    ax = fig.subplots()
    t = np.arange(len(x)) / rate
    ax.plot(t, x, linewidth=0.3, color="#1c7ed6")
    ax.set_xlim(0, t[-1])
    ax.set_ylim(-1, 1)
    ax.set_xlabel("seconds")
    ax.set_ylabel("amplitude")
    ax.set_title("The waveform Griffin-Lim made from it", fontsize=9)
    return fig


def heard_table(trace: PipelineTrace) -> str:
    data = trace.stage("listening").data
    rows = ["#### Is it what the caption asked for?", "", "| | asked | heard |", "|---|---|---|"]
    for key in ("kind", "pitch", "beeps"):
        if key == "beeps" and "beeps" not in (data["asked"]["kind"], data["heard"]["kind"]):
            continue
        asked, heard = data["asked"][key], data["heard"][key]
        mark = {True: " ✓", False: " ✗"}.get(data["checks"].get(key), "")
        rows.append(f"| {key} | {asked if asked is not None else '(not said)'} | {heard}{mark} |")
    return "\n".join(rows)


def views(trace: PipelineTrace, folder: Path) -> list[Part]:
    return [
        markdown("stage table", lambda: stage_table(trace)),
        markdown("tokens", lambda: tokens_line(trace.stage("tokenization").data["tokens"])),
        audio("the generated sound", lambda: trace.output["audio"]),
        picture(
            "spectrogram forming",
            lambda: strip(trace, "sample_preview", folder / "steps.png"),
            "The spectrogram forming: the sample after evenly spaced denoising steps, left to right (low "
            "pitches at the bottom, time left to right, bright = loud). Noise turns into lines as the "
            "noise level sigma falls.",
        ),
        picture(
            "predicted clean spectrograms",
            lambda: strip(trace, "x0_preview", folder / "x0.png"),
            "What the model predicted the finished spectrogram to be at the same steps: the shape of the "
            "sound (a line, a slope, dashes or a wash of noise) is there long before the noise is gone.",
        ),
        picture(
            "spectrogram",
            lambda: save_figure(spectrogram_figure(trace), folder / "spectrogram-axes.png"),
            "The finished spectrogram with its frequencies: a steady tone is a horizontal line, a sweep a "
            "slope, beeps are dashes, noise fills every band. This picture is all the model makes.",
        ),
        picture(
            "waveform",
            lambda: save_figure(waveform_figure(trace), folder / "waveform.png"),
            "The sound pressure over time, from Griffin-Lim: the picture had no phase, so the waveform's "
            "fine detail is a guess, but its loud and quiet stretches follow the spectrogram.",
        ),
        markdown("what was heard", lambda: heard_table(trace)),
        markdown(
            "denoising table",
            lambda: denoising_table(trace, where="the strips above show the spectrogram at these steps"),
        ),
    ]


def facts(trace: PipelineTrace) -> list[Fact]:
    return [
        *(Fact(text=s.note, stage=s.name) for s in trace.stages),
        *step_facts(trace, "spectrogram"),
        Fact(text=f"Key insight: {trace.key_insight}", stage="listening"),
    ]

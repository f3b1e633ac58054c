"""Questions about an audio-generation run: when the sound was decided, what the model actually drew,
and what Griffin-Lim's guessed phase costs; every answer read from the run's own trace."""

from __future__ import annotations

from knowledge.quizbank import QuizItem
from tools.audio_generation.views import describe, formed_at
from tools.questions import choice, true_false
from tools.trace import PipelineTrace

KINDS = ({"kind": "tone"}, {"kind": "rising"}, {"kind": "falling"}, {"kind": "beeps"}, {"kind": "noise"})


def questions(trace: PipelineTrace) -> list[QuizItem]:
    steps = trace.stage("denoising").data["steps"]
    if len(steps) < 4:
        return []
    items = [_decided(trace, steps), _heard(trace), _phase(trace)]
    return [i for i in items if i is not None]


def _decided(trace: PipelineTrace, steps: list[dict]) -> QuizItem | None:
    settled, n = formed_at(steps), len(steps)
    wrong = [
        (f"step {n}", "the sound only appears at the last step",
         "The predicted clean spectrograms settle well before the last step: look at the strip."),
        (f"step {max(1, settled // 2)}" if settled > 2 else f"step {min(n, settled + 2)}",
         "the sound is fixed by the starting noise alone",
         "Early predictions still change; the table's 'predicted clean vs final' column shows it."),
        ("step 1", "the first prediction is already the final sound",
         "At step 1 the prediction is a blur of everything the caption could mean."),
    ]  # fmt: skip
    return choice(
        trace, "decided", "diffusion-models", "audio-generation",
        f"In your sound run, by which of its {n} denoising steps was the spectrogram decided (the model's "
        "predicted clean spectrogram stayed close to the final one from then on)?",
        f"step {settled}", wrong,
        f"From step {settled} on, the predicted clean spectrogram stayed within a tenth of its first "
        "distance to the final one: later steps only refined it.",
    )  # fmt: skip


def _heard(trace: PipelineTrace) -> QuizItem | None:
    heard = trace.stage("listening").data["heard"]
    kind = describe({"kind": heard["kind"], "beeps": heard["beeps"]})
    wrong = [
        (describe(k), "the caption decides what comes out, whatever the model drew",
         "The rules listen to the waveform itself; the 'what was heard' table shows it.")
        for k in KINDS if describe(k) != kind
    ][:3]  # fmt: skip
    return choice(
        trace, "heard", "audio-generation", "audio-generation",
        "What did the signal rules hear in your generated sound?", kind, wrong,
        f"They heard {describe(heard)}: read from the waveform's frequencies and loudness over time.",
    )  # fmt: skip


def _phase(trace: PipelineTrace) -> QuizItem:
    vocoder = trace.stage("phase_reconstruction").data
    return true_false(
        trace, "phase", "audio-generation", "audio-generation",
        "In your run, the waveform's spectrogram is exactly the spectrogram the model drew.",
        vocoder["rms_error_db"] < 0.05,
        "a spectrogram holds everything needed to rebuild the sound",
        f"They differ by {vocoder['rms_error_db']:.1f} dB (RMS): the drawn picture has no phase, and "
        f"Griffin-Lim's {vocoder['iterations']} rounds only guess one.",
        "A magnitude spectrogram drops the phase; a vocoder (Griffin-Lim here, a trained network in "
        "real systems) has to invent it, which is why vocoders matter for sound quality.",
    )  # fmt: skip

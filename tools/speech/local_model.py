"""Any transformers text-to-speech or text-to-audio model in a local folder (`model: FOLDER`), through
transformers' own `pipeline("text-to-audio")`: the text's token ids, the waveform and its spectrogram.
Such a model does not hand out its phoneme durations, so that stage is missing from its trace: the
trace says what it could and could not see."""

from __future__ import annotations

import numpy as np

from tools.base import ToolError
from tools.trace import Clock, Stage, TensorInfo


def load(folder: str, device: str):
    from transformers import pipeline
    from transformers.utils import logging

    logging.disable_progress_bar()
    try:
        return pipeline("text-to-audio", model=folder, device=device)
    except Exception as e:  # not a folder, not an audio model, a hub id we cannot reach, ...
        raise ToolError(
            f"Cannot load {folder!r} as a text-to-speech or text-to-audio model: it must be a local "
            "transformers model folder (model hubs cannot be reached from here). Leave `model` empty "
            "for the Piper voice."
        ) from e


def speak(pipe, text: str, clock: Clock) -> tuple[Stage, np.ndarray, int, float]:
    """(the tokens stage, int16 samples, sample rate, the model call's ms)."""
    with clock.stage() as t:
        ids = pipe.tokenizer(text)["input_ids"] if pipe.tokenizer is not None else []
    tokens = Stage(
        name="tokens",
        note=f"The model's tokenizer turned {len(text)} characters into {len(ids)} ids.",
        input=TensorInfo(shape=[len(text)], dtype="str (characters)", example=text[:80]),
        output=TensorInfo(shape=[1, len(ids)], dtype="int64", example=str(list(ids)[:16])),
        duration_ms=t.ms,
        data={"ids": [list(ids)]},
    )
    with clock.stage() as t:
        out = pipe(text)
    audio = np.asarray(out["audio"], dtype=np.float32).reshape(-1)  # (samples,) in -1..1
    if not audio.size:
        raise ToolError("The model produced no audio for this text.")
    samples = (np.clip(audio, -1, 1) * 32767).astype(np.int16)
    return tokens, samples, int(out["sampling_rate"]), t.ms

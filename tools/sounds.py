"""Sounds: a procedurally made, captioned audio dataset for the project's own text-to-audio model (the
counterpart of tools/shapes.py for images), and `measure`, which reads back what a sound is.

Each sample is about a second at 8 kHz of one kind of sound: a steady tone, a rising or a falling
sweep, two to four short beeps, or a burst of noise, at a low, middle or high pitch, quiet or loud,
with a caption in varied phrasings ("three short high beeps", "a rising low sweep", "make a burst of
noise"). Everything follows from a seed.

`measure` reads the kind, pitch band, direction and number of beeps back from the samples with plain
signal rules (spectral flatness, the dominant frequency frame by frame, energy onsets); a benchmark
validates it on this dataset's ground truth and can then grade what a model made with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tools.spectra import frame_spectra

RATE = 8000  # samples per second
LENGTH = 8192  # samples per sound (1.024 s): 32 spectrogram frames at a hop of 256
KINDS = ("tone", "rising", "falling", "beeps", "noise")
PITCHES = {"low": (180.0, 320.0), "middle": (450.0, 800.0), "high": (1100.0, 1900.0)}  # Hz, uniform
LOUDNESS = {"quiet": (0.15, 0.25), "loud": (0.55, 0.8)}  # peak amplitude
COUNTS = {2: "two", 3: "three", 4: "four"}
NOUNS = {
    "tone": ("tone", "hum", "steady tone", "note"),
    "rising": ("rising sweep", "rising tone", "rising beep", "upward sweep"),
    "falling": ("falling sweep", "falling tone", "falling beep", "downward sweep"),
    "noise": ("burst of noise", "noise burst", "hiss", "crackle of noise"),
}
TEMPLATES = ("a {thing}", "make a {thing}", "generate a {thing}", "the sound of a {thing}", "{thing}",
             "play a {thing}", "I want to hear a {thing}")  # fmt: skip


@dataclass(frozen=True)
class Sample:
    audio: np.ndarray  # (LENGTH,) float32 in -1..1
    caption: str
    kind: str  # one of KINDS
    pitch: str | None  # a PITCHES key; None for noise
    loudness: str
    beeps: int  # how many separate sounds: 1, or 2-4 for "beeps"


def _tone(freq_start: float, freq_end: float, n: int) -> np.ndarray:
    """A sine whose frequency glides from start to end (log-linearly), phase kept continuous."""
    freq = np.geomspace(freq_start, freq_end, n)
    return np.sin(2 * np.pi * np.cumsum(freq) / RATE)


def _envelope(n: int, fade: int = 160) -> np.ndarray:
    """Short fades in and out, so no sound starts or ends with a click."""
    env = np.ones(n)
    ramp = np.linspace(0, 1, min(fade, n // 2))
    env[: len(ramp)], env[n - len(ramp) :] = ramp, ramp[::-1]
    return env


def make(kind: str, pitch: str | None, loudness: str, beeps: int, rng: np.random.Generator) -> np.ndarray:
    """One sound of the given description, (LENGTH,) float32."""
    out = np.zeros(LENGTH)
    body = slice(int(0.06 * LENGTH), int(0.94 * LENGTH))
    n = body.stop - body.start
    low, high = PITCHES[pitch] if pitch else (0.0, 0.0)
    f = rng.uniform(low, high)
    if kind == "noise":
        out[body] = rng.uniform(-1, 1, n) * _envelope(n)
    elif kind in ("rising", "falling"):
        span = rng.uniform(1.8, 2.5)  # more than an octave, so the direction is plain to hear
        start, end = (f / span, f) if kind == "rising" else (f, f / span)
        out[body] = _tone(start, end, n) * _envelope(n)
    elif kind == "beeps":
        step = n // beeps
        length = int(step * rng.uniform(0.45, 0.6))
        for i in range(beeps):
            at = body.start + i * step
            out[at : at + length] = _tone(f, f, length) * _envelope(length)
    else:  # a steady tone
        out[body] = _tone(f, f, n) * _envelope(n)
    peak = rng.uniform(*LOUDNESS[loudness])
    return (out / max(np.abs(out).max(), 1e-9) * peak).astype(np.float32)


def caption(kind: str, pitch: str | None, loudness: str, beeps: int, rng: np.random.Generator) -> str:
    words = [loudness] if rng.random() < 0.35 else []
    if kind == "beeps":
        size = rng.choice(["", "short "])
        thing = f"{COUNTS[beeps]} {size}{' '.join([*words, pitch])} beeps"
        verb = str(rng.choice(["", "make ", "generate ", "play "]))  # no "a" before a number
        return verb + thing
    noun = str(rng.choice(NOUNS[kind]))
    thing = " ".join([*words, *([pitch] if pitch else []), noun])
    return str(rng.choice(TEMPLATES)).format(thing=thing)


def sample(rng: np.random.Generator) -> Sample:
    kind = str(rng.choice(KINDS))
    pitch = None if kind == "noise" else str(rng.choice(list(PITCHES)))
    loudness = str(rng.choice(list(LOUDNESS)))
    beeps = int(rng.choice(list(COUNTS))) if kind == "beeps" else 1
    audio = make(kind, pitch, loudness, beeps, rng)
    return Sample(audio, caption(kind, pitch, loudness, beeps, rng), kind, pitch, loudness, beeps)


def dataset(n: int, seed: int = 0) -> list[Sample]:
    rng = np.random.default_rng(seed)
    return [sample(rng) for _ in range(n)]


def measure(audio: np.ndarray) -> dict:
    """What a sound is, read from its samples: kind, pitch band, direction, beeps, loudness."""
    frame = 256
    power = np.abs(frame_spectra(audio, frame, frame)) ** 2  # (F, 129): back-to-back frames
    energy = np.convolve(power.sum(axis=1), np.ones(3) / 3, mode="same")  # smoothed over 3 frames
    voiced = energy > 0.05 * energy.max()
    flatness = np.exp(np.log(power[voiced] + 1e-12).mean(axis=1)) / (power[voiced].mean(axis=1) + 1e-12)
    hz = np.fft.rfftfreq(frame, 1 / RATE)[power.argmax(axis=1)]  # the loudest frequency of each frame
    onsets = int(np.sum(voiced[1:] & ~voiced[:-1]) + voiced[0])
    peak = float(np.abs(audio).max())
    loudness = "loud" if peak > 0.4 else "quiet"
    if np.median(flatness) > 0.15:
        return {"kind": "noise", "pitch": None, "beeps": onsets, "loudness": loudness}
    track = hz[voiced]
    middle = float(np.median(track))
    pitch = min(PITCHES, key=lambda p: abs(np.log(middle / np.sqrt(PITCHES[p][0] * PITCHES[p][1]))))
    third = max(1, len(track) // 3)
    change = np.log2(np.median(track[-third:]) / np.median(track[:third]))  # octaves, start to end
    kind = "beeps" if onsets > 1 else "rising" if change > 0.5 else "falling" if change < -0.5 else "tone"
    if kind in ("rising", "falling"):  # a sweep's band is where it ends up (rising) or starts (falling)
        end = np.median(track[-third:]) if kind == "rising" else np.median(track[:third])
        pitch = min(PITCHES, key=lambda p: abs(np.log(end / np.sqrt(PITCHES[p][0] * PITCHES[p][1]))))
    return {"kind": kind, "pitch": pitch, "beeps": onsets, "loudness": loudness}


def matches(truth: Sample, seen: dict) -> bool:
    """Whether a measured sound is the described one: kind, pitch band and number of beeps."""
    return all(checks({"kind": truth.kind, "pitch": truth.pitch, "beeps": truth.beeps}, seen).values())


def checks(wanted: dict, seen: dict) -> dict[str, bool]:
    """Each thing a description names (kind, pitch band, number of beeps; None: not named), checked
    against what `measure` heard. A noise has no pitch; only beeps have a count."""
    named = {key: wanted.get(key) is not None for key in ("kind", "pitch", "beeps")}
    named["pitch"] &= wanted.get("kind") != "noise"
    named["beeps"] &= wanted.get("kind") == "beeps"
    return {key: seen[key] == wanted[key] for key, on in named.items() if on}


WORDS = {  # caption words -> what they ask for (the dataset's words, and a few a learner might use)
    "kind": {
        "noise": ("noise", "hiss", "crackle", "static"),
        "rising": ("rising", "upward", "ascending", "going up"),
        "falling": ("falling", "downward", "descending", "going down"),
        "tone": ("tone", "hum", "note", "beep", "whistle"),
    },
    "pitch": {
        "low": ("low", "deep", "bass"),
        "middle": ("middle", "medium", "mid"),
        "high": ("high", "shrill"),
    },
}
NUMBERS = {"two": 2, "three": 3, "four": 4, "2": 2, "3": 3, "4": 4}


def asked(text: str) -> dict:
    """What a caption asks for, as far as its words say: kind, pitch band and number of beeps (None
    where it does not say). "three high beeps" -> beeps, high, 3; "a rising beep" -> rising."""
    words = " ".join("".join(c if c.isalnum() else " " for c in text.lower()).split())
    padded = f" {words} "

    def first(table: dict) -> str | None:
        forms = [(f" {w}{s} ", key) for key, ws in table.items() for w in ws for s in ("", "s")]
        hits = [(padded.find(form), key) for form, key in forms if form in padded]
        return min(hits)[1] if hits else None

    count = next((n for w, n in NUMBERS.items() if f" {w} " in padded), None)
    kind = "beeps" if count and " beeps " in padded else first(WORDS["kind"])
    if kind == "tone" and " beeps " in padded:
        kind = "beeps"
    return {"kind": kind, "pitch": None if kind == "noise" else first(WORDS["pitch"]), "beeps": count}

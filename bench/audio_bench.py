"""The shipped sounds model: does it make what the caption asks, and how fast (prints figures; not a test).

1. Validates the listening rules (tools/sounds.py `measure`) on the procedural dataset's ground truth,
   and the ceiling Griffin-Lim sets: the same rules on the dataset's spectrograms turned back into sound.
2. Caption fidelity: for every kind x pitch (tones, rising and falling sweeps, two to four beeps, noise),
   two phrasings and a few seeds, the share of generated sounds whose measured kind, pitch band and
   number of beeps match the caption (target >= 0.8), at the tool's default guidance and others.
3. Time to make one sound on the CPU (and on CUDA when present): the denoising steps (DDIM, guidance
   on) and Griffin-Lim, separately.

Run: `.venv/bin/python bench/audio_bench.py [--seeds 4] [--steps 25] [--guidance 1 1.25 1.5 2]
[--weights DIR]`.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from collections import defaultdict

import numpy as np
import torch
from diffusers import DDIMScheduler

from tools import audio_features, sounds
from tools.audio_generation import SOUNDS_GUIDANCE
from tools.sounds_pipeline import WEIGHTS, load_sounds_pipeline

PHRASINGS = {
    "tone": ("a {pitch} tone", "make a steady {pitch} hum"),
    "rising": ("a {pitch} rising sweep", "generate a {pitch} upward sweep"),
    "falling": ("a {pitch} falling tone", "play a {pitch} downward sweep"),
    "beeps": ("{count} {pitch} beeps", "play {count} short {pitch} beeps"),
    "noise": ("a burst of noise", "make a hiss"),
}


def grid() -> list[tuple[dict, list[str]]]:
    """(what is asked, its phrasings) for every description the model was trained to make."""
    rows = []
    for kind, pitch in itertools.product(("tone", "rising", "falling"), sounds.PITCHES):
        rows.append(
            ({"kind": kind, "pitch": pitch, "beeps": None}, [p.format(pitch=pitch) for p in PHRASINGS[kind]])
        )
    for count, pitch in itertools.product(sounds.COUNTS, sounds.PITCHES):
        words = sounds.COUNTS[count]
        asked = {"kind": "beeps", "pitch": pitch, "beeps": count}
        rows.append((asked, [p.format(pitch=pitch, count=words) for p in PHRASINGS["beeps"]]))
    rows.append(({"kind": "noise", "pitch": None, "beeps": None}, list(PHRASINGS["noise"])))
    return rows


def rules(n: int, seed: int) -> tuple[float, float]:
    """The rules' agreement with the dataset's truth, on the sounds and on their Griffin-Lim round trip."""
    data = sounds.dataset(n, seed)
    direct = np.mean([sounds.matches(s, sounds.measure(s.audio)) for s in data])
    back = [audio_features.griffin_lim(audio_features.mel_spectrogram(s.audio)) for s in data]
    return float(direct), float(
        np.mean([sounds.matches(s, sounds.measure(b)) for s, b in zip(data, back, strict=True)])
    )


def fidelity(pipe, seeds: int, steps: int, guidance: float, verbose: bool) -> dict:
    by_kind, total = defaultdict(list), []
    for asked, phrasings in grid():
        prompts = [p for p in phrasings for _ in range(seeds)]
        generator = torch.Generator(pipe.device).manual_seed(0)
        out = pipe(prompts, num_inference_steps=steps, guidance_scale=guidance, generator=generator)
        hits = [all(sounds.checks(asked, sounds.measure(a)).values()) for a in out.audios]
        by_kind[asked["kind"]] += hits
        total += hits
        if verbose:
            print(f"  {phrasings[0]:<28} {sum(hits)}/{len(hits)}", flush=True)
    return {
        "sounds": len(total),
        "all": float(np.mean(total)),
        **{k: float(np.mean(v)) for k, v in by_kind.items()},
    }


def timing(pipe, steps: int, guidance: float, repeats: int = 3) -> dict:
    whole, vocoder = [], []
    for i in range(repeats + 1):  # the first run warms up
        start = time.perf_counter()
        out = pipe("a rising beep", num_inference_steps=steps, guidance_scale=guidance)
        if pipe.device.type == "cuda":
            torch.cuda.synchronize()
        if i:
            whole.append(time.perf_counter() - start)
            vocoder.append(out.vocoder_ms / 1000)
    return {"total_s": statistics.median(whole), "griffin_lim_s": statistics.median(vocoder)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=4, help="sounds per phrasing")
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--guidance", type=float, nargs="+", default=[SOUNDS_GUIDANCE, 1.25, 1.5, 2.0])
    ap.add_argument("--rules", type=int, default=300, help="dataset sounds to validate the rules on")
    ap.add_argument("--weights", default=str(WEIGHTS), help="a folder written by tools/train_sounds.py")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    torch.manual_seed(0)

    direct, ceiling = rules(args.rules, seed=1)
    print(f"listening rules vs the dataset's truth ({args.rules} sounds): {direct:.3f}")
    print(f"the same after mel spectrogram -> Griffin-Lim (the ceiling): {ceiling:.3f}")

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        dtype = torch.float16 if device == "cuda" else torch.float32
        pipe = load_sounds_pipeline(args.weights, dtype=dtype).to(device)
        pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config)  # the tool's default sampler
        pipe.set_progress_bar_config(disable=True)
        print(f"\n== {device} ({torch.get_num_threads()} threads) ==")
        for g in args.guidance if device == "cpu" else args.guidance[:1]:
            f = fidelity(pipe, args.seeds, args.steps, g, args.verbose)
            kinds = "  ".join(f"{k} {f[k]:.2f}" for k in ("tone", "rising", "falling", "beeps", "noise"))
            print(
                f"guidance {g:g}: caption fidelity {f['all']:.3f} on {f['sounds']} sounds  ({kinds})",
                flush=True,
            )
        t = timing(pipe, args.steps, args.guidance[0])
        print(
            f"one sound, {args.steps} DDIM steps at guidance {args.guidance[0]:g}: {t['total_s']:.3f} s "
            f"(Griffin-Lim {t['griffin_lim_s']:.3f} s) for {sounds.LENGTH / sounds.RATE:.2f} s of audio"
        )


if __name__ == "__main__":
    main()

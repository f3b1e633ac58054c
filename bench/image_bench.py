"""The shipped shapes model: does it draw what the prompt asks, and how fast (prints figures; not a test).

1. Validates the pixel classifier (tools/shapes.py `classify`) on the procedural dataset's ground truth.
2. Prompt fidelity: for every colour x shape, a few seeds and phrasings, the share of generated images
   the classifier reads as the right colour, the right shape, and both (target >= 0.8).
   The first guidance scale is the tool's default; the others show what guidance does.
3. Time for 25 denoising steps of one image (DDIM, guidance on) on the CPU, and on CUDA when present.

Run: `.venv/bin/python bench/image_bench.py [--seeds 4] [--steps 25] [--guidance 3 1 7.5] [--weights DIR]`.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time

import torch
from diffusers import DDIMScheduler

from tools import shapes
from tools.diffusion_pipeline import WEIGHTS, load_pipeline
from tools.image_generation import SHAPES_GUIDANCE

DEFAULT_GUIDANCE = SHAPES_GUIDANCE  # the tool's default for the shipped model
PHRASINGS = ("a {colour} {shape}", "draw a {colour} {shape} on a white background")


def classifier_accuracy(n: int, seed: int) -> float:
    samples = shapes.dataset(n, seed)
    return sum(shapes.classify(s.image) == (s.colour, s.shape) for s in samples) / n


def fidelity(pipe, seeds: int, steps: int, guidance: float, verbose: bool) -> dict:
    grid = list(itertools.product(shapes.COLOURS, shapes.SHAPES))
    rows = []
    for colour, shape in grid:
        prompts = [p.format(colour=colour, shape=shape) for p in PHRASINGS for _ in range(seeds)]
        generator = torch.Generator(pipe.device).manual_seed(0)
        images = pipe(prompts, num_inference_steps=steps, guidance_scale=guidance, generator=generator).images
        reads = [shapes.classify(img) for img in images]
        rows.append(
            {
                "prompt": f"{colour} {shape}",
                "colour": sum(c == colour for c, _ in reads) / len(reads),
                "shape": sum(s == shape for _, s in reads) / len(reads),
                "both": sum(r == (colour, shape) for r in reads) / len(reads),
            }
        )
        if verbose:
            print(
                f"  {colour:>6} {shape:<8}  colour {rows[-1]['colour']:.2f}  shape {rows[-1]['shape']:.2f}  "
                f"both {rows[-1]['both']:.2f}",
                flush=True,
            )
    mean = {k: statistics.mean(r[k] for r in rows) for k in ("colour", "shape", "both")}
    return {"images": len(grid) * len(PHRASINGS) * seeds, **mean}


def seconds_per_image(pipe, steps: int, guidance: float, repeats: int = 3) -> float:
    times = []
    for i in range(repeats + 1):  # the first run warms up
        t = time.perf_counter()
        pipe("a red circle", num_inference_steps=steps, guidance_scale=guidance)
        if pipe.device.type == "cuda":
            torch.cuda.synchronize()
        if i:
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def _ddim(pipe):
    pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config)  # the tool's default sampler
    pipe.set_progress_bar_config(disable=True)
    return pipe


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=4, help="images per prompt phrasing")
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--guidance", type=float, nargs="+", default=[DEFAULT_GUIDANCE, 1.0, 7.5])
    ap.add_argument("--weights", default=str(WEIGHTS), help="a folder written by tools/train_shapes.py")
    args = ap.parse_args()

    acc = classifier_accuracy(3000, seed=12345)
    print(f"pixel classifier on 3000 dataset images (colour and shape right): {acc:.3f}")

    pipe = _ddim(load_pipeline(args.weights))
    for i, scale in enumerate(args.guidance):
        print(f"prompt fidelity, DDIM {args.steps} steps, guidance {scale}:", flush=True)
        fid = fidelity(pipe, args.seeds, args.steps, scale, verbose=i == 0)
        print(
            f"fidelity over {fid['images']} images at guidance {scale}: colour {fid['colour']:.3f}, "
            f"shape {fid['shape']:.3f}, both {fid['both']:.3f} (target >= 0.8)",
            flush=True,
        )

    cpu = seconds_per_image(pipe, args.steps, args.guidance[0])
    print(f"{args.steps} steps, one image, CPU ({torch.get_num_threads()} threads): {cpu * 1000:.0f} ms")
    if torch.cuda.is_available():
        gpu = seconds_per_image(
            _ddim(load_pipeline(args.weights, dtype=torch.float16)).to("cuda"), args.steps, args.guidance[0]
        )
        print(f"{args.steps} steps, one image, CUDA float16: {gpu * 1000:.0f} ms")


if __name__ == "__main__":
    main()

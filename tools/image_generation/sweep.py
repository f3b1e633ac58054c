"""The guidance comparison: the same prompt, seed and starting noise drawn again at several guidance
scales, so the lesson's point (more guidance follows the words harder, until it overdoes them) is seen
side by side. Only for the shipped shapes model, which draws an image in about half a second."""

from __future__ import annotations

import time
from pathlib import Path

import torch
from PIL import Image

from tools.trace import Artifact, Stage, TensorInfo

SCALES = (1.0, 1.5, 3.0, 7.5)
VIEW_PX = 96


def guidance_sweep(pipe, args, noise: torch.Tensor, folder: Path, ctx) -> Stage:
    from tools.shapes import classify

    start, images, read = time.perf_counter(), [], []
    for scale in SCALES:
        if ctx.should_stop():
            break
        generator = torch.Generator(device=noise.device).manual_seed(args.seed)
        image = pipe(
            prompt=args.prompt,
            num_inference_steps=args.steps,
            guidance_scale=scale,
            generator=generator,
            latents=noise.clone(),
        ).images[0]
        path = folder / f"guidance-{scale:g}.png"
        image.resize((VIEW_PX, VIEW_PX), Image.Resampling.NEAREST).save(path)
        colour, shape = classify(image)
        colour, shape = colour or "unclear colour", shape or "unclear shape"
        images.append(str(path))
        read.append({"scale": scale, "colour": colour, "shape": shape})
    drawn = [f"{r['colour']} {r['shape']} at {r['scale']:g}" for r in read]
    return Stage(
        name="guidance_comparison",
        note=f"The same prompt, seed and starting noise at guidance {', '.join(f'{s:g}' for s in SCALES)}; "
        f"a pixel classifier read: {'; '.join(drawn)}.",
        input=TensorInfo(shape=list(noise.shape), dtype=str(noise.dtype).removeprefix("torch.")),
        output=TensorInfo(shape=[len(images), VIEW_PX, VIEW_PX, 3], dtype="uint8"),
        duration_ms=round((time.perf_counter() - start) * 1000, 1),
        data={
            "scales": [r["scale"] for r in read],
            "images": images,
            "read": read,
            "this_run": args.guidance_scale,
        },
        artifacts=[
            Artifact(kind="image", path=p, caption=f"guidance {r['scale']:g}")
            for p, r in zip(images, read, strict=True)
        ],
    )

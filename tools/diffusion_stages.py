"""The stages every traced diffusion run shares, built from what the run recorded: the caption's tokens,
the text encoder's vectors, the starting noise and how hard classifier-free guidance pushed. The image
and the audio demos both use them; what they denoise (pixels, latents, spectrograms) differs."""

from __future__ import annotations

from pathlib import Path

import torch

from tools.denoising_readout import preview, rms
from tools.trace import Artifact, Clock, Stage, TensorInfo


def is_latent(pipe) -> bool:
    return getattr(pipe, "vae", None) is not None  # Stable Diffusion denoises VAE latents, ours pixels


def tokens_stage(pipe, prompt: str, clock: Clock) -> Stage:
    """The same tokenizer call the pipeline makes, repeated here to show its result."""
    from tools.diffusion_pipeline import MAX_TOKENS, ShapesDiffusionPipeline

    length = MAX_TOKENS if isinstance(pipe, ShapesDiffusionPipeline) else pipe.tokenizer.model_max_length
    with clock.stage() as t:
        ids = pipe.tokenizer(prompt, truncation=True, max_length=length).input_ids
    return Stage(
        name="tokenization",
        note=f"The prompt became {len(ids)} tokens (special markers included), padded to {length} "
        "for the text encoder; an empty prompt is tokenized too, for guidance.",
        input=TensorInfo(shape=[len(prompt)], dtype="str (characters)", example=prompt[:80]),
        output=TensorInfo(shape=[1, length], dtype="int64", example=str(ids[:12])),
        duration_ms=t.ms,
        data={
            "tokens": pipe.tokenizer.convert_ids_to_tokens(ids),
            "ids": ids,
            "padded_to": length,
            "vocab_size": pipe.tokenizer.vocab_size,
        },
    )


def initial_noise(pipe, seed: int, device: str, clock: Clock):
    """Drawn here from the seed and handed to the pipeline, so the trace shows it; the generator goes
    on to the pipeline (stochastic samplers draw their fresh noise from it)."""
    generator = torch.Generator(device=device).manual_seed(seed)
    size, unet = pipe.unet.config.sample_size, pipe.unet
    with clock.stage() as t:
        noise = torch.randn(
            (1, unet.config.in_channels, size, size), generator=generator, device=device, dtype=unet.dtype
        )
    return noise, t.ms, generator


def text_stage(pipe, seen: dict, tokenization: Stage) -> Stage:
    cond = seen["text"][0]
    return Stage(
        name="text_encoding",
        note=f"The frozen text encoder turned the tokens into {cond.shape[1]} vectors of "
        f"{cond.shape[2]} numbers each: the context the U-Net attends to. It ran "
        f"{len(seen['text'])} time(s) (prompt, and the empty prompt when guidance is on).",
        input=tokenization.output,
        output=TensorInfo(
            shape=list(cond.shape),
            dtype=str(pipe.text_encoder.dtype).removeprefix("torch."),
            example=str([round(v, 3) for v in cond[0, 1, :4].tolist()]) + " …",
        ),
        duration_ms=round(sum(seen["text_ms"]), 2),
        data={
            "calls": len(seen["text"]),
            "token_vector_norms": [round(v, 3) for v in cond[0].norm(dim=-1).tolist()],
            "encoder": type(pipe.text_encoder).__name__,
        },
    )


def noise_stage(pipe, noise: torch.Tensor, ms: float, seed: int, picture: Artifact, space="pixel") -> Stage:
    sigma = float(pipe.scheduler.init_noise_sigma)
    where = " in the VAE's latent space." if is_latent(pipe) else f", directly in {space} space."
    return Stage(
        name="initial_noise",
        note=f"Pure Gaussian noise of shape {list(noise.shape)} drawn from seed {seed}{where}"
        f" The scheduler scales it by {sigma:.4g}.",
        output=TensorInfo(shape=list(noise.shape), dtype=str(noise.dtype).removeprefix("torch.")),
        duration_ms=ms,
        data={
            "mean": round(float(noise.float().mean()), 5),
            "std": round(float(noise.float().std()), 5),
            "init_noise_sigma": round(sigma, 5),
        },
        artifacts=[picture],
    )


def guidance_stage(steps: list[dict], scale: float) -> Stage:
    deltas = [r["guidance_delta_rms"] for r in steps if r["guidance_delta_rms"] is not None]
    return Stage(
        name="guidance",
        note=(
            f"Classifier-free guidance: every step ran the U-Net with the prompt and with an empty "
            f"prompt and moved {scale:g}x along their difference (RMS {min(deltas):.3g}-{max(deltas):.3g})."
            if deltas
            else "Guidance scale 1: one U-Net pass per step, the prompt's prediction used as is."
        ),
        duration_ms=0.0,
        data={
            "scale": scale,
            "unet_passes_per_step": 2 if deltas else 1,
            "delta_rms_per_step": deltas,
            "mean_delta_rms": round(sum(deltas) / len(deltas), 5) if deltas else None,
        },
    )


def denoising_stage(
    pipe, steps: list[dict], noise: torch.Tensor, out_dir: Path, to_rgb, shown: str, what: str = "image"
) -> Stage:
    """The denoising stage, with a preview (`to_rgb`: a sample (C, h, w) -> RGB in 0..1; `shown` says
    how) of the sample and of the predicted clean `what` at every step. Its first artifact is the
    starting noise (for the initial-noise stage)."""
    final_x = steps[-1]["_sample"][0]  # (C, h, w)
    preview(noise[0], to_rgb).save(out_dir / "noise.png")
    artifacts = [Artifact(kind="image", path=str(out_dir / "noise.png"), caption="the starting noise")]
    for row in steps:
        sample_path, x0_path = out_dir / f"step{row['step']:03d}.png", out_dir / f"x0_{row['step']:03d}.png"
        preview(row.pop("_sample")[0], to_rgb).save(sample_path)
        x0 = row.pop("_x0")[0]
        preview(x0, to_rgb).save(x0_path)
        row["x0_rms_to_final"] = rms(x0 - final_x)
        row["sample_preview"], row["x0_preview"] = str(sample_path), str(x0_path)
        artifacts += [
            Artifact(kind="image", path=str(sample_path), caption=f"step {row['step']}: sample"),
            Artifact(kind="image", path=str(x0_path), caption=f"step {row['step']}: predicted clean {what}"),
        ]
    sched, shape = pipe.scheduler, list(noise.shape)
    return Stage(
        name="denoising",
        note=f"{len(steps)} steps of {type(sched).__name__}: each predicted the noise in the current "
        f"sample and removed part of it, lowering the noise level σ from {steps[0]['sigma']:.3g} to "
        f"{steps[-1]['sigma_after']:.3g}.",
        input=TensorInfo(shape=shape, dtype="float32", example="noise"),
        output=TensorInfo(shape=shape, dtype="float32", example=f"denoised {what}"),
        duration_ms=round(sum(r["ms"] for r in steps), 2),
        data={
            "scheduler": type(sched).__name__,
            "prediction_type": sched.config.prediction_type,
            "steps": steps,
            "preview": shown,
        },
        artifacts=artifacts,
    )

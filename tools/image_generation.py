"""image_generation: run a text-to-image diffusion pipeline on a prompt and trace what happened inside.

By default it runs the project's own model (tools/diffusion_pipeline.py: a small U-Net that draws
coloured shapes, 32x32 pixels, conditioned on MiniLM token vectors); `model` may name any diffusers
U-Net text-to-image pipeline (Stable Diffusion style) by hub id or local folder.

The pipeline runs unchanged. The trace observes it: forward hooks on the text encoder and the U-Net
record their outputs, and `callback_on_step_end` records the sample after every step. From the
U-Net's two predictions (with the caption / with an empty caption) it measures how hard guidance
pushed, and from the sample before a step and the guided noise prediction it computes the clean image
x0 the model predicted at that step, with the scheduler's own noise level. Latent pipelines are
previewed through a linear latent -> RGB map fitted on the run's final image (cheap: no VAE per step).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image
from pydantic import BaseModel, Field

from tools.base import RunContext, Tool, ToolError
from tools.denoising_readout import fit_latent_to_rgb, noise_level, predict_x0, preview, rms, sigma_after
from tools.trace import Artifact, Clock, PipelineTrace, Stage, TensorInfo

SCHEDULERS = {  # name -> diffusers class name
    "ddim": "DDIMScheduler",
    "ddpm": "DDPMScheduler",
    "euler": "EulerDiscreteScheduler",
    "euler_ancestral": "EulerAncestralDiscreteScheduler",
}
VIEW_PX = 256  # small images are enlarged (nearest neighbour) to at least this for viewing


SHAPES_GUIDANCE = 1.5  # the shipped model's best guidance scale (bench/image_bench.py)
PIPELINE_GUIDANCE = 7.5  # the usual default of Stable Diffusion pipelines


class ImageGenerationArgs(BaseModel):
    prompt: str = Field(
        min_length=1, max_length=300, description="What to draw, e.g. 'a red circle on a white background'."
    )
    steps: int = Field(25, ge=1, le=100, description="Denoising steps.")
    guidance_scale: float | None = Field(
        None,
        ge=1.0,
        le=20.0,
        description="How strongly to follow the prompt (1 = no guidance); default: 1.5 for the shipped "
        "shapes model, 7.5 for other pipelines.",
    )
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Random seed; the same seed gives the same image.")
    scheduler: Literal["ddim", "ddpm", "euler", "euler_ancestral"] = Field(
        "ddim", description="The sampler that turns noise predictions into steps."
    )
    model: str | None = Field(
        None,
        description="A diffusers text-to-image pipeline id or local folder; default: the shapes model.",
    )


class ImageGenerationTool(Tool):
    name = "image_generation"
    description = (
        "Generate an image from a text prompt with a real diffusion model and show how it works inside: "
        "tokens, text embeddings, the starting noise, every denoising step with the noise level and the "
        "image the model predicts, and how much classifier-free guidance pushed. The built-in model draws "
        "simple coloured shapes (circle, square, triangle) on plain backgrounds."
    )
    Args = ImageGenerationArgs
    examples = [
        "draw a red circle on a white background",
        "generate an image of a blue square",
        "make a picture of a small green triangle in the top left",
        "show me how a diffusion model draws an image",
        "demo image generation",
        "how does stable diffusion turn noise into a picture? show me live",
        "create an image from my prompt and explain each denoising step",
        "paint a yellow circle on a black background",
    ]

    def __init__(self, settings):
        super().__init__(settings)
        self._pipes: dict[tuple[str, str], object] = {}

    def _load(self, ref: str | None, device: str):
        key = (ref or "<shapes>", device)
        if key not in self._pipes:
            from diffusers import DiffusionPipeline
            from diffusers.utils import logging

            from tools.diffusion_pipeline import load_pipeline

            logging.disable_progress_bar()
            dtype = torch.float16 if device.startswith("cuda") else torch.float32  # half precision on GPU
            if ref is None:
                pipe = load_pipeline(dtype=dtype)
            else:
                try:
                    pipe = DiffusionPipeline.from_pretrained(ref, dtype=dtype)
                except Exception as e:  # missing folder, unreachable hub, not a pipeline, ...
                    raise ToolError(
                        f"Cannot load the diffusion pipeline {ref!r}: it is not a local diffusers pipeline "
                        "folder, and model hubs cannot be reached from here. Leave `model` empty to use "
                        "the built-in shapes model."
                    ) from e
                missing = [
                    c for c in ("tokenizer", "text_encoder", "unet", "scheduler") if not hasattr(pipe, c)
                ]
                if missing:
                    raise ToolError(
                        f"{ref!r} is a {type(pipe).__name__}, not a U-Net text-to-image pipeline (it has no "
                        f"{', '.join(missing)}); this tool traces Stable-Diffusion-style pipelines."
                    )
            pipe.set_progress_bar_config(disable=True)
            self._pipes[key] = pipe.to(device)
        return self._pipes[key]

    def _set_scheduler(self, pipe, name: str) -> None:
        import diffusers

        cls = getattr(diffusers, SCHEDULERS[name])
        if cls not in pipe.scheduler.compatibles:
            raise ToolError(f"This pipeline's {type(pipe.scheduler).__name__} cannot be swapped for {name}.")
        if not isinstance(pipe.scheduler, cls):
            pipe.scheduler = cls.from_config(pipe.scheduler.config)

    def _observed_run(self, pipe, args: ImageGenerationArgs, noise: torch.Tensor, generator, ctx: RunContext):
        """Run the pipeline unchanged while hooks and the step callback record what happens inside."""
        sched = pipe.scheduler
        seen = {"text": [], "text_start": [], "text_ms": [], "unet": [], "unet_start": [], "steps": []}

        def text_done(_module, _args, out) -> None:  # hooks return None: the output stays untouched
            seen["text"].append(out[0].detach().float().cpu())  # (1, T, D) token vectors
            seen["text_ms"].append((time.perf_counter() - seen["text_start"][-1]) * 1000)

        hooks = [
            pipe.text_encoder.register_forward_pre_hook(
                lambda m, a: seen["text_start"].append(time.perf_counter())
            ),
            pipe.text_encoder.register_forward_hook(text_done),
            pipe.unet.register_forward_pre_hook(lambda m, a: seen["unet_start"].append(time.perf_counter())),
            pipe.unet.register_forward_hook(lambda m, a, out: seen["unet"].append(out[0].detach().float())),
        ]
        prev = noise.float() * sched.init_noise_sigma  # the sample going into the first step

        def on_step(_pipe, i: int, timestep, tensors: dict) -> dict:
            nonlocal prev
            end = time.perf_counter()
            x = tensors["latents"].detach().float()  # (1, C, h, w) after step i
            pred = seen["unet"][-1]  # (2, C, h, w) with guidance: [empty prompt, prompt]
            if pred.shape[0] == 2 * x.shape[0]:
                uncond, cond = pred.chunk(2)
                eps, delta = uncond + args.guidance_scale * (cond - uncond), rms(cond - uncond)
            else:
                eps, delta = pred, None
            sigma, ab = noise_level(sched, i, timestep)
            sigma_next = sigma_after(sched, i)
            seen["steps"].append(
                {
                    "step": i + 1,
                    "timestep": round(float(timestep), 3),
                    "sigma": round(sigma, 5),
                    "alpha_bar": round(ab, 6),
                    "sigma_after": round(sigma_next, 5),
                    "ms": round((end - seen["unet_start"][-1]) * 1000, 2),  # U-Net, guidance, step
                    "noise_pred_rms": rms(eps),
                    "guidance_delta_rms": delta,
                    # Euler samples are x0 + sigma * eps: shown divided by sqrt(1 + sigma^2), like DDIM's
                    "_sample": (x / math.sqrt(1 + sigma_next**2) if hasattr(sched, "sigmas") else x).cpu(),
                    "_x0": predict_x0(sched, prev, eps, ab, sigma).cpu(),
                }
            )
            ctx.progress(f"step {i + 1}/{args.steps}: timestep {int(timestep)}, noise level σ={sigma:.3g}")
            if ctx.should_stop():  # the wall-clock ceiling: diffusers' loop cannot pause, so it stops here
                raise ToolError(f"The image was stopped after step {i + 1} of {args.steps}: out of time.")
            prev = x
            seen["callback_done"] = time.perf_counter()
            return {}

        try:
            image = pipe(
                prompt=args.prompt,
                num_inference_steps=args.steps,
                guidance_scale=args.guidance_scale,
                generator=generator,
                latents=noise,
                callback_on_step_end=on_step,
            ).images[0]
        finally:
            for h in hooks:
                h.remove()
        seen["decode_ms"] = round((time.perf_counter() - seen["callback_done"]) * 1000, 2)
        seen["run_ms"] = (time.perf_counter() - seen["text_start"][0]) * 1000
        return image, seen

    def run(self, args: ImageGenerationArgs, ctx: RunContext) -> PipelineTrace:
        import diffusers
        import transformers

        if args.guidance_scale is None:  # measured with bench/image_bench.py: stronger guidance
            # over-saturates the small pixel-space model (fidelity 0.96 at 1.5, 0.61 at 3, 0.28 at 5)
            default = SHAPES_GUIDANCE if args.model is None else PIPELINE_GUIDANCE
            args = args.model_copy(update={"guidance_scale": default})
        clock = Clock()
        device = self.settings.torch_device()
        ctx.progress("loading the diffusion pipeline")
        pipe = self._load(args.model, device)
        self._set_scheduler(pipe, args.scheduler)
        sched, unet = pipe.scheduler, pipe.unet
        out_dir = ctx.folder
        latent = getattr(pipe, "vae", None) is not None  # Stable Diffusion denoises VAE latents, ours pixels

        # Tokenization: the same call the pipeline makes, repeated here to show its result.
        from tools.diffusion_pipeline import MAX_TOKENS, ShapesDiffusionPipeline

        length = MAX_TOKENS if isinstance(pipe, ShapesDiffusionPipeline) else pipe.tokenizer.model_max_length
        with clock.stage() as t:
            ids = pipe.tokenizer(args.prompt, truncation=True, max_length=length).input_ids
        tokens = pipe.tokenizer.convert_ids_to_tokens(ids)
        stages = [
            Stage(
                name="tokenization",
                note=f"The prompt became {len(ids)} tokens (special markers included), padded to {length} "
                "for the text encoder; an empty prompt is tokenized too, for guidance.",
                input=TensorInfo(
                    shape=[len(args.prompt)], dtype="str (characters)", example=args.prompt[:80]
                ),
                output=TensorInfo(shape=[1, length], dtype="int64", example=str(ids[:12])),
                duration_ms=t.ms,
                data={
                    "tokens": tokens,
                    "ids": ids,
                    "padded_to": length,
                    "vocab_size": pipe.tokenizer.vocab_size,
                },
            )
        ]

        # Initial noise: drawn here from the seed and handed to the pipeline, so the trace shows it.
        generator = torch.Generator(device=device).manual_seed(args.seed)
        size = unet.config.sample_size
        shape = (1, unet.config.in_channels, size, size)
        with clock.stage() as t:
            noise = torch.randn(shape, generator=generator, device=device, dtype=unet.dtype)  # (1, C, h, w)
        noise_ms = t.ms

        ctx.progress(f"denoising with {type(sched).__name__}")
        image, seen = self._observed_run(pipe, args, noise, generator, ctx)
        steps = seen["steps"]

        # Previews: pixels directly, or latents through a linear map fitted on this run's final image.
        final_x = steps[-1]["_sample"][0]  # (C, h, w)
        if latent:
            to_rgb, fit_rms = fit_latent_to_rgb(final_x, image)
        else:
            to_rgb, fit_rms = (lambda v: v / 2 + 0.5), None
        previews, artifacts = [], []
        noise_path = out_dir / "noise.png"
        preview(noise[0], to_rgb).save(noise_path)
        for row in steps:
            sample_path, x0_path = (
                out_dir / f"step{row['step']:03d}.png",
                out_dir / f"x0_{row['step']:03d}.png",
            )
            preview(row["_sample"][0], to_rgb).save(sample_path)
            preview(row["_x0"][0], to_rgb).save(x0_path)
            row["x0_rms_to_final"] = rms(row["_x0"][0] - final_x)
            row["sample_preview"], row["x0_preview"] = str(sample_path), str(x0_path)
            previews.append(str(sample_path))
            artifacts += [
                Artifact(kind="image", path=str(sample_path), caption=f"step {row['step']}: sample"),
                Artifact(
                    kind="image", path=str(x0_path), caption=f"step {row['step']}: predicted clean image"
                ),
            ]
        for row in steps:
            del row["_sample"], row["_x0"]

        cond_text, text_ms = seen["text"][0], round(sum(seen["text_ms"]), 2)
        stages.append(
            Stage(
                name="text_encoding",
                note=f"The frozen text encoder turned the tokens into {cond_text.shape[1]} vectors of "
                f"{cond_text.shape[2]} numbers each: the context the U-Net attends to. It ran "
                f"{len(seen['text'])} time(s) (prompt, and the empty prompt when guidance is on).",
                input=TensorInfo(shape=[1, length], dtype="int64", example=str(ids[:12])),
                output=TensorInfo(
                    shape=list(cond_text.shape),
                    dtype=str(pipe.text_encoder.dtype).removeprefix("torch."),
                    example=str([round(v, 3) for v in cond_text[0, 1, :4].tolist()]) + " …",
                ),
                duration_ms=text_ms,
                data={
                    "calls": len(seen["text"]),
                    "token_vector_norms": [round(v, 3) for v in cond_text[0].norm(dim=-1).tolist()],
                    "encoder": type(pipe.text_encoder).__name__,
                },
            )
        )
        stages.append(
            Stage(
                name="initial_noise",
                note=f"Pure Gaussian noise of shape {list(shape)} drawn from seed {args.seed}"
                + (" in the VAE's latent space." if latent else ", directly in pixel space.")
                + f" The scheduler scales it by {float(sched.init_noise_sigma):.4g}.",
                output=TensorInfo(shape=list(shape), dtype=str(noise.dtype).removeprefix("torch.")),
                duration_ms=noise_ms,
                data={
                    "mean": round(float(noise.float().mean()), 5),
                    "std": round(float(noise.float().std()), 5),
                    "init_noise_sigma": round(float(sched.init_noise_sigma), 5),
                },
                artifacts=[Artifact(kind="image", path=str(noise_path), caption="the starting noise")],
            )
        )
        stages.append(
            Stage(
                name="denoising",
                note=f"{len(steps)} steps of {type(sched).__name__}: each predicted the noise in the current "
                f"sample and removed part of it, lowering the noise level σ from {steps[0]['sigma']:.3g} to "
                f"{steps[-1]['sigma_after']:.3g}.",
                input=TensorInfo(shape=list(shape), dtype="float32", example="noise"),
                output=TensorInfo(shape=list(shape), dtype="float32", example="denoised sample"),
                duration_ms=round(sum(r["ms"] for r in steps), 2),
                data={
                    "scheduler": type(sched).__name__,
                    "prediction_type": sched.config.prediction_type,
                    "steps": steps,
                    "preview": "pixels" if not latent else f"linear latent->RGB map (fit RMS {fit_rms:.3f})",
                },
                artifacts=artifacts,
            )
        )
        deltas = [r["guidance_delta_rms"] for r in steps if r["guidance_delta_rms"] is not None]
        stages.append(
            Stage(
                name="guidance",
                note=(
                    f"Classifier-free guidance: every step ran the U-Net with the prompt and with an empty "
                    f"prompt and moved {args.guidance_scale:g}x along their difference (RMS "
                    f"{min(deltas):.3g}-{max(deltas):.3g})."
                    if deltas
                    else "Guidance scale 1: one U-Net pass per step, the prompt's prediction used as is."
                ),
                duration_ms=0.0,
                data={
                    "scale": args.guidance_scale,
                    "unet_passes_per_step": 2 if deltas else 1,
                    "delta_rms_per_step": deltas,
                    "mean_delta_rms": round(sum(deltas) / len(deltas), 5) if deltas else None,
                },
            )
        )

        w, h = image.size
        scale = max(1, math.ceil(VIEW_PX / max(w, h)))
        image_path = out_dir / "image.png"
        image.resize((w * scale, h * scale), Image.Resampling.NEAREST).save(image_path)
        final_data = {
            "size": [w, h],
            "enlarged": scale,
            "mean_brightness": round(float(np.asarray(image).mean()), 2),
        }
        if args.model is None:
            from tools.shapes import classify

            colour, shape_name = classify(image)
            final_data["pixel_classifier"] = {"colour": colour, "shape": shape_name}
        stages.append(
            Stage(
                name="final_image",
                note=(
                    "The VAE decoded the final latents into pixels"
                    if latent
                    else "The final sample's pixels were mapped from [-1, 1] to 0-255"
                )
                + (f" and enlarged {scale}x (nearest neighbour) for viewing." if scale > 1 else "."),
                input=TensorInfo(shape=list(shape), dtype="float32"),
                output=TensorInfo(shape=[h, w, 3], dtype="uint8", example=str(image_path.name)),
                duration_ms=seen["decode_ms"],
                data=final_data,
                artifacts=[Artifact(kind="image", path=str(image_path), caption=args.prompt[:80])],
            )
        )

        model_name = Path(args.model).name if args.model else "shapes_diffusion"
        return PipelineTrace(
            tool=self.name,
            title=f"How {model_name} drew {args.prompt[:60]!r}",
            prompt=args.prompt,
            device=device,
            seed=args.seed,
            config={**args.model_dump(), "pipeline": type(pipe).__name__, "image_size": [w, h]},
            versions={
                "torch": torch.__version__,
                "diffusers": diffusers.__version__,
                "transformers": transformers.__version__,
            },
            stages=stages,
            output={"image": str(image_path), "previews": previews},
            key_insight=_insight(steps, args, seen["run_ms"], final_data.get("pixel_classifier")),
            total_ms=clock.total_ms(),
        )


def _insight(steps: list[dict], args: ImageGenerationArgs, run_ms: float, read: dict | None) -> str:
    first, n = steps[0]["x0_rms_to_final"], len(steps)
    settled = next((r["step"] for r in steps if r["x0_rms_to_final"] <= 0.1 * max(first, 1e-8)), n)
    text = (
        f"At step 1 the predicted clean image was {first:.3g} (RMS) away from the final image; from step "
        f"{settled} of {n} on it stayed within a tenth of that (noise level σ="
        f"{steps[settled - 1]['sigma']:.3g}): "
    )
    text += (
        "the picture was decided early, while the sample still looked like noise; later steps refined it. "
        if settled <= n / 2
        else "the picture kept changing until late in the run. "
    )
    deltas = [r["guidance_delta_rms"] for r in steps if r["guidance_delta_rms"] is not None]
    if deltas:
        peak = max(steps, key=lambda r: r["guidance_delta_rms"] or 0)
        text += (
            f"The prompt changed the noise prediction most at step {peak['step']} (RMS difference "
            f"{peak['guidance_delta_rms']:.3g}), amplified {args.guidance_scale:g}x by guidance. "
        )
    if read:
        seen = " ".join(v for v in (read["colour"], read["shape"]) if v) or "nothing clear"
        text += f"A pixel classifier reads the result as: {seen}. "
    return text + f"The pipeline ran for {run_ms / 1000:.2f} s."

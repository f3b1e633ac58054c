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
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image
from pydantic import BaseModel, Field

from tools import diffusion_views
from tools.base import RunContext, Tool, ToolError
from tools.denoising_readout import fit_latent_to_rgb
from tools.diffusion_observer import observed_run
from tools.diffusion_stages import (
    denoising_stage,
    guidance_stage,
    initial_noise,
    is_latent,
    noise_stage,
    text_stage,
    tokens_stage,
)
from tools.image_generation import questions, views, word_maps
from tools.image_generation.sweep import guidance_sweep
from tools.schedulers import set_scheduler
from tools.trace import Artifact, Clock, PipelineTrace, Stage, TensorInfo

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
    compare_guidance: bool = Field(
        True,
        description="Also draw the same prompt and seed at guidance 1, 1.5, 3 and 7.5 (shapes model).",
    )


class ImageGenerationTool(Tool):
    name = "image_generation"
    command = "image"
    noun = "the image model"
    not_knobs = ("compare_guidance",)
    counterpart = "image_api"  # the same job done by a hosted service: `/demo compare PROMPT`
    concepts = views.CONCEPTS
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

    def pipeline(self, ref: str | None, device: str):
        """The diffusers pipeline for a local folder or the shapes model, loaded once per device."""
        return self.setup((ref or "<shapes>", device), lambda: self._load(ref, device))

    def _load(self, ref: str | None, device: str):
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
            missing = [c for c in ("tokenizer", "text_encoder", "unet", "scheduler") if not hasattr(pipe, c)]
            if missing:
                raise ToolError(
                    f"{ref!r} is a {type(pipe).__name__}, not a U-Net text-to-image pipeline (it has no "
                    f"{', '.join(missing)}); this tool traces Stable-Diffusion-style pipelines."
                )
        pipe.set_progress_bar_config(disable=True)
        return pipe.to(device)

    def run(self, args: ImageGenerationArgs, ctx: RunContext) -> PipelineTrace:
        import diffusers
        import transformers

        if args.guidance_scale is None:  # measured with bench/image_bench.py: stronger guidance
            # over-saturates the small pixel-space model (fidelity 0.96 at 1.5, 0.61 at 3, 0.28 at 5)
            default = SHAPES_GUIDANCE if args.model is None else PIPELINE_GUIDANCE
            args = args.model_copy(update={"guidance_scale": default})
        clock = Clock()
        ctx.progress("loading the diffusion pipeline")
        pipe = self.pipeline(args.model, ctx.device)
        set_scheduler(pipe, args.scheduler)
        tokenization = tokens_stage(pipe, args.prompt, clock)
        noise, noise_ms, generator = initial_noise(pipe, args.seed, ctx.device, clock)
        ctx.progress(f"denoising with {type(pipe.scheduler).__name__}")
        maps = word_maps.WordMaps(pipe, pipe.unet.config.sample_size)
        output, seen = observed_run(pipe, args, noise, generator, ctx, [maps])
        image = output.images[0]
        denoising = _denoising(pipe, seen["steps"], image, noise, ctx.folder)
        final = _final_image(pipe, image, seen["decode_ms"], args, noise.shape, ctx.folder)
        stages = [
            tokenization,
            text_stage(pipe, seen, tokenization),
            noise_stage(pipe, noise, noise_ms, args.seed, denoising.artifacts.pop(0)),
            denoising,
            guidance_stage(seen["steps"], args.guidance_scale),
            final,
            word_maps.stage(maps, tokenization.data["tokens"], image, ctx.folder),
        ]
        if args.compare_guidance and args.model is None:
            ctx.progress("the same seed at other guidance scales")
            stages.append(guidance_sweep(pipe, args, noise, ctx.folder, ctx))
        model_name = Path(args.model).name if args.model else "shapes_diffusion"
        return PipelineTrace(
            tool=self.name,
            title=f"How {model_name} drew {args.prompt[:60]!r}",
            prompt=args.prompt,
            device=ctx.device,
            seed=args.seed,
            config={**args.model_dump(), "pipeline": type(pipe).__name__, "image_size": final.data["size"]},
            versions={
                "torch": torch.__version__,
                "diffusers": diffusers.__version__,
                "transformers": transformers.__version__,
            },
            stages=stages,
            output={
                "image": final.artifacts[0].path,
                "previews": [r["sample_preview"] for r in seen["steps"]],
            },
            key_insight=_insight(seen["steps"], args, seen["run_ms"], final.data.get("pixel_classifier")),
            total_ms=clock.total_ms(),
        )

    def views(self, trace, folder):
        return views.views(trace, folder)

    def questions(self, trace):
        return questions.questions(trace)

    def prediction(self, trace):
        return questions.prediction(trace)

    def verdict(self, guess, picked, a, b):
        return questions.verdict(guess, picked, a, b)

    def facts(self, trace):
        return views.facts(trace)

    def frames(self, trace):
        return diffusion_views.frames(trace)

    def observed(self, trace):
        return {**super().observed(trace), **views.observed(trace)}


def _denoising(pipe, steps: list[dict], image, noise: torch.Tensor, out_dir: Path) -> Stage:
    """The denoising stage, with a preview of the sample and of the predicted clean image per step:
    pixels directly, or latents through a linear map fitted on this run's final image."""
    if is_latent(pipe):
        to_rgb, fit_rms = fit_latent_to_rgb(steps[-1]["_sample"][0], image)
        shown = f"linear latent->RGB map (fit RMS {fit_rms:.3f})"
    else:
        to_rgb, shown = (lambda v: v / 2 + 0.5), "pixels"
    return denoising_stage(pipe, steps, noise, out_dir, to_rgb, shown)


def _final_image(pipe, image, decode_ms: float, args: ImageGenerationArgs, shape, out_dir: Path) -> Stage:
    w, h = image.size
    scale = max(1, math.ceil(VIEW_PX / max(w, h)))
    path = out_dir / "image.png"
    image.resize((w * scale, h * scale), Image.Resampling.NEAREST).save(path)
    data = {"size": [w, h], "enlarged": scale, "mean_brightness": round(float(np.asarray(image).mean()), 2)}
    if args.model is None:
        from tools.shapes import classify

        colour, shape_name = classify(image)
        data["pixel_classifier"] = {"colour": colour, "shape": shape_name}
    how = (
        "The VAE decoded the final latents into pixels"
        if is_latent(pipe)
        else ("The final sample's pixels were mapped from [-1, 1] to 0-255")
    )
    return Stage(
        name="final_image",
        note=how + (f" and enlarged {scale}x (nearest neighbour) for viewing." if scale > 1 else "."),
        input=TensorInfo(shape=list(shape), dtype="float32"),
        output=TensorInfo(shape=[h, w, 3], dtype="uint8", example=path.name),
        duration_ms=decode_ms,
        data=data,
        artifacts=[Artifact(kind="image", path=str(path), caption=args.prompt[:80])],
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

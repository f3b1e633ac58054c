"""A tiny diffusion model trained live on the 8x8 digits: a diffusers UNet2DModel learns to predict
the noise that a DDPMScheduler mixed into each image.

Training picks a random noise level t for each image, mixes in Gaussian noise
(x_t = sqrt(a_t) x_0 + sqrt(1 - a_t) noise) and asks the U-Net for the noise back (mean squared error).
Every epoch the denoising loop below turns one fixed batch of pure noise into digits in SAMPLE_STEPS
steps, so the learner sees noise become digits as the loss falls. Left out: classifier-free guidance,
EMA weights, latents (8x8 pixels need no autoencoder).
"""

from __future__ import annotations

import time
from pathlib import Path

import diffusers
import numpy as np
import sklearn
import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler, UNet2DModel

from tools.trace import LayerRow, Stage
from tools.training import digits
from tools.training.loop import (
    Config,
    Result,
    Run,
    change,
    describe,
    layer_rows,
    parameter_count,
    seeded_init,
)

DEFAULTS = {"epochs": 10, "learning_rate": 2e-3, "batch_size": 128, "width": 32}
TIMESTEPS = 200  # noise levels in training
BETA_SCHEDULE = "squaredcos_cap_v2"  # cosine: pure noise at the last level for any number of levels
SAMPLE_STEPS = 40  # denoising steps when sampling, spread over the 200 levels
SAMPLES = 16  # the fixed noise batch denoised every epoch


def unet(width: int) -> UNet2DModel:
    return UNet2DModel(
        sample_size=8,
        in_channels=1,
        out_channels=1,
        layers_per_block=1,
        block_out_channels=(width, 2 * width),  # 8x8 at `width` channels, 4x4 at 2 * width
        down_block_types=("DownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "UpBlock2D"),
        norm_num_groups=8,
    )


def noise_schedule() -> DDPMScheduler:
    return DDPMScheduler(num_train_timesteps=TIMESTEPS, beta_schedule=BETA_SCHEDULE)


@torch.no_grad()
def denoise(model: UNet2DModel, scheduler: DDPMScheduler, noise: torch.Tensor, seed: int) -> torch.Tensor:
    """Pure noise (N, 1, 8, 8) -> images (N, 1, 8, 8): the DDPM sampling loop."""
    model.eval()
    sched = DDPMScheduler.from_config(scheduler.config)
    sched.set_timesteps(SAMPLE_STEPS)
    generator = torch.Generator(noise.device).manual_seed(seed)  # the noise each step adds back
    x = noise
    for t in sched.timesteps:
        eps = model(x, t).sample  # (N, 1, 8, 8): the noise the model sees in x
        x = sched.step(eps, t, x, generator=generator).prev_sample  # (N, 1, 8, 8): one level cleaner
    model.train()
    return x.clamp(-1, 1)


def train(cfg: Config, run: Run) -> Result:
    device = run.device
    raw, labels, x, load_ms = digits.prepared(device)  # (1797, 8, 8) 0..16, (1797,), (1797, 1, 8, 8)
    model = seeded_init(cfg.seed, lambda: unet(cfg.width)).to(device)
    scheduler = noise_schedule()
    fixed = torch.randn(
        SAMPLES, 1, 8, 8, generator=torch.Generator(device).manual_seed(cfg.seed + 1), device=device
    )  # (16, 1, 8, 8): the same starting noise every epoch
    run.progress(f"training a U-Net ({parameter_count(model):,} parameters) to remove noise from digits")
    x0, xt, samples, grids = _fit(cfg, run, x, model, scheduler, fixed)
    run.check_trained()
    run.progress("measuring the loss at each noise level and tracing one noisy digit through the U-Net")
    model.eval()
    by_level = _loss_by_level(model, scheduler, x, cfg.seed)
    layers = _trace(model, scheduler, x[:1], cfg.seed)
    return Result(
        title="Training a diffusion model on 8x8 handwritten digits",
        stages=_data_stages(cfg, run, raw, labels, x, x0, xt, scheduler, load_ms)
        + _model_stages(cfg, run, model, xt, by_level, fixed, samples, grids),
        layers=layers,
        output={"image": str(grids[-1])},
        key_insight=_insight(run.rows, by_level),
        config={"timesteps": TIMESTEPS, "sample_steps": SAMPLE_STEPS, "beta_schedule": BETA_SCHEDULE},
        versions={
            "torch": torch.__version__,
            "diffusers": diffusers.__version__,
            "scikit-learn": sklearn.__version__,
            "numpy": np.__version__,
        },
        models={"unet": model},
    )


def _fit(
    cfg: Config,
    run: Run,
    x: torch.Tensor,
    model: UNet2DModel,
    scheduler: DDPMScheduler,
    fixed: torch.Tensor,
) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None, list[Path]]:
    """Train epoch by epoch until the epochs, the time budget or a cancel run out; returns the last batch,
    clean and noised, the last samples denoised from the fixed noise and every epoch's sample grid."""
    device = run.device
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate)
    order_gen = torch.Generator().manual_seed(cfg.seed)  # data order, on the CPU
    noise_gen = torch.Generator(device).manual_seed(cfg.seed)  # training noise and timesteps
    losses, grids = [], []
    x0 = xt = samples = None
    for epoch in run.epoch_numbers():
        start = time.perf_counter()
        total = 0.0
        for idx in run.batches(len(x), cfg.batch_size, order_gen):
            x0 = x[idx.to(device)]  # (B, 1, 8, 8)
            xt, loss = _step(model, scheduler, opt, x0, noise_gen)
            total += loss
        n = run.batches_done
        if n == 0:
            break
        samples = denoise(model, scheduler, fixed, cfg.seed)  # (16, 1, 8, 8)
        grids.append(digits.save_grid(samples, run.out_dir / f"diffusion_epoch_{epoch:02d}.png"))
        losses.append(total / n)
        metrics = {"sample": str(grids[-1]), "observation": _observation(epoch, losses)}
        run.end_epoch(
            epoch, losses[-1], metrics, time.perf_counter() - start, f"denoising loss {losses[-1]:.4f}"
        )
    return x0, xt, samples, grids


def _step(
    model: UNet2DModel,
    scheduler: DDPMScheduler,
    opt: torch.optim.Optimizer,
    x0: torch.Tensor,
    noise_gen: torch.Generator,
) -> tuple[torch.Tensor, float]:
    """Noise each image of a batch (B, 1, 8, 8) to a random level and train the U-Net to predict that
    noise; returns the noised batch and the loss."""
    noise = torch.randn(x0.shape, generator=noise_gen, device=x0.device)  # (B, 1, 8, 8)
    t = torch.randint(TIMESTEPS, (len(x0),), generator=noise_gen, device=x0.device)  # (B,)
    xt = scheduler.add_noise(x0, noise, t)  # (B, 1, 8, 8)
    loss = F.mse_loss(model(xt, t).sample, noise)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return xt, loss.item()


def _observation(epoch: int, losses: list[float]) -> str:
    """The epoch's loss against that of predicting no noise, and its change since epoch 1."""
    # Predicting zero noise scores E[noise^2] = 1: the yardstick for "has it learned anything".
    observation = f"{losses[-1]:.0%} of the loss of predicting 'no noise' (1.00)"
    if epoch > 1:
        observation = f"{change(losses[0], losses[-1])}; {observation}"
    return observation


def unet_layers(model: UNet2DModel, noisy: torch.Tensor, t: torch.Tensor) -> list[LayerRow]:
    """One noisy digit (1, 1, 8, 8) at timestep t (1,) through the trained U-Net, block by block."""
    named = [("conv_in", model.conv_in), ("time_embedding", model.time_embedding)]
    named += [(f"down_blocks.{i}", b) for i, b in enumerate(model.down_blocks)]
    named += [("mid_block", model.mid_block)]
    named += [(f"up_blocks.{i}", b) for i, b in enumerate(model.up_blocks)]
    named += [("conv_out", model.conv_out)]
    return layer_rows(named, lambda: model(noisy, t))


def unet_stage(cfg: Config, model: UNet2DModel, x: torch.Tensor, target: str, timing: str) -> Stage:
    """The model stage of a U-Net that predicts `target` from inputs like x (B, 1, 8, 8)."""
    return Stage(
        name="model",
        note=f"A diffusers UNet2DModel: 8x8 at {cfg.width} channels, 4x4 at {2 * cfg.width}, skip "
        f"connections back up; {timing}. {parameter_count(model):,} parameters.",
        input=describe(x),
        output=describe(x, example=f"predicted {target}, same shape as the input"),
        duration_ms=0.0,
        data={"parameters": parameter_count(model), "block_out_channels": [cfg.width, 2 * cfg.width]},
    )


def _trace(model: UNet2DModel, scheduler: DDPMScheduler, digit: torch.Tensor, seed: int) -> list[LayerRow]:
    """One digit (1, 1, 8, 8), half noised, through the trained U-Net; the last row adds how far its
    predicted noise is from the real one."""
    device = digit.device
    t_mid = torch.tensor([TIMESTEPS // 2], device=device)  # (1,)
    noise = torch.randn(1, 1, 8, 8, generator=torch.Generator(device).manual_seed(seed + 2), device=device)
    noisy = scheduler.add_noise(digit, noise, t_mid)  # (1, 1, 8, 8): the digit, half noised
    layers = unet_layers(model, noisy, t_mid)
    with torch.no_grad():
        err = F.mse_loss(model(noisy, t_mid).sample, noise).item()
    layers[-1].data["noise_mse"] = round(err, 5)
    layers[-1].summary += f"; predicted noise is off by MSE {err:.3f} at t = {TIMESTEPS // 2}"
    return layers


def _data_stages(
    cfg: Config,
    run: Run,
    raw: np.ndarray,
    labels: np.ndarray,
    x: torch.Tensor,
    x0: torch.Tensor,
    xt: torch.Tensor,
    scheduler: DDPMScheduler,
    load_ms: float,
) -> list[Stage]:
    """The dataset, normalised tensor and noising stages: what the U-Net learns from."""
    return [
        *digits.data_stages(raw, labels, x, load_ms),
        Stage(
            name="noising",
            note=f"Each image in a batch of {cfg.batch_size} gets a random noise level t out of "
            f"{TIMESTEPS}; the scheduler mixes in that much noise and the model must predict it.",
            input=describe(x0),
            output=describe(xt),
            duration_ms=0.0,
            data={
                "signal_kept": {  # sqrt(alpha_bar_t): how much of the digit survives at level t
                    int(t): round(scheduler.alphas_cumprod[t].sqrt().item(), 4)
                    for t in (0, TIMESTEPS // 4, TIMESTEPS // 2, 3 * TIMESTEPS // 4, TIMESTEPS - 1)
                },
                "batches_per_epoch": run.batches_total,
            },
        ),
    ]


def _model_stages(
    cfg: Config,
    run: Run,
    model: UNet2DModel,
    xt: torch.Tensor,
    by_level: dict[str, float],
    fixed: torch.Tensor,
    samples: torch.Tensor,
    grids: list[Path],
) -> list[Stage]:
    """The model, training and samples stages: the U-Net and what it learned to draw."""
    return [
        unet_stage(cfg, model, xt, "noise", "the noise level enters as a time embedding"),
        run.training_stage(
            "Mean squared error between the real and the predicted noise, AdamW.",
            {"loss_by_noise_level": by_level},
        ),
        digits.samples_stage(
            f"The same {SAMPLES} pure-noise images denoised in {SAMPLE_STEPS} steps after each epoch.",
            fixed,
            samples,
            grids,
            run.rows,
        ),
    ]


@torch.no_grad()
def _loss_by_level(model, scheduler, x: torch.Tensor, seed: int) -> dict[str, float]:
    """The trained model's loss on 256 digits at each quarter of the noise levels."""
    gen = torch.Generator(x.device).manual_seed(seed + 3)
    x0 = x[:256]  # (256, 1, 8, 8)
    out = {}
    for q in range(4):
        lo, hi = q * TIMESTEPS // 4, (q + 1) * TIMESTEPS // 4
        t = torch.randint(lo, hi, (len(x0),), generator=gen, device=x.device)  # (256,)
        noise = torch.randn(x0.shape, generator=gen, device=x.device)
        out[f"t {lo}-{hi - 1}"] = round(
            F.mse_loss(model(scheduler.add_noise(x0, noise, t), t).sample, noise).item(), 4
        )
    return out


def _insight(rows, by_level: dict[str, float]) -> str:
    (low_name, low), *_, (high_name, high) = by_level.items()
    why = (
        "With little noise the noise is hard to tell apart from the digit; with heavy noise the input is "
        "almost all noise, so it nearly is the answer."
        if low > high
        else "This model still finds heavy noise harder, unlike a well-trained one: train it longer."
    )
    return (
        f"The denoising loss went from {rows[0].loss:.3f} to {rows[-1].loss:.3f} (predicting no noise "
        f"scores 1.0). It is not the same at every noise level: {low:.3f} at the faintest noise "
        f"({low_name}) and {high:.3f} at the heaviest ({high_name}). {why}"
    )

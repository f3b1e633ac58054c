"""A tiny flow-matching (rectified-flow) model trained live on the 8x8 digits: the same diffusers
UNet2DModel as the diffusion demo learns a velocity instead of a noise.

Training draws a time s in [0, 1] for each image and puts it on the straight line between the digit
and a noise image, x_s = (1 - s) x_0 + s noise; the U-Net (told s x 1000 as its timestep) must predict
the line's direction, v = noise - x_0 (mean squared error). Sampling starts from pure noise (s = 1)
and takes Euler steps against that direction with diffusers' FlowMatchEulerDiscreteScheduler. Because
the paths it learns are nearly straight, a few steps already land near where many would. After
training, the fixed noise batch is sampled with 1 to 25 steps, and the trace measures how straight the
paths were. Left out: guidance, EMA weights, timestep shifting, reflow (retraining on its own pairs).
"""

from __future__ import annotations

import time
from pathlib import Path

import diffusers
import numpy as np
import sklearn
import torch
import torch.nn.functional as F
from diffusers import FlowMatchEulerDiscreteScheduler, UNet2DModel

from tools.trace import Artifact, Stage
from tools.training import digits
from tools.training.diffusion import unet, unet_layers, unet_stage
from tools.training.loop import Config, Result, Run, change, describe, parameter_count, seeded_init

DEFAULTS = {"epochs": 10, "learning_rate": 2e-3, "batch_size": 128, "width": 32}
TRAIN_TIMESTEPS = 1000  # the U-Net is told s x 1000, the scale diffusers' flow scheduler uses
SAMPLE_STEPS = 10  # Euler steps when sampling after each epoch
STEP_SWEEP = (1, 2, 4, 10, 25)  # after training: the same noise sampled with this many steps
SAMPLES = 16  # the fixed noise batch sampled every epoch
CLOSE = 0.1  # RMS pixel distance (pixels in [-1, 1]) within which a few-step result counts as landed


@torch.no_grad()
def sample(model: UNet2DModel, noise: torch.Tensor, steps: int) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Pure noise (N, 1, 8, 8) -> images (N, 1, 8, 8) in `steps` Euler steps, and every intermediate
    sample (steps + 1 of them, the noise first)."""
    model.eval()
    sched = FlowMatchEulerDiscreteScheduler(num_train_timesteps=TRAIN_TIMESTEPS)
    sched.set_timesteps(steps)
    x, path = noise, [noise]
    for t in sched.timesteps:
        v = model(x, t).sample  # (N, 1, 8, 8): the direction from digit to noise at time t / 1000
        x = sched.step(v, t, x).prev_sample  # (N, 1, 8, 8): one step back along it
        path.append(x)
    model.train()
    return x.clamp(-1, 1), path


def straightness(path: list[torch.Tensor]) -> float:
    """How straight the sampling paths were: the distance from start to end over the distance walked,
    averaged over the batch (1.0: a straight line)."""
    walked = sum((b - a).flatten(1).norm(dim=1) for a, b in zip(path, path[1:], strict=False))  # (N,)
    direct = (path[-1] - path[0]).flatten(1).norm(dim=1)  # (N,)
    return (direct / walked.clamp_min(1e-8)).mean().item()


def train(cfg: Config, run: Run) -> Result:
    device = run.device
    raw, labels, x, load_ms = digits.prepared(device)  # (1797, 8, 8) 0..16, (1797,), (1797, 1, 8, 8)
    model = seeded_init(cfg.seed, lambda: unet(cfg.width)).to(device)
    fixed = torch.randn(
        SAMPLES, 1, 8, 8, generator=torch.Generator(device).manual_seed(cfg.seed + 1), device=device
    )  # (16, 1, 8, 8): the same starting noise every epoch
    run.progress(
        f"training a U-Net ({parameter_count(model):,} parameters) to point from digits to noise "
        "along straight lines"
    )
    batch = _fit(cfg, run, x, model, fixed)
    run.check_trained()
    run.progress(f"sampling the same noise with {', '.join(map(str, STEP_SWEEP))} steps")
    sweep = _sweep(model, fixed, run.out_dir)
    by_time = _loss_by_time(model, x, cfg.seed)
    noise = torch.randn(
        1, 1, 8, 8, generator=torch.Generator(device).manual_seed(cfg.seed + 2), device=device
    )
    middle = _line(x[:1], noise, torch.tensor([0.5], device=device))[0]  # (1, 1, 8, 8): halfway to noise
    layers = unet_layers(model, middle, torch.tensor([TRAIN_TIMESTEPS // 2], device=device))
    return Result(
        title="Training a flow-matching model on 8x8 handwritten digits",
        stages=_stages(cfg, run, raw, labels, x, batch, load_ms, model, by_time, fixed, sweep),
        layers=layers,
        output={"image": sweep["grids"][STEP_SWEEP.index(SAMPLE_STEPS)]},
        key_insight=_insight(run.rows, sweep),
        config={"sample_steps": SAMPLE_STEPS, "step_sweep": list(STEP_SWEEP)},
        versions={
            "torch": torch.__version__,
            "diffusers": diffusers.__version__,
            "scikit-learn": sklearn.__version__,
            "numpy": np.__version__,
        },
        models={"unet": model},
    )


def _line(x0: torch.Tensor, noise: torch.Tensor, s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Points at times s (B,) on the lines from digits x0 (B, 1, 8, 8) to noise, and the lines' direction."""
    s4 = s.view(-1, 1, 1, 1)
    return (1 - s4) * x0 + s4 * noise, noise - x0  # (B, 1, 8, 8) each


def _fit(cfg: Config, run: Run, x: torch.Tensor, model: UNet2DModel, fixed: torch.Tensor) -> dict:
    """Train epoch by epoch until the epochs, the time budget or a cancel run out; returns the last
    batch (clean, on its lines, and its times)."""
    device = run.device
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate)
    order_gen = torch.Generator().manual_seed(cfg.seed)  # data order, on the CPU
    noise_gen = torch.Generator(device).manual_seed(cfg.seed)  # training noise and times
    losses, batch = [], {}
    for epoch in run.epoch_numbers():
        start = time.perf_counter()
        total = 0.0
        for idx in run.batches(len(x), cfg.batch_size, order_gen):
            x0 = x[idx.to(device)]  # (B, 1, 8, 8)
            noise = torch.randn(x0.shape, generator=noise_gen, device=device)  # (B, 1, 8, 8)
            s = torch.rand(len(x0), generator=noise_gen, device=device)  # (B,): a time per image
            xs, v = _line(x0, noise, s)
            loss = F.mse_loss(model(xs, s * TRAIN_TIMESTEPS).sample, v)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item()
            batch = {"x0": x0, "xs": xs, "s": s}
        if run.batches_done == 0:
            break
        losses.append(total / run.batches_done)
        images, _ = sample(model, fixed, SAMPLE_STEPS)
        grid = digits.save_grid(images, run.out_dir / f"flow_epoch_{epoch:02d}.png")
        metrics = {"sample": str(grid), "observation": _observation(epoch, losses)}
        run.end_epoch(
            epoch, losses[-1], metrics, time.perf_counter() - start, f"velocity loss {losses[-1]:.4f}"
        )
    return batch


def _observation(epoch: int, losses: list[float]) -> str:
    # Predicting v = 0 scores E[(noise - x0)^2] = 1 + E[x0^2], about 1.5 on these digits: the yardstick.
    observation = f"{losses[-1]:.3f} (guessing no direction scores about 1.5)"
    return f"{change(losses[0], losses[-1])}; {observation}" if epoch > 1 else observation


def _sweep(model: UNet2DModel, fixed: torch.Tensor, folder: Path) -> dict:
    """The fixed noise sampled with each step count of STEP_SWEEP: grids, seconds, path straightness
    and each result's distance (RMS, in pixel units of [-1, 1]) from the most-step one."""
    runs = {}
    for steps in STEP_SWEEP:
        t0 = time.perf_counter()
        images, path = sample(model, fixed, steps)
        runs[steps] = (images, path, time.perf_counter() - t0)
    finest = runs[STEP_SWEEP[-1]][0]
    return {
        "grids": [str(digits.save_grid(runs[s][0], folder / f"flow_{s:02d}_steps.png")) for s in STEP_SWEEP],
        "seconds": {s: round(runs[s][2], 4) for s in STEP_SWEEP},
        "rms_from_finest": {
            s: round((runs[s][0] - finest).pow(2).mean().sqrt().item(), 4) for s in STEP_SWEEP
        },
        "straightness": round(straightness(runs[STEP_SWEEP[-1]][1]), 4),
        "images": runs[STEP_SWEEP[-1]][0],
    }


@torch.no_grad()
def _loss_by_time(model: UNet2DModel, x: torch.Tensor, seed: int) -> dict[str, float]:
    """The trained model's velocity loss on 256 digits in each quarter of the path (0: digit, 1: noise)."""
    gen = torch.Generator(x.device).manual_seed(seed + 3)
    x0 = x[:256]  # (256, 1, 8, 8)
    out = {}
    for q in range(4):
        s = (q + torch.rand(len(x0), generator=gen, device=x.device)) / 4  # (256,) in [q/4, (q+1)/4)
        xs, v = _line(x0, torch.randn(x0.shape, generator=gen, device=x.device), s)
        out[f"s {q / 4:.2f}-{(q + 1) / 4:.2f}"] = round(
            F.mse_loss(model(xs, s * TRAIN_TIMESTEPS).sample, v).item(), 4
        )
    return out


def _stages(cfg, run, raw, labels, x, batch, load_ms, model, by_time, fixed, sweep) -> list[Stage]:
    """Dataset, normalised tensor, straight-line noising, model, training, samples and the step sweep."""
    return [
        *digits.data_stages(raw, labels, x, load_ms),
        Stage(
            name="noising",
            note=f"Each digit in a batch of {cfg.batch_size} gets a random time s in [0, 1] and is put on "
            "the straight line to a noise image: (1 - s) x digit + s x noise. The target is the line's "
            "direction, noise - digit, the same at every point of the line.",
            input=describe(batch["x0"]),
            output=describe(batch["xs"]),
            duration_ms=0.0,
            data={"batches_per_epoch": run.batches_total, "times": describe(batch["s"]).example},
        ),
        unet_stage(
            cfg, model, batch["xs"], "direction", f"the time s enters as timestep s x {TRAIN_TIMESTEPS}"
        ),
        run.training_stage(
            "Mean squared error between the true and the predicted direction, AdamW.",
            {"loss_by_time": by_time},
        ),
        digits.samples_stage(
            f"The same {SAMPLES} noise images sampled in {SAMPLE_STEPS} Euler steps after each epoch.",
            fixed,
            sweep["images"],
            [r.metrics["sample"] for r in run.rows],
            run.rows,
        ),
        Stage(
            name="step sweep",
            note=f"The trained model samples the same noise with {', '.join(map(str, STEP_SWEEP))} Euler "
            f"steps. The paths walked were {sweep['straightness']:.0%} straight (distance from start to "
            "end over the distance walked), which is why few steps land close to many.",
            input=describe(fixed),
            output=describe(sweep["images"]),
            duration_ms=round(sum(sweep["seconds"].values()) * 1000, 2),
            data={k: sweep[k] for k in ("seconds", "rms_from_finest", "straightness")},
            artifacts=[
                Artifact(kind="image", path=g, caption=f"{s} step{'s' * (s > 1)}")
                for s, g in zip(STEP_SWEEP, sweep["grids"], strict=True)
            ],
        ),
    ]


def _insight(rows, sweep: dict) -> str:
    rms = sweep["rms_from_finest"]
    few = next((s for s in STEP_SWEEP if rms[s] <= CLOSE), STEP_SWEEP[-1])
    return (
        f"The velocity loss went from {rows[0].loss:.3f} to {rows[-1].loss:.3f}. Sampled from the same "
        f"noise, the paths were {sweep['straightness']:.0%} straight (start-to-end distance over distance "
        f"walked), and {few} Euler steps land within {rms[few]:.2f} (RMS, pixels in [-1, 1]) of the "
        f"{STEP_SWEEP[-1]}-step digits; the diffusion demo takes 40. One step lands {rms[1]:.2f} away: from "
        "pure noise the model can only point at the average of all digits it could become, a blur. "
        "Reflow (training again on the model's own noise-to-digit pairs) straightens the paths until one "
        "step works."
    )

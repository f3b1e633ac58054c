"""A small DCGAN-style GAN trained live on the 8x8 digits.

The generator turns a noise vector into an 8x8 image through two transposed convolutions (2x2 ->
4x4 -> 8x8); the discriminator turns an image into one logit "real or fake". Each batch first trains
the discriminator on real and generated images, then the generator to make the discriminator say
"real" (the non-saturating loss). Every epoch records both losses, how often the discriminator was
right on real and on fake images, and a grid from one fixed noise batch, so the learner watches the
same 16 noise vectors turn into digits. Left out: label conditioning, spectral norm, FID.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from pathlib import Path

import numpy as np
import sklearn
import torch
import torch.nn.functional as F
from torch import nn

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

DEFAULTS = {"epochs": 40, "learning_rate": 1e-3, "batch_size": 64, "width": 32}
NOISE = 32  # length of the generator's input noise vector
SAMPLES = 16  # the fixed noise batch drawn every epoch
BETAS = (0.5, 0.999)  # Adam momentum as in DCGAN: a lower beta1 keeps the contest from oscillating


def generator(width: int) -> nn.Sequential:
    return nn.Sequential(
        OrderedDict(
            project=nn.Linear(NOISE, 2 * width * 2 * 2),  # (B, 8w)
            unflatten=nn.Unflatten(1, (2 * width, 2, 2)),  # (B, 2w, 2, 2)
            norm1=nn.BatchNorm2d(2 * width),
            act1=nn.ReLU(),
            up1=nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1),  # (B, w, 4, 4)
            norm2=nn.BatchNorm2d(width),
            act2=nn.ReLU(),
            up2=nn.ConvTranspose2d(width, 1, 4, stride=2, padding=1),  # (B, 1, 8, 8)
            out=nn.Tanh(),  # pixels in [-1, 1], like the data
        )
    )


def discriminator(width: int) -> nn.Sequential:
    return nn.Sequential(
        OrderedDict(
            conv1=nn.Conv2d(1, width, 4, stride=2, padding=1),  # (B, w, 4, 4)
            act1=nn.LeakyReLU(0.2),
            conv2=nn.Conv2d(width, 2 * width, 4, stride=2, padding=1),  # (B, 2w, 2, 2)
            act2=nn.LeakyReLU(0.2),
            flatten=nn.Flatten(),  # (B, 8w)
            logit=nn.Linear(2 * width * 2 * 2, 1),  # (B, 1): > 0 means "real"
        )
    )


def _observation(d_real: float, d_fake: float, g_losses: list[float]) -> str:
    right = (d_real + d_fake) / 2
    if right >= 0.9:
        verdict = f"the discriminator wins {right:.0%} of the time: the generator is behind"
    elif right <= 0.6:
        verdict = f"the discriminator is right only {right:.0%} of the time: the fakes often pass"
    else:
        verdict = f"a close contest: the discriminator is right {right:.0%} of the time"
    return f"{verdict}; generator {change(g_losses[0], g_losses[-1])}" if len(g_losses) > 1 else verdict


def train(cfg: Config, run: Run) -> Result:
    device = run.device
    raw, labels, x, load_ms = digits.prepared(device)  # (1797, 8, 8) 0..16, (1797,), (1797, 1, 8, 8)
    G = seeded_init(cfg.seed, lambda: generator(cfg.width)).to(device)
    D = seeded_init(cfg.seed + 1, lambda: discriminator(cfg.width)).to(device)
    fixed_noise = torch.randn(
        SAMPLES, NOISE, generator=torch.Generator(device).manual_seed(cfg.seed + 2), device=device
    )  # (16, NOISE): the same vectors every epoch
    run.progress(
        f"training a generator ({parameter_count(G):,} parameters) against a discriminator "
        f"({parameter_count(D):,}) on {len(x):,} digits"
    )
    batch, samples, grids = _fit(cfg, run, x, G, D, fixed_noise)
    run.check_trained()
    run.progress("tracing one noise vector through the trained generator and discriminator")
    layers, p_fake, p_real = _trace(G, D, fixed_noise[:1], x[:1])
    return Result(
        title="Training a GAN on 8x8 handwritten digits",
        stages=_stages(cfg, run, raw, labels, x, batch, G, D, fixed_noise, samples, grids, load_ms),
        layers=layers,
        output={"image": str(grids[-1])},
        key_insight=_insight(run, p_fake, p_real),
        config={"noise_size": NOISE, "samples": SAMPLES, "adam_betas": list(BETAS)},
        versions={"torch": torch.__version__, "scikit-learn": sklearn.__version__, "numpy": np.__version__},
        models={"generator": G, "discriminator": D},
    )


def _fit(
    cfg: Config, run: Run, x: torch.Tensor, G: nn.Module, D: nn.Module, fixed_noise: torch.Tensor
) -> tuple[torch.Tensor | None, torch.Tensor | None, list[Path]]:
    """Train epoch by epoch until the epochs, the time budget or a cancel run out; returns the last real
    batch, the last samples from the fixed noise and every epoch's sample grid."""
    device = run.device
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.learning_rate, betas=BETAS)
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.learning_rate, betas=BETAS)
    order_gen = torch.Generator().manual_seed(cfg.seed)  # data order, on the CPU
    noise_gen = torch.Generator(device).manual_seed(cfg.seed)  # training noise
    g_losses, grids = [], []
    batch = samples = None
    for epoch in run.epoch_numbers():
        start = time.perf_counter()
        sums = {"g": 0.0, "d": 0.0, "real": 0.0, "fake": 0.0}
        for idx in run.batches(len(x), cfg.batch_size, order_gen):
            batch = x[idx.to(device)]  # (B, 1, 8, 8)
            for key, value in _step(G, D, opt_g, opt_d, batch, noise_gen).items():
                sums[key] += value
        n = run.batches_done
        if n == 0:
            break
        samples = _draw(G, fixed_noise)  # (16, 1, 8, 8)
        grids.append(digits.save_grid(samples, run.out_dir / f"gan_epoch_{epoch:02d}.png"))
        g_losses.append(sums["g"] / n)
        metrics, line = _epoch_row(sums, n, g_losses, grids[-1])
        run.end_epoch(epoch, g_losses[-1], metrics, time.perf_counter() - start, line)
    return batch, samples, grids


def _step(
    G: nn.Module,
    D: nn.Module,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    batch: torch.Tensor,
    noise_gen: torch.Generator,
) -> dict[str, float]:
    """One discriminator step then one generator step on a real batch; both losses and D's hit rates."""
    fake = G(torch.randn(len(batch), NOISE, generator=noise_gen, device=batch.device))  # (B, 1, 8, 8)
    # Discriminator step: real -> 1, fake -> 0 (fake detached: G is not trained here).
    real_logit, fake_logit = D(batch), D(fake.detach())  # (B, 1) each
    d_loss = F.binary_cross_entropy_with_logits(
        real_logit, torch.ones_like(real_logit)
    ) + F.binary_cross_entropy_with_logits(fake_logit, torch.zeros_like(fake_logit))
    opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    opt_d.step()
    # Generator step: make the (just updated) discriminator call the fakes real.
    out = D(fake)  # (B, 1)
    g_loss = F.binary_cross_entropy_with_logits(out, torch.ones_like(out))
    opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    opt_g.step()
    return {
        "g": g_loss.item(),
        "d": d_loss.item(),
        "real": (real_logit > 0).float().mean().item(),
        "fake": (fake_logit < 0).float().mean().item(),
    }


@torch.no_grad()
def _draw(G: nn.Module, noise: torch.Tensor) -> torch.Tensor:
    """Noise (N, NOISE) -> images (N, 1, 8, 8) from the generator in eval mode."""
    G.eval()  # BatchNorm uses its running statistics: a sample does not depend on its batch-mates
    samples = G(noise)
    G.train()
    return samples


def _epoch_row(sums: dict[str, float], n: int, g_losses: list[float], grid: Path) -> tuple[dict, str]:
    """The epoch's metrics (mean losses over n batches, how often D was right) and its progress line."""
    d_real, d_fake = sums["real"] / n, sums["fake"] / n
    metrics = {
        "g_loss": round(g_losses[-1], 5),
        "d_loss": round(sums["d"] / n, 5),
        "d_acc_real": round(d_real, 4),
        "d_acc_fake": round(d_fake, 4),
        "sample": str(grid),
        "observation": _observation(d_real, d_fake, g_losses),
    }
    line = (
        f"G loss {metrics['g_loss']:.3f}, D loss {metrics['d_loss']:.3f}, "
        f"D right on {d_real:.0%} of real and {d_fake:.0%} of fake"
    )
    return metrics, line


def _trace(
    G: nn.Module, D: nn.Module, one: torch.Tensor, real: torch.Tensor
) -> tuple[list[LayerRow], float, float]:
    """One noise vector (1, NOISE) through the trained G and then D, layer by layer; P(real) for the
    generated digit and for one real digit (1, 1, 8, 8)."""
    G.eval()
    D.eval()
    layers = layer_rows(
        [(f"generator.{n}", m) for n, m in G.named_children()]
        + [(f"discriminator.{n}", m) for n, m in D.named_children()],
        lambda: D(G(one)),
    )
    with torch.no_grad():
        p_fake = torch.sigmoid(D(G(one))).item()
        p_real = torch.sigmoid(D(real)).item()
    layers[-1].data |= {"p_real": round(p_fake, 4)}
    layers[-1].summary += f"; P(real) = {p_fake:.0%} for this generated digit"
    return layers, p_fake, p_real


def _stages(cfg, run, raw, labels, x, batch, G, D, fixed_noise, samples, grids, load_ms) -> list[Stage]:
    rows = run.rows
    return [
        *digits.data_stages(raw, labels, x, load_ms),
        Stage(
            name="batch",
            note=f"Each step shows the discriminator {len(batch)} real and {len(batch)} generated digits.",
            input=describe(x),
            output=describe(batch),
            duration_ms=0.0,
            data={"batch_size": len(batch), "batches_per_epoch": run.batches_total},
        ),
        Stage(
            name="model",
            note=f"Generator: noise of {NOISE} numbers -> 2x2 -> 4x4 -> 8x8 image "
            f"({parameter_count(G):,} parameters). Discriminator: 8x8 image -> one logit "
            f"({parameter_count(D):,} parameters).",
            input=describe(fixed_noise),
            output=describe(samples),
            duration_ms=0.0,
            data={"generator_parameters": parameter_count(G), "discriminator_parameters": parameter_count(D)},
        ),
        run.training_stage(
            "Each batch: one discriminator step (binary cross-entropy on real and fake, summed), then one "
            "generator step; the row's loss is the generator's.",
            {
                "final_d_acc_real": rows[-1].metrics["d_acc_real"],
                "final_d_acc_fake": rows[-1].metrics["d_acc_fake"],
            },
        ),
        digits.samples_stage(
            f"The same {SAMPLES} noise vectors through the generator after each epoch.",
            fixed_noise,
            samples,
            grids,
            rows,
        ),
    ]


def _insight(run: Run, p_fake: float, p_real: float) -> str:
    first, last = run.rows[0].metrics, run.rows[-1].metrics
    return (
        f"In epoch 1 the discriminator caught {first['d_acc_fake']:.0%} of the fakes; in epoch "
        f"{run.rows[-1].epoch} it caught {last['d_acc_fake']:.0%} while still accepting "
        f"{last['d_acc_real']:.0%} of the real digits. Neither loss heads to zero (generator "
        f"{last['g_loss']:.2f}, discriminator {last['d_loss']:.2f}): a GAN is a contest, so the sample "
        f"grids, not the losses, show progress. The trained discriminator gives a generated digit "
        f"P(real) = {p_fake:.0%} and a real one {p_real:.0%}."
    )

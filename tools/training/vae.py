"""A variational autoencoder trained live on the 8x8 digits, with a two-number latent space so the
learner can see all of it.

The encoder maps a digit (64 pixels) to a mean and a log-variance for each of LATENT numbers; a code
is drawn as z = mean + sigma * eps with eps ~ N(0, 1) (the reparameterisation trick: the randomness
sits in eps, so gradients flow through the mean and sigma); the decoder maps z back to 64 pixels. The
loss adds the reconstruction error (squared error summed over the pixels) and beta times the KL
divergence of the code's distribution from N(0, 1): beta = 1 is the plain VAE, more pulls every code
towards the prior (smoother space, blurrier digits), less keeps sharper reconstructions. Every epoch
decodes the same 16 codes drawn from the prior; after training, the whole latent plane is decoded as a
10 x 10 map and every digit's mean is recorded for a scatter by label. Left out: convolutions, a
learned output variance, KL warm-up.
"""

from __future__ import annotations

import time

import numpy as np
import sklearn
import torch
import torch.nn.functional as F
from torch import nn

from tools.trace import Artifact, LayerRow, Stage
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

DEFAULTS = {"epochs": 100, "learning_rate": 2e-3, "batch_size": 64, "width": 128, "beta": 1.0}
LATENT = 2  # numbers per code: two, so the whole latent space is a picture
SAMPLES = 16  # codes drawn from the prior and decoded after every epoch
MAP = 10  # the latent plane decoded as a MAP x MAP grid after training
MAP_RANGE = 2.5  # from -2.5 to 2.5 standard deviations on each axis
SCATTER = 600  # digits whose latent means the trace keeps for the scatter
INFORMATIVE = 0.1  # nats: a latent number whose KL is below this says (almost) nothing about the digit


class VAE(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(64, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU())
        self.mean = nn.Linear(width, LATENT)
        self.log_var = nn.Linear(width, LATENT)
        self.decoder = nn.Sequential(
            nn.Linear(LATENT, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 64)
        )

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(x.flatten(1))  # (B, width) from (B, 1, 8, 8)
        return self.mean(h), self.log_var(h)  # (B, LATENT) each

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.decoder(z)).view(-1, 1, 8, 8)  # (B, 1, 8, 8) in [-1, 1]

    def forward(self, x: torch.Tensor, eps: torch.Tensor) -> tuple[torch.Tensor, ...]:
        mean, log_var = self.encode(x)
        z = mean + (0.5 * log_var).exp() * eps  # (B, LATENT): the reparameterisation trick
        return self.decode(z), mean, log_var, z


def losses(x: torch.Tensor, recon: torch.Tensor, mean: torch.Tensor, log_var: torch.Tensor):
    """Per-image means of the reconstruction error (summed squared error over 64 pixels) and of the KL
    divergence from N(0, I), in closed form: 0.5 * sum(mean^2 + var - log var - 1)."""
    rec = F.mse_loss(recon, x, reduction="none").flatten(1).sum(1).mean()
    return rec, kl_per_number(mean, log_var).sum(1).mean()


def kl_per_number(mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """(B, LATENT): each code number's KL divergence from N(0, 1), in nats."""
    return 0.5 * (mean.pow(2) + log_var.exp() - log_var - 1)


def informative(kl_per_latent: list[float]) -> int:
    """How many latent numbers carry information about the digit: KL above INFORMATIVE nats."""
    return sum(v > INFORMATIVE for v in kl_per_latent)


def train(cfg: Config, run: Run) -> Result:
    device = run.device
    raw, labels, x, load_ms = digits.prepared(device)  # (1797, 8, 8) 0..16, (1797,), (1797, 1, 8, 8)
    model = seeded_init(cfg.seed, lambda: VAE(cfg.width)).to(device)
    prior = torch.randn(
        SAMPLES, LATENT, generator=torch.Generator(device).manual_seed(cfg.seed + 1), device=device
    )
    run.progress(
        f"training a VAE ({parameter_count(model):,} parameters) to squeeze digits into {LATENT} numbers "
        f"and back, beta = {cfg.beta:g}"
    )
    batch = _fit(cfg, run, x, model, prior)
    run.check_trained()
    run.progress("decoding the whole latent plane and placing every digit in it")
    model.eval()
    after = _after(model, x, labels, cfg.seed, run)
    return Result(
        title="Training a variational autoencoder on 8x8 handwritten digits",
        stages=[
            *digits.data_stages(raw, labels, x, load_ms),
            *_model_stages(model, batch, after),
            *_result_stages(cfg, run, prior, after),
        ],
        layers=_trace(model, x[:1], cfg.seed),
        output={"image": after["map"]},
        key_insight=_insight(cfg, run.rows, after),
        config={"latent": LATENT, "map": MAP, "map_range": MAP_RANGE},
        versions={"torch": torch.__version__, "scikit-learn": sklearn.__version__, "numpy": np.__version__},
        models={"vae": model},
    )


def _fit(cfg: Config, run: Run, x: torch.Tensor, model: VAE, prior: torch.Tensor) -> dict:
    """Train epoch by epoch until the epochs, the time budget or a cancel run out; returns the last
    batch's tensors (digits, mean, log-variance, code, reconstruction)."""
    device = run.device
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate)
    order_gen = torch.Generator().manual_seed(cfg.seed)  # data order, on the CPU
    eps_gen = torch.Generator(device).manual_seed(cfg.seed)  # the eps of the reparameterisation trick
    first, batch = None, {}
    for epoch in run.epoch_numbers():
        start = time.perf_counter()
        sums = torch.zeros(2)
        for idx in run.batches(len(x), cfg.batch_size, order_gen):
            x0 = x[idx.to(device)]  # (B, 1, 8, 8)
            eps = torch.randn(len(x0), LATENT, generator=eps_gen, device=device)  # (B, LATENT)
            recon, mean, log_var, z = model(x0, eps)
            rec, kl = losses(x0, recon, mean, log_var)
            opt.zero_grad(set_to_none=True)
            (rec + cfg.beta * kl).backward()
            opt.step()
            sums += torch.tensor([rec.item(), kl.item()])
            batch = {"x": x0, "mean": mean, "log_var": log_var, "eps": eps, "z": z, "recon": recon}
        if run.batches_done == 0:
            break
        rec, kl = (sums / run.batches_done).tolist()
        first = first or (rec, kl)
        with torch.no_grad():
            grid = digits.save_grid(model.eval().decode(prior), run.out_dir / f"vae_epoch_{epoch:02d}.png")
        model.train()
        metrics = {
            "reconstruction": round(rec, 4),
            "kl": round(kl, 4),
            "sample": str(grid),
            "observation": f"reconstruction {rec:.2f}, KL {kl:.2f} nats; "
            + (
                change(first[0], rec, "reconstruction error")
                if epoch > 1
                else "the decoder starts from noise"
            ),
        }
        loss = rec + cfg.beta * kl
        run.end_epoch(epoch, loss, metrics, time.perf_counter() - start, f"loss {loss:.3f}")
    return batch


@torch.no_grad()
def _after(model: VAE, x: torch.Tensor, labels: np.ndarray, seed: int, run: Run) -> dict:
    """After training: the latent plane decoded as a map, 8 digits and their reconstructions, every
    digit's latent mean (for the scatter) and the KL and error per latent number."""
    axis = torch.linspace(-MAP_RANGE, MAP_RANGE, MAP, device=x.device)
    grid = torch.stack(torch.meshgrid(axis, -axis, indexing="xy"), -1).reshape(
        -1, LATENT
    )  # (100, 2): rows top to bottom, latent 2 falling
    folder = run.out_dir
    mapped = digits.save_grid(model.decode(grid), folder / "vae_latent_map.png", cols=MAP)
    pick = torch.arange(8, device=x.device) * 97  # 8 digits spread over the set
    mean, log_var = model.encode(x[pick])
    pairs = torch.cat([x[pick], model.decode(mean)])  # (16, 1, 8, 8): originals, then reconstructions
    recon = digits.save_grid(pairs, folder / "vae_reconstructions.png", cols=8)
    all_mean, all_log_var = model.encode(x)  # (1797, LATENT) each
    kl_per_dim = kl_per_number(all_mean, all_log_var).mean(0)  # (LATENT,)
    rec, kl = losses(x, model.decode(all_mean), all_mean, all_log_var)
    keep = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:SCATTER]
    return {
        "map": str(mapped),
        "reconstructions": str(recon),
        "scatter": {
            "mean": [[round(v, 3) for v in row] for row in all_mean[keep.to(x.device)].tolist()],
            "label": labels[keep.numpy()].tolist(),
        },
        "kl_per_latent": [round(v, 4) for v in kl_per_dim.tolist()],
        "sigma_mean": round((0.5 * all_log_var).exp().mean().item(), 4),
        "reconstruction_at_mean": round(rec.item(), 4),
        "kl_all": round(kl.item(), 4),
        "one": {"mean": mean[0].tolist(), "sigma": (0.5 * log_var[0]).exp().tolist()},
    }


def _trace(model: VAE, digit: torch.Tensor, seed: int) -> list[LayerRow]:
    """One digit (1, 1, 8, 8) through the encoder, a code drawn with the trick, and the decoder."""
    eps = torch.randn(
        1, LATENT, generator=torch.Generator(digit.device).manual_seed(seed + 2), device=digit.device
    )
    named = [(f"encoder.{i}", m) for i, m in enumerate(model.encoder)]
    named += [("mean", model.mean), ("log_var", model.log_var)]
    named += [(f"decoder.{i}", m) for i, m in enumerate(model.decoder)]
    layers = layer_rows(named, lambda: model(digit, eps))
    with torch.no_grad():
        recon, mean, log_var, z = model(digit, eps)
    layers[-1].data["reconstruction_error"] = round(F.mse_loss(recon, digit, reduction="sum").item(), 4)
    layers[-1].summary += (
        f"; code z = {[round(v, 2) for v in z[0].tolist()]} (mean {[round(v, 2) for v in mean[0].tolist()]}"
        f" + sigma {[round(v, 2) for v in (0.5 * log_var[0]).exp().tolist()]} x eps), tanh makes the pixels"
    )
    return layers


def _model_stages(model: VAE, batch: dict, after: dict) -> list[Stage]:
    """Encoder, reparameterisation and decoder, with one batch's shapes."""
    one = after["one"]
    return [
        Stage(
            name="encoder",
            note=f"An MLP reads the 64 pixels and outputs, for each of {LATENT} latent numbers, a mean and a "
            "log-variance: not one point but a small cloud where the digit may sit.",
            input=describe(batch["x"]),
            output=describe(batch["mean"]),
            duration_ms=0.0,
            data={
                "first_digit_mean": [round(v, 3) for v in one["mean"]],
                "first_digit_sigma": [round(v, 3) for v in one["sigma"]],
            },
        ),
        Stage(
            name="reparameterisation",
            note="z = mean + sigma x eps with eps drawn from N(0, 1): the chance sits in eps, so the loss "
            "can send gradients back through the mean and sigma to the encoder.",
            input=describe(batch["eps"]),
            output=describe(batch["z"]),
            duration_ms=0.0,
            data={"latent": LATENT},
        ),
        Stage(
            name="decoder",
            note=f"An MLP maps the {LATENT} numbers back to 64 pixels (tanh keeps them in [-1, 1]). "
            f"Encoder and decoder together: {parameter_count(model):,} parameters.",
            input=describe(batch["z"]),
            output=describe(batch["recon"]),
            duration_ms=0.0,
            data={"parameters": parameter_count(model)},
        ),
    ]


def _result_stages(cfg: Config, run: Run, prior: torch.Tensor, after: dict) -> list[Stage]:
    """Training, the samples by epoch and the latent map."""
    return [
        run.training_stage(
            f"Loss = reconstruction error (squared error summed over the pixels) + beta x KL, with beta "
            f"= {cfg.beta:g}; AdamW.",
            {
                "beta": cfg.beta,
                "reconstruction_at_mean": after["reconstruction_at_mean"],
                "kl": after["kl_all"],
                "kl_per_latent": after["kl_per_latent"],
                "sigma_mean": after["sigma_mean"],
            },
        ),
        digits.samples_stage(
            f"The same {SAMPLES} codes drawn from N(0, 1) and decoded after each epoch: new digits, "
            "never encoded from any image.",
            prior,
            prior,
            [r.metrics["sample"] for r in run.rows],
            run.rows,
        ),
        Stage(
            name="latent map",
            note=f"The whole latent plane, from -{MAP_RANGE} to {MAP_RANGE} on each axis, decoded as a "
            f"{MAP} x {MAP} grid; and every digit's mean, by label, for the scatter.",
            input=describe(prior),
            duration_ms=0.0,
            data={"scatter": after["scatter"]},
            artifacts=[
                Artifact(kind="image", path=after["map"], caption="the latent plane decoded"),
                Artifact(
                    kind="image",
                    path=after["reconstructions"],
                    caption="8 digits (top) and their reconstructions (bottom)",
                ),
            ],
        ),
    ]


def _insight(cfg: Config, rows, after: dict) -> str:
    first, last = rows[0].metrics, rows[-1].metrics
    kl = after["kl_per_latent"]
    used = informative(kl)
    if used == 0:
        verdict = (
            "The KL term won: every digit's cloud is N(0, 1) itself, so the codes say nothing about the "
            "digit and the decoder draws the same average digit for any code (posterior collapse). Lower "
            "beta to let the codes carry information."
        )
    else:
        verdict = (
            f"The average sigma is {after['sigma_mean']:.2f}: each digit is a cloud, not a point. The KL "
            "term pulls the clouds toward N(0, 1), which is why codes drawn from N(0, 1) decode to "
            "digit-like images; a higher beta pulls harder (smoother map, blurrier digits), a lower one "
            "keeps sharper reconstructions."
        )
    return (
        f"With beta = {cfg.beta:g}, the reconstruction error went from {first['reconstruction']:.2f} to "
        f"{last['reconstruction']:.2f} and the KL term from {first['kl']:.2f} to {last['kl']:.2f} nats. "
        f"{used} of {LATENT} latent numbers carry information (KL per number "
        f"{', '.join(f'{v:.2f}' for v in kl)}). {verdict}"
    )

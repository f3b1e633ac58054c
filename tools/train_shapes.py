"""Train the shapes text-to-image model: a small U-Net learns to remove noise from captioned shapes.

    python -m tools.train_shapes --seed 0 --steps 5000 --out tools/weights/shapes_diffusion

The same trainer serves any captioned set of 32x32 pictures (a `Recipe`): tools/train_sounds.py
trains the text-to-audio model on mel spectrograms with it.

The DDPM recipe with text conditioning: draw an image and its caption, a random timestep t and
Gaussian noise, mix them as the scheduler would at t, and train the U-Net to predict what was mixed
in, as the "velocity" v (mean squared error, min-SNR weighted), with the caption's token vectors as
cross-attention context. A share of the
captions is replaced by the empty caption so that the same network also learns the unconditional
prediction that classifier-free guidance needs. The text encoder is frozen, so every distinct
caption is encoded once before training; an exponential moving average of the weights is saved.

The same seed gives the same dataset, initial weights and batches; on the same device (and thread
count) it gives the same weights. Writes the U-Net (float16 safetensors + config.json), the
scheduler config and MODEL_CARD.md into --out.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler, UNet2DConditionModel
from diffusers.training_utils import EMAModel

from tools import shapes
from tools.diffusion_pipeline import MAX_TOKENS, WEIGHTS, encode_text, load_text_encoder

UNET = dict(  # ~1.1 M parameters; cross-attention only at 8x8, where it is cheap on a CPU
    sample_size=shapes.SIZE,
    in_channels=3,
    out_channels=3,
    block_out_channels=(16, 32, 64),  # channels at 32x32 -> 16x16 -> 8x8
    layers_per_block=1,
    down_block_types=("DownBlock2D", "DownBlock2D", "CrossAttnDownBlock2D"),
    up_block_types=("CrossAttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
    cross_attention_dim=384,  # MiniLM's token vectors
    attention_head_dim=8,
    norm_num_groups=8,
)
SCHEDULER = dict(
    num_train_timesteps=1000,
    beta_schedule="squaredcos_cap_v2",  # cosine: at t=999 no trace of the image is left (no "signal leak",
    # which would tint backgrounds), and more steps at the mid noise levels where shapes form
    prediction_type="v_prediction",  # v = sqrt(ab) eps - sqrt(1 - ab) x0: stays well defined as ab -> 0,
    # where predicting eps would make x0 = (x - sqrt(1 - ab) eps) / sqrt(ab) blow up small errors
    clip_sample=True,  # pixels live in [-1, 1]
    timestep_spacing="trailing",  # few-step samplers start from pure noise
)


@dataclass
class Config:
    seed: int = 0
    steps: int = 5000  # optimizer steps
    batch_size: int = 32
    dataset_size: int = 30_000  # procedurally drawn images, fixed by the seed
    lr: float = 1e-3  # peak, after a linear warm-up, then cosine decay to 0
    warmup: int = 200
    min_snr_gamma: float = 5.0  # loss weight min(SNR, gamma) / (SNR + 1), Hang et al. 2023
    uncond_prob: float = 0.12  # share of captions dropped: teaches the unconditional prediction
    log_every: int = 100
    threads: int = 1  # CPU only: on a busy shared CPU, a second thread mostly waits for the first
    out: str = ""  # the recipe's weights folder when empty


@dataclass(frozen=True)
class Recipe:
    """What to train on: `pictures(n, seed)` gives (N, C, 32, 32) uint8 pictures and their captions."""

    name: str  # the weights folder's name, the model card's title
    module: str  # the command that reproduces it: python -m MODULE
    pictures: Callable[[int, int], tuple[torch.Tensor, list[str]]]
    unet: dict  # UNet2DConditionModel's config
    about: str  # the model card's opening, after "A small ... model trained by this project"
    out: str  # the default weights folder


def _shape_pictures(n: int, seed: int) -> tuple[torch.Tensor, list[str]]:
    samples = shapes.dataset(n, seed)
    images = torch.from_numpy(np.stack([s.image for s in samples])).permute(0, 3, 1, 2).contiguous()
    return images, [s.caption for s in samples]


SHAPES = Recipe(
    name="shapes_diffusion",
    module="tools.train_shapes",
    pictures=_shape_pictures,
    unet=UNET,
    about="text-to-image diffusion model trained by this project (tools/train_shapes.py) on procedurally\n"
    "drawn shapes (tools/shapes.py)",
    out=str(WEIGHTS),
)


@dataclass
class _Data:
    """The training set on hand: the images, each one's caption id and the encoded captions."""

    images: torch.Tensor  # (N, C, 32, 32) uint8
    caption_ids: torch.Tensor  # (N,) rows of `table`
    table: torch.Tensor  # (C + 1, T, 384) on the device: every distinct caption, then the empty one
    empty_id: int  # the empty caption's row, C


def train(cfg: Config, recipe: Recipe = SHAPES) -> dict:
    t_start = time.perf_counter()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    data, distinct = _dataset(cfg, recipe, device)
    print(f"{len(data.images)} pictures, {len(distinct)} distinct captions encoded", flush=True)

    unet = UNet2DConditionModel(**recipe.unet).to(device).train()
    scheduler = DDPMScheduler(**SCHEDULER)
    n_params = sum(p.numel() for p in unet.parameters())
    print(f"U-Net: {n_params / 1e6:.2f} M parameters, training on {device}", flush=True)
    log, ema = _fit(cfg, unet, scheduler, data, rng, t_start)

    ema.copy_to(unet.parameters())
    out = Path(cfg.out or recipe.out)
    out.mkdir(parents=True, exist_ok=True)
    unet.to(torch.float16).save_pretrained(out)  # config.json + diffusion_pytorch_model.safetensors
    scheduler.save_pretrained(out)  # scheduler_config.json
    figures = {
        "images": len(data.images),
        "distinct_captions": len(distinct),
        "parameters": n_params,
        "final_loss": log[-1]["loss"],
        "device": device if device == "cpu" else torch.cuda.get_device_name(),
        "cpu": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "wall_seconds": round(time.perf_counter() - t_start, 1),
        "versions": {"torch": torch.__version__, "diffusers": __import__("diffusers").__version__},
    }
    (out / "MODEL_CARD.md").write_text(_card(cfg, recipe, figures, log, out))
    return figures


def _dataset(cfg: Config, recipe: Recipe, device: str) -> tuple[_Data, list[str]]:
    """The seeded pictures and captions as tensors, every distinct caption encoded once; and the captions."""
    # Pictures as uint8 (N, C, 32, 32); captions as indices into a table of distinct captions.
    images, captions = recipe.pictures(cfg.dataset_size, cfg.seed)
    distinct = sorted(set(captions))
    index = {c: i for i, c in enumerate(distinct)}
    caption_ids = torch.tensor([index[c] for c in captions])  # (N,)
    # The frozen encoder runs once per distinct caption; the empty caption is the last row.
    tokenizer, text_encoder = load_text_encoder()
    text_encoder.to(device)
    table = torch.cat(
        [encode_text(tokenizer, text_encoder, distinct[i : i + 256]) for i in range(0, len(distinct), 256)]
        + [encode_text(tokenizer, text_encoder, [""])]
    ).to(device)  # (C + 1, T, 384)
    return _Data(images, caption_ids, table, empty_id=len(distinct)), distinct


def _fit(
    cfg: Config,
    unet: UNet2DConditionModel,
    scheduler: DDPMScheduler,
    data: _Data,
    rng: np.random.Generator,
    t_start: float,
) -> tuple[list[dict], EMAModel]:
    """cfg.steps optimizer steps; returns a row (mean loss, learning rate, seconds) every cfg.log_every
    steps and the exponential moving average of the weights."""
    ema = EMAModel(unet.parameters(), decay=0.9995, use_ema_warmup=True, power=3 / 4)
    opt = torch.optim.AdamW(unet.parameters(), lr=cfg.lr, weight_decay=0.01)
    lr_at = lambda s: min(1.0, (s + 1) / cfg.warmup) * 0.5 * (1 + math.cos(math.pi * s / cfg.steps))  # noqa: E731
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    alphas = scheduler.alphas_cumprod.to(data.table.device)
    log, running = [], []
    for step in range(cfg.steps):
        x0, context = _batch(cfg, data, rng)
        loss = _loss(cfg, unet, scheduler, alphas, x0, context)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        opt.step()
        sched.step()
        ema.step(unet.parameters())

        running.append(loss.item())
        if (step + 1) % cfg.log_every == 0 or step + 1 == cfg.steps:
            row = {
                "step": step + 1,
                "loss": round(float(np.mean(running)), 5),
                "lr": round(sched.get_last_lr()[0], 6),
                "seconds": round(time.perf_counter() - t_start, 1),
            }
            log.append(row)
            running = []
            print(json.dumps(row), flush=True)
    return log, ema


def _batch(cfg: Config, data: _Data, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """A random batch of pictures (B, C, 32, 32) in [-1, 1] and its captions' vectors (B, T, 384), a share
    of them replaced by the empty caption."""
    device = data.table.device
    batch = torch.from_numpy(rng.integers(0, len(data.images), cfg.batch_size))
    x0 = data.images[batch].to(device).float() / 127.5 - 1  # (B, C, 32, 32) in [-1, 1]
    cap = data.caption_ids[batch].to(device)
    drop = torch.from_numpy(rng.random(cfg.batch_size) < cfg.uncond_prob).to(device)
    return x0, data.table[torch.where(drop, data.empty_id, cap)]  # (B, T, 384)


def _loss(
    cfg: Config,
    unet: UNet2DConditionModel,
    scheduler: DDPMScheduler,
    alphas: torch.Tensor,
    x0: torch.Tensor,
    context: torch.Tensor,
) -> torch.Tensor:
    """Noise each image to a random timestep; the min-SNR weighted error of the U-Net's predicted v."""
    t = torch.randint(0, scheduler.config.num_train_timesteps, (cfg.batch_size,), device=x0.device)
    noise = torch.randn_like(x0)
    a = alphas[t].view(-1, 1, 1, 1)
    xt = a.sqrt() * x0 + (1 - a).sqrt() * noise  # the forward process q(x_t | x_0)
    v = a.sqrt() * noise - (1 - a).sqrt() * x0  # the target: "velocity" between noise and image

    # Min-SNR weighting: do not let the easy, nearly clean timesteps dominate the loss.
    snr = (a / (1 - a)).view(-1)
    weight = snr.clamp(max=cfg.min_snr_gamma) / (snr + 1)  # (B,)
    err = F.mse_loss(unet(xt, t, encoder_hidden_states=context).sample, v, reduction="none")
    return (weight * err.mean(dim=(1, 2, 3))).mean()


def _card(cfg: Config, recipe: Recipe, figures: dict, log: list[dict], out: Path) -> str:
    size_mb = sum(f.stat().st_size for f in out.glob("*.safetensors")) / 1e6
    curve = "\n".join(f"| {r['step']} | {r['loss']} | {r['lr']} | {r['seconds']} |" for r in log)
    channels = {1: "one-channel", 3: "RGB"}[recipe.unet["in_channels"]]
    command = " ".join([f"python -m {recipe.module}", *sys.argv[1:]])
    return f"""# {recipe.name}

A small {recipe.about}: a {figures["parameters"] / 1e6:.2f} M-parameter `UNet2DConditionModel`
denoising 32x32 {channels} pictures, cross-attending to all-MiniLM-L6-v2 token vectors (frozen,
{MAX_TOKENS} tokens),
trained (v-prediction, cosine DDPM noise schedule, min-SNR weighting) with {cfg.uncond_prob:.0%} caption
dropout for classifier-free guidance. Weights are the exponential moving average, stored in float16
({size_mb:.1f} MB).

Reproduce: `python -m {recipe.module} --seed {cfg.seed} --steps {cfg.steps} --out {out}`
(same device and thread count for identical weights).

| figure | value |
|---|---|
| dataset | {figures["images"]} pictures, {figures["distinct_captions"]} distinct captions (seed {cfg.seed}) |
| steps x batch size | {cfg.steps} x {cfg.batch_size} |
| learning rate | {cfg.lr} peak, {cfg.warmup} warm-up steps, cosine decay |
| final loss (min-SNR weighted v MSE, last {cfg.log_every} steps) | {figures["final_loss"]} |
| device | {figures["device"]} ({figures["cpu"]}, {figures["threads"]} threads) |
| wall time | {figures["wall_seconds"]} s |
| versions | {figures["versions"]} |
| command | `{command}` |

Config: `{json.dumps(asdict(cfg))}`

Loss curve:

| step | loss | lr | seconds |
|---|---|---|---|
{curve}
"""


def main(argv: list[str] | None = None, recipe: Recipe = SHAPES) -> None:
    parser = argparse.ArgumentParser(description=f"Train the {recipe.name} model.")
    defaults = Config()
    for name, value in asdict(defaults).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    cfg = Config(**vars(parser.parse_args(argv)))
    torch.set_num_threads(cfg.threads)
    print(json.dumps(train(cfg, recipe)), flush=True)


if __name__ == "__main__":
    main()

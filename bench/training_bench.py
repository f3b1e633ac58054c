"""What the training_demo models reach in a fixed time on this machine (prints figures; not a test).

- char_gpt: held-out next-character accuracy after `--budget` seconds, run through the tool.
- GAN, diffusion, flow matching and the VAE: sample quality judged by a digits classifier (logistic
  regression on the real 8x8 digits; its test accuracy is printed): the share of 500 generated digits
  it classifies with confidence > 0.9, the mean top probability, and how many of the 10 classes those
  confident samples cover (a collapsed GAN draws few). Real held-out digits and pure noise give the
  scale. The GAN trains at batch 8 so that the time budget, not the 50-epoch cap, ends it. Flow
  matching is judged at 1, 4, 10 and 25 Euler steps; the VAE at beta 1 and 4 (decoding N(0, 1) codes).
- LoRA: through the tool with its defaults: held-out loss on code before and after the adapters, on
  the lessons, the trainable share and the checks.

Run: `.venv/bin/python bench/training_bench.py [--budget 60] [--threads N] [--models ...]` (about 7
minutes).
"""

from __future__ import annotations

import argparse
import importlib
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from tools.base import RunContext
from tools.training import digits
from tools.training.loop import Config, Run
from tools.training_demo import TrainingDemoTool
from tutor.settings import Settings

N_SAMPLES = 500  # generated digits judged per model


def judge(classifier: LogisticRegression, images: torch.Tensor) -> dict:
    """Classifier confidence on (N, 1, 8, 8) images in [-1, 1]."""
    probs = classifier.predict_proba(images.flatten(1).cpu().numpy())  # (N, 10)
    top = probs.max(1)
    return {
        "confident_share": round(float((top > 0.9).mean()), 3),
        "mean_max_prob": round(float(top.mean()), 3),
        "classes_covered": len(np.unique(probs[top > 0.9].argmax(1))),
    }


def train_family(
    name: str, budget: float, out: Path, device: str, batch_size: int | None = None, beta: float | None = None
):
    """Train one family through its module (the tool returns a trace, not models), with its defaults
    and the tool's largest epoch count, so the time budget is what stops it."""
    family = importlib.import_module(f"tools.training.{name}")
    cfg = Config(
        model=name,
        epochs=50,
        learning_rate=family.DEFAULTS["learning_rate"],
        batch_size=batch_size or family.DEFAULTS["batch_size"],
        width=family.DEFAULTS["width"],
        seed=0,
        time_budget_s=budget,
        prompt="",
        beta=beta if beta is not None else family.DEFAULTS.get("beta"),
    )
    folder = out / f"{name}{'' if beta is None else f'-beta-{beta:g}'}"
    folder.mkdir(parents=True, exist_ok=True)
    run = Run(cfg.epochs, budget, device, RunContext(folder=folder))
    result = family.train(cfg, run)
    summary = {
        "batch_size": cfg.batch_size,
        "epochs": len(run.rows),
        "train_seconds": round(sum(r.seconds for r in run.rows), 1),
        "stopped": run.stopped,
        "first_loss": run.rows[0].loss,
        "final_loss": run.rows[-1].loss,
    }
    return family, result.models, summary


def bench_char_gpt(settings: Settings, budget: float) -> dict:
    """char_gpt through the tool, as a learner would run it."""
    t = time.perf_counter()
    trace = TrainingDemoTool(settings)({"model": "char_gpt", "epochs": 50, "time_budget_s": budget})
    last = trace.training[-1]
    return {
        "epochs": len(trace.training),
        "wall_s": round(time.perf_counter() - t, 1),
        "stopped": trace.stage("training").data["stopped"],
        "held_out_accuracy": last.metrics["val_accuracy"],
        "held_out_loss": last.metrics["val_loss"],
        "baseline_accuracy": trace.stage("training").data["baseline_accuracy"],
        "parameters": trace.stage("model").data["parameters"],
        "sample": trace.output["text"],
    }


def bench_lora(settings: Settings) -> dict:
    """LoRA through the tool with its defaults (its epochs, not the budget, end it)."""
    t = time.perf_counter()
    trace = TrainingDemoTool(settings)({"model": "lora"})
    checks, base = trace.stage("checks").data, trace.stage("base model").data["held_out_loss"]
    last = trace.training[-1].metrics
    return {
        "wall_s": round(time.perf_counter() - t, 1),
        "trainable_share": round(checks["trainable"] / (checks["trainable"] + checks["total"]), 4),
        "code_loss_base": round(base["code"], 3),
        "code_loss_adapted": last["val_code_loss"],
        "code_accuracy_adapted": last["val_code_accuracy"],
        "lessons_loss_base": round(base["lessons"], 3),
        "lessons_loss_adapted": last["val_lessons_loss"],
        "base_weights_max_change": checks["base_weights_max_change"],
        "adapters_off_identical": checks["adapters_off_identical"],
        "merged_max_logit_gap": checks["merged_max_logit_gap"],
        "sample": trace.output["text"],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget", type=float, default=60.0, help="training seconds per model")
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--models", nargs="+", default=["char_gpt", "gan", "diffusion", "flow", "vae", "lora"])
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(tempfile.mkdtemp(prefix="training-bench-"))
    settings = Settings.from_env(home=out, device="cpu")
    device = settings.torch_device()
    report: dict = {"device": device, "threads": args.threads, "budget_s": args.budget}

    if "char_gpt" in args.models:
        report["char_gpt"] = bench_char_gpt(settings, args.budget)
        print(json.dumps({"char_gpt": report["char_gpt"]}), flush=True)

    raw, labels = digits.load()
    x = digits.normalise(raw)  # (1797, 1, 8, 8)
    x_train, x_test, y_train, y_test = train_test_split(
        x.flatten(1).numpy(), labels, test_size=0.25, random_state=0, stratify=labels
    )
    classifier = LogisticRegression(max_iter=3000).fit(x_train, y_train)
    noise = torch.rand(N_SAMPLES, 1, 8, 8, generator=torch.Generator().manual_seed(1)) * 2 - 1
    report["classifier"] = {
        "test_accuracy": round(float(classifier.score(x_test, y_test)), 4),
        "real_test_digits": judge(classifier, torch.from_numpy(x_test).float().view(-1, 1, 8, 8)),
        "uniform_noise": judge(classifier, noise),
    }
    print(json.dumps({"classifier": report["classifier"]}), flush=True)

    if "gan" in args.models:
        # batch 8 (the default is 64): at 64 the GAN runs its 50 epochs in about 20 s on 2 cores, at 16
        # in about 45 s; at 8 the 60 s budget is what stops it
        family, models, summary = train_family("gan", args.budget, out, device, batch_size=8)
        z = torch.randn(N_SAMPLES, family.NOISE, generator=torch.Generator().manual_seed(2))
        with torch.no_grad():
            fakes = models["generator"].eval()(z.to(device))  # (500, 1, 8, 8)
        report["gan"] = {**summary, **judge(classifier, fakes)}
        print(json.dumps({"gan": report["gan"]}), flush=True)

    if "diffusion" in args.models:
        family, models, summary = train_family("diffusion", args.budget, out, device)
        start = torch.randn(N_SAMPLES, 1, 8, 8, generator=torch.Generator().manual_seed(3))
        samples = family.denoise(models["unet"], family.noise_schedule(), start.to(device), seed=0)
        report["diffusion"] = {**summary, **judge(classifier, samples)}  # samples: (500, 1, 8, 8)
        print(json.dumps({"diffusion": report["diffusion"]}), flush=True)
    if "flow" in args.models:
        family, models, summary = train_family("flow", args.budget, out, device)
        start = torch.randn(N_SAMPLES, 1, 8, 8, generator=torch.Generator().manual_seed(3)).to(device)
        by_steps = {
            steps: judge(classifier, family.sample(models["unet"], start, steps)[0])
            for steps in (1, 4, 10, 25)
        }
        report["flow"] = {**summary, "by_steps": by_steps}
        print(json.dumps({"flow": report["flow"]}), flush=True)

    if "vae" in args.models:
        for beta in (1.0, 4.0):
            family, models, summary = train_family("vae", args.budget, out, device, beta=beta)
            codes = torch.randn(N_SAMPLES, family.LATENT, generator=torch.Generator().manual_seed(4))
            with torch.no_grad():
                images = models["vae"].eval().decode(codes.to(device))  # (500, 1, 8, 8)
            report[f"vae_beta_{beta:g}"] = {**summary, **judge(classifier, images)}
            print(json.dumps({f"vae_beta_{beta:g}": report[f"vae_beta_{beta:g}"]}), flush=True)

    if "lora" in args.models:
        report["lora"] = bench_lora(settings)
        print(json.dumps({"lora": report["lora"]}), flush=True)
    report["sample_grids"] = str(out)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

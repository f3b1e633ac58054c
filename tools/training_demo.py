"""training_demo: train a small model live and trace the run (a GAN, a diffusion denoiser, a flow-matching
model or a VAE on digits; a character-level GPT; LoRA adapters on that GPT).

Each family lives in tools/training/ and trains for at most `epochs` epochs within `time_budget_s`,
stopping cleanly after the current batch when the budget is spent or the run is cancelled. The trace
has one row per epoch (loss, family metrics, an observation read from the numbers, the epoch's sample)
and, after training, one input traced through the trained model's layers with forward hooks.

Live use from a UI: every finished epoch is a `ctx.progress` line, and `ctx.on_row` receives the
`EpochRow` itself (the page shows `live(rows, folder)` from tools/training/views.py). To stop a run,
set `ctx.cancel`.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
import time
from typing import Literal, get_args

from pydantic import BaseModel, Field

from tools.base import RunContext, Tool
from tools.trace import PipelineTrace
from tools.training import questions, views
from tools.training.loop import Config, Run

# The first of these words in the prompt picks the model when `model` is not given.
KEYWORDS = {
    r"vaes?|variational|autoencoders?|auto-encoders?": "vae",
    r"lora|low[- ]rank|adapters?|fine[- ]?tun\w*": "lora",
    r"flow[- ]matching|rectified[- ]flows?|flow models?": "flow",
    r"diffusion|denois\w*|ddpm": "diffusion",
    r"gpt|char|characters?|transformer|language model": "char_gpt",
    r"gans?|adversarial|discriminator": "gan",
}

Model = Literal["gan", "char_gpt", "diffusion", "flow", "vae", "lora"]
MODELS = get_args(Model)


class TrainingDemoArgs(BaseModel):
    prompt: str = Field(
        "",
        max_length=1000,
        description="The learner's request; without `model` it picks one (gan, gpt, diffusion). With "
        "model=char_gpt it is the text the samples continue.",
    )
    model: Model | None = Field(
        None,
        description="What to train: a GAN, a diffusion model, a flow-matching model or a VAE on 8x8 "
        "digits; a GPT on the lessons; or LoRA adapters that teach that GPT the tutor's Python code.",
    )
    epochs: int | None = Field(
        None,
        ge=1,
        le=200,
        description="The most passes over the data; default: the model's own (long enough to watch, "
        "within the time budget).",
    )
    learning_rate: float | None = Field(None, ge=1e-5, le=1e-1, description="Default: the model's own.")
    batch_size: int | None = Field(
        None, ge=8, le=512, description="Examples a step; default: the model's own."
    )
    width: int | None = Field(
        None, ge=8, le=256, multiple_of=8, description="Channels or embedding size; default: the model's own."
    )
    beta: float | None = Field(
        None, ge=0, le=20, description="VAE only: the weight of the KL term (default 1, the plain VAE)."
    )
    rank: int | None = Field(
        None, ge=1, le=32, description="LoRA only: the rank of each adapter (default 4)."
    )
    seed: int = Field(
        0, ge=0, le=2**31 - 1, description="The same seed gives the same run on the same device."
    )
    time_budget_s: float = Field(
        60, ge=1, le=600, description="Training stops after the current batch once this many seconds pass."
    )


def infer_model(prompt: str) -> tuple[str, bool]:
    """The model the prompt asks for, and whether a keyword named it (else the GAN). A prompt that is
    only a model's name (`/demo train flow`) names it, even where the word alone is too common."""
    if prompt.strip().casefold() in MODELS:
        return prompt.strip().casefold(), True
    hits = [
        (m.start(), model)
        for pattern, model in KEYWORDS.items()
        if (m := re.search(rf"\b(?:{pattern})\b", prompt, re.IGNORECASE))
    ]
    return (min(hits)[1], True) if hits else ("gan", False)


def _own(family, name: str, value):
    """A setting only some families have: the given value or the family's default, else None."""
    if name not in family.DEFAULTS:
        return None
    return family.DEFAULTS[name] if value is None else value


class TrainingDemoTool(Tool):
    name = "training_demo"
    command = "train"
    concepts = {
        "dataset": "data-collection",
        "normalised tensor": "preprocessing",
        "tokenization": "tokenization",
        "noising": "noise-schedule",
        "batch": "training-loss",
        "training": "training-loss",
        "step sweep": "modern-image-generation",
        "encoder": "vae",
        "reparameterisation": "vae",
        "decoder": "vae",
        "latent map": "vae",
        "base model": "adapting-models",
        "adapters": "adapting-models",
        "checks": "adapting-models",
    }
    description = (
        "Train a small model live and show the training trace: a GAN, a diffusion model, a flow-matching "
        "model or a variational autoencoder on 8x8 handwritten digits; a character-level GPT on the "
        "tutor's lessons; or LoRA adapters that teach that GPT Python code. Shows loss and metrics per "
        "epoch, samples as they improve, and one input traced through the trained layers."
    )
    Args = TrainingDemoArgs
    max_seconds = 660.0  # the longest time budget (600 s) plus tracing the trained layers
    examples = [
        "train a GAN live so I can watch it learn",
        "train a small model in front of me",
        "show me a training run with the loss going down",
        "train a tiny GPT on the lessons character by character",
        "train a diffusion model on handwritten digits",
        "how does training work? show me live",
        "watch a generator and discriminator compete",
        "train a variational autoencoder and show me its latent space",
        "fine-tune a small GPT with LoRA adapters",
        "train LoRA adapters live and watch them adapt a language model",
        "demo low-rank adaptation of a model in front of me",
        "run a fine-tuning demo: adapt the little GPT to code",
        "train a flow matching model on digits",
        "demo training with epochs and a learning rate",
    ]

    def run(self, args: TrainingDemoArgs, ctx: RunContext) -> PipelineTrace:
        start = time.perf_counter()
        model = args.model or infer_model(args.prompt)[0]
        family = importlib.import_module(f"tools.training.{model}")  # diffusers loads only when needed
        cfg = Config(
            model=model,
            epochs=args.epochs or family.DEFAULTS["epochs"],
            learning_rate=args.learning_rate or family.DEFAULTS["learning_rate"],
            batch_size=args.batch_size or family.DEFAULTS["batch_size"],
            width=args.width or family.DEFAULTS["width"],
            seed=args.seed,
            time_budget_s=args.time_budget_s,
            # a request that only chose the model ("train a gpt") is not text to continue
            prompt=args.prompt if args.model and args.prompt else "",
            beta=_own(family, "beta", args.beta),
            rank=_own(family, "rank", args.rank),
        )
        run = Run(cfg.epochs, cfg.time_budget_s, ctx.device, ctx)
        result = family.train(cfg, run)
        insight = result.key_insight if run.stopped is None else f"{result.key_insight} {run.stop_note()}"
        return PipelineTrace(
            tool=self.name,
            title=result.title,
            prompt=args.prompt,
            device=ctx.device,
            seed=cfg.seed,
            config={
                **dataclasses.asdict(cfg),
                **result.config,
            },
            versions=result.versions,
            stages=result.stages,
            training=run.rows,
            layers=result.layers,
            output=result.output,
            key_insight=insight,
            total_ms=round((time.perf_counter() - start) * 1000, 2),
        )

    def knobs(self, trace=None):
        """Every setting the run used: a family's own setting (beta for the VAE, rank for LoRA) is
        recorded as None by the families that do not read it."""
        names = super().knobs(trace)
        return names if trace is None else [n for n in names if trace.config.get(n) is not None]

    def views(self, trace, folder):
        return views.views(trace, folder)

    def frames(self, trace):
        return [
            (r.metrics["sample"], f"after epoch {r.epoch}: loss {r.loss:.4f}")
            for r in trace.training
            if str(r.metrics.get("sample", "")).endswith(".png")
        ]

    def compare(self, a, b, folder):
        return [
            *super().compare(a, b, folder),
            views.compare_losses(a, b, folder),
            views.compare_insights(a, b),
        ]

    def live(self, rows, folder):
        return views.live(rows, folder)

    def questions(self, trace):
        return questions.questions(trace)

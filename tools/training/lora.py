"""LoRA, live: a character-level GPT learns the lessons, then small low-rank adapters teach the frozen
model the tutor's own Python code.

Phase 1 (base) trains the char-GPT of char_gpt.py on the lessons for `epochs` epochs. Phase 2
(adapters) freezes every base weight and wraps each linear layer inside the blocks (attention's qkv
and proj, the MLP's fc and proj) in a LoRA adapter: W x + (alpha / r) B A x, with A (r x in) random,
B (out x r) zero, so training starts from the base model exactly; only A and B learn, for another
`epochs` epochs on the source of tools/training/. Each epoch row records the held-out loss on both
texts, so the learner sees code improve while the lessons are nearly kept. Afterwards the trace checks
the three promises of LoRA with the run's own numbers: the base weights did not move, switching the
adapters off gives the base model back exactly, and merging B A into W gives the same outputs with a
weight change of rank r at most. Left out: dropout on the adapters, adapting embeddings or the head.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

import torch
from torch import nn

from tools.base import ToolError
from tools.trace import LayerRow, Stage, TensorInfo
from tools.training.char_gpt import (
    BLOCK,
    LAYERS,
    CharGPT,
    Corpus,
    corpus,
    evaluate,
    lesson_text,
    sample,
    train_epoch,
)
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

DEFAULTS = {"epochs": 8, "learning_rate": 3e-3, "batch_size": 64, "width": 64, "rank": 4}
ALPHA = 8  # the adapters' scale is ALPHA / rank
CODE = "tools/training"  # the Python files the adapters learn, relative to the repository
PROMPT = "def "  # the sample prompt when the learner gives none
ADAPTED = ("attn.qkv", "attn.proj", "mlp.fc", "mlp.proj")  # the linear layers of each block


class LoRALinear(nn.Module):
    """A frozen linear layer plus a trainable low-rank update: W x + b + (alpha / r) B A x."""

    def __init__(self, base: nn.Linear, rank: int, generator: torch.Generator):
        super().__init__()
        self.base, self.scale, self.enabled = base, ALPHA / rank, True
        a = torch.empty(rank, base.in_features)
        nn.init.kaiming_uniform_(a, a=5**0.5, generator=generator)  # as nn.Linear initialises a weight
        self.A = nn.Parameter(a.to(base.weight.device))  # (r, in)
        self.B = nn.Parameter(torch.zeros(base.out_features, rank, device=base.weight.device))  # (out, r)
        self.adapter = nn.Identity()  # a hook point: its output is the adapter's contribution

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.base(x)  # (..., out)
        if not self.enabled:
            return out
        return out + self.adapter(self.scale * (x @ self.A.T @ self.B.T))  # (..., out) via (..., r)

    def delta(self) -> torch.Tensor:
        """The weight change the adapter stands for, (out, in), of rank at most r."""
        return self.scale * self.B @ self.A


def add_adapters(model: CharGPT, rank: int, seed: int) -> dict[str, LoRALinear]:
    """Freeze the model and wrap each block's linear layers in an adapter; name -> adapter."""
    model.requires_grad_(False)
    generator = torch.Generator().manual_seed(seed)
    adapters = {}
    for i, block in enumerate(model.blocks):
        for path in ADAPTED:
            owner_name, attr = path.split(".")
            owner = getattr(block, owner_name)
            adapters[f"blocks.{i}.{path}"] = wrapped = LoRALinear(getattr(owner, attr), rank, generator)
            setattr(owner, attr, wrapped)
    return adapters


def switch(adapters: dict[str, LoRALinear], on: bool) -> None:
    for adapter in adapters.values():
        adapter.enabled = on


def merged(model: CharGPT) -> CharGPT:
    """A plain copy of the model with each adapter folded into its weight: W + (alpha / r) B A."""
    plain = copy.deepcopy(model)
    for parent in list(plain.modules()):
        for name, child in parent.named_children():
            if isinstance(child, LoRALinear):
                with torch.no_grad():
                    child.base.weight += child.delta()
                setattr(parent, name, child.base)
    return plain


def _code_text() -> tuple[list[str], str]:
    root = Path(__file__).resolve().parents[2]
    files = sorted((root / CODE).glob("*.py"))
    return [f"{CODE}/{f.name}" for f in files], "\n\n".join(f.read_text() for f in files)


def train(cfg: Config, run: Run) -> Result:
    device = run.device
    t0 = time.perf_counter()
    (lesson_ids, lessons), (files, code) = lesson_text(), _code_text()
    chars = sorted(set(lessons + code))  # one vocabulary for both texts
    ms = (time.perf_counter() - t0) * 1000
    texts = {
        "lessons": corpus(lesson_ids, lessons, chars, device, ms),
        "code": corpus(files, code, chars, device, 0.0),
    }
    stoi = texts["code"].stoi
    prompt_text = "".join(c for c in cfg.prompt if c in stoi)[-BLOCK:] or PROMPT
    prompt = torch.tensor([stoi[c] for c in prompt_text], device=device)  # (P,)
    model = seeded_init(cfg.seed, lambda: CharGPT(len(chars), cfg.width)).to(device)
    run.epochs = 2 * cfg.epochs  # the base's epochs, then the adapters'
    run.progress(
        f"phase 1: training a {LAYERS}-block GPT ({parameter_count(model):,} parameters) on the lessons"
    )
    state = _fit(cfg, run, model, texts, prompt)
    run.check_trained()
    if "adapters" not in state:
        raise ToolError(
            f"The run stopped ({run.stopped}) while the base model was still training, before any "
            "adapter trained: give it more time (time_budget_s) or fewer epochs."
        )
    run.progress("checking the base weights, the adapters switched off, and the merged weights")
    checks = _checks(model, state, texts)
    return Result(
        title="Adapting a character-level GPT to Python code with LoRA",
        stages=_data_stages(cfg, run, texts, state, checks)
        + _result_stages(cfg, run, state, checks, prompt_text),
        layers=_trace(model, state["adapters"], prompt),
        output={"text": prompt_text + run.rows[-1].metrics["sample"]},
        key_insight=_insight(cfg, run.rows, checks),
        config={"alpha": ALPHA, "adapted": list(ADAPTED), "code": CODE, "context": BLOCK},
        versions={"torch": torch.__version__},
        models={"gpt": model},
    )


def _fit(cfg: Config, run: Run, model: CharGPT, texts: dict[str, Corpus], prompt: torch.Tensor) -> dict:
    """Both phases, one epoch row each; returns the snapshot of the base weights, the adapters and the
    base model's held-out losses."""
    order_gen = torch.Generator().manual_seed(cfg.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate, weight_decay=0.0)
    state: dict = {}
    first_code = None  # the held-out code loss after epoch 1
    for epoch in run.epoch_numbers():
        if epoch == cfg.epochs + 1:  # phase 2: freeze, adapt
            state["base_weights"] = {k: v.clone() for k, v in model.state_dict().items()}
            state["base_loss"] = {name: evaluate(model, t.held)[0] for name, t in texts.items()}
            state["base_sample"] = run.rows[-1].metrics["sample"]
            state["adapters"] = add_adapters(model, cfg.rank, cfg.seed)
            params = [p for a in state["adapters"].values() for p in (a.A, a.B)]
            opt = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=0.0)
            run.progress(
                f"phase 2: base frozen; training {sum(p.numel() for p in params):,} adapter parameters on "
                f"{len(texts['code'].sources)} Python files"
            )
        phase = "adapters" if "adapters" in state else "base"
        start = time.perf_counter()
        loss, _ = train_epoch(
            cfg, run, model, opt, order_gen, texts["code" if phase == "adapters" else "lessons"]
        )
        if loss is None:
            break
        val = {name: evaluate(model, t.held) for name, t in texts.items()}  # name -> (loss, accuracy)
        first_code = first_code or val["code"][0]
        since = (
            ("the base model", state["base_loss"]["code"]) if phase == "adapters" else ("epoch 1", first_code)
        )
        text_out = "".join(
            texts["code"].chars[i]
            for i in sample(model, prompt, torch.Generator(run.device).manual_seed(cfg.seed))
        )
        metrics = {
            "phase": phase,
            "val_lessons_loss": round(val["lessons"][0], 5),
            "val_code_loss": round(val["code"][0], 5),
            "val_code_accuracy": round(val["code"][1], 4),
            "sample": text_out,
            "observation": f"{phase}: held-out loss on lessons {val['lessons'][0]:.2f}, on code "
            f"{val['code'][0]:.2f}; " + change(since[1], val["code"][0], "code loss", since[0]),
        }
        run.end_epoch(epoch, loss, metrics, time.perf_counter() - start, f"{phase}, loss {loss:.3f}")
    return state


@torch.no_grad()
def _checks(model: CharGPT, state: dict, texts: dict[str, Corpus]) -> dict:
    """LoRA's promises, measured: the base weights unchanged, the adapters off giving the base model
    back, the merged weights giving the same outputs, each weight change's rank."""
    adapters = state["adapters"]
    now = {k.replace(".base.", "."): v for k, v in model.state_dict().items() if not k.endswith((".A", ".B"))}
    moved = max((now[k] - v).abs().max().item() for k, v in state["base_weights"].items())
    switch(adapters, False)
    off = {name: evaluate(model, t.held)[0] for name, t in texts.items()}
    switch(adapters, True)
    windows = texts["code"].held[:32, :-1]  # (32, BLOCK)
    model.eval()
    gap = (merged(model)(windows) - model(windows)).abs().max().item()
    model.train()
    ranks = {name: int(torch.linalg.matrix_rank(a.delta())) for name, a in adapters.items()}
    trainable = sum(a.A.numel() + a.B.numel() for a in adapters.values())
    return {
        "base_weights_max_change": moved,
        "adapters_off_loss": {k: round(v, 5) for k, v in off.items()},
        "base_loss": {k: round(v, 5) for k, v in state["base_loss"].items()},
        "adapters_off_identical": off == state["base_loss"],
        "merged_max_logit_gap": gap,
        "delta_rank": ranks,
        "trainable": trainable,
        "total": parameter_count(model) - trainable,
        "adapter_bytes": trainable * 4,
        "base_bytes": (parameter_count(model) - trainable) * 4,
    }


def _trace(model: CharGPT, adapters: dict[str, LoRALinear], prompt: torch.Tensor) -> list[LayerRow]:
    """The prompt through each adapted layer: the frozen layer's output, then the adapter's addition,
    with the size of the addition relative to the output."""
    named = []
    for name, adapter in adapters.items():
        named += [(f"{name}.base", adapter.base), (f"{name}.adapter", adapter.adapter)]
    named += [("head", model.head)]
    model.eval()
    layers = layer_rows(named, lambda: model(prompt[None]))
    model.train()
    for base, added in zip(layers[:-1:2], layers[1:-1:2], strict=True):
        ratio = added.data["std"] / max(base.data["std"], 1e-8)
        added.data["relative_to_base"] = round(ratio, 4)
        added.summary += f"; {ratio:.0%} of the frozen layer's spread"
    return layers


def _data_stages(cfg, run, texts, state, checks) -> list[Stage]:
    """The two texts, the base model and the adapters."""
    lessons, code = texts["lessons"], texts["code"]
    adapters, base = state["adapters"], state["base_loss"]
    return [
        Stage(
            name="dataset",
            note=f"Two texts: the tutor's {len(lessons.sources)} lessons ({len(lessons.text):,} characters) "
            f"for the base model, and its own training code ({len(code.sources)} Python files in {CODE}, "
            f"{len(code.text):,} characters) for the adapters. The last 10% of each is held out.",
            output=TensorInfo(shape=[len(code.text)], dtype="str (characters)", example=code.text[:60]),
            duration_ms=round(lessons.load_ms, 2),
            data={"lessons": lessons.sources, "code_files": code.sources, "vocab_size": len(code.chars)},
        ),
        Stage(
            name="base model",
            note=f"A char-GPT of width {cfg.width} trained on the lessons for {cfg.epochs} epochs: held-out "
            f"loss {base['lessons']:.2f} on lessons and {base['code']:.2f} on code.",
            input=describe(lessons.train_ids),
            output=TensorInfo(
                shape=[1, BLOCK, len(code.chars)], dtype="float32", example="next-character logits"
            ),
            duration_ms=round(sum(r.seconds for r in run.rows if r.metrics["phase"] == "base") * 1000, 2),
            data={
                "parameters": checks["total"],
                "held_out_loss": state["base_loss"],
                "sample": state["base_sample"],
            },
        ),
        Stage(
            name="adapters",
            note=f"Every base weight frozen; each of the {len(adapters)} linear layers in the blocks gets A "
            f"(rank {cfg.rank} x in) and B (out x {cfg.rank}, zeros at first), scaled by {ALPHA}/{cfg.rank}. "
            f"Trainable: {checks['trainable']:,} of {checks['total'] + checks['trainable']:,} parameters "
            f"({checks['trainable'] / (checks['total'] + checks['trainable']):.1%}).",
            input=describe(code.train_ids),
            output=describe(adapters[next(iter(adapters))].A),
            duration_ms=0.0,
            data={
                "rank": cfg.rank,
                "alpha": ALPHA,
                "layers": list(adapters),
                "trainable": checks["trainable"],
                "adapter_bytes": checks["adapter_bytes"],
                "base_bytes": checks["base_bytes"],
            },
        ),
    ]


def _result_stages(cfg, run, state, checks, prompt_text) -> list[Stage]:
    """Training, the checks of LoRA's promises and the samples before and after."""
    return [
        run.training_stage(
            "Cross-entropy of the next character; AdamW on all weights for the base, on A and B only for "
            "the adapters.",
            {
                "phases": {
                    "base": cfg.epochs,
                    "adapters": sum(r.metrics["phase"] == "adapters" for r in run.rows),
                }
            },
        ),
        Stage(
            name="checks",
            note=_checks_line(checks),
            duration_ms=0.0,
            data=checks,
        ),
        Stage(
            name="sampling",
            note=f"The prompt {prompt_text!r} continued after each epoch, same seed: the base model writes "
            "lesson prose, the adapted one Python.",
            input=TensorInfo(shape=[len(prompt_text)], dtype="str (characters)", example=repr(prompt_text)),
            output=TensorInfo(
                shape=[len(run.rows[-1].metrics["sample"])],
                dtype="str (characters)",
                example=run.rows[-1].metrics["sample"][:60],
            ),
            duration_ms=0.0,
            data={
                "prompt": prompt_text,
                "base": state["base_sample"],
                "adapted": run.rows[-1].metrics["sample"],
            },
        ),
    ]


def _checks_line(checks: dict) -> str:
    same = "identical to" if checks["adapters_off_identical"] else "different from"
    return (
        f"Base weights changed by at most {checks['base_weights_max_change']:g}; adapters off: held-out "
        f"losses {same} the base model's; merged into the weights: logits within "
        f"{checks['merged_max_logit_gap']:.1e}; each weight change has rank "
        f"{max(checks['delta_rank'].values())} at most."
    )


def _insight(cfg: Config, rows, checks: dict) -> str:
    base, last = checks["base_loss"], rows[-1].metrics
    share = checks["trainable"] / (checks["total"] + checks["trainable"])
    sizes = f"{checks['adapter_bytes'] / 1024:.0f} KB against the base's {checks['base_bytes'] / 1024:.0f} KB"
    back = "exactly" if checks["adapters_off_identical"] else "nearly"
    return (
        f"Training {checks['trainable']:,} adapter parameters ({share:.1%} of the model, {sizes}) took the "
        f"held-out loss on code from {base['code']:.2f} to {last['val_code_loss']:.2f}, while the lessons "
        f"went from {base['lessons']:.2f} to {last['val_lessons_loss']:.2f}. The base weights changed by at "
        f"most {checks['base_weights_max_change']:g}: switch the adapters off and the base model is back "
        f"{back}, so one base can carry many small adapters. Each adapter's weight change has rank at most "
        f"{cfg.rank}; merged into the weights it costs nothing at inference."
    )

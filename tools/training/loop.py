"""The shared parts of a live training run: limits, epoch rows, observations and layer statistics.

A model family (gan.py, char_gpt.py, diffusion.py, flow.py, vae.py, lora.py) owns its data, model
and training step. It asks `Run` for shuffled index batches, which stop cleanly *before* the next
batch once the time budget is spent or the cancel flag is set, and hands each finished epoch to
`Run.end_epoch`, which records the row, streams a progress line and calls the optional `on_epoch`
callback. `layer_rows` reads one forward pass through forward hooks. Nothing here knows about a
particular model.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
from torch import nn

from tools.base import RunContext, ToolError
from tools.trace import EpochRow, LayerRow, Stage, TensorInfo


@dataclass(frozen=True)
class Config:
    """One run's arguments with the family's defaults filled in (recorded in the trace)."""

    model: str  # "gan" | "char_gpt" | "diffusion" | "flow" | "vae" | "lora"
    epochs: int  # the most epochs to run; the time budget or a cancel may stop earlier
    learning_rate: float
    batch_size: int
    width: int  # channels (gan, diffusion) or embedding size (char_gpt)
    seed: int
    time_budget_s: float
    prompt: str  # char_gpt, lora: the text its samples continue
    beta: float | None = None  # vae: the weight of the KL term
    rank: int | None = None  # lora: the rank of each adapter


@dataclass
class Result:
    """What a family hands back to the tool; `models` stays out of the trace (benchmarks use it)."""

    title: str
    stages: list[Stage]
    layers: list[LayerRow]
    output: dict
    key_insight: str
    config: dict  # the family's fixed settings (context length, timesteps, ...)
    versions: dict
    models: dict[str, nn.Module] = field(default_factory=dict)


class Run:
    """The limits and callbacks of one training run, and the epoch rows it has produced so far."""

    def __init__(
        self,
        epochs: int,
        budget_s: float,
        device: str,
        ctx: RunContext,
    ):
        self.epochs, self.budget_s, self.device, self.out_dir = epochs, budget_s, device, ctx.folder
        self.progress, self.on_epoch = ctx.progress, ctx.on_row
        self.ctx = ctx
        self.start = time.perf_counter()
        self.rows: list[EpochRow] = []
        self.stopped: str | None = None  # None (ran every epoch), "time budget" or "cancelled"
        self.batches_done = self.batches_total = 0
        self.steps = 0  # batches trained in the whole run

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def _should_stop(self) -> bool:
        if self.stopped is None and self.ctx.should_stop():
            self.stopped = "cancelled"
        elif self.stopped is None and self.steps and self.elapsed() >= self.budget_s:
            self.stopped = "time budget"  # after at least one step, so every run has something to show
        return self.stopped is not None

    def epoch_numbers(self) -> Iterator[int]:
        for epoch in range(1, self.epochs + 1):
            if self._should_stop():
                return
            yield epoch

    def batches(self, n: int, batch_size: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
        """Shuffled index batches over n examples (the last incomplete batch is dropped); stops
        before a batch once the budget is spent or the cancel flag is set."""
        order = torch.randperm(n, generator=generator)  # (n,) on the CPU: the same order on any device
        self.batches_total, self.batches_done = max(1, n // batch_size), 0
        for i in range(self.batches_total):
            if self._should_stop():
                return
            yield order[i * batch_size : (i + 1) * batch_size]
            self.batches_done += 1
            self.steps += 1

    def end_epoch(self, epoch: int, loss: float, metrics: dict, seconds: float, line: str) -> EpochRow:
        """Record a finished (or budget-cut) epoch, tell the learner, and hand the row to the UI."""
        metrics = {
            **metrics,
            "batches": self.batches_done,
            "batches_total": self.batches_total,
            "epochs_asked": self.epochs,
            "time_budget_s": self.budget_s,
        }
        row = EpochRow(epoch=epoch, loss=round(loss, 5), metrics=metrics, seconds=round(seconds, 3))
        self.rows.append(row)
        part = "" if self.batches_done == self.batches_total else f" ({self.batches_done} batches)"
        self.progress(f"epoch {epoch}/{self.epochs}{part}: {line}; {metrics['observation']}")
        if self.on_epoch is not None:
            self.on_epoch(row)
        return row

    def check_trained(self) -> None:
        if not self.rows:
            raise ToolError("Training was cancelled before its first batch, so there is nothing to show.")

    def stop_note(self) -> str:
        full = sum(r.metrics["batches"] == r.metrics["batches_total"] for r in self.rows)
        done = f"{full} full epoch{'s' if full != 1 else ''}"
        last = self.rows[-1] if self.rows else None
        if last is not None and last.metrics["batches"] < last.metrics["batches_total"]:
            done += (
                f" and {last.metrics['batches']} of {last.metrics['batches_total']} batches of epoch "
                f"{last.epoch}"
            )
        if self.stopped == "time budget":
            return f"Stopped at the time budget of {self.budget_s:g} s after {done}."
        if self.stopped == "cancelled":
            return f"Cancelled by the learner after {done}."
        return f"Ran all {done} in {self.elapsed():.1f} s."

    def training_stage(self, note: str, data: dict) -> Stage:
        return Stage(
            name="training",
            note=f"{note} {self.stop_note()}",
            duration_ms=round(sum(r.seconds for r in self.rows) * 1000, 2),
            data={
                "epochs_run": len(self.rows),
                "epochs_asked": self.epochs,
                "stopped": self.stopped,
                "time_budget_s": self.budget_s,
                **data,
            },
        )


def change(first: float, now: float, what: str = "loss", since: str = "epoch 1") -> str:
    """'loss fell 38% since epoch 1' (or rose), from two measured values."""
    if first == 0:
        return f"{what} {now:.3f}"
    pct = (now - first) / abs(first) * 100
    if abs(pct) < 0.5:
        return f"{what} unchanged since {since}"
    return f"{what} {'fell' if pct < 0 else 'rose'} {abs(pct):.0f}% since {since}"


def describe(t: torch.Tensor, example: str | None = None) -> TensorInfo:
    if example is None:
        example = str([round(x, 3) for x in t.flatten()[:4].float().tolist()]) + " …"
    return TensorInfo(shape=list(t.shape), dtype=str(t.dtype).removeprefix("torch."), example=example)


def stats(t: torch.Tensor) -> dict:
    t = t.detach().float()
    return {
        "mean": round(t.mean().item(), 4),
        "std": round(t.std().item(), 4) if t.numel() > 1 else 0.0,
        "min": round(t.min().item(), 4),
        "max": round(t.max().item(), 4),
        "fraction_positive": round((t > 0).float().mean().item(), 4),  # "active" after a ReLU / GELU
    }


def layer_rows(modules: list[tuple[str, nn.Module]], forward: Callable[[], object]) -> list[LayerRow]:
    """One row per module output, in the order the forward pass ran them, read with forward hooks."""
    captured: list[tuple[str, nn.Module, torch.Tensor]] = []

    def hook(name: str):
        def record(module: nn.Module, _inputs, output) -> None:
            tensor = output[0] if isinstance(output, tuple) else output  # diffusers blocks return tuples
            captured.append((name, module, tensor.detach()))

        return record

    handles = [module.register_forward_hook(hook(name)) for name, module in modules]
    try:
        with torch.no_grad():
            forward()
    finally:
        for handle in handles:
            handle.remove()
    rows = []
    for name, module, tensor in captured:
        s = stats(tensor)
        rows.append(
            LayerRow(
                name=name,
                shape=list(tensor.shape),
                summary=f"{type(module).__name__}: mean {s['mean']:+.3f}, std {s['std']:.3f}, "
                f"range [{s['min']:.2f}, {s['max']:.2f}], {s['fraction_positive']:.0%} positive",
                data={"module": type(module).__name__, **s},
            )
        )
    return rows


def parameter_count(*models: nn.Module) -> int:
    return sum(p.numel() for m in models for p in m.parameters())


def seeded_init(seed: int, build: Callable[[], nn.Module]) -> nn.Module:
    """Build a model whose initial weights depend only on the seed, leaving the global RNG as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()

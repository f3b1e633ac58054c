"""A text-generation run drawn: the prediction forming through the layers (logit lens), where the
positions attend, each sampling step's probabilities before and after warping, and the prompt's
token embeddings on a 2-D map. Each `*_figure(trace)` returns a matplotlib Figure whose plotted
arrays are the trace's own numbers; `save` writes it as a PNG."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from tools.trace import PipelineTrace

STEPS_DRAWN = 4  # sampling steps in the probability chart
LABEL = 14  # characters of a token label


def label(token: str) -> str:
    text = repr(token)[1:-1] or "∅"
    return text if len(text) <= LABEL else text[: LABEL - 1] + "…"


def lens_figure(trace: PipelineTrace) -> Figure:
    """The final top tokens x layers: each cell the probability the layer gave that token."""
    final = [c["token"] for c in trace.layers[-1].data["top"]]
    values = np.array([row.data["final_top_probs"] for row in trace.layers]).T  # (5, layers)
    return _layer_map(
        values,
        [label(t) for t in final],
        "viridis",
        "probability",
        "Logit lens: the final favourites' probability, layer by layer",
    )


def attention_figure(trace: PipelineTrace) -> Figure:
    """Where the last prompt position looks, layer by layer (heads averaged): prompt tokens x layers."""
    tokens = trace.stage("tokenization").data["tokens"]
    values = np.array([row.data["attention"]["weights"] for row in trace.layers]).T  # (T, layers)
    return _layer_map(
        values,
        [label(t) for t in tokens],
        "magma",
        "attention weight",
        "Attention of the last position, layer by layer (heads averaged)",
    )


def _layer_map(values: np.ndarray, rows: list[str], colours: str, unit: str, title: str) -> Figure:
    """A heat map with one column per layer, read left (first layer) to right (last)."""
    layers = values.shape[1]
    fig = Figure(figsize=(8.5, 0.32 * len(rows) + 1.3))
    ax = fig.subplots()
    image = ax.imshow(values, aspect="auto", cmap=colours, vmin=0, vmax=1)
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    ax.set_xticks(range(layers), [str(i) for i in range(1, layers + 1)], fontsize=7)
    ax.set_xlabel("layer")
    ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax, label=unit, shrink=0.9, pad=0.02)
    return fig


def matrix_figure(trace: PipelineTrace, layer: int) -> Figure:
    """One layer's whole attention matrix (heads averaged): which earlier token each token reads."""
    tokens = trace.stage("tokenization").data["tokens"]
    values = np.array(trace.layers[layer - 1].data["attention"]["matrix"])  # (T, T)
    size = min(0.35 * len(tokens) + 2.5, 10)
    fig = Figure(figsize=(size, size * 0.85))
    ax = fig.subplots()
    image = ax.imshow(values, cmap="magma", vmin=0, vmax=1)
    names = [label(t) for t in tokens]
    ax.set_xticks(range(len(tokens)), names, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(tokens)), names, fontsize=7)
    ax.set_xlabel("reads from (key)")
    ax.set_ylabel("token (query)")
    ax.set_title(f"Layer {layer}: who attends to whom (heads averaged)", fontsize=9)
    fig.colorbar(image, ax=ax, label="attention weight", shrink=0.8)
    return fig


def candidate_bars(ax, step: dict) -> None:
    """One sampling step's top candidates: before (grey) and after (orange) warping, the drawn in bold."""
    after = {c["id"]: c["prob"] for c in step["after"]}
    cands = step["before"]
    y = np.arange(len(cands))[::-1]
    ax.barh(y + 0.2, [c["prob"] for c in cands], height=0.4, color="#adb5bd", label="before")
    ax.barh(y - 0.2, [after.get(c["id"], 0.0) for c in cands], height=0.4, color="#e8590c", label="after")
    ax.set_yticks(y, [label(c["token"]) for c in cands], fontsize=8)
    for tick, cand in zip(ax.get_yticklabels(), cands, strict=True):
        if cand["id"] == step["chosen"]["id"]:
            tick.set_fontweight("bold")
    ax.set_xlim(0, 1)


def sampling_figure(trace: PipelineTrace) -> Figure:
    """The first sampling steps: top candidates before (grey) and after (orange) temperature, top-k
    and top-p, the drawn token in bold."""
    steps = trace.stage("sampling").data["steps"][:STEPS_DRAWN]
    fig = Figure(figsize=(3.2 * len(steps), 2.6))
    axes = fig.subplots(1, len(steps), squeeze=False)
    for ax, step in zip(axes[0], steps, strict=True):
        candidate_bars(ax, step)
        ax.set_title(f"step {step['step']}: drew {label(step['chosen']['token'])}", fontsize=9)
    axes[0][0].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def compare_figure(a: PipelineTrace, b: PipelineTrace, changed: list[str]) -> Figure:
    """Step 1 of two runs side by side: the candidates before (grey) and after (orange) warping."""
    fig = Figure(figsize=(7, 2.8))
    axes = fig.subplots(1, 2, sharex=True)
    for ax, name, trace in zip(axes, ("run A", "run B"), (a, b), strict=True):
        step = trace.stage("sampling").data["steps"][0]
        candidate_bars(ax, step)
        setting = ", ".join(f"{k} {trace.config.get(k)}" for k in changed) or "same settings"
        ax.set_title(f"{name} ({setting}): drew {label(step['chosen']['token'])}", fontsize=8)
    axes[0].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def ablation_figure(trace: PipelineTrace) -> Figure:
    """The prompt's next-token probabilities from the whole model (grey) and with a part off (red)."""
    data = trace.stage("ablation").data
    rows = data["tokens"]
    fig = Figure(figsize=(5.5, 0.35 * len(rows) + 1.2))
    ax = fig.subplots()
    y = np.arange(len(rows))[::-1]
    ax.barh(y + 0.2, [r["whole"] for r in rows], height=0.4, color="#adb5bd", label="whole model")
    ax.barh(y - 0.2, [r["switched_off"] for r in rows], height=0.4, color="#e03131", label="switched off")
    ax.set_yticks(y, [label(r["token"]) for r in rows], fontsize=8)
    ax.set_xlim(0, 1)
    off = (
        f"head {data['head']} of layer {data['layer']}"
        if data["head"]
        else f"layer {data['layer']}'s attention"
    )
    ax.set_title(f"Next token, with and without {off}", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    return fig


def embedding_figure(trace: PipelineTrace) -> Figure:
    """The prompt's token vectors on their two main axes (PCA of the embeddings)."""
    tokens = trace.stage("tokenization").data["tokens"]
    points = np.array(trace.stage("embedding").data["projection_2d"])  # (T, 2)
    fig = Figure(figsize=(5, 4))
    ax = fig.subplots()
    ax.scatter(points[:, 0], points[:, 1], color="#1c7ed6")
    for (x, y), token in zip(points, tokens, strict=True):
        ax.annotate(label(token), (x, y), fontsize=8, xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel("main axis 1")
    ax.set_ylabel("main axis 2")
    ax.set_title("The prompt's token embeddings, on their two main axes", fontsize=9)
    return fig

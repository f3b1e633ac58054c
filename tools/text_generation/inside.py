"""Look inside a text run: the attention matrix of any layer and head, as an interactive heat map.

The trace keeps each layer's matrix averaged over heads (prompts up to `MATRIX_TOKENS` tokens); every
head's own matrix is saved beside it as a float16 array (layers x heads x tokens x tokens), an
artifact of the run, so the learner can pick a layer and a head without re-running anything.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tools.markup import code
from tools.text_generation.plots import label
from tools.trace import Artifact, PipelineTrace

HEADS_FILE = "attention-heads.npy"
AVERAGE = "all heads (average)"


def save_heads(attentions, folder: Path) -> Artifact:
    """Every layer's per-head attention of the prompt, saved as float16 (L, H, T, T)."""
    import torch

    weights = torch.stack([a[0] for a in attentions]).float().cpu().numpy().astype(np.float16)
    path = folder / HEADS_FILE
    np.save(path, weights)
    return Artifact(
        kind="table", path=str(path), caption="attention weights: layer x head x token x token (float16)"
    )


def _heads(trace: PipelineTrace) -> Path | None:
    for artifact in trace.stage("transformer layers").artifacts:
        path = Path(artifact.path)
        if path.name == HEADS_FILE and path.is_file():
            return path
    return None


def choices(trace: PipelineTrace) -> dict[str, tuple[list[str], str]]:
    """The layers and heads to pick from, each with its default (the layer where the final guess first
    led, heads averaged); none when the prompt was too long to keep the matrices."""
    if not trace.layers or not trace.layers[0].data["attention"].get("matrix"):
        return {}
    first = trace.stage("transformer layers").data["first_layer_with_final_top1"]
    heads = [AVERAGE]
    if (path := _heads(trace)) is not None:
        count = np.load(path, mmap_mode="r").shape[1]
        heads += [f"head {h}" for h in range(1, count + 1)]
    layers = [str(i) for i in range(1, len(trace.layers) + 1)]
    return {"layer": (layers, str(first)), "head": (heads, AVERAGE)}


def matrix(trace: PipelineTrace, layer: int, head: int | None) -> np.ndarray:
    """Layer `layer`'s attention (1-based): one head's, or the trace's average over heads."""
    if head is None:
        return np.array(trace.layers[layer - 1].data["attention"]["matrix"], dtype=float)
    path = _heads(trace)
    if path is None:
        raise ValueError("this run kept no per-head attention")
    return np.load(path, mmap_mode="r")[layer - 1, head - 1].astype(float)


def _plotly_text(name: str) -> str:
    """A label as Plotly text: its markup characters written as entities (learner text stays text)."""
    return name.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def figure(trace: PipelineTrace, picks: dict[str, str]):
    """The picked layer's and head's attention as a Plotly heat map (hover: who reads whom, how much),
    and a caption saying what to look at."""
    import plotly.graph_objects as go

    layer = int(picks.get("layer") or choices(trace)["layer"][1])
    pick = picks.get("head") or AVERAGE
    head = None if pick == AVERAGE else int(pick.removeprefix("head "))
    values = matrix(trace, layer, head)
    names = [label(t) for t in trace.stage("tokenization").data["tokens"]]
    tokens = [_plotly_text(name) for name in names]
    n = len(tokens)
    who = [[(tokens[q], tokens[k]) for k in range(n)] for q in range(n)]
    fig = go.Figure(
        go.Heatmap(
            z=values,
            customdata=who,
            colorscale="Magma",
            zmin=0,
            zmax=1,
            colorbar={"title": {"text": "weight"}},
            hovertemplate="%{customdata[0]} reads %{customdata[1]}: %{z:.1%}<extra></extra>",
        )
    )
    ticks = {"tickmode": "array", "tickvals": list(range(n)), "ticktext": tokens, "tickfont": {"size": 10}}
    fig.update_layout(
        title={"text": f"Layer {layer}, {pick}: who attends to whom", "font": {"size": 13}},
        xaxis={**ticks, "title": {"text": "reads from (key)"}, "tickangle": -60},
        yaxis={**ticks, "title": {"text": "token (query)"}, "autorange": "reversed"},
        margin={"l": 60, "r": 10, "t": 40, "b": 60},
        height=min(260 + 16 * n, 700),
    )
    last = values[-1]
    top = int(np.argmax(last))
    caption = (
        f"Each row is a token and the bright cells are the earlier tokens it reads (the upper triangle "
        f"is dark: a token never reads ahead). In layer {layer} ({pick}) the last token reads "
        f"{code(names[top])} most ({last[top]:.0%}). Hover over a cell for its weight; pick another layer or "
        "head to compare."
    )
    return fig, caption

"""How a text-generation run is shown: the stage table and tokens, then pictures (the prediction
forming layer by layer, where the positions attend, each sampling step's probabilities before and after
warping, the token embeddings on a 2-D map), each with a caption saying what to look at, and the
logit-lens table for the exact numbers; and the run's facts, step by step and layer by layer."""

from __future__ import annotations

from pathlib import Path

from tools.markup import plain
from tools.text_generation import plots
from tools.trace import Fact, PipelineTrace
from tools.views import Part, markdown, picture, save_figure, stage_table, tokens_line


def _cell(text: str) -> str:
    return plain(repr(text))


def lens_table(trace: PipelineTrace) -> str:
    rows = [
        "#### Prediction trace through the layers (logit lens, last prompt position)",
        "",
        "| layer | top guess | p | runner-up | attends most to (heads averaged) | most focused head |",
        "|---|---|---:|---|---|---|",
    ]
    for row in trace.layers:
        top, attn = row.data["top"], row.data["attention"]
        focus, mean = attn["most_focused_head"], attn["mean_over_heads"][0]
        rows.append(
            f"| {plain(row.name)} | {_cell(top[0]['token'])} | {top[0]['prob']:.0%} "
            f"| {_cell(top[1]['token'])} {top[1]['prob']:.0%} "
            f"| {_cell(mean['token'])} ({mean['weight']:.0%}) "
            f"| head {focus['head']}: {_cell(focus['token'])} ({focus['weight']:.0%}) |"
        )
    return "\n".join(rows)


def _sink(trace: PipelineTrace) -> str:
    """A note when most layers park their attention on the first token (an "attention sink")."""
    weights = [row.data["attention"]["weights"] for row in trace.layers]
    parked = sum(w[0] > 0.5 for w in weights if len(w) > 1)
    if parked <= len(weights) // 2:
        return ""
    return (
        f" In {parked} of {len(weights)} layers most of it rests on the first token, a parking place "
        "many language models use when nothing else needs reading (an *attention sink*)."
    )


def views(trace: PipelineTrace, folder: Path) -> list[Part]:
    """Each part reads the trace only when drawn, so one with missing numbers costs only itself."""

    def drawn(name: str, figure) -> str:
        return save_figure(figure(), folder / f"{name}.png")

    layers = trace.stage("transformer layers").data
    first, final = layers["first_layer_with_final_top1"], trace.layers[-1].data["top"][0]["token"]
    parts = [
        markdown("stage table", lambda: stage_table(trace)),
        markdown("tokens", lambda: tokens_line(trace.stage("tokenization").data["tokens"])),
        picture(
            "logit-lens heat map",
            lambda: drawn("lens", lambda: plots.lens_figure(trace)),
            f"Read it left to right, layer by layer: each row is one of the final favourites. "
            f"{_cell(final)} leads from layer {first} on: the prediction forms late in the stack.",
        ),
        picture(
            "attention heat map",
            lambda: drawn("attention", lambda: plots.attention_figure(trace)),
            "Each column is a layer: the bright cells are the prompt tokens the last position reads most."
            + _sink(trace),
        ),
    ]
    if trace.layers[first - 1].data["attention"].get("matrix"):
        parts.append(
            picture(
                "attention matrix",
                lambda: drawn("attention-matrix", lambda: plots.matrix_figure(trace, first)),
                f"Layer {first}, where the final guess first led: each row is a token and the bright "
                "cells the earlier tokens it reads. Nothing lies above the diagonal: a token never reads "
                "later ones.",
            )
        )
    parts += [
        picture(
            "sampling chart",
            lambda: drawn("sampling", lambda: plots.sampling_figure(trace)),
            "Grey: the model's probabilities; orange: after temperature, top-k and top-p. The drawn token "
            "is in bold; with temperature 0 it is always the top one.",
        ),
        picture(
            "embedding map",
            lambda: drawn("embeddings", lambda: plots.embedding_figure(trace)),
            "Each dot is a prompt token's embedding, squeezed from "
            f"{trace.stage('embedding').output.shape[-1]} numbers onto the two directions where they "
            "differ most.",
        ),
        markdown("logit-lens table", lambda: lens_table(trace)),
    ]
    if any(s.name == "ablation" for s in trace.stages):
        parts.insert(
            2,
            picture(
                "ablation",
                lambda: drawn("ablation", lambda: plots.ablation_figure(trace)),
                "Grey: the next-token probabilities of the whole model; red: with that attention switched "
                "off. Where the bars differ, the switched-off part was doing work for this prompt.",
            ),
        )
    return parts


def compare_picture(a: PipelineTrace, b: PipelineTrace, folder: Path) -> Part:
    changed = [k for k in sorted(set(a.config) | set(b.config)) if a.config.get(k) != b.config.get(k)]
    return picture(
        "step 1 of both runs",
        lambda: save_figure(plots.compare_figure(a, b, changed), folder / "compare-step-1.png"),
        "The first token of both runs: the model's probabilities (grey) are the same, since the model "
        "and prompt are; what the changed setting does to them before the draw is in orange.",
    )


def facts(trace: PipelineTrace) -> list[Fact]:
    """Each sampling step (the favourite, the token drawn) and each layer's top guess, measured."""
    out = [Fact(text=s.note, stage=s.name) for s in trace.stages]
    for step in trace.stage("sampling").data["steps"]:
        chosen, top = step["chosen"], step["before"][0]
        drawn = (
            "and was drawn"
            if chosen["id"] == top["id"]
            else f"but {chosen['token']!r} was drawn (p {chosen['prob_before']:.0%}, "
            f"rank {chosen['rank_before']})"
        )
        out.append(
            Fact(
                text=f"At step {step['step']} the most likely next token was {top['token']!r} with "
                f"{top['prob']:.0%}, {drawn}.",
                stage="sampling",
                step=step["step"],
            )
        )
    for i, row in enumerate(trace.layers, 1):
        top = row.data["top"][0]
        focus = row.data["attention"]["mean_over_heads"][0]
        out.append(
            Fact(
                text=f"At layer {i} the logit lens read the top guess {top['token']!r} ({top['prob']:.0%}); "
                f"the last position attended most to {focus['token']!r} ({focus['weight']:.0%}).",
                stage="transformer layers",
                layer=i,
            )
        )
    return out


def insight(steps: list[dict], first_right: int, num_layers: int) -> str:
    """The run's key insight, from its numbers: how sure it was, where it hesitated, where it decided."""
    sure = [s["chosen"]["prob_before"] for s in steps]
    unsure = min(steps, key=lambda s: s["before"][0]["prob"])
    mean = sum(sure) / len(sure)
    return (
        f"On average the token it wrote had a probability of {mean:.0%} before sampling. It hesitated most "
        f"at step {unsure['step']}, where the favourite {unsure['before'][0]['token']!r} had only "
        f"{unsure['before'][0]['prob']:.0%}. The prediction for the first new token took shape at layer "
        f"{first_right} of {num_layers}: earlier layers were still guessing."
    )

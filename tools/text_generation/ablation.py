"""One causal experiment on the text model: switch off one attention head (or a whole layer's attention)
and see how the next-token probabilities change.

The heads of a layer are concatenated before the attention's output projection (`o_proj`), one slice
of `head_dim` numbers per head; a forward pre-hook zeroes that slice (or all of them), so the head
contributes nothing to the residual stream while everything else runs as usual. The whole run (logit
lens, sampling) is then the ablated model's, and the trace records what was switched off and the
prompt's next-token distribution with and without it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from tools.base import ToolError
from tools.trace import Stage, TensorInfo

SPEC = re.compile(r"^\s*layer\s+(\d+)(?:\s*,?\s*head\s+(\d+))?\s*$", re.I)


def parse(spec: str, model) -> tuple[int, int | None]:
    """'layer 12' or 'layer 12 head 3' (1-based, as the trace numbers them) -> (layer, head or None)."""
    found = SPEC.match(spec)
    layers, heads = model.config.num_hidden_layers, model.config.num_attention_heads
    if not found:
        raise ToolError(f"ablate takes 'layer N' or 'layer N head H' (layers 1-{layers}, heads 1-{heads}).")
    layer, head = int(found[1]), int(found[2]) if found[2] else None
    if not 1 <= layer <= layers or (head is not None and not 1 <= head <= heads):
        raise ToolError(
            f"This model has layers 1-{layers} and heads 1-{heads} per layer; {spec!r} is outside."
        )
    return layer, head


@contextmanager
def switched_off(model, layer: int, head: int | None) -> Iterator[None]:
    """While inside: head `head` of layer `layer` (or all its heads) adds nothing."""
    attention = model.model.layers[layer - 1].self_attn
    size = attention.head_dim

    def zero(_module, args):
        heads = args[0].clone()  # (batch, tokens, heads * head_dim), before the output projection
        if head is None:
            heads.zero_()
        else:
            heads[..., (head - 1) * size : head * size] = 0
        return (heads, *args[1:])

    hook = attention.o_proj.register_forward_pre_hook(zero)
    try:
        yield
    finally:
        hook.remove()


def next_token(model, ids: torch.Tensor) -> torch.Tensor:
    """The prompt's next-token distribution (one forward pass)."""
    with torch.inference_mode():
        return model(input_ids=ids).logits[0, -1].float().softmax(-1)


def what(layer: int, head: int | None) -> str:
    return f"head {head} of layer {layer}" if head is not None else f"all attention heads of layer {layer}"


def stage(model, tok, ids: torch.Tensor, layer: int, head: int | None, clock) -> Stage:
    """The prompt's next-token distribution with and without the switched-off part, side by side."""
    with clock.stage() as t:
        whole = next_token(model, ids)
        with switched_off(model, layer, head):
            without = next_token(model, ids)
    picks = list(dict.fromkeys(whole.topk(5).indices.tolist() + without.topk(5).indices.tolist()))
    rows = [
        {
            "token": tok.decode([i]),
            "id": i,
            "whole": round(float(whole[i]), 5),
            "switched_off": round(float(without[i]), 5),
        }
        for i in picks
    ]
    before, after = rows[0], max(rows, key=lambda r: r["switched_off"])
    if before["id"] == after["id"]:
        change = (
            f"stayed {before['token']!r}, its probability going from {before['whole']:.0%} to "
            f"{before['switched_off']:.0%}"
        )
    else:
        change = (
            f"changed from {before['token']!r} ({before['whole']:.0%}, now {before['switched_off']:.0%}) "
            f"to {after['token']!r} ({after['switched_off']:.0%})"
        )
    return Stage(
        name="ablation",
        note=f"With {what(layer, head)} switched off, the next-token favourite {change}. The rest of "
        "this run used the model with it switched off.",
        input=TensorInfo(shape=list(ids.shape), dtype="int64", example="the prompt"),
        output=TensorInfo(shape=[len(rows)], dtype="float32", example="next-token probabilities"),
        duration_ms=t.ms,
        data={"layer": layer, "head": head, "tokens": rows},
    )

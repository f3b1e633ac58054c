"""The prompt through every layer of a text model, once: a logit-lens reading per layer (the last
position's hidden state through the final norm and the unembedding) and where each position attends;
the forward pass's KV cache is what sampling then continues from. Also the small helpers both this and
the tool use to name tokens and tensors."""

from __future__ import annotations

import torch

from tools.trace import Clock, LayerRow, Stage, TensorInfo

TOP_N = 5  # candidates recorded per step and per layer
MATRIX_TOKENS = 48  # prompts up to this many tokens keep every layer's whole attention matrix


def tok_text(tokenizer, token_id: int) -> str:
    return tokenizer.decode([token_id])


def top_tokens(tokenizer, probs: torch.Tensor, n: int = TOP_N) -> list[dict]:
    values, ids = probs.topk(n)
    return [
        {"token": tok_text(tokenizer, i), "id": i, "prob": round(v, 5)}
        for v, i in zip(values.tolist(), ids.tolist(), strict=True)
    ]


def shape(t: torch.Tensor, example: str = "") -> TensorInfo:
    return TensorInfo(shape=list(t.shape), dtype=str(t.dtype).removeprefix("torch."), example=example)


def read_layers(model, tok, ids, embeds, tokens: list[str], clock: Clock):
    """The prompt through every layer once (filling the KV cache), with a logit-lens row per layer."""
    with clock.stage() as t, torch.inference_mode():
        out = model(input_ids=ids, use_cache=True, output_hidden_states=True, output_attentions=True)
        norm, head = model.model.norm, model.get_output_embeddings()
        n = len(out.attentions)
        # hidden_states: the embeddings, then one per layer; the last one already has the final norm
        rows = [
            _lens_row(i, out.hidden_states[i], attn, norm if i < n else None, head, tok, tokens)
            for i, attn in enumerate(out.attentions, 1)
        ]
    layers, probs = [row for row, _ in rows], [p for _, p in rows]
    final_ids = [c["id"] for c in layers[-1].data["top"]]
    for row, p in zip(layers, probs, strict=True):  # the final favourites' probability at every layer
        row.data["final_top_probs"] = [round(float(p[i]), 5) for i in final_ids]
    final_top = final_ids[0]
    first_right = next(i for i, row in enumerate(layers, 1) if row.data["top"][0]["id"] == final_top)
    return (
        out,
        layers,
        Stage(
            name="transformer layers",
            note=f"The prompt passed through {len(layers)} layers; the final top guess first led at layer "
            f"{first_right}.",
            input=shape(embeds),
            output=shape(out.logits),
            duration_ms=t.ms,
            data={"num_layers": len(layers), "first_layer_with_final_top1": first_right},
        ),
    )


def _lens_row(i: int, hidden, attn, norm, head, tok, tokens: list[str]) -> tuple[LayerRow, torch.Tensor]:
    """Layer i read through the unembedding (logit lens), and where its positions attend; the row and
    the layer's whole next-token distribution."""
    h = hidden[0, -1]
    probs = head(norm(h) if norm is not None else h).float().softmax(-1)
    last = attn[0, :, -1, :]  # (heads, T): where the last position looks, per head
    mean = last.mean(0)
    focus_head = int(last.max(-1).values.argmax())
    focus_pos = int(last[focus_head].argmax())
    top_pos = mean.topk(min(3, mean.numel())).indices.tolist()
    top = top_tokens(tok, probs)
    matrix = attn[0].mean(0) if len(tokens) <= MATRIX_TOKENS else None  # (T, T), heads averaged
    row = LayerRow(
        name=f"layer {i}",
        shape=list(hidden.shape),
        summary=f"top guess {top[0]['token']!r} ({top[0]['prob']:.0%}); "
        f"attends most to {tokens[top_pos[0]]!r}",
        data={
            "top": top,
            "attention": {
                "mean_over_heads": [
                    {"pos": p, "token": tokens[p], "weight": round(float(mean[p]), 4)} for p in top_pos
                ],
                "most_focused_head": {
                    "head": focus_head + 1,  # 1-based, as `ablate` and the explorer number heads
                    "pos": focus_pos,
                    "token": tokens[focus_pos],
                    "weight": round(float(last[focus_head, focus_pos]), 4),
                },
                "weights": [round(x, 4) for x in mean.tolist()],
                "matrix": None if matrix is None else [[round(x, 4) for x in r] for r in matrix.tolist()],
            },
        },
    )
    return row, probs

"""text_generation: run a causal language model on a prompt and trace what happened inside.

The trace shows tokenization, the embedding, a logit-lens prediction per layer for the last prompt
position, where that position attends in each layer, every sampling step (top candidates before and
after temperature / top-k / top-p, and the token drawn) and detokenization. Generation is a plain
loop over the model's forward pass with a KV cache, so every number is read from the same run; with
temperature 0 it picks the argmax each step and so matches greedy `generate`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

import torch
from pydantic import BaseModel, Field

from tools.base import RunContext, Tool, ToolError
from tools.trace import Clock, LayerRow, PipelineTrace, Stage, TensorInfo

TOP_N = 5  # candidates recorded per step and per layer


class TextGenerationArgs(BaseModel):
    prompt: str = Field(
        min_length=1, max_length=1000, description="What the model should write about or continue."
    )
    max_new_tokens: int = Field(20, ge=1, le=64, description="How many tokens to generate.")
    temperature: float = Field(0.7, ge=0.0, le=2.0, description="0 = always the most likely token.")
    top_k: int = Field(50, ge=0, le=500, description="Keep only the k most likely tokens (0 = off).")
    top_p: float = Field(
        0.95, gt=0.0, le=1.0, description="Keep the smallest set with this total probability."
    )
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Random seed; the same seed gives the same text.")
    mode: Literal["chat", "continue"] = Field(
        "chat", description="chat: as an instruction; continue: raw text."
    )
    model: str | None = Field(
        None, description="A transformers model id or local path; default: embedded SmolLM2."
    )


def _tok(tokenizer, token_id: int) -> str:
    return tokenizer.decode([token_id])


def _top(tokenizer, probs: torch.Tensor, n: int = TOP_N) -> list[dict]:
    values, ids = probs.topk(n)
    return [
        {"token": _tok(tokenizer, i), "id": i, "prob": round(v, 5)}
        for v, i in zip(values.tolist(), ids.tolist(), strict=True)
    ]


def _warp(logits: torch.Tensor, args: TextGenerationArgs) -> torch.Tensor:
    """Temperature, then top-k, then top-p (the order transformers applies them); -inf removes."""
    logits = logits / args.temperature
    if args.top_k:
        kth = logits.topk(min(args.top_k, logits.numel())).values[-1]
        logits = logits.masked_fill(logits < kth, -math.inf)
    if args.top_p < 1.0:
        sorted_logits, order = logits.sort(descending=True)
        cumulative = sorted_logits.softmax(-1).cumsum(-1)
        drop = cumulative - sorted_logits.softmax(-1) >= args.top_p  # keep the token that crosses top_p
        logits = logits.masked_fill(drop.scatter(0, order, drop), -math.inf)
    return logits


class TextGenerationTool(Tool):
    name = "text_generation"
    description = (
        "Run a real language model on a prompt and show how it works inside: tokens, embeddings, the "
        "prediction forming layer by layer, attention, and each sampling step with its probabilities."
    )
    Args = TextGenerationArgs
    examples = [
        "show me how a language model writes a sentence about cats",
        "generate some text for me and explain each step",
        "run GPT on my prompt",
        "demo text generation",
        "how does the model pick each word? show me live",
        "continue this sentence with a language model",
        "write me a story with the model and show what happens inside",
        "let me see a language model generate a poem",
    ]

    def __init__(self, settings):
        super().__init__(settings)
        self._models: dict[str, tuple] = {}

    def _load(self, ref: str | None, device: str):
        key = ref or "<embedded>"
        if key not in self._models:
            from transformers import AutoModelForCausalLM, AutoTokenizer
            from transformers.utils import logging

            from tutor.llm.local import cached_model_dir

            logging.disable_progress_bar()
            path = str(cached_model_dir(self.settings.home)) if ref is None else ref
            try:
                tokenizer = AutoTokenizer.from_pretrained(path)
                # eager attention: the only implementation that returns attention weights
                model = AutoModelForCausalLM.from_pretrained(
                    path, dtype=torch.float32, attn_implementation="eager"
                )
            except Exception as e:  # missing folder, unreachable hub, not a causal LM, ...
                raise ToolError(
                    f"Cannot load the model {ref!r}: it is not a local model folder, and model hubs "
                    "cannot be reached from here. Leave `model` empty to use the embedded SmolLM2."
                ) from e
            self._models[key] = (model.to(device).eval(), tokenizer)
        return self._models[key]

    def run(self, args: TextGenerationArgs, ctx: RunContext) -> PipelineTrace:
        import transformers

        clock = Clock()
        device = self.settings.torch_device()
        ctx.progress("loading the model")
        model, tok = self._load(args.model, device)
        cfg = model.config

        with clock.stage() as t:
            if args.mode == "chat" and tok.chat_template:
                ids = tok.apply_chat_template(
                    [{"role": "user", "content": args.prompt}],
                    add_generation_prompt=True,
                    return_tensors="pt",
                    return_dict=True,
                )["input_ids"]
            else:
                ids = tok(args.prompt, return_tensors="pt")["input_ids"]
        ids = ids.to(device)  # (1, T)
        tokens = [_tok(tok, i) for i in ids[0].tolist()]
        stages = [
            Stage(
                name="tokenization",
                note=f"The prompt became {ids.shape[1]} tokens from a vocabulary of {cfg.vocab_size:,}"
                + (" (the chat template adds the role markers around it)." if args.mode == "chat" else "."),
                input=TensorInfo(
                    shape=[len(args.prompt)], dtype="str (characters)", example=args.prompt[:80]
                ),
                output=TensorInfo(
                    shape=list(ids.shape),
                    dtype=str(ids.dtype).removeprefix("torch."),
                    example=str(ids[0, :12].tolist()),
                ),
                duration_ms=t.ms,
                data={"tokens": tokens, "ids": ids[0].tolist()},
            )
        ]

        ctx.progress("reading the prompt through every layer")
        with clock.stage() as t, torch.inference_mode():
            embeds = model.get_input_embeddings()(ids)  # (1, T, H)
        stages.append(
            Stage(
                name="embedding",
                note=f"Each token id looked up a learned vector of {embeds.shape[-1]} numbers.",
                input=TensorInfo(shape=list(ids.shape), dtype="int64"),
                output=TensorInfo(
                    shape=list(embeds.shape),
                    dtype=str(embeds.dtype).removeprefix("torch."),
                    example=str([round(x, 3) for x in embeds[0, -1, :4].tolist()]) + " …",
                ),
                duration_ms=t.ms,
                data={"vector_norms": [round(x, 3) for x in embeds[0].norm(dim=-1).tolist()]},
            )
        )

        with clock.stage() as t, torch.inference_mode():
            out = model(input_ids=ids, use_cache=True, output_hidden_states=True, output_attentions=True)
            layers = self._layers(model, tok, out, tokens)
        final_top = layers[-1].data["top"][0]["id"]
        first_right = next(i for i, row in enumerate(layers, 1) if row.data["top"][0]["id"] == final_top)
        stages.append(
            Stage(
                name="transformer layers",
                note=f"The prompt passed through {len(layers)} layers; the final top guess first led "
                f"at layer {first_right}.",
                input=TensorInfo(shape=list(embeds.shape), dtype="float32"),
                output=TensorInfo(shape=list(out.logits.shape), dtype="float32"),
                duration_ms=t.ms,
                data={"num_layers": len(layers), "first_layer_with_final_top1": first_right},
            )
        )

        ctx.progress("sampling tokens")
        steps, new_ids = [], []
        generator = torch.Generator(device=device).manual_seed(args.seed)
        logits, cache = out.logits[0, -1], out.past_key_values
        with clock.stage() as t, torch.inference_mode():
            for step in range(args.max_new_tokens):
                if ctx.should_stop():  # the Stop button or the wall-clock ceiling, between tokens
                    break
                before = logits.float().softmax(-1)
                if args.temperature == 0:
                    chosen = int(logits.argmax())
                    after = torch.zeros_like(before)
                    after[chosen] = 1.0
                else:
                    after = _warp(logits.float(), args).softmax(-1)
                    chosen = int(torch.multinomial(after, 1, generator=generator))
                steps.append(
                    {
                        "step": step + 1,
                        "before": _top(tok, before),
                        "after": _top(tok, after),
                        "chosen": {
                            "token": _tok(tok, chosen),
                            "id": chosen,
                            "prob_before": round(float(before[chosen]), 5),
                            "prob_after": round(float(after[chosen]), 5),
                            "rank_before": int((before > before[chosen]).sum()) + 1,
                        },
                    }
                )
                new_ids.append(chosen)
                if chosen == tok.eos_token_id or chosen in _stop_ids(tok, model):
                    break
                nxt = torch.tensor([[chosen]], device=device)
                out = model(input_ids=nxt, past_key_values=cache, use_cache=True)
                logits, cache = out.logits[0, -1], out.past_key_values
        if not new_ids:
            raise ToolError("The text demo was stopped before it drew its first token.")
        stopped = " It was stopped early (Stop, or out of time)." if ctx.cancel.is_set() else ""
        stages.append(
            Stage(
                name="sampling",
                note=f"{len(new_ids)} tokens drawn one at a time ("
                + (
                    "greedy: always the most likely)."
                    if args.temperature == 0
                    else f"temperature {args.temperature}, top-k {args.top_k or 'off'}, top-p {args.top_p})."
                )
                + stopped,
                input=TensorInfo(
                    shape=[cfg.vocab_size], dtype="float32", example="logits for the next token"
                ),
                output=TensorInfo(shape=[1, len(new_ids)], dtype="int64", example=str(new_ids[:12])),
                duration_ms=t.ms,
                data={"steps": steps},
            )
        )

        with clock.stage() as t:
            text = tok.decode(new_ids, skip_special_tokens=True)
        stages.append(
            Stage(
                name="detokenization",
                note="The generated ids were looked up in the vocabulary and joined into text.",
                input=TensorInfo(shape=[len(new_ids)], dtype="int64", example=str(new_ids[:12])),
                output=TensorInfo(shape=[len(text)], dtype="str (characters)", example=text[:80]),
                duration_ms=t.ms,
            )
        )
        return PipelineTrace(
            tool=self.name,
            title=f"How {Path(args.model).name if args.model else 'SmolLM2-135M-Instruct'} wrote its answer",
            prompt=args.prompt,
            device=device,
            seed=args.seed,
            config=args.model_dump(),
            versions={"torch": torch.__version__, "transformers": transformers.__version__},
            stages=stages,
            layers=layers,
            output={"text": text},
            key_insight=_insight(steps, first_right, len(layers)),
            total_ms=clock.total_ms(),
        )

    def _layers(self, model, tok, out, tokens: list[str]) -> list[LayerRow]:
        """Logit lens and attention for the last prompt position, one row per decoder layer."""
        norm, head = model.model.norm, model.get_output_embeddings()
        hidden = out.hidden_states  # embeddings + one per layer; the last one already has the final norm
        rows = []
        for i, attn in enumerate(out.attentions, 1):
            h = hidden[i][0, -1]
            logits = head(h if i == len(out.attentions) else norm(h))
            probs = logits.float().softmax(-1)
            last = attn[0, :, -1, :]  # (heads, T): where the last position looks, per head
            mean = last.mean(0)
            focus_head = int(last.max(-1).values.argmax())
            focus_pos = int(last[focus_head].argmax())
            top_pos = mean.topk(min(3, mean.numel())).indices.tolist()
            top = _top(tok, probs)
            rows.append(
                LayerRow(
                    name=f"layer {i}",
                    shape=list(hidden[i].shape),
                    summary=f"top guess {top[0]['token']!r} ({top[0]['prob']:.0%}); attends most to "
                    f"{tokens[top_pos[0]]!r}",
                    data={
                        "top": top,
                        "attention": {
                            "mean_over_heads": [
                                {"pos": p, "token": tokens[p], "weight": round(float(mean[p]), 4)}
                                for p in top_pos
                            ],
                            "most_focused_head": {
                                "head": focus_head,
                                "pos": focus_pos,
                                "token": tokens[focus_pos],
                                "weight": round(float(last[focus_head, focus_pos]), 4),
                            },
                            "weights": [round(x, 4) for x in mean.tolist()],
                        },
                    },
                )
            )
        return rows


def _stop_ids(tok, model) -> set[int]:
    eos = model.generation_config.eos_token_id
    ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    return ids | ({tok.eos_token_id} if tok.eos_token_id is not None else set())


def _insight(steps: list[dict], first_right: int, num_layers: int) -> str:
    sure = [s["chosen"]["prob_before"] for s in steps]
    unsure = min(steps, key=lambda s: s["before"][0]["prob"])
    mean = sum(sure) / len(sure)
    return (
        f"On average the token it wrote had a probability of {mean:.0%} before sampling. It hesitated most "
        f"at step {unsure['step']}, where the favourite {unsure['before'][0]['token']!r} had only "
        f"{unsure['before'][0]['prob']:.0%}. The prediction for the first new token took shape at layer "
        f"{first_right} of {num_layers}: earlier layers were still guessing."
    )

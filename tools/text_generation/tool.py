"""text_generation: run a causal language model on a prompt and trace what happened inside.

The trace shows tokenization, the embedding, a logit-lens prediction per layer for the last prompt
position, where that position attends in each layer, every sampling step (top candidates before and
after temperature / top-k / top-p, and the token drawn) and detokenization. Generation is a plain
loop over the model's forward pass with a KV cache, so every number is read from the same run; the
candidates are reshaped by transformers' own logits warpers (the ones `generate` uses), and with
temperature 0 it picks the argmax each step and so matches greedy `generate`.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Literal

import torch
from pydantic import BaseModel, Field

from tools.base import RunContext, Tool, ToolError
from tools.embedded_model import MODEL_NAME, ModelUnavailable, load_causal_lm
from tools.text_generation import ablation, inside, questions, views
from tools.text_generation.layers import MATRIX_TOKENS, read_layers, shape, tok_text, top_tokens
from tools.text_generation.prompting import resolve_mode
from tools.trace import Clock, PipelineTrace, Stage, TensorInfo


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
    mode: Literal["auto", "chat", "continue"] = Field(
        "auto",
        description="continue: raw text, no chat template; chat: as a message to the assistant; auto: "
        "continue a prompt that reads as the start of a text, chat for a question or an instruction.",
    )
    model: str | None = Field(
        None, description="A transformers model id or local path; default: embedded SmolLM2."
    )
    ablate: str | None = Field(
        None,
        max_length=40,
        description="Switch off attention to see what it did: 'layer 12' (all its heads) or "
        "'layer 12 head 3'.",
    )


def warpers(args: TextGenerationArgs):
    """transformers' own temperature, top-k and top-p warpers, in the order `generate` applies them."""
    from transformers import (
        LogitsProcessorList,
        TemperatureLogitsWarper,
        TopKLogitsWarper,
        TopPLogitsWarper,
    )

    chain = LogitsProcessorList([TemperatureLogitsWarper(args.temperature)])
    if args.top_k:
        chain.append(TopKLogitsWarper(args.top_k))
    if args.top_p < 1.0:
        chain.append(TopPLogitsWarper(args.top_p))
    return chain


class TextGenerationTool(Tool):
    name = "text_generation"
    command = "text"
    noun = "the language model"
    not_knobs = ("mode",)
    concepts = {
        "tokenization": "tokenization",
        "embedding": "embeddings",
        "transformer layers": "transformer",
        "sampling": "sampling",
        "detokenization": "detokenization",
        "ablation": "attention",
    }
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

    def model(self, ref: str | None, device: str):
        """(model, tokenizer) for a local folder or the embedded model, loaded once per process (the
        code demo shares the copy)."""
        try:
            return load_causal_lm(self.settings.home, ref, device)
        except ModelUnavailable as e:
            raise ToolError(str(e)) from e

    def run(self, args: TextGenerationArgs, ctx: RunContext) -> PipelineTrace:
        import transformers

        clock = Clock()
        ctx.progress("loading the model")
        model, tok = self.model(args.model, ctx.device)
        ids, tokenization = _tokenize(tok, args, clock, ctx.device, model.config.vocab_size)
        ablate = ablation.parse(args.ablate, model) if args.ablate else None
        extra = [ablation.stage(model, tok, ids, *ablate, clock)] if ablate else []
        ctx.progress("reading the prompt through every layer")
        embeds, embedding = _embed(model, ids, clock)
        tokens = tokenization.data["tokens"]
        with ablation.switched_off(model, *ablate) if ablate else contextlib.nullcontext():
            out, layers, reading = read_layers(model, tok, ids, embeds, tokens, clock)
            if len(tokens) <= MATRIX_TOKENS:  # every head's matrix, for the explorer's layer/head pick
                reading.artifacts.append(inside.save_heads(out.attentions, ctx.folder))
            ctx.progress("sampling tokens")
            new_ids, sampling = _sample(model, tok, out, args, ctx, clock)
        text, detokenization = _detokenize(tok, new_ids, clock)
        return PipelineTrace(
            tool=self.name,
            title=f"How {Path(args.model).name if args.model else MODEL_NAME} wrote its answer",
            prompt=args.prompt,
            device=ctx.device,
            seed=args.seed,
            config=args.model_dump(),
            versions={"torch": torch.__version__, "transformers": transformers.__version__},
            stages=[tokenization, *extra, embedding, reading, sampling, detokenization],
            layers=layers,
            output={"text": text},
            key_insight=views.insight(
                sampling.data["steps"], reading.data["first_layer_with_final_top1"], len(layers)
            ),
            total_ms=clock.total_ms(),
        )

    def views(self, trace, folder):
        return views.views(trace, folder)

    def questions(self, trace):
        return questions.questions(trace)

    def prediction(self, trace):
        return questions.prediction(trace)

    def verdict(self, guess, picked, a, b):
        return questions.verdict(guess, picked, a, b)

    def facts(self, trace):
        return views.facts(trace)

    def compare(self, a, b, folder):
        return [*super().compare(a, b, folder), views.compare_picture(a, b, folder)]

    def inside(self, trace):
        return inside.choices(trace)

    def inside_figure(self, trace, picks):
        return inside.figure(trace, picks)


def _tokenize(
    tok, args: TextGenerationArgs, clock: Clock, device: str, vocab: int
) -> tuple[torch.Tensor, Stage]:
    mode, why = resolve_mode(args.prompt, args.mode, bool(tok.chat_template))
    with clock.stage() as t:
        if mode == "chat":
            messages = [{"role": "user", "content": args.prompt}]
            ids = tok.apply_chat_template(
                messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
            )["input_ids"]
        else:
            ids = tok(args.prompt, return_tensors="pt")["input_ids"]
    ids = ids.to(device)  # (1, T)
    template = " (the chat template adds the role markers around it)" if mode == "chat" else ""
    return ids, Stage(
        name="tokenization",
        note=f"The prompt became {ids.shape[1]} tokens from a vocabulary of {vocab:,}{template}: {why}.",
        input=TensorInfo(shape=[len(args.prompt)], dtype="str (characters)", example=args.prompt[:80]),
        output=shape(ids, str(ids[0, :12].tolist())),
        duration_ms=t.ms,
        data={
            "tokens": [tok_text(tok, i) for i in ids[0].tolist()],
            "ids": ids[0].tolist(),
            "mode": mode,
            "why": why,
        },
    )


def _embed(model, ids: torch.Tensor, clock: Clock) -> tuple[torch.Tensor, Stage]:
    with clock.stage() as t, torch.inference_mode():
        embeds = model.get_input_embeddings()(ids)  # (1, T, H)
    return embeds, Stage(
        name="embedding",
        note=f"Each token id looked up a learned vector of {embeds.shape[-1]} numbers.",
        input=shape(ids),
        output=shape(embeds, str([round(x, 3) for x in embeds[0, -1, :4].tolist()]) + " …"),
        duration_ms=t.ms,
        data={
            "vector_norms": [round(x, 3) for x in embeds[0].norm(dim=-1).tolist()],
            "projection_2d": _project(embeds[0].float()),
        },
    )


def _project(vectors: torch.Tensor) -> list[list[float]]:
    """The token vectors on their two main axes (PCA): a map where similar tokens sit close."""
    if vectors.shape[0] < 3:
        return [[0.0, 0.0] for _ in range(vectors.shape[0])]
    centred = vectors - vectors.mean(0)
    _, _, v = torch.linalg.svd(centred, full_matrices=False)
    return [[round(x, 4) for x in row] for row in (centred @ v[:2].T).tolist()]


def _sample(model, tok, out, args: TextGenerationArgs, ctx: RunContext, clock: Clock):
    """Draw tokens one at a time from the cached forward pass, recording each step's candidates."""
    steps, new_ids = [], []
    generator = torch.Generator(device=ctx.device).manual_seed(args.seed)
    warp = warpers(args) if args.temperature > 0 else None
    logits, cache = out.logits[0, -1], out.past_key_values
    stop_ids = _stop_ids(tok, model)
    with clock.stage() as t, torch.inference_mode():
        for step in range(1, args.max_new_tokens + 1):
            if ctx.should_stop():  # the Stop button or the wall-clock ceiling, between tokens
                break
            chosen, record = _draw(tok, logits.float(), warp, generator)
            steps.append({"step": step, **record})
            new_ids.append(chosen)
            if chosen in stop_ids:
                break
            out = model(
                input_ids=torch.tensor([[chosen]], device=ctx.device), past_key_values=cache, use_cache=True
            )
            logits, cache = out.logits[0, -1], out.past_key_values
    if not new_ids:
        raise ToolError("The text demo was stopped before it drew its first token.")
    how = (
        "greedy: always the most likely)."
        if warp is None
        else f"temperature {args.temperature}, top-k {args.top_k or 'off'}, top-p {args.top_p})."
    )
    stopped = " It was stopped early (Stop, or out of time)." if ctx.cancel.is_set() else ""
    return new_ids, Stage(
        name="sampling",
        note=f"{len(new_ids)} tokens drawn one at a time ({how}{stopped}",
        input=TensorInfo(
            shape=[model.config.vocab_size], dtype="float32", example="logits for the next token"
        ),
        output=TensorInfo(shape=[1, len(new_ids)], dtype="int64", example=str(new_ids[:12])),
        duration_ms=t.ms,
        data={"steps": steps},
    )


def _draw(tok, logits: torch.Tensor, warp, generator) -> tuple[int, dict]:
    """One sampling step: the token drawn, and the candidates before and after warping."""
    before = logits.softmax(-1)
    if warp is None:  # temperature 0: the argmax, as greedy decoding does
        chosen = int(logits.argmax())
        after = torch.zeros_like(before)
        after[chosen] = 1.0
    else:
        after = warp(None, logits[None])[0].softmax(-1)
        chosen = int(torch.multinomial(after, 1, generator=generator))
    return chosen, {
        "before": top_tokens(tok, before),
        "after": top_tokens(tok, after),
        "chosen": {
            "token": tok_text(tok, chosen),
            "id": chosen,
            "prob_before": round(float(before[chosen]), 5),
            "prob_after": round(float(after[chosen]), 5),
            "rank_before": int((before > before[chosen]).sum()) + 1,
        },
    }


def _detokenize(tok, new_ids: list[int], clock: Clock) -> tuple[str, Stage]:
    with clock.stage() as t:
        text = tok.decode(new_ids, skip_special_tokens=True)
    return text, Stage(
        name="detokenization",
        note="The generated ids were looked up in the vocabulary and joined into text.",
        input=TensorInfo(shape=[len(new_ids)], dtype="int64", example=str(new_ids[:12])),
        output=TensorInfo(shape=[len(text)], dtype="str (characters)", example=text[:80]),
        duration_ms=t.ms,
    )


def _stop_ids(tok, model) -> set[int]:
    eos = model.generation_config.eos_token_id
    ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    return ids | ({tok.eos_token_id} if tok.eos_token_id is not None else set())

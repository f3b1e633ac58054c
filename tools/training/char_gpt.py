"""A character-level GPT trained live on the tutor's own lessons.

A decoder-only transformer written out in full: character and position embeddings, pre-norm blocks
of causal self-attention and an MLP, a final norm and a linear head over the character vocabulary. It
learns next-character prediction on 90% of the lesson text; the last 10% (text it never trains on)
measures held-out next-character accuracy each epoch, and a seeded sample continues a fixed prompt
so the learner reads the model getting less wrong. Left out: dropout, weight decay, a KV cache.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from tools.trace import LayerRow, Stage, TensorInfo
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

DEFAULTS = {"epochs": 10, "learning_rate": 3e-3, "batch_size": 64, "width": 64}
BLOCK = 64  # context length in characters
LAYERS = 2  # transformer blocks
HEAD_SIZE = 16  # channels per attention head: width 64 -> 4 heads
HELD_OUT = 0.1  # the last 10% of the text is never trained on
SAMPLE_CHARS = 120  # characters a sample adds to the prompt
TEMPERATURE = 0.8  # sampling temperature: below 1 favours the likely characters
PROMPT = "A diffusion model "  # the sample prompt when the learner gives none


class SelfAttention(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.heads = max(1, width // HEAD_SIZE)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)  # 3 x (B, T, C)
        q, k, v = (
            t.view(B, T, self.heads, C // self.heads).transpose(1, 2) for t in (q, k, v)
        )  # (B, h, T, d)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, h, T, d): no peeking ahead
        return self.proj(y.transpose(1, 2).reshape(B, T, C))  # (B, T, C)


class MLP(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.fc = nn.Linear(width, 4 * width)
        self.act = nn.GELU()
        self.proj = nn.Linear(4 * width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self.act(self.fc(x)))  # (B, T, C) via (B, T, 4C)


class Block(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.ln1, self.attn = nn.LayerNorm(width), SelfAttention(width)
        self.ln2, self.mlp = nn.LayerNorm(width), MLP(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))  # (B, T, C): positions exchange information
        return x + self.mlp(self.ln2(x))  # (B, T, C): each position thinks on its own


class CharGPT(nn.Module):
    def __init__(self, vocab: int, width: int):
        super().__init__()
        self.tok_emb = nn.Embedding(vocab, width)
        self.pos_emb = nn.Embedding(BLOCK, width)
        self.blocks = nn.ModuleList(Block(width) for _ in range(LAYERS))
        self.ln_f = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocab)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        T = idx.shape[1]
        x = self.tok_emb(idx) + self.pos_emb(torch.arange(T, device=idx.device))  # (B, T, C)
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))  # (B, T, vocab): scores for the next character


@torch.no_grad()
def sample(model: CharGPT, prompt: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Continue prompt ids (T,) by SAMPLE_CHARS characters drawn at TEMPERATURE."""
    idx = prompt[None]  # (1, T)
    for _ in range(SAMPLE_CHARS):
        logits = model(idx[:, -BLOCK:])[:, -1] / TEMPERATURE  # (1, vocab)
        nxt = torch.multinomial(logits.softmax(-1), 1, generator=generator)  # (1, 1)
        idx = torch.cat([idx, nxt], dim=1)
    return idx[0, len(prompt) :]


@torch.no_grad()
def evaluate(model: CharGPT, windows: torch.Tensor) -> tuple[float, float]:
    """Mean loss and next-character accuracy over (N, BLOCK + 1) held-out windows."""
    model.eval()
    logits = model(windows[:, :-1])  # (N, BLOCK, vocab)
    targets = windows[:, 1:]  # (N, BLOCK)
    loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten()).item()
    acc = (logits.argmax(-1) == targets).float().mean().item()
    model.train()
    return loss, acc


@dataclass
class Corpus:
    """A text as one stream of character ids: the part trained on and the held-out windows."""

    sources: list[str]  # where the text came from (lesson ids, file names), in order
    text: str
    chars: list[str]  # the vocabulary: every distinct character, sorted
    stoi: dict[str, int]  # character -> id
    ids: torch.Tensor  # (N,) character ids
    load_ms: float
    split: int  # characters trained on; the rest is held out
    train_ids: torch.Tensor  # (split,) on the device
    held_ids: torch.Tensor  # (N - split,) on the device
    offsets: torch.Tensor  # (BLOCK + 1,): 0..BLOCK, added to a start to cut a window
    held: torch.Tensor  # (n_held, BLOCK + 1) non-overlapping held-out windows
    common: int  # the id of the commonest character in the training text
    baseline: float  # held-out accuracy of always guessing that character


def corpus(sources: list[str], text: str, chars: list[str], device: str, load_ms: float) -> Corpus:
    """`text` as ids over the vocabulary `chars` (which holds every character of it), the last 10% held
    out as non-overlapping windows."""
    stoi = {c: i for i, c in enumerate(chars)}
    ids = torch.tensor([stoi[c] for c in text])  # (N,) character ids
    split = int(len(ids) * (1 - HELD_OUT))
    train_ids, held_ids = ids[:split].to(device), ids[split:].to(device)
    n_held = (len(held_ids) - 1) // BLOCK
    offsets = torch.arange(BLOCK + 1, device=device)  # (BLOCK + 1,)
    held = held_ids[torch.arange(n_held, device=device)[:, None] * BLOCK + offsets]  # (n_held, BLOCK + 1)
    common = int(train_ids.bincount(minlength=len(chars)).argmax())
    baseline = (held[:, 1:] == common).float().mean().item()  # always guessing the commonest character
    return Corpus(
        sources=sources,
        text=text,
        chars=chars,
        stoi=stoi,
        ids=ids,
        load_ms=load_ms,
        split=split,
        train_ids=train_ids,
        held_ids=held_ids,
        offsets=offsets,
        held=held,
        common=common,
        baseline=baseline,
    )


def lesson_text() -> tuple[list[str], str]:
    """The lessons' ids and the lessons joined into one text, each under its title."""
    from knowledge.lessons import load_lessons

    lessons = load_lessons()
    return [lesson.id for lesson in lessons], "\n\n".join(
        f"# {lesson.title}\n\n{lesson.body}" for lesson in lessons
    )


def train(cfg: Config, run: Run) -> Result:
    device = run.device
    data = _load_text(device)
    prompt_text = "".join(c for c in cfg.prompt if c in data.stoi)[-BLOCK:] or PROMPT
    prompt = torch.tensor([data.stoi[c] for c in prompt_text], device=device)  # (P,)
    model = seeded_init(cfg.seed, lambda: CharGPT(len(data.chars), cfg.width)).to(device)
    run.progress(
        f"training a {LAYERS}-block GPT ({parameter_count(model):,} parameters) on {data.split:,} characters "
        f"of the lessons"
    )
    x = _fit(cfg, run, model, data, prompt)
    run.check_trained()
    run.progress("tracing the prompt through the trained layers")
    layers = _trace(model, prompt, data.chars)
    return Result(
        title="Training a character-level GPT on the lessons",
        stages=_data_stages(run, data, x) + _model_stages(cfg, run, data, model, x, prompt, prompt_text),
        layers=layers,
        output={"text": prompt_text + run.rows[-1].metrics["sample"]},
        key_insight=_insight(run, data.split, data.baseline, data.chars[data.common], len(data.chars)),
        config={"context": BLOCK, "blocks": LAYERS, "head_size": HEAD_SIZE, "temperature": TEMPERATURE},
        versions={"torch": torch.__version__},
        models={"gpt": model},
    )


def _load_text(device: str) -> Corpus:
    """The lessons as one text, every distinct character a token, the last 10% held out."""
    t0 = time.perf_counter()
    ids, text = lesson_text()
    return corpus(ids, text, sorted(set(text)), device, (time.perf_counter() - t0) * 1000)


def _fit(cfg: Config, run: Run, model: CharGPT, data: Corpus, prompt: torch.Tensor) -> torch.Tensor | None:
    """Train epoch by epoch until the epochs, the time budget or a cancel run out; returns the inputs
    (B, BLOCK) of the last batch trained."""
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate, weight_decay=0.0)
    order_gen = torch.Generator().manual_seed(cfg.seed)  # window offsets and order, on the CPU
    accs, losses, x = [], [], None
    for epoch in run.epoch_numbers():
        start = time.perf_counter()
        loss, last_x = train_epoch(cfg, run, model, opt, order_gen, data)
        if loss is None:
            break
        x = last_x
        losses.append(loss)
        metrics, line = _epoch_row(cfg, run, model, data, prompt, losses, accs)
        run.end_epoch(epoch, losses[-1], metrics, time.perf_counter() - start, line)
    return x


def train_epoch(
    cfg: Config,
    run: Run,
    model: CharGPT,
    opt: torch.optim.Optimizer,
    order_gen: torch.Generator,
    data: Corpus,
) -> tuple[float | None, torch.Tensor | None]:
    """One pass over the training text: the mean loss (None when no batch ran) and the last batch's inputs."""
    device = run.device
    # Non-overlapping windows from a random first offset, so each epoch cuts the text differently.
    first = int(torch.randint(BLOCK, (1,), generator=order_gen))
    starts = torch.arange(first, data.split - BLOCK - 1, BLOCK)  # (W,)
    total, seen, x = 0.0, 0, None
    for idx in run.batches(len(starts), cfg.batch_size, order_gen):
        window = data.train_ids[(starts[idx][:, None]).to(device) + data.offsets]  # (B, BLOCK + 1)
        x, y = window[:, :-1], window[:, 1:]  # (B, BLOCK) inputs, (B, BLOCK) next characters
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total, seen = total + loss.item(), seen + 1
    return (total / seen if seen else None), x


def _epoch_row(
    cfg: Config,
    run: Run,
    model: CharGPT,
    data: Corpus,
    prompt: torch.Tensor,
    losses: list[float],
    accs: list[float],
) -> tuple[dict, str]:
    """Held-out loss and accuracy and a seeded sample after an epoch: its metrics and progress line."""
    val_loss, val_acc = evaluate(model, data.held)
    text_out = "".join(
        data.chars[i] for i in sample(model, prompt, torch.Generator(run.device).manual_seed(cfg.seed))
    )
    accs.append(val_acc)
    metrics = {
        "val_loss": round(val_loss, 5),
        "val_accuracy": round(val_acc, 4),
        "sample": text_out,
        "observation": _observation(accs, losses, val_loss, data.baseline),
    }
    return metrics, f"loss {losses[-1]:.3f}, held-out accuracy {val_acc:.0%}, sample {text_out[:40]!r}"


def _trace(model: CharGPT, prompt: torch.Tensor, chars: list[str]) -> list[LayerRow]:
    """The prompt through every trained layer; the head's row adds the five likeliest next characters."""
    model.eval()
    named = [("tok_emb", model.tok_emb), ("pos_emb", model.pos_emb)]
    for i, block in enumerate(model.blocks):
        named += [
            (f"blocks.{i}.attn", block.attn),
            (f"blocks.{i}.mlp.act", block.mlp.act),
            (f"blocks.{i}", block),
        ]
    named += [("ln_f", model.ln_f), ("head", model.head)]
    layers = layer_rows(named, lambda: model(prompt[None]))
    with torch.no_grad():
        probs = model(prompt[None])[0, -1].softmax(-1)  # (vocab,): the next character after the prompt
    top = [
        {"char": chars[i], "prob": round(p, 4)}
        for p, i in zip(*[t.tolist() for t in probs.topk(5)], strict=True)
    ]
    layers[-1].data["top_next"] = top
    layers[-1].summary += f"; next character {top[0]['char']!r} ({top[0]['prob']:.0%})"
    return layers


def _data_stages(run: Run, data: Corpus, x: torch.Tensor) -> list[Stage]:
    """The dataset, tokenization and batch stages: what the model reads."""
    text, chars = data.text, data.chars
    return [
        Stage(
            name="dataset",
            note=f"The tutor's {len(data.sources)} lessons joined into one text of {len(text):,} characters.",
            output=TensorInfo(shape=[len(text)], dtype="str (characters)", example=text[:60]),
            duration_ms=round(data.load_ms, 2),
            data={"lessons": data.sources, "characters": len(text)},
        ),
        Stage(
            name="tokenization",
            note=f"Every distinct character is a token: a vocabulary of {len(chars)}. The last "
            f"{HELD_OUT:.0%} ({len(data.held_ids):,} characters) is held out.",
            input=TensorInfo(shape=[len(text)], dtype="str (characters)", example=text[:20]),
            output=describe(data.ids, example=str(data.ids[:12].tolist())),
            duration_ms=0.0,
            data={"vocab": "".join(chars), "train_chars": data.split, "held_out_chars": len(data.held_ids)},
        ),
        Stage(
            name="batch",
            note=f"A batch is {len(x)} windows of {BLOCK} characters; the targets are the same windows "
            f"shifted by one, so every position predicts its next character.",
            input=describe(data.train_ids),
            output=describe(x),
            duration_ms=0.0,
            data={"batch_size": len(x), "context": BLOCK, "batches_per_epoch": run.batches_total},
        ),
    ]


def _model_stages(
    cfg: Config,
    run: Run,
    data: Corpus,
    model: CharGPT,
    x: torch.Tensor,
    prompt: torch.Tensor,
    prompt_text: str,
) -> list[Stage]:
    """The model, training and sampling stages: what the model is and what it learned to write."""
    chars, sample_text = data.chars, run.rows[-1].metrics["sample"]
    return [
        Stage(
            name="model",
            note=f"Embeddings of width {cfg.width}, {LAYERS} blocks of causal self-attention "
            f"({max(1, cfg.width // HEAD_SIZE)} heads) and MLP, a head over {len(chars)} characters: "
            f"{parameter_count(model):,} parameters.",
            input=describe(x),
            output=TensorInfo(
                shape=[len(x), BLOCK, len(chars)], dtype="float32", example="next-character logits"
            ),
            duration_ms=0.0,
            data={"parameters": parameter_count(model), "blocks": LAYERS, "width": cfg.width},
        ),
        run.training_stage(
            "Cross-entropy of the next character, AdamW; held-out loss and accuracy after every epoch.",
            {"baseline_accuracy": round(data.baseline, 4), "most_common_char": chars[data.common]},
        ),
        Stage(
            name="sampling",
            note=f"{SAMPLE_CHARS} characters drawn one at a time at temperature {TEMPERATURE} after "
            f"the prompt {prompt_text!r} (seed {cfg.seed}).",
            input=describe(prompt, example=repr(prompt_text)),
            output=TensorInfo(shape=[SAMPLE_CHARS], dtype="str (characters)", example=sample_text[:60]),
            duration_ms=0.0,
            data={"prompt": prompt_text, "samples": {r.epoch: r.metrics["sample"] for r in run.rows}},
        ),
    ]


def _observation(accs: list[float], losses: list[float], val_loss: float, baseline: float) -> str:
    if len(accs) == 1:
        note = f"held-out accuracy {accs[-1]:.0%} (always guessing the commonest character: {baseline:.0%})"
    else:
        pts = (accs[-1] - accs[-2]) * 100
        note = f"held-out accuracy {accs[-1]:.0%}, {'up' if pts >= 0 else 'down'} {abs(pts):.1f} points"
        note += f"; {change(losses[0], losses[-1])}"
    if val_loss - losses[-1] > 0.15:  # the model does better on text it trained on: memorising
        note += f"; held-out loss {val_loss:.2f} vs {losses[-1]:.2f} in training: it starts to memorise"
    return note


def _insight(run: Run, split: int, baseline: float, common: str, vocab: int) -> str:
    last = run.rows[-1]
    steps = sum(r.metrics["batches"] for r in run.rows)
    val_loss, val_acc = last.metrics["val_loss"], last.metrics["val_accuracy"]
    return (
        f"After {len(run.rows)} epoch(s) ({steps} steps over {split:,} characters) the model guesses "
        f"the next character of lesson text it never trained on right {val_acc:.0%} of the time; "
        f"always guessing {common!r} would score {baseline:.0%}. Its held-out loss of {val_loss:.2f} nats "
        f"means it is as unsure as a pick among {math.exp(val_loss):.1f} equally likely characters "
        f"(of {vocab})."
    )

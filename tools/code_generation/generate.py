"""Ask a chat language model for a Python function k times, keeping each token's probability, and pull
the code out of each reply (at temperature 0 the one greedy reply, drawn once, is every sample).

The request goes through the model's chat template (an instruct model writes its best code when asked
as in chat: a fenced ```python block, often followed by an explanation). All k samples are drawn in
one batch by transformers' `generate` (temperature and top-p as set; greedy at temperature 0), seeded
without touching the global random state; a sample stops once its code block is closed, at the
end-of-text token, or at the token limit. The probabilities recorded are the model's own (the
softmax of its logits, before temperature and top-p reshape them): how sure it was of each token.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

import torch

FENCED = re.compile(r"```[^\n]*\n(.*?)(?:\n```|\Z)", re.S)  # the first code block, closed or not
CLOSED = re.compile(r"```[^\n]*\n.*?\n```", re.S)
LOW = 0.3  # a token the model gave less than this probability counts as unsure


@dataclass
class Sample:
    reply: str  # everything the model wrote
    code: str  # the code block's contents (the whole reply when it wrote no fence)
    tokens: list[dict]  # per token: token, id, prob, in_code (inside the code block)
    ended: str  # "code block closed", "end of text" or "token limit"


def prompt_text(tok, request: str) -> str:
    """The request as the model's chat template lays it out, ready for the assistant's reply; for a
    model without one (a base model), the request and an opened code block to continue."""
    if not tok.chat_template:
        return f"# {request}\n```python\n"
    return tok.apply_chat_template(
        [{"role": "user", "content": request}], add_generation_prompt=True, tokenize=False
    )


def _closed_block(tok, start: int):
    """A stopping rule for `generate`: per sequence, whether its reply has a closed code block."""
    from transformers import StoppingCriteria

    class ClosedBlock(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs) -> torch.BoolTensor:
            replies = tok.batch_decode(input_ids[:, start:], skip_special_tokens=True)
            return torch.tensor([bool(CLOSED.search(r)) for r in replies], device=input_ids.device)

    return ClosedBlock()


def draw(model, tok, prompt: str, k: int, temperature: float, top_p: float, max_new: int, seed: int):
    """k samples for `prompt`: (prompt ids (1, T), [Sample] in order)."""
    from transformers import StoppingCriteriaList

    ids = tok(prompt, return_tensors="pt", add_special_tokens=False)["input_ids"].to(model.device)  # (1, T)
    sampling = {"do_sample": True, "temperature": temperature, "top_p": top_p, "top_k": 0}
    with torch.random.fork_rng(devices=[]), torch.inference_mode():
        torch.manual_seed(seed)
        out = model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            **(sampling if temperature > 0 else {"do_sample": False}),
            max_new_tokens=max_new,
            num_return_sequences=k if temperature > 0 else 1,  # greedy: every sample would be the same
            stopping_criteria=StoppingCriteriaList([_closed_block(tok, ids.shape[1])]),
            pad_token_id=tok.eos_token_id,
            output_logits=True,
            return_dict_in_generate=True,
        )
    new = out.sequences[:, ids.shape[1] :]  # (k, steps)
    probs = torch.stack(out.logits, dim=1).float().softmax(-1)  # (k, steps, vocab)
    chosen = probs.gather(-1, new.unsqueeze(-1)).squeeze(-1)  # (k, steps)
    samples = []
    for row, row_probs in zip(new.tolist(), chosen.tolist(), strict=True):
        ended = "end of text" if tok.eos_token_id in row else "token limit"
        kept = row[: row.index(tok.eos_token_id)] if tok.eos_token_id in row else row
        pieces = [(tok.decode([i]), i, p) for i, p in zip(kept, row_probs, strict=False)]
        samples.append(sample(pieces, ended))
    if temperature == 0:  # greedy decoding has one answer: drawn once, it is every sample
        samples = [
            dataclasses.replace(samples[0], tokens=[dict(t) for t in samples[0].tokens]) for _ in range(k)
        ]
    return ids, samples


def sample(pieces: list[tuple[str, int | None, float]], ended: str) -> Sample:
    """One reply from its tokens (text, id or None, probability) and why it ended: the code pulled out
    (the first fenced block; up to a closing fence when the prompt opened it; else the whole reply)
    and which tokens made it."""
    tokens, reply = [], ""
    for piece, token_id, p in pieces:
        tokens.append({"token": piece, "id": token_id, "prob": round(p, 4), "start": len(reply)})
        reply += piece
    if CLOSED.search(reply):
        ended = "code block closed"
    found = FENCED.search(reply)
    if found:
        start, end = found.start(1), found.end(1)
    else:  # no opening fence in the reply: the code runs up to a closing fence, if any
        start, end = 0, reply.find("```") if "```" in reply else len(reply)
    for t in tokens:
        t["in_code"] = start <= t.pop("start") < end
    return Sample(reply=reply, code=reply[start:end], tokens=tokens, ended=ended)

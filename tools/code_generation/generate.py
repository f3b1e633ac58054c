"""Ask a chat language model for a Python function k times, keeping each token's probability, and pull
the code out of each reply.

The request goes through the model's chat template (an instruct model writes its best code when asked
as in chat: a fenced ```python block, often followed by an explanation). All k samples are drawn in
one batch by transformers' `generate` (temperature and top-p as set; greedy at temperature 0), seeded
without touching the global random state; a sample stops once its code block is closed, at the
end-of-text token, or at the token limit. The probabilities recorded are the model's own (the
softmax of its logits, before temperature and top-p reshape them): how sure it was of each token.
"""

from __future__ import annotations

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
    """The request as the model's chat template lays it out, ready for the assistant's reply."""
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
            num_return_sequences=k,
            stopping_criteria=StoppingCriteriaList([_closed_block(tok, ids.shape[1])]),
            pad_token_id=tok.eos_token_id,
            output_logits=True,
            return_dict_in_generate=True,
        )
    new = out.sequences[:, ids.shape[1] :]  # (k, steps)
    probs = torch.stack(out.logits, dim=1).float().softmax(-1)  # (k, steps, vocab)
    chosen = probs.gather(-1, new.unsqueeze(-1)).squeeze(-1)  # (k, steps)
    return ids, [_sample(tok, new[i].tolist(), chosen[i].tolist(), max_new) for i in range(k)]


def _sample(tok, token_ids: list[int], probs: list[float], max_new: int) -> Sample:
    """One reply: its tokens up to the end of text, the code pulled out, and which tokens made it."""
    tokens, reply, ended = [], "", "token limit"
    for token_id, p in zip(token_ids, probs, strict=True):
        if token_id == tok.eos_token_id:
            ended = "end of text"
            break
        piece = tok.decode([token_id])
        tokens.append({"token": piece, "id": token_id, "prob": round(p, 4), "start": len(reply)})
        reply += piece
    if CLOSED.search(reply):
        ended = "code block closed"
    elif ended == "token limit" and len(tokens) < max_new:
        ended = "end of text"
    found = FENCED.search(reply)
    start, end = (found.start(1), found.end(1)) if found else (0, len(reply))
    for t in tokens:
        t["in_code"] = start <= t.pop("start") < end
    return Sample(reply=reply, code=reply[start:end], tokens=tokens, ended=ended)

"""The same request to an OpenAI-compatible chat model: k samples in one call (`n`), each token with
its probability when the server returns log-probabilities (`logprobs`); OPENAI_API_KEY and, for
another server, OPENAI_BASE_URL. Every API failure becomes a sentence the learner can act on."""

from __future__ import annotations

import math

import openai

from tools.base import ToolError
from tools.code_generation.generate import Sample, sample
from tools.config import ToolConfig
from tools.openai_errors import endpoint, explain_openai_error, no_key

FINISHED = {"stop": "end of text", "length": "token limit"}


def draw(settings: ToolConfig, model: str, request: str, args) -> tuple[list[Sample], dict]:
    """`args.samples` replies from `model` for `request`: the samples, and what the server reported
    (where, prompt tokens, whether it sent probabilities)."""
    key = settings.openai_api_key
    if not key:
        instead = "Leave `api_model` empty: the embedded model needs none."
        raise ToolError(no_key("Asking an API model for code", instead))
    where = endpoint(settings.openai_base_url)
    try:
        with openai.OpenAI(
            api_key=key, base_url=settings.openai_base_url, timeout=60, max_retries=0
        ) as client:
            response = client.chat.completions.create(
                model=model,
                messages=[{"role": "user", "content": request}],
                n=args.samples,
                temperature=args.temperature,
                top_p=args.top_p,
                max_tokens=args.max_new_tokens,
                seed=args.seed,
                logprobs=True,
            )
    except openai.OpenAIError as e:
        said = explain_openai_error(
            e, where, what="code requests", model=model, model_setting="api_model", timeout=60, key=key
        )
        raise ToolError(said) from e
    samples = [_sample(choice) for choice in response.choices]
    usage = response.usage
    return samples, {
        "where": where,
        "prompt_tokens": usage.prompt_tokens if usage else None,
        "probabilities": all(c.logprobs is not None and c.logprobs.content for c in response.choices),
    }


def _sample(choice) -> Sample:
    ended = FINISHED.get(choice.finish_reason, choice.finish_reason or "end of text")
    content = choice.logprobs.content if choice.logprobs is not None else None
    if content:
        pieces = [(t.token, None, math.exp(t.logprob)) for t in content]
    else:  # a server without log-probabilities: one piece, its probability unknown (shown as sure)
        pieces = [(choice.message.content or "", None, 1.0)]
    return sample(pieces, ended)

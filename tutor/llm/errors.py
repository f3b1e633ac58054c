"""Backend failures turned into sentences a learner can act on. Secrets never appear in them."""

from __future__ import annotations

import openai
import torch

from tools.embedded_model import ModelUnavailable
from tools.openai_errors import explain_openai_error


def explain_llm_error(exc: BaseException, where: str = "the model server") -> str:
    if isinstance(exc, openai.OpenAIError):
        return explain_openai_error(exc, where)
    if isinstance(exc, ModelUnavailable):
        return str(exc)
    if isinstance(exc, torch.OutOfMemoryError):
        return "The model ran out of memory. Close other programs or ask a shorter question."
    return f"The model failed ({type(exc).__name__}). The lesson text above is still correct."

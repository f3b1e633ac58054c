"""Backend failures turned into sentences a learner can act on. Secrets never appear in them."""

from __future__ import annotations

import openai
import torch

from tutor.llm.local import ModelUnavailable


def explain_llm_error(exc: BaseException, where: str = "the model server") -> str:
    if isinstance(exc, openai.AuthenticationError):
        return f"{where} rejected the API key (401). Check OPENAI_API_KEY and restart the tutor."
    if isinstance(exc, openai.PermissionDeniedError):
        return f"{where} refused access (403): this key may not use the model. Check the account or model."
    if isinstance(exc, openai.RateLimitError):
        return f"{where} is rate-limiting requests (429). Wait a minute and ask again."
    if isinstance(exc, openai.NotFoundError):
        return f"{where} does not know this model (404). Set TUTOR_OPENAI_MODEL to a model it serves."
    if isinstance(exc, openai.APITimeoutError):
        return f"{where} did not answer in time. Try again, or check that it is running."
    if isinstance(exc, openai.APIConnectionError):
        return f"Could not connect to {where}. Check that it is running and that OPENAI_BASE_URL is right."
    if isinstance(exc, openai.APIStatusError):
        return f"{where} answered with an error ({exc.status_code}). Try again in a moment."
    if isinstance(exc, ModelUnavailable):
        return str(exc)
    if isinstance(exc, torch.OutOfMemoryError):
        return "The model ran out of memory. Close other programs or ask a shorter question."
    return f"The model failed ({type(exc).__name__}). The lesson text above is still correct."

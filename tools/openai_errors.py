"""OpenAI API failures as sentences a learner can act on, shared by the chat backend and the API tools.
Secrets never appear in them: server text is quoted only with the key removed, and `endpoint` names a
server without the credentials its URL may carry."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import openai


def no_key(what: str, instead: str) -> str:
    """What to do when `what` ("The image API") needs a key and none is set; `instead`: what works
    without one."""
    return (
        f"{what} needs an OpenAI API key, and none is set: set OPENAI_API_KEY (and OPENAI_BASE_URL for an "
        f"OpenAI-compatible server), then restart the tutor. {instead}"
    )


def explain_openai_error(
    exc: openai.OpenAIError,
    where: str,
    *,
    what: str = "requests",
    model: str | None = None,
    model_setting: str = "TUTOR_OPENAI_MODEL",
    timeout: float | None = None,
    timeout_setting: str | None = None,
    key: str | None = None,
) -> str:
    """`where` names the server; `what` the kind of request ("image requests"); the settings are the
    environment variables that would fix a wrong model or a too short timeout."""
    if isinstance(exc, openai.APITimeoutError):
        within = f"within {timeout:g} s" if timeout else "in time"
        longer = f"allow longer with {timeout_setting}" if timeout_setting else "check that it is running"
        return f"{where} did not answer {within}. Try again, or {longer}."
    if isinstance(exc, openai.APIConnectionError):
        return f"Could not connect to {where}. Check the network, that it is running and OPENAI_BASE_URL."
    if isinstance(exc, openai.AuthenticationError):
        return f"{where} rejected the API key (401). Check OPENAI_API_KEY and restart the tutor."
    if isinstance(exc, openai.RateLimitError):
        if "insufficient_quota" in (getattr(exc, "code", None), getattr(exc, "type", None)):
            return (
                "The OpenAI account behind this key has no credit left (429 insufficient_quota). Waiting "
                "will not help: add credit or check the plan and billing page, or use another key."
            )
        return f"{where} is rate-limiting {what} (429). Wait a minute and try again."
    if isinstance(exc, openai.NotFoundError):
        model = model or "this model"
        return f"{where} does not serve {model} (404). Set {model_setting} to a model it serves."
    if isinstance(exc, openai.PermissionDeniedError):
        model = model or "the model"
        return f"{where} refused access (403): this key may not use {model}. Check the account."
    if isinstance(exc, openai.APIStatusError):
        if exc.status_code >= 500:
            return f"{where} had an internal error ({exc.status_code}). Try again in a moment."
        body = exc.body if isinstance(exc.body, dict) else {}
        said = str(body.get("message") or "no reason given")
        said = (said.replace(key, "[key]") if key else said)[:300]
        return f"{where} refused the request ({exc.status_code}): {said}"
    return f"The call to {where} failed ({type(exc).__name__}). Try again."


def endpoint(base_url: str | None) -> str:
    """The API base without credentials that a URL might carry (user:password@host)."""
    if not base_url:
        return "https://api.openai.com/v1"
    parts = urlsplit(base_url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2], query="", fragment="")).rstrip(
        "/"
    )

"""Settings: one dataclass, read from the environment (the README lists the variables)."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

from tools.config import ConfigError, ToolConfig

__all__ = ["ConfigError", "Settings"]


def _number(env, name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {raw!r}.") from None


@dataclass(frozen=True)
class Settings(ToolConfig):
    """The tools' settings (tools.config) and the tutor's own."""

    llm: str = "local"  # "local" (embedded SmolLM2) or "openai" (OpenAI or any compatible server)
    openai_model: str = "gpt-4o-mini"
    chroma_url: str | None = None  # scale-out: a Chroma server instead of the embedded store
    database_url: str | None = None  # scale-out: PostgreSQL for the learner store instead of SQLite
    model_url: str | None = None  # scale-out: the embedded model on a shared server (model-server)
    model_key: str | None = None  # the key that server was started with
    max_message_chars: int = 2000  # longer messages are refused with a clear reply
    max_new_tokens: int = 120  # the tutor's own prose; lessons carry the substance
    retrieval_k: int = 3
    min_relevance: float = 0.25  # cosine similarity below which a chunk is "not about this"
    request_timeout_s: float = 30.0  # OpenAI-compatible calls
    max_demos: int = 2  # heavy demos (models on this machine) running at once on this server
    demo_wait_s: float = 120.0  # how long a learner waits for a free demo slot before being told to retry

    @classmethod
    def from_env(cls, **overrides) -> Settings:
        env = os.environ
        s = cls(
            llm=env.get("TUTOR_LLM", "local").strip().lower() or "local",
            openai_api_key=env.get("OPENAI_API_KEY") or None,
            openai_base_url=env.get("OPENAI_BASE_URL") or None,
            openai_model=env.get("TUTOR_OPENAI_MODEL", "gpt-4o-mini"),
            device=env.get("TUTOR_DEVICE", "auto").strip().lower() or "auto",
            chroma_url=env.get("TUTOR_CHROMA_URL") or None,
            database_url=env.get("TUTOR_DATABASE_URL") or None,
            model_url=env.get("TUTOR_MODEL_URL") or None,
            model_key=env.get("TUTOR_MODEL_KEY") or None,
            artifacts_max_age_h=_number(env, "TUTOR_ARTIFACTS_MAX_AGE_H", 24.0),
            artifacts_max_mb=_number(env, "TUTOR_ARTIFACTS_MAX_MB", 512.0),
            max_demos=int(_number(env, "TUTOR_MAX_DEMOS", 2)),
        )
        return replace(s, **overrides).validated()

    def validated(self) -> Settings:
        if self.llm not in ("local", "openai"):
            raise ConfigError(f"TUTOR_LLM must be 'local' or 'openai', not {self.llm!r}.")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ConfigError(f"TUTOR_DEVICE must be 'auto', 'cpu' or 'cuda', not {self.device!r}.")
        if self.llm == "openai" and not self.openai_api_key:
            raise ConfigError(
                "TUTOR_LLM=openai needs an API key: set OPENAI_API_KEY (and OPENAI_BASE_URL for an "
                "OpenAI-compatible server), or unset TUTOR_LLM to use the embedded offline model."
            )
        if self.artifacts_max_age_h <= 0 or self.artifacts_max_mb <= 0:
            raise ConfigError("TUTOR_ARTIFACTS_MAX_AGE_H and TUTOR_ARTIFACTS_MAX_MB must be above 0.")
        if not 1 <= self.max_demos <= 64:
            raise ConfigError(f"TUTOR_MAX_DEMOS must be between 1 and 64, not {self.max_demos}.")
        return self

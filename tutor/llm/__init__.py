"""Chat-model backends behind LangChain's one interface, and the one place that reads `settings.llm`:
which model writes, and which policy decides a turn (tool calling, or routing for the small model)."""

from __future__ import annotations

from dataclasses import dataclass

from langchain_core.language_models.chat_models import BaseChatModel

from tools.embedded_model import MODEL_NAME
from tutor.settings import Settings


@dataclass(frozen=True)
class Backend:
    chat_model: BaseChatModel
    calls_tools: bool  # True: the model chooses tools and writes freely from the lessons (agent policy);
    # False: commands and the semantic router decide, and the model's words are kept short (routing)
    where: str  # who answers, for error messages
    description: str  # for the page's header

    @property
    def grader(self) -> BaseChatModel | None:
        """The model that may grade short answers; the small model is not trusted to (embeddings do)."""
        return self.chat_model if self.calls_tools else None


def make_backend(settings: Settings) -> Backend:
    """The backend the settings name. The local model starts (loads its weights) on first use."""
    if settings.llm == "openai":
        from langchain_openai import ChatOpenAI

        model = ChatOpenAI(
            model=settings.openai_model,
            api_key=settings.openai_api_key,
            base_url=settings.openai_base_url,
            timeout=settings.request_timeout_s,
            max_retries=1,
            temperature=0.2,
            streaming=True,
        )
        where = settings.openai_base_url or "the OpenAI API"
        return Backend(model, True, where, f"OpenAI-compatible: {settings.openai_model} at {where}")
    from tutor.llm.local import LocalChatModel

    model = LocalChatModel(
        max_new_tokens=settings.max_new_tokens, server_url=settings.model_url, server_key=settings.model_key
    )
    if settings.model_url:
        where = f"the model server at {settings.model_url}"
        return Backend(model, False, where, f"embedded {MODEL_NAME} on a shared llama.cpp server")
    return Backend(model, False, "the embedded model", f"embedded {MODEL_NAME} (offline, llama.cpp)")

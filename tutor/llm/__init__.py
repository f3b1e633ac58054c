"""Chat-model backends behind LangChain's one interface: the embedded model or an OpenAI-compatible API."""

from __future__ import annotations

from langchain_core.language_models.chat_models import BaseChatModel

from tutor.settings import Settings


def make_chat_model(settings: Settings) -> BaseChatModel:
    """The chat model the settings name. The local one loads its weights lazily, on first use."""
    if settings.llm == "openai":
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(
            model=settings.openai_model,
            api_key=settings.openai_api_key,
            base_url=settings.openai_base_url,
            timeout=settings.request_timeout_s,
            max_retries=1,
            temperature=0.2,
            streaming=True,
        )
    from tutor.llm.local import LocalChatModel, cached_model_dir

    return LocalChatModel(
        model_dir=str(cached_model_dir(settings.home)),
        device=settings.torch_device(),
        max_new_tokens=settings.max_new_tokens,
    )

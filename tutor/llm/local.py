"""The embedded chat model: SmolLM2-135M-Instruct, offline, as a streaming LangChain chat model
(its weights: tools/embedded_model.py)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from tools.embedded_model import cached_model_dir

# bfloat16 runs ~1.3x faster than float32 on this CPU; CUDA uses float16.
CPU_DTYPE = torch.bfloat16


@dataclass
class LocalLM:
    """A loaded causal LM with its tokenizer; `lock` serialises generation (one CPU, one model)."""

    model: Any
    tokenizer: Any
    device: str
    lock: threading.Lock = field(default_factory=threading.Lock)


@functools.lru_cache(maxsize=4)
def load_local_lm(model_dir: str, device: str = "cpu") -> LocalLM:
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging

    logging.disable_progress_bar()
    dtype = torch.float16 if device.startswith("cuda") else CPU_DTYPE
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype).to(device).eval()
    return LocalLM(model, tokenizer, device)


ROLES = {"system": "system", "human": "user", "ai": "assistant"}


class LocalChatModel(BaseChatModel):
    """SmolLM2 behind LangChain's chat-model interface, streaming tokens as they are generated."""

    home: str  # GENAI_TUTOR_HOME: the converted weights are cached there on first use
    device: str = "cpu"
    max_new_tokens: int = 120
    temperature: float = 0.0  # 0: greedy, so the same question gives the same answer

    @property
    def _llm_type(self) -> str:
        return "smollm2-local"

    @property
    def model_dir(self) -> str:
        return str(cached_model_dir(Path(self.home)))

    def warm(self) -> None:
        """Load the weights now (start-up) instead of on the first question."""
        load_local_lm(self.model_dir, self.device)

    def _generate(self, messages: list[BaseMessage], stop=None, run_manager=None, **kwargs) -> ChatResult:
        text = "".join(c.text for c in self._stream(messages, stop, run_manager, **kwargs))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(
        self, messages: list[BaseMessage], stop=None, run_manager=None, **kwargs
    ) -> Iterator[ChatGenerationChunk]:
        from transformers import TextIteratorStreamer

        lm = load_local_lm(self.model_dir, self.device)
        chat = [{"role": ROLES.get(m.type, "user"), "content": m.text} for m in messages]
        inputs = lm.tokenizer.apply_chat_template(
            chat, add_generation_prompt=True, return_dict=True, return_tensors="pt"
        ).to(lm.device)
        streamer = TextIteratorStreamer(lm.tokenizer, skip_prompt=True, skip_special_tokens=True)
        options = {"do_sample": True, "temperature": self.temperature} if self.temperature > 0 else {}
        if stop:  # LangChain's stop sequences, e.g. "\n\n" to end at the first paragraph
            options.update(stop_strings=list(stop), tokenizer=lm.tokenizer)
        failure: list[BaseException] = []

        def work() -> None:
            try:
                with lm.lock, torch.inference_mode():
                    lm.model.generate(
                        **inputs,
                        max_new_tokens=self.max_new_tokens,
                        do_sample=False,
                        top_p=None,
                        top_k=None,
                        temperature=None,
                        streamer=streamer,
                        pad_token_id=lm.tokenizer.eos_token_id,
                        **options,
                    )
            except BaseException as e:  # surfaced to the caller after the stream ends
                failure.append(e)
                streamer.end()

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        for text in streamer:
            if text:
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
                if run_manager:
                    run_manager.on_llm_new_token(text, chunk=chunk)
                yield chunk
        thread.join()
        if failure:
            raise failure[0]

"""The embedded chat model: SmolLM2-135M-Instruct, offline, as a streaming LangChain chat model.

It runs on llama.cpp through `xllamacpp` (a prebuilt wheel), which loads the shipped GGUF directly
and serves an OpenAI-compatible API on 127.0.0.1: the embedded model then speaks through the same
client code as any OpenAI-compatible backend (LangChain's ChatOpenAI). The server starts on first use
and lives as long as the process. `load_local_lm` (transformers, bfloat16) stays for the benchmark
that compares the two runtimes and for the converted weights the text-generation demo uses.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from tools.embedded_model import gguf_file

CPU_DTYPE = torch.bfloat16  # transformers on this CPU: ~1.3x faster than float32
CONTEXT = 2048  # tokens per request: the prompts are short passages
SLOTS = 2  # requests the server decodes at once; more wait in its queue


@dataclass
class LocalLM:
    """A causal LM loaded by transformers, with its tokenizer (the benchmark's reference runtime)."""

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


@functools.lru_cache(maxsize=1)
def llama_server(path: str, threads: int) -> Any:
    """The GGUF on a llama.cpp server bound to 127.0.0.1 (a free port), once per process."""
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = path
    params.n_parallel = SLOTS
    params.n_ctx = CONTEXT * SLOTS
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.verbosity = 0  # errors only
    return xllamacpp.Server(params)


class LocalChatModel(BaseChatModel):
    """SmolLM2 on llama.cpp behind LangChain's chat-model interface, streaming as it decodes."""

    max_new_tokens: int = 120
    temperature: float = 0.0  # 0: greedy, so the same question gives the same answer
    threads: int = min(4, os.cpu_count() or 1)

    @property
    def _llm_type(self) -> str:
        return "smollm2-llamacpp"

    def client(self) -> BaseChatModel:
        """LangChain's OpenAI client pointed at the local server (started on first use)."""
        from langchain_openai import ChatOpenAI

        server = llama_server(str(gguf_file()), self.threads)
        return ChatOpenAI(
            model="smollm2-135m-instruct",
            base_url=server.listening_address + "/v1",
            api_key="local",  # the local server checks no key; the client wants one
            temperature=self.temperature,
            max_completion_tokens=self.max_new_tokens,
            max_retries=0,
            timeout=60,
            streaming=True,
        )

    def warm(self) -> None:
        """Start the server (load the weights) now instead of on the first question."""
        self.client()

    def _generate(self, messages: list[BaseMessage], stop=None, run_manager=None, **kwargs) -> ChatResult:
        text = "".join(c.text for c in self._stream(messages, stop, run_manager, **kwargs))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(
        self, messages: list[BaseMessage], stop=None, run_manager=None, **kwargs
    ) -> Iterator[ChatGenerationChunk]:
        for chunk in self.client().stream(messages, stop=stop):
            if chunk.text:
                out = ChatGenerationChunk(message=chunk)
                if run_manager:
                    run_manager.on_llm_new_token(chunk.text, chunk=out)
                yield out

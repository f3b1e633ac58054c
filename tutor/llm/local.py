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


MODEL_ID = "smollm2-135m-instruct"  # the model's name on its server
# The chat template of the shared model server (`genai-tutor model-server`): SmolLM2's own ChatML turns,
# plus tool definitions in the system turn and tool calls and results as tagged JSON (the "Hermes"
# convention llama.cpp parses), so OpenAI-style tool calling reaches the model and comes back parsed.
TOOL_TEMPLATE = """\
{%- set system = messages[0].content if messages and messages[0].role == 'system' else '' -%}
{%- if system or tools -%}
<|im_start|>system
{% if system %}{{ system }}{% if tools %}{{ '\n\n' }}{% endif %}{% endif -%}
{%- if tools %}You may call these functions. Each is described as JSON inside <tools></tools>:
<tools>
{% for tool in tools %}{{ tool | tojson }}
{% endfor %}</tools>
To call one, answer only with <tool_call>{"name": NAME, "arguments": {...}}</tool_call>.
{%- endif %}<|im_end|>
{% endif -%}
{%- for message in messages if message.role != 'system' -%}
{%- if message.role == 'assistant' and message.tool_calls -%}
<|im_start|>assistant
{% for call in message.tool_calls %}<tool_call>{"name": "{{ call.function.name }}", "arguments": \
{{ call.function.arguments if call.function.arguments is string else call.function.arguments | tojson }}}\
</tool_call>
{% endfor %}<|im_end|>
{% elif message.role == 'tool' -%}
<|im_start|>user
<tool_response>{{ message.content }}</tool_response><|im_end|>
{% else -%}
<|im_start|>{{ message.role }}
{{ message.content }}<|im_end|>
{% endif -%}
{%- endfor -%}
{%- if add_generation_prompt %}<|im_start|>assistant
{% endif -%}
"""


def start_server(path: str, threads: int, host: str = "127.0.0.1", port: int = 0, slots: int = SLOTS,
                 tools: bool = False, context: int = CONTEXT, key: str | None = None) -> Any:  # fmt: skip
    """The GGUF on a llama.cpp server (OpenAI-compatible API) in this process; port 0: a free one.
    `tools`: with the template above, so tool definitions, calls and results reach the model;
    `context`: tokens per request (each of the `slots` gets this many); `key`: the bearer key a
    client must send (none: any client on the network can use it)."""
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = path
    params.hostnames = [host]
    params.port = port
    params.model_alias = {MODEL_ID}
    params.n_parallel = slots
    params.n_ctx = context * slots
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.verbosity = 0  # errors only
    if tools:
        params.chat_template = TOOL_TEMPLATE
    if key:
        params.api_keys = [key]
    return xllamacpp.Server(params)


@functools.lru_cache(maxsize=1)
def llama_server(path: str, threads: int) -> Any:
    """The GGUF on a llama.cpp server bound to 127.0.0.1 (a free port), once per process."""
    return start_server(path, threads)


@functools.lru_cache(maxsize=8)
def _openai_client(url: str, key: str, temperature: float, max_tokens: int) -> BaseChatModel:
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        model=MODEL_ID,
        base_url=url,
        api_key=key,  # the in-process server checks none ("local"); the client wants one
        temperature=temperature,
        max_completion_tokens=max_tokens,
        max_retries=0,
        timeout=60,
        streaming=True,
    )


class LocalChatModel(BaseChatModel):
    """SmolLM2 on llama.cpp behind LangChain's chat-model interface, streaming as it decodes."""

    max_new_tokens: int = 120
    temperature: float = 0.0  # 0: greedy, so the same question gives the same answer
    threads: int = min(4, os.cpu_count() or 1)
    server_url: str | None = None  # a shared model server (`genai-tutor model-server`): .../v1
    server_key: str | None = None  # its key, when it was started with one (TUTOR_MODEL_KEY)

    @property
    def _llm_type(self) -> str:
        return "smollm2-llamacpp"

    def client(self) -> BaseChatModel:
        """LangChain's OpenAI client pointed at the model's server: the shared one when `server_url` is
        set, else the one in this process (started on first use). One client per setting, so turns
        reuse its connections."""
        url = self.server_url or llama_server(str(gguf_file()), self.threads).listening_address + "/v1"
        return _openai_client(url, self.server_key or "local", self.temperature, self.max_new_tokens)

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

"""The embedded chat model on llama.cpp (xllamacpp): the shipped GGUF served on 127.0.0.1 and spoken to
through LangChain's OpenAI client, streaming, with stop sequences."""

from __future__ import annotations

from urllib.parse import urlparse

from langchain_core.messages import HumanMessage, SystemMessage

from tools.embedded_model import gguf_file
from tutor.llm import make_backend
from tutor.llm.local import llama_server


def test_the_gguf_streams_from_a_loopback_llama_cpp_server(settings):
    backend = make_backend(settings)
    assert not backend.calls_tools and "llama.cpp" in backend.description
    model = backend.chat_model
    chunks = [c.text for c in model.stream([HumanMessage("Count from one to ten in words, one per line.")])]
    assert len([c for c in chunks if c]) > 3  # it streams, piece by piece
    text = "".join(chunks)
    assert text.strip() and len(text) < 2000
    server = llama_server(str(gguf_file()), model.threads)
    assert urlparse(server.listening_address).hostname == "127.0.0.1"
    one_line = "".join(
        c.text
        for c in model.stream(
            [
                SystemMessage("Answer in one line."),
                HumanMessage("Count from one to ten, one number per line."),
            ],
            stop=["\n"],
        )
    )
    assert "\n" not in one_line.strip()
    # greedy: the same question gives the same answer
    again = "".join(
        c.text for c in model.stream([HumanMessage("Count from one to ten in words, one per line.")])
    )
    assert again == text

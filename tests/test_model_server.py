"""The embedded model as a shared server (`genai-tutor model-server`: the GGUF on llama.cpp's
OpenAI-compatible server, on a loopback port), spoken to for real: by the openai SDK, streaming
included; with tool definitions, a tool call and its result in the conversation; by the embedded
backend of an app process (TUTOR_MODEL_URL); and by the OpenAI-compatible backend's agent."""

from __future__ import annotations

import httpx
import openai
import pytest

from tutor.llm.local import MODEL_ID

QUESTION = [{"role": "user", "content": "In one sentence, what is a token?"}]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city now.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
CALLED = [
    {"role": "user", "content": "What is the weather in Paris?"},
    {"role": "assistant", "content": "", "tool_calls": [
        {"id": "call_1", "type": "function",
         "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
    ]},
    {"role": "tool", "tool_call_id": "call_1", "content": '{"temperature_c": 12, "sky": "cloudy"}'},
]  # fmt: skip


def _client(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=url, api_key="local", max_retries=0, timeout=120)


def test_it_answers_like_the_api_and_streams_the_same_words(model_server):
    client = _client(model_server)
    assert MODEL_ID in [m.id for m in client.models.list().data]
    whole = client.chat.completions.create(model=MODEL_ID, messages=QUESTION, temperature=0, max_tokens=40)
    assert whole.usage.completion_tokens > 0 and whole.choices[0].message.content.strip()
    chunks = client.chat.completions.create(
        model=MODEL_ID, messages=QUESTION, temperature=0, max_tokens=40, stream=True
    )
    pieces = [c.choices[0].delta.content or "" for c in chunks if c.choices]
    assert len([p for p in pieces if p]) > 3  # it came in pieces, as decoded
    assert "".join(pieces) == whole.choices[0].message.content


def test_tool_definitions_a_call_and_its_result_reach_the_model(model_server):
    """The server side of tool calling: the tools are in the prompt the model reads, and after a tool
    ran, the call and its result are too, and the model answers from there."""
    body = {"messages": CALLED, "tools": [WEATHER]}
    prompt = httpx.post(model_server.removesuffix("/v1") + "/apply-template", json=body).json()["prompt"]
    assert '"name": "get_weather"' in prompt and '"required": ["city"]' in prompt  # the definition
    assert '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>' in prompt
    assert '<tool_response>{"temperature_c": 12, "sky": "cloudy"}</tool_response>' in prompt
    reply = _client(model_server).chat.completions.create(
        model=MODEL_ID, messages=CALLED, tools=[WEATHER], temperature=0, max_tokens=30
    )
    assert reply.choices[0].finish_reason in ("stop", "length") and reply.choices[0].message.content


def test_an_app_process_uses_it_through_the_embedded_backend(model_server, settings):
    from tutor.llm import make_backend
    from tutor.settings import Settings

    backend = make_backend(Settings.from_env(home=settings.home, device="cpu", model_url=model_server))
    assert not backend.calls_tools and model_server in backend.where  # still the routing policy
    text = "".join(chunk.text for chunk in backend.chat_model.stream("Say hello to a new learner."))
    assert text.strip()


def test_the_openai_compatible_backend_runs_its_agent_against_it(model_server, settings, store):
    from tutor.chat import Tutor
    from tutor.events import TextDelta
    from tutor.llm import make_backend
    from tutor.settings import Settings

    s = Settings.from_env(home=settings.home, device="cpu", llm="openai", openai_api_key="local",
                          openai_base_url=model_server, openai_model=MODEL_ID)  # fmt: skip
    events = list(Tutor(s, store, make_backend(s)).turn("What is a token?"))
    assert "".join(e.text for e in events if isinstance(e, TextDelta)).strip()


def test_with_a_key_it_answers_only_clients_that_send_it(tmp_path, settings):
    from tests.servers import model_server as start_model_server
    from tests.servers import stop
    from tutor.llm import make_backend
    from tutor.settings import Settings

    proc, base = start_model_server(tmp_path / "keyed.log", {"TUTOR_MODEL_KEY": "class-key-7f3"}, slots=1)
    try:
        with pytest.raises(openai.AuthenticationError):
            _client(base + "/v1").chat.completions.create(model=MODEL_ID, messages=QUESTION, max_tokens=5)
        keyed = Settings.from_env(
            home=settings.home, device="cpu", model_url=base + "/v1", model_key="class-key-7f3"
        )
        assert "".join(c.text for c in make_backend(keyed).chat_model.stream("Say hi.")).strip()
    finally:
        stop(proc)

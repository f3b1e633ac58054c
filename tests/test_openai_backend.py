"""The OpenAI backend through the real SDK and langchain-openai, against a local fake API server."""

from __future__ import annotations

import pytest

from tests.fake_openai import FakeOpenAI
from tests.servers import free_port
from tutor.chat import Tutor
from tutor.cli import main as cli_main
from tutor.events import Notice
from tutor.llm import make_backend
from tutor.settings import ConfigError, Settings


def openai_tutor(settings, store, base_url, key="sk-test-key"):
    s = Settings.from_env(
        home=settings.home, llm="openai", openai_api_key=key, openai_base_url=base_url, device="cpu"
    )
    return Tutor(s, store, make_backend(s))


def test_answers_from_numbered_passages_and_cites(settings, store):
    with FakeOpenAI() as api:
        api.reply = "Guidance pushes the image towards the prompt [1]."
        result = openai_tutor(settings, store, api.base_url).ask("What does the guidance scale do?")
    assert result["answer"] == api.reply
    assert any("classifier-free-guidance" in c["concepts"] for c in result["citations"])
    sent = api.requests[-1]["body"]
    assert sent["stream"] is True
    system = sent["messages"][0]["content"]
    assert "[1]" in system and result["citations"][0]["title"] in system
    assert sent["messages"][-1] == {"role": "user", "content": "What does the guidance scale do?"}
    assert "check" in system and "plain words" in system  # answer first, then a check question
    assert [o["label"] for o in result["options"]][:3] == ["Simpler", "An example", "Deeper"]


def test_history_is_sent_to_the_model(settings, store):
    history = [{"role": "user", "content": "What is a token?"}, {"role": "assistant", "content": "A piece."}]
    with FakeOpenAI() as api:
        openai_tutor(settings, store, api.base_url).ask("And an embedding?", history)
    roles = [m["role"] for m in api.requests[-1]["body"]["messages"]]
    assert roles == ["system", "user", "assistant", "user"]


def test_wrong_key_gives_a_clear_message_and_the_lesson_text(settings, store):
    with FakeOpenAI(api_key="sk-right") as api:
        tutor = openai_tutor(settings, store, api.base_url, key="sk-wrong")
        events = list(tutor.turn("What does the guidance scale do?"))
    notices = [e for e in events if isinstance(e, Notice)]
    assert len(notices) == 1 and "rejected the API key (401)" in notices[0].text
    assert "sk-wrong" not in notices[0].text
    done = events[-1]
    assert "**From the lesson" in done.answer and done.citations  # the learner loses nothing


@pytest.mark.parametrize(("status", "words"), [(429, "rate-limiting"), (500, "internal error (500)")])
def test_server_errors_become_messages(settings, store, status, words):
    with FakeOpenAI() as api:
        api.fail_with = status
        result = openai_tutor(settings, store, api.base_url).ask("What is a token?")
    assert any(words in n for n in result["notices"])


def test_unreachable_server(settings, store):
    port = free_port()  # a port nothing listens on
    result = openai_tutor(settings, store, f"http://127.0.0.1:{port}/v1").ask("What is a token?")
    assert any("Could not connect" in n for n in result["notices"])
    assert result["citations"] and "**From the lesson" in result["answer"]


def test_missing_key_is_a_clear_start_up_message(monkeypatch, capsys):
    monkeypatch.setenv("TUTOR_LLM", "openai")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="needs an API key: set OPENAI_API_KEY"):
        Settings.from_env()
    assert cli_main(["ask", "What is a token?", "--json"]) == 2
    err = capsys.readouterr().err
    assert "OPENAI_API_KEY" in err and "Traceback" not in err


def test_a_terminal_conversation_sends_its_own_turns(settings, store):
    """`genai-tutor chat` has no page history: the conversation's own recent turns are sent."""
    from tutor.conversation import Conversation

    conv = Conversation()
    with FakeOpenAI() as api:
        tutor = openai_tutor(settings, store, api.base_url)
        api.reply = "A token is a piece of text [1]."
        tutor.reply("What is a token?", conv)
        tutor.reply("And an embedding?", conv)
    sent = api.requests[-1]["body"]["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert (
        sent[1]["content"] == "What is a token?" and sent[2]["content"] == "A token is a piece of text [1]."
    )

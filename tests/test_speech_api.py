"""OpenAI's text-to-speech through the real openai SDK, against the local fake server: the request,
the audio it sends back (drawn and saved), the approximate cost, and every failure as a clear message."""

from __future__ import annotations

import wave
from dataclasses import replace

import pytest

from tests.fake_openai import FakeOpenAI
from tools.base import ToolError
from tools.speech_api import SpeechAPITool

TEXT = "Generative models make new data."


@pytest.fixture
def api():
    with FakeOpenAI() as fake:
        yield fake


def _tool(settings, api):
    return SpeechAPITool(replace(settings, openai_api_key=api.api_key, openai_base_url=api.base_url))


def test_a_sentence_is_spoken_and_what_came_back_is_traced(settings, api, tmp_path):
    trace = _tool(settings, api)({"prompt": TEXT, "voice": "coral", "speed": 1.5, "instructions": "cheerful"})
    sent = api.requests[-1]
    assert sent["path"] == "/v1/audio/speech" and sent["auth"] == "Bearer sk-test-key"
    assert sent["body"] == {
        "model": "gpt-4o-mini-tts", "voice": "coral", "input": TEXT, "speed": 1.5, "response_format": "wav",
        "instructions": "cheerful",
    }  # fmt: skip
    with wave.open(trace.output["audio"], "rb") as f:
        frames, rate = f.getnframes(), f.getframerate()
    audio = trace.stage("audio").data
    assert (audio["samples"], audio["sample_rate"]) == (frames, rate) == (frames, 24000)
    assert audio["seconds"] == pytest.approx(0.06 * len(TEXT) / 1.5, abs=0.01)  # what the server made
    assert trace.stage("cost").data["usd"] == pytest.approx(audio["seconds"] / 60 * 0.015, rel=1e-3)
    assert trace.stage("call").data["bytes"] == frames * 2 + 44  # a 44-byte WAV header
    parts = _tool(settings, api).views(trace, tmp_path)
    assert [p.kind for p in parts] == ["markdown", "audio", "image"] and all(p.draw() for p in parts)


def test_tts_1_is_priced_per_character_and_refuses_instructions(settings, api):
    tool = _tool(settings, api)
    trace = tool({"prompt": TEXT, "model": "tts-1-hd"})
    assert trace.stage("cost").data["usd"] == pytest.approx(len(TEXT) * 30 / 1e6)
    with pytest.raises(ToolError, match="instructions work only with gpt-4o-mini-tts"):
        tool({"prompt": TEXT, "model": "tts-1", "instructions": "whisper"})


@pytest.mark.parametrize(
    ("status", "said"),
    [(401, "rejected the API key"), (429, "rate-limiting"), (404, "does not serve"), (500, "internal error")],
)
def test_api_errors_are_clear_messages(settings, api, status, said):
    api.fail_with = status
    with pytest.raises(ToolError, match=said) as caught:
        _tool(settings, api)({"prompt": TEXT})
    assert api.api_key not in str(caught.value)


def test_without_a_key_it_says_how_to_set_one(settings):
    with pytest.raises(ToolError, match="OPENAI_API_KEY"):
        SpeechAPITool(replace(settings, openai_api_key=None))({"prompt": TEXT})


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"prompt": ""}, "prompt"),
        ({"prompt": "hi", "speed": 5}, "speed"),
        ({"prompt": "hi", "voice": "bob"}, "voice"),
    ],
)
def test_bad_arguments_are_clear_errors(settings, arguments, field):
    with pytest.raises(ToolError, match=field):
        SpeechAPITool(settings).parse(arguments)


def test_compare_speaks_with_the_offline_voice_and_the_api(settings, store, api):
    from tutor.chat import Tutor
    from tutor.events import TextDelta, ToolEnd
    from tutor.llm import make_backend
    from tutor.settings import Settings

    s = Settings.from_env(home=settings.home, openai_api_key=api.api_key, openai_base_url=api.base_url)
    events = list(Tutor(s, store, make_backend(s)).turn(f"/demo compare speak {TEXT}"))
    ends = [e for e in events if isinstance(e, ToolEnd)]
    assert [(e.name, e.ok) for e in ends] == [("speech", True), ("speech_api", True)]
    table = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert "| phonemes and their durations | yes:" in table and "none (hidden inside the service) |" in table
    assert api.requests[-1]["body"]["input"] == TEXT

"""image_api through the real openai SDK against the local fake API: images, trace, cost, errors, key."""

from __future__ import annotations

import logging

import pytest
from PIL import Image

from tests.fake_openai import FakeOpenAI
from tests.servers import free_port
from tools.base import ToolError
from tools.image_api import ImageAPITool
from tutor.settings import Settings

KEY = "sk-test-image-SECRET-4c1f"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch):
    monkeypatch.delenv("TUTOR_IMAGE_MODEL", raising=False)
    monkeypatch.setenv("TUTOR_IMAGE_TIMEOUT_S", "5")


@pytest.fixture
def api():
    with FakeOpenAI(api_key=KEY) as fake:
        yield fake


def tool_for(base_url: str | None, key: str | None = KEY) -> ImageAPITool:
    return ImageAPITool(Settings.from_env(openai_api_key=key, openai_base_url=base_url, device="cpu"))


def error_for(api: FakeOpenAI, arguments: dict, key: str = KEY) -> str:
    with pytest.raises(ToolError) as e:
        tool_for(api.base_url, key)(arguments)
    assert key not in str(e.value)
    return str(e.value)


def test_dall_e_3_base64_with_revised_prompt_and_cost(api):
    trace = tool_for(api.base_url)({"prompt": "a red fox in snow", "model": "dall-e-3", "quality": "hd"})
    sent = api.requests[-1]
    assert sent["path"] == "/v1/images/generations"
    assert sent["body"] == {
        "model": "dall-e-3",
        "prompt": "a red fox in snow",
        "n": 1,
        "size": "1024x1024",
        "quality": "hd",
        "response_format": "b64_json",
    }
    assert [s.name for s in trace.stages] == ["request", "api_call", "image", "cost"]
    assert trace.device == "api" and trace.config["seed_supported"] is False
    assert trace.stage("request").data["body"] == sent["body"]
    call = trace.stage("api_call").data
    assert call["http_status"] == 200 and call["model"] == "dall-e-3" and call["latency_ms"] > 0
    assert call["revised_prompts"] == ["A detailed digital illustration of a red fox in snow, soft light."]
    image = trace.stage("image").data["images"][0]
    assert (image["width"], image["height"], image["source"]) == (1024, 1024, "b64_json")
    with Image.open(trace.output["image"]) as saved:
        assert saved.format == "PNG" and saved.size == (1024, 1024)
    assert trace.stage("image").artifacts[0].path == trace.output["image"]
    cost = trace.stage("cost").data
    assert cost["usd"] == 0.08 and cost["method"] == "the per-image price table"
    assert "revised" in trace.key_insight or "rewrote" in trace.key_insight
    assert "1024x1024" in trace.key_insight and "$0.0800" in trace.key_insight


def test_image_delivered_as_url_is_downloaded_without_the_key(api):
    api.image_format = "url"  # a server that answers with URLs whatever was asked
    trace = tool_for(api.base_url)({"prompt": "two cats", "model": "dall-e-2", "size": "256x256", "n": 2})
    gets = [r for r in api.requests if r["method"] == "GET"]
    assert len(gets) == 2 and all(r["auth"] is None for r in gets)
    images = trace.stage("image").data["images"]
    assert [(i["width"], i["source"]) for i in images] == [(256, "url"), (256, "url")]
    assert len(trace.output["images"]) == 2 and len(trace.stage("image").artifacts) == 2
    assert trace.stage("cost").data["usd"] == pytest.approx(0.032)


def test_gpt_image_cost_comes_from_reported_token_usage(api):
    trace = tool_for(api.base_url)(
        {"prompt": "a lighthouse at dusk", "model": "gpt-image-1-mini", "quality": "low"}
    )
    assert "response_format" not in api.requests[-1]["body"]  # GPT Image models always answer base64
    call = trace.stage("api_call").data
    assert call["usage"]["output_tokens"] == 272 and call["revised_prompts"] == []
    assert call["reported"]["quality"] == "low"
    cost = trace.stage("cost").data
    text_tokens = len("a lighthouse at dusk") // 4
    assert cost["method"] == "the token usage the API reported"
    assert cost["usd"] == pytest.approx((text_tokens * 2.0 + 272 * 8.0) / 1e6, abs=1e-5)


def test_default_model_comes_from_the_environment(api, monkeypatch):
    tool_for(api.base_url)({"prompt": "a kite"})
    assert api.requests[-1]["body"]["model"] == "gpt-image-1-mini"
    assert api.requests[-1]["body"]["quality"] == "auto"
    monkeypatch.setenv("TUTOR_IMAGE_MODEL", "dall-e-3")
    tool_for(api.base_url)({"prompt": "a kite"})
    assert api.requests[-1]["body"]["model"] == "dall-e-3"
    monkeypatch.setenv("TUTOR_IMAGE_MODEL", "midjourney")
    with pytest.raises(ToolError, match="model"):
        tool_for(api.base_url)({"prompt": "a kite"})


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        ({"model": "dall-e-3", "n": 2}, "n=2 is too many: it makes at most 1"),
        ({"model": "dall-e-3", "size": "512x512"}, "size '512x512' does not work"),
        ({"model": "dall-e-2", "quality": "hd"}, "quality 'hd' does not exist"),
        ({"model": "dall-e-2", "prompt": "x" * 1001}, "1001 characters, at most 1000"),
        ({"model": "dall-e-3", "prompt": "x" * 4001}, "at most 4000"),
        ({"model": "gpt-image-1.5", "size": "1792x1024"}, "choose one of 1024x1024"),
        ({"model": "gpt-image-1-mini", "quality": "standard"}, "choose one of auto, low, medium, high"),
        ({"model": "gpt-image-2", "size": "1000x1000"}, "multiples of 16"),
        ({"model": "gpt-image-2", "size": "3840x640"}, "between 1:3 and 3:1"),
        ({"model": "gpt-image-1", "n": 11}, "less than or equal to 10"),
        ({"model": "gpt-image-1", "prompt": "x" * 32001}, "at most 32000"),
        ({"seed": 3}, "takes no seed"),
        ({"steps": 30}, "steps: Extra inputs are not permitted"),
    ],
)
def test_arguments_are_checked_against_each_models_limits(api, arguments, words):
    message = error_for(api, {"prompt": "a boat", **arguments})
    assert message.startswith("image_api got unusable arguments") and words in message
    assert api.requests == []


def test_gpt_image_2_takes_free_sizes(api):
    trace = tool_for(api.base_url)({"prompt": "a wide valley", "model": "gpt-image-2", "size": "1536x864"})
    assert trace.stage("image").data["images"][0]["width"] == 1536
    assert trace.stage("cost").data["usd"] > 0  # priced from usage: the table has no 1536x864 row


def test_no_key_is_a_clear_message_and_nothing_is_sent(api):
    with pytest.raises(ToolError, match="set OPENAI_API_KEY"):
        tool_for(api.base_url, key=None)({"prompt": "a kite"})
    assert api.requests == []


@pytest.mark.parametrize(
    ("script", "model", "words"),
    [
        ("rate_limit", "dall-e-3", "rate-limiting image requests (429). Wait a minute"),
        ("insufficient_quota", "dall-e-3", "no credit left (429 insufficient_quota). Waiting will not help"),
        ("content_policy", "dall-e-3", "safety system refused this prompt (400 content_policy_violation)"),
        ("content_policy", "gpt-image-1.5", "safety system refused this prompt (400 moderation_blocked)"),
        ("server_error", "gpt-image-1-mini", "internal error (500). Try again in a moment"),
        ("model_not_found", "dall-e-3", "no longer serves dall-e-3: OpenAI retired it on 2026-05-12"),
        ("bad_size", "gpt-image-2", "refused the request (400): Invalid value: '1024x1024'"),
    ],
)
def test_api_errors_become_learner_messages(api, script, model, words):
    api.image_error = script
    assert words in error_for(api, {"prompt": "a kite", "model": model})
    assert len(api.requests) == 1  # no silent retries


def test_wrong_key_is_rejected_without_echoing_it(api):
    message = error_for(api, {"prompt": "a kite"}, key="sk-wrong-SECRET-9d2e")
    assert "rejected the API key (401)" in message and "OPENAI_API_KEY" in message


def test_slow_answer_times_out(api, monkeypatch):
    monkeypatch.setenv("TUTOR_IMAGE_TIMEOUT_S", "0.3")
    api.image_delay_s = 3
    assert "did not answer within 0.3 s" in error_for(api, {"prompt": "a kite"})


def test_unreachable_server():
    port = free_port()  # a port nothing listens on
    with pytest.raises(ToolError, match="Could not connect to http://127.0.0.1"):
        tool_for(f"http://127.0.0.1:{port}/v1")({"prompt": "a kite"})


def test_the_key_never_reaches_trace_logs_or_messages(api, caplog):
    caplog.set_level(logging.DEBUG)
    api.image_format = "url"
    trace = tool_for(api.base_url)({"prompt": "a kite", "model": "dall-e-3"})
    assert api.requests[0]["auth"] == f"Bearer {KEY}"  # it was used, on the API call only
    assert KEY not in trace.model_dump_json()
    for script in ("rate_limit", "content_policy", "server_error"):
        api.image_error = script
        error_for(api, {"prompt": "a kite", "model": "dall-e-3"})
    assert KEY not in caplog.text


def test_compare_runs_the_open_pipeline_and_the_api_on_one_prompt(settings, store):
    from tests.fake_openai import FakeOpenAI
    from tutor.chat import Tutor
    from tutor.events import TextDelta, ToolEnd
    from tutor.llm import make_backend
    from tutor.settings import Settings

    with FakeOpenAI() as api:
        s = Settings.from_env(home=settings.home, openai_api_key="sk-test-key", openai_base_url=api.base_url)
        tutor = Tutor(s, store, make_backend(s))
        events = list(tutor.turn("/demo compare a red circle on a white background"))
    ends = [e for e in events if isinstance(e, ToolEnd)]
    assert [(e.name, e.ok) for e in ends] == [("image_generation", True), ("image_api", True)]
    table = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert "Side by side" in table and "denoising steps seen" in table
    assert "| denoising steps seen | 25 | none (hidden inside the service) |" in table
    assert "sk-test-key" not in table


def test_the_lessons_code_example_runs_against_todays_api(api, tmp_path):
    """The Python example in the image-API lesson, run as a learner would (its own process, the key and
    server from the environment), against the fake that answers like the current API."""
    import os
    import re
    import subprocess
    import sys

    from knowledge import LESSONS_DIR

    lesson = (LESSONS_DIR / "dall-e-api.md").read_text()
    code = re.search(r"```python\n(.*?)```", lesson, re.S).group(1)
    assert "dall-e" not in code and "response_format" not in code  # retired models and settings
    env = {**os.environ, "OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": api.base_url}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-1500:]
    assert re.fullmatch(r"\d+ input tokens, \d+ output tokens\n", done.stdout)
    with Image.open(tmp_path / "puppy.png") as image:
        assert image.size == (1024, 1024)
    sent = api.requests[-1]
    assert sent["path"].endswith("/images/generations") and sent["auth"] == f"Bearer {KEY}"
    assert sent["body"]["model"] == "gpt-image-1-mini" and sent["body"]["quality"] == "low"

"""Both policies: the semantic router (embedded model) and the tool-calling agent (OpenAI-compatible
backend through the real langchain-openai, against the local fake server)."""

from __future__ import annotations

import json

import pytest

from tests.fake_openai import FakeOpenAI
from tutor.chat import Tutor
from tutor.events import Notice, ToolEnd, ToolProgress, ToolStart, TurnDone
from tutor.llm import make_backend
from tutor.router import demo_prompt
from tutor.settings import Settings

SMALL = '{"prompt": "The cat sat", "max_new_tokens": 3, "temperature": 0, "mode": "continue"}'

TOOL_PHRASINGS = [
    "show me how a language model writes a sentence about cats",
    "generate a short story about a dragon and show me the steps",
    "run the language model on my prompt 'Once upon a time'",
    "demo text generation please",
    "let me watch a model write a poem about rain",
]
QUESTIONS = [
    "How does Stable Diffusion work?",
    "What does the guidance scale do?",
    "How does a language model pick the next word?",
    "What is a token?",
    "Why is accuracy a strange metric for a generative model?",
    "What do the generator and discriminator do in a GAN?",
]


def openai_events(settings, store, script, message, history=()):
    with FakeOpenAI() as api:
        api.script = list(script)
        s = Settings.from_env(
            home=settings.home,
            llm="openai",
            openai_api_key="sk-test-key",
            openai_base_url=api.base_url,
            device="cpu",
        )
        events = list(Tutor(s, store, make_backend(s)).turn(message, history))
    return events, api.requests


@pytest.mark.parametrize("phrase", TOOL_PHRASINGS)
def test_router_sends_demo_requests_to_the_tool(tutor, phrase):
    route = tutor.router.route(phrase)
    assert (route.kind, route.tool) == ("tool", "text_generation")


@pytest.mark.parametrize("question", QUESTIONS)
def test_router_sends_questions_to_the_lessons(tutor, question):
    assert tutor.router.route(question).kind == "explain"


def test_demo_prompt_is_read_from_the_request():
    assert (
        demo_prompt("show me how a language model writes a sentence about cats")
        == "Write a sentence about cats."
    )
    assert demo_prompt("run the model on 'Once upon a time'") == "Once upon a time"
    assert demo_prompt("demo something about the sea") == "Write a short sentence about the sea."


def test_commands(tutor):
    help_text = next(tutor.turn("/help"))
    assert "/demo text PROMPT" in help_text.text and "text_generation" in help_text.text
    quiz = next(tutor.turn("/quiz"))  # no session, so no learner name
    assert isinstance(quiz, Notice) and "name" in quiz.text.lower()
    unknown = list(tutor.turn("/paint a cat"))
    assert "do not know the command `/paint`" in unknown[0].text and "/help" in unknown[1].text


def test_demo_command_runs_the_tool_and_reports_it(tutor):
    events = list(tutor.turn("/demo text The cat sat on the"))
    kinds = [type(e) for e in events]
    assert kinds[0] is ToolStart and ToolProgress in kinds and ToolEnd in kinds
    end = next(e for e in events if isinstance(e, ToolEnd))
    assert end.ok and end.trace.prompt == "The cat sat on the" and end.duration_ms > 0
    done = events[-1]
    assert isinstance(done, TurnDone) and done.tools == [end.summary()]
    assert "real run of **text_generation**" in done.answer
    assert end.trace.key_insight.startswith("On average the token it wrote had a probability of")


def test_tool_error_is_a_message_and_the_tutor_goes_on(tutor):
    events = list(tutor.turn("/demo text " + "x" * 1500))
    end = next(e for e in events if isinstance(e, ToolEnd))
    assert not end.ok and "prompt" in end.error
    assert any(isinstance(e, Notice) and e.text == end.error for e in events)
    assert next(e for e in tutor.turn("/help")).text.startswith("Here is what I can do")


def test_agent_calls_the_tool_and_explains(settings, store):
    events, requests = openai_events(
        settings,
        store,
        [{"tool_calls": [("text_generation", SMALL)]}, "It continued the text [1]."],
        "show me a language model continuing 'The cat sat'",
    )
    end = next(e for e in events if isinstance(e, ToolEnd))
    assert end.ok and end.args["max_new_tokens"] == 3 and len(end.trace.layers) == 30
    done = events[-1]
    assert done.answer == "It continued the text [1]." and done.tools[0]["name"] == "text_generation"
    offered = {t["function"]["name"] for t in requests[0]["body"]["tools"]}
    assert "text_generation" in offered
    tool_message = requests[1]["body"]["messages"][-1]
    assert tool_message["role"] == "tool"
    assert json.loads(tool_message["content"])["output"] == end.trace.output


def test_agent_survives_a_malformed_tool_call(settings, store):
    events, _ = openai_events(
        settings, store, [{"tool_calls": [("text_generation", "prompt=The cat")]}], "demo text please"
    )
    assert any(isinstance(e, Notice) and "malformed arguments" in e.text for e in events)
    assert not any(isinstance(e, ToolEnd) for e in events)
    assert isinstance(events[-1], TurnDone)


def test_agent_gets_out_of_range_arguments_back_to_fix(settings, store):
    bad = '{"prompt": "hi", "max_new_tokens": 9999}'
    events, requests = openai_events(
        settings, store, [{"tool_calls": [("text_generation", bad)]}, "I will use fewer tokens."], "demo text"
    )
    assert events[-1].answer == "I will use fewer tokens."
    tool_message = requests[1]["body"]["messages"][-1]
    assert tool_message["role"] == "tool" and "max_new_tokens" in tool_message["content"]


def test_stop_reaches_a_training_demo_the_model_started(settings, store):
    from tutor.runner import SessionRuns

    runs = SessionRuns()
    runs.cancel.set()  # the learner pressed Stop: the run ends before its first batch
    args = '{"prompt": "train a GAN", "model": "gan", "epochs": 2, "width": 8}'
    with FakeOpenAI() as api:
        api.script = [{"tool_calls": [("training_demo", args)]}, "The run was stopped."]
        s = Settings.from_env(
            home=settings.home, llm="openai", openai_api_key="sk-test-key", openai_base_url=api.base_url
        )
        events = list(Tutor(s, store, make_backend(s)).turn("train a GAN", runs=runs))
    end = next(e for e in events if isinstance(e, ToolEnd))
    assert end.name == "training_demo" and not end.ok and "cancel" in end.error.lower()

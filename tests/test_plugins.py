"""Plugins: a tool registered through the `genai_tutor.tools` entry-point group, the same mechanism
the built-ins use, is found by the registry and runs from the CLI. Nothing is pip-installed: the
test writes a package and its dist-info (with entry_points.txt) into a folder on sys.path."""

from __future__ import annotations

import json
import sys
import textwrap

import pytest

from tools.base import ToolError
from tools.registry import Registry, discover
from tutor.cli import main as cli_main

PLUGIN = """
from pydantic import BaseModel, Field

from tools.base import Tool
from tools.questions import choice
from tools.trace import Clock, PipelineTrace, Stage, TensorInfo
from tools.views import markdown


class ReverseArgs(BaseModel):
    prompt: str = Field(min_length=1, max_length=200)


class ReverseTool(Tool):
    name = "reverse_text"
    description = "Reverse the prompt, character by character."
    Args = ReverseArgs
    examples = ["reverse my text"]
    command = "rev"

    def run(self, args, ctx):
        clock = Clock()
        with clock.stage() as t:
            text = args.prompt[::-1]
        stage = Stage(name="reverse", note="Characters in reverse order.", duration_ms=t.ms,
                      input=TensorInfo(shape=[len(args.prompt)], dtype="str"),
                      output=TensorInfo(shape=[len(text)], dtype="str"))
        return PipelineTrace(tool=self.name, title="Reversed", prompt=args.prompt, device="cpu", seed=0,
                             config=args.model_dump(), versions={}, stages=[stage], output={"text": text},
                             key_insight="Reversal keeps the length.", total_ms=clock.total_ms())

    def views(self, trace, folder):
        mirror = lambda: "#### Mirror view: " + trace.prompt + " / " + trace.output["text"]
        return [*super().views(trace, folder), markdown("mirror", mirror)]

    def questions(self, trace):
        first, last = trace.output["text"][0], trace.prompt[0]
        return [choice(trace, "first", "tokenization", "tokenization",
                       "In your run, which character came out first?", repr(first),
                       [(repr(last), "reversal keeps the order", "That one came out last.")],
                       "Reversal puts the last character first.")]
"""


@pytest.fixture
def plugin_on_path(tmp_path, monkeypatch):
    (tmp_path / "reverse_plugin.py").write_text(textwrap.dedent(PLUGIN))
    info = tmp_path / "reverse_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: reverse-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[genai_tutor.tools]\nreverse_text = reverse_plugin:ReverseTool\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    sys.modules.pop("reverse_plugin", None)


def test_plugin_is_discovered_beside_the_builtins(plugin_on_path, settings):
    found = discover()
    assert {"text_generation", "reverse_text"} <= set(found)
    trace = Registry(settings).get("reverse_text")({"prompt": "tutor"})
    assert trace.output == {"text": "rotut"}


def test_plugin_runs_from_the_cli(plugin_on_path, settings, capsys):
    assert cli_main(["demo", "reverse_text", "abc", "--json"]) == 0
    trace = json.loads(capsys.readouterr().out)
    assert trace["tool"] == "reverse_text" and trace["output"] == {"text": "cba"}


def test_the_agent_uses_a_plugin_tool(plugin_on_path, settings, store):
    from tests.test_agent import openai_events
    from tutor.events import ToolEnd

    events, _ = openai_events(
        settings, store, [{"tool_calls": [("reverse_text", '{"prompt": "abc"}')]}, "Reversed."], "reverse abc"
    )
    ends = [e for e in events if isinstance(e, ToolEnd)]
    assert len(ends) == 1 and ends[0].ok and ends[0].trace.output == {"text": "cba"}


def test_the_router_runs_a_plugin_by_command(plugin_on_path, settings, store, tutor):
    from tutor.chat import Tutor
    from tutor.events import ToolEnd

    local = Tutor(settings, store, tutor.backend)  # a fresh registry sees the plugin
    ends = [e for e in local.turn("/demo reverse_text hello") if isinstance(e, ToolEnd)]
    assert ends[0].trace.output == {"text": "olleh"}


def test_unknown_tool_names_the_known_ones(settings):
    with pytest.raises(ToolError, match="no tool called 'paint'.*text_generation"):
        Registry(settings).get("paint")


def test_a_non_tool_entry_point_is_refused(tmp_path, monkeypatch):
    info = tmp_path / "broken-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[genai_tutor.tools]\nbroken = json:dumps\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(TypeError, match="'broken'.*is not a genai-tutor Tool class"):
        discover()


def test_a_plugin_brings_its_own_view_and_run_question_to_the_page(plugin_on_path, settings, store):
    """Through the page's own handler: `/demo rev` shows the plugin's view, `/quiz run` its question."""
    import uuid

    from tutor.chat import Tutor
    from tutor.conversation import Conversation
    from tutor.llm import make_backend
    from tutor.runner import SessionRuns
    from tutor.ui import respond

    tutor = Tutor(settings, store, make_backend(settings))  # its registry discovers the plugin
    session, runs, token = Conversation(), SessionRuns(), uuid.uuid4().hex
    *_, (_, messages, session) = respond(tutor, "/demo rev tutor", [], "Plugin Fan", session, runs, token)
    shown = "\n".join(m["content"] for m in messages if isinstance(m["content"], str))
    assert "Mirror view: tutor / rotut" in shown and "Pipeline stages" in shown
    *_, (_, messages, session) = respond(tutor, "/quiz run", messages, "Plugin Fan", session, runs, token)
    asked = messages[-1]
    assert "which character came out first" in asked["content"]
    assert {o["label"] for o in asked["options"]} == {"A. 'r'", "B. 't'"} or len(asked["options"]) == 2
    right = next(o["value"] for o in asked["options"] if "'r'" in o["label"])
    feedback = list(tutor.quiz.answer(session, right.partition(":")[2], right.partition(":")[0]))
    assert any("Correct" in getattr(getattr(e, "feedback", None), "text", "") for e in feedback)

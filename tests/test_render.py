"""A part that cannot be drawn never costs the learner the turn: it becomes a short note, the rest of
the answer and the trace JSON still arrive, and no tool step is left "running"."""

from __future__ import annotations

from tools.trace import PipelineTrace, Stage
from tutor.events import TextDelta, ToolStart
from tutor.runner import Runner
from tutor.ui import _show, trace_messages


def _fold(events, tutor) -> list[dict]:
    messages = [{"role": "user", "content": "hi"}]
    reply = {"role": "assistant", "content": ""}
    messages.append(reply)
    *_, shown = _show(iter(events), messages, reply, tutor)
    return shown


def _pending(messages) -> list[dict]:
    return [m for m in messages if (m.get("metadata") or {}).get("status") == "pending"]


def test_a_char_gpt_run_renders_whole(tutor, settings):
    """The training demo's own "sampling" stage is not the text tool's: it used to crash the turn."""
    args = {"model": "char_gpt", "width": 16, "batch_size": 32, "prompt": "The loss ", "epochs": 1}
    events = list(Runner(tutor.registry).run("training_demo", args))
    messages = _fold(events, tutor)
    text = "\n".join(m["content"] for m in messages if isinstance(m["content"], str))
    assert "Training trace, epoch by epoch" in text and "could not be drawn" not in text
    files = [_file(m["content"]) for m in messages if isinstance(m["content"], dict)]
    assert any(p.endswith("-trace.json") for p in files) and any(p.endswith("loss.png") for p in files)
    assert not _pending(messages)


def _file(content: dict) -> str:
    return content["value"]["path"] if content.get("type") == "component" else content["path"]


def _trace(**stage_data) -> PipelineTrace:
    stages = [Stage(name=name, note="n", duration_ms=1.0, data=data) for name, data in stage_data.items()]
    return PipelineTrace(
        tool="plugin", title="A plugin's run", prompt="p", device="cpu", seed=0, config={}, versions={},
        stages=stages, output={"text": "out"}, key_insight="the insight", total_ms=1.0,
    )  # fmt: skip


def test_a_part_that_cannot_be_drawn_becomes_a_note(tutor, tmp_path):
    trace = _trace(denoising={"steps": [{"step": 1}]})  # no timestep, no sigma, no previews
    messages = trace_messages(trace, tutor.registry.get("image_generation"), tmp_path)
    shown = "\n".join(m["content"] for m in messages if isinstance(m["content"], str))
    assert "denoising table could not be drawn" in shown and "preview strip could not be drawn" in shown
    assert "the insight" in shown and "Pipeline stages" in shown  # the rest is there
    assert messages[-1]["content"]["path"].endswith("-trace.json")


def test_a_turn_that_fails_midway_keeps_what_was_shown(tutor):
    def events():
        yield TextDelta("Here is the start. ")
        yield ToolStart("text_generation", {"prompt": "x"})
        raise RuntimeError("the backend fell over")

    messages = _fold(events(), tutor)
    reply = messages[-1]["content"]
    assert reply.startswith("Here is the start.") and "Something went wrong on my side" in reply
    assert not _pending(messages)
    assert messages[-2]["metadata"]["title"].endswith("failed")

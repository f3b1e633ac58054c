"""The tool-calling policy: a LangChain agent (`create_agent`) whose model chooses the demo tools.

Used with backends that call tools well (OpenAI, OpenAI-compatible servers). Each registry tool is
offered with its pydantic argument schema; a run's full trace goes to the page as events, while
the model gets a short summary (output and key insight) to talk about.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from langchain.agents import create_agent
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.tools import StructuredTool

from tutor.events import Event, Notice, TextDelta, ToolEnd
from tutor.runner import Runner, SessionRuns

AGENT_RULES = (
    "\n\nYou can run live demos with your tools when the learner asks to see a model at work; choose "
    "sensible small settings. After a demo, tell the learner in two or three sentences what the "
    "run showed, using its key insight."
)


def _tools(runner: Runner, pending: list[Event], runs: SessionRuns | None = None) -> list[StructuredTool]:
    """LangChain tools that run registry tools and park their events in `pending` for the turn."""

    def make(name: str) -> StructuredTool:
        def call(**kwargs) -> str:
            args = {k: v for k, v in kwargs.items() if v is not None}
            events = list(runner.run(name, args, runs))
            pending.extend(events)
            end = events[-1]
            if not end.ok:
                return json.dumps({"ok": False, "error": end.error})
            return json.dumps({"ok": True, "output": end.trace.output, "key_insight": end.trace.key_insight})

        cls = runner.registry.classes[name]
        return StructuredTool.from_function(
            func=call,
            name=name,
            description=cls.description,
            args_schema=cls.Args,
            handle_validation_error=lambda e: f"Invalid arguments for {name}: {e}. Fix them and call again.",
        )

    return [make(name) for name in runner.registry.names()]


def agent_stream(
    chat_model, runner: Runner, system_prompt: str, messages: list, runs: SessionRuns | None = None
) -> Iterator[Event]:
    """Run the agent on the conversation; yield text deltas and tool events as they happen. Setting
    `runs.cancel` stops a training demo the model started."""
    pending: list[Event] = []
    agent = create_agent(
        chat_model, tools=_tools(runner, pending, runs), system_prompt=system_prompt + AGENT_RULES
    )
    for mode, item in agent.stream({"messages": messages}, stream_mode=["messages", "updates"]):
        if mode == "messages":
            chunk, meta = item
            if isinstance(chunk, AIMessageChunk) and chunk.text and meta.get("langgraph_node") == "model":
                yield TextDelta(chunk.text)
        else:
            for update in item.values():
                for message in (update or {}).get("messages", []):
                    if isinstance(message, AIMessage):
                        for bad in message.invalid_tool_calls:
                            yield Notice(
                                f"The model asked for the tool {bad.get('name')!r} with malformed "
                                "arguments, so it was not run. Ask again, perhaps with simpler wording."
                            )
        while pending:
            event = pending.pop(0)
            if isinstance(event, ToolEnd) and not event.ok:
                yield event
                yield Notice(event.error, level="error")
                continue
            yield event

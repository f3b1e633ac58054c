"""Rendering helpers for the Gradio page: tutor events into chat messages (Gradio's message format)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator

from tutor.chat import Tutor
from tutor.events import Citation, Citations, Notice, TextDelta, ToolEnd, ToolProgress, ToolStart
from tutor.render import render_trace

EXAMPLES = [
    "How does Stable Diffusion work?",
    "What does the guidance scale do?",
    "How does a language model pick the next word?",
    "What do the generator and discriminator do in a GAN?",
]
NOTICE_ICON = {"info": "ℹ️", "warning": "⚠️", "error": "⛔"}


def render_citations(citations: list[Citation]) -> str:
    lines = [f"- *{c.title}* — {c.section}" for c in citations]
    return "\n\n---\n**Sources from the lessons**\n" + "\n".join(lines)


def _text(content) -> str | None:
    """A message's text, whether Gradio hands it over as a string or as content blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text"]
        return "\n".join(texts) if texts else None
    return None


def chat_history(messages: list[dict]) -> list[dict]:
    """Earlier turns as plain {role, content} text, for backends that take history."""
    out = []
    for m in messages or []:
        text = _text(m.get("content"))
        if text is not None and m.get("role") in ("user", "assistant"):
            out.append({"role": m["role"], "content": text})
    return out


def save_trace(trace) -> str:
    """The trace as a JSON file the chat offers for download."""
    with tempfile.NamedTemporaryFile("w", suffix=f"-{trace.tool}-trace.json", delete=False) as f:
        f.write(trace.model_dump_json(indent=2))
    return f.name


def respond(tutor: Tutor, message: str, messages: list[dict]) -> Iterator[tuple[str, list[dict]]]:
    """Stream one turn into the chat: yields (new textbox value, chat messages) as events arrive.

    Tool runs appear as folded steps (Gradio message metadata), then the rendered trace and its JSON.
    """
    history = chat_history(messages)
    messages = list(messages or []) + [{"role": "user", "content": message or " "}]
    reply = {"role": "assistant", "content": ""}
    messages.append(reply)
    yield "", messages
    for event in tutor.turn(message, history):
        if isinstance(event, TextDelta):
            reply["content"] += event.text
        elif isinstance(event, Notice):
            sep = "\n\n" if reply["content"] else ""
            reply["content"] += f"{sep}{NOTICE_ICON.get(event.level, '⚠️')} {event.text}"
        elif isinstance(event, Citations) and event.citations:
            reply["content"] += render_citations(event.citations)
        elif isinstance(event, ToolStart):
            step = {
                "role": "assistant",
                "content": f"Arguments: `{json.dumps(event.args, ensure_ascii=False)}`",
                "metadata": {"title": f"🛠️ Running {event.name}", "status": "pending"},
            }
            messages.insert(len(messages) - 1, step)
        elif isinstance(event, ToolProgress):
            step["content"] += f"\n\n… {event.line}"
        elif isinstance(event, ToolEnd):
            step["metadata"] = {
                "title": f"🛠️ {event.name} {'finished' if event.ok else 'failed'}",
                "status": "done",
                "duration": round(event.duration_ms / 1000, 2),
            }
            if event.ok:
                at = len(messages) - 1
                messages[at:at] = [
                    {"role": "assistant", "content": render_trace(event.trace)},
                    {"role": "assistant", "content": {"path": save_trace(event.trace)}},
                ]
        else:
            continue
        yield "", messages

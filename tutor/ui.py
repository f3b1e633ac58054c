"""Rendering helpers for the Gradio page: tutor events into chat messages (Gradio's message format)."""

from __future__ import annotations

import json
import tempfile
import threading
from collections.abc import Iterator
from types import SimpleNamespace

import gradio as gr
import pandas as pd

from tutor.chat import Tutor
from tutor.events import (
    Citation,
    Citations,
    Notice,
    QuizAsk,
    QuizResult,
    TextDelta,
    ToolEnd,
    ToolProgress,
    ToolStart,
)
from tutor.learner_store import LearnerError
from tutor.quiz import LETTERS
from tutor.quiz_turn import QuizSession
from tutor.render import loss_chart, preview_strip, render_trace, training_table

EXAMPLES = [
    "How does Stable Diffusion work?",
    "What does the guidance scale do?",
    "How does a language model pick the next word?",
    "What do the generator and discriminator do in a GAN?",
    "quiz me",
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


def quiz_message(ask: QuizAsk) -> dict:
    """A question as a chat message; its choices are buttons (message `options`) whose values name the
    question, so a late second click is recognised as an answer to an already answered question."""
    q = ask.question
    content = q.markdown()
    options = [
        {"value": f"{q.id}:{LETTERS[i]}", "label": f"{LETTERS[i]}. {c}"} for i, c in enumerate(q.choices)
    ]
    return {"role": "assistant", "content": content, "options": options}


def _is_image(value) -> bool:
    return isinstance(value, str) and value.endswith(".png")


def _at(messages: list[dict], message: dict) -> int:
    return next(i for i, m in enumerate(messages) if m is message)


def _show(events: Iterator, messages: list[dict], reply: dict) -> Iterator[list[dict]]:
    """Fold tutor events into the chat messages, yielding after each change."""
    live, rows = None, []  # a training run's live epoch table (and latest samples) while it runs
    for event in events:
        if isinstance(event, TextDelta):
            reply["content"] += event.text
        elif isinstance(event, Notice):
            sep = "\n\n" if reply["content"] else ""
            reply["content"] += f"{sep}{NOTICE_ICON.get(event.level, '⚠️')} {event.text}"
        elif isinstance(event, Citations) and event.citations:
            reply["content"] += render_citations(event.citations)
        elif isinstance(event, QuizResult):
            reply["content"] += event.feedback.text + (f"\n\n{event.score}" if event.score else "")
        elif isinstance(event, QuizAsk):
            messages.append(quiz_message(event))
        elif isinstance(event, ToolStart):
            step = {
                "role": "assistant",
                "content": f"Arguments: `{json.dumps(event.args, ensure_ascii=False)}`",
                "metadata": {"title": f"🛠️ Running {event.name}", "status": "pending"},
            }
            messages.insert(_at(messages, reply), step)
        elif isinstance(event, ToolProgress) and event.row is not None:  # a training epoch: live table
            rows.append(event.row)
            table = "#### Training live\n\n" + training_table(SimpleNamespace(training=rows))
            sample = event.row.metrics.get("sample")
            chart = loss_chart(rows, tempfile.mkstemp(suffix="-loss.png")[1])
            if live is None:
                live = [{"role": "assistant", "content": table}, {"role": "assistant", "content": ""}]
                if _is_image(sample):
                    live.append({"role": "assistant", "content": {"path": sample}})
                at = _at(messages, reply)
                messages[at:at] = live
            live[0]["content"] = table
            live[1]["content"] = {"path": chart}
            if _is_image(sample) and len(live) > 2:
                live[2]["content"] = {"path": sample}
            elif isinstance(sample, str) and not _is_image(sample):
                live[0]["content"] += f"\n\nSample after epoch {event.row.epoch}: *{sample}*"
        elif isinstance(event, ToolProgress):
            step["content"] += f"\n\n… {event.line}"
        elif isinstance(event, ToolEnd):
            step["metadata"] = {
                "title": f"🛠️ {event.name} {'finished' if event.ok else 'failed'}",
                "status": "done",
                "duration": round(event.duration_ms / 1000, 2),
            }
            for message in live or []:  # the live view gives way to the full trace
                del messages[_at(messages, message)]
            live, rows = None, []
            if event.ok:
                at = _at(messages, reply)
                image = event.trace.output.get("image")
                previews = event.trace.output.get("previews") or []
                strip = previews and preview_strip(previews, tempfile.mkstemp(suffix="-steps.png")[1])
                clean = [
                    a.path
                    for st in event.trace.stages
                    for a in st.artifacts
                    if "predicted clean" in a.caption
                ]
                clean_strip = clean and preview_strip(clean, tempfile.mkstemp(suffix="-x0.png")[1])
                chart = event.trace.training and loss_chart(
                    event.trace.training, tempfile.mkstemp(suffix=".png")[1]
                )
                messages[at:at] = [
                    {"role": "assistant", "content": render_trace(event.trace)},
                    *([{"role": "assistant", "content": {"path": chart}}] if chart else []),
                    *([{"role": "assistant", "content": {"path": strip}}] if strip else []),
                    *([{"role": "assistant", "content": {"path": clean_strip}}] if clean_strip else []),
                    *([{"role": "assistant", "content": {"path": image}}] if image else []),
                    {"role": "assistant", "content": {"path": save_trace(event.trace)}},
                ]
        else:
            continue
        yield messages
    if not reply["content"]:
        del messages[_at(messages, reply)]
        yield messages


def respond(
    tutor: Tutor,
    message: str,
    messages: list[dict],
    name: str = "",
    session: QuizSession | None = None,
    cancel: threading.Event | None = None,
    token: str | None = None,
) -> Iterator[tuple[str, list[dict], QuizSession]]:
    """Stream one turn into the chat: yields (new textbox value, chat messages, quiz session).

    Tool runs appear as folded steps (Gradio message metadata), then the rendered trace and its JSON;
    quiz questions carry their choices as buttons.
    """
    session = session if session is not None else QuizSession()
    session.learner, session.token = name or "", token
    history = chat_history(messages)
    messages = list(messages or []) + [{"role": "user", "content": message or " "}]
    reply = {"role": "assistant", "content": ""}
    messages.append(reply)
    yield "", messages, session
    for shown in _show(tutor.turn(message, history, session, cancel), messages, reply):
        yield "", shown, session


def choose_option(
    tutor: Tutor,
    messages: list[dict],
    name: str,
    session: QuizSession | None,
    token: str | None,
    evt: gr.SelectData,
) -> Iterator[tuple[list[dict], QuizSession]]:
    """A click on a quiz choice: the answer to the question that choice belongs to."""
    session = session if session is not None else QuizSession()
    session.learner, session.token = name or "", token
    question_id, _, letter = str(evt.value).partition(":")
    label = next(
        (o.get("label") for m in messages for o in m.get("options") or [] if o.get("value") == evt.value),
        letter,
    )
    messages = list(messages or []) + [{"role": "user", "content": label}]
    reply = {"role": "assistant", "content": ""}
    messages.append(reply)
    yield messages, session
    for shown in _show(tutor.quiz.answer(session, letter, question_id), messages, reply):
        yield shown, session


def no_progress() -> pd.DataFrame:
    """An empty mastery table with typed columns (untyped empty columns would chart as numbers)."""
    return pd.DataFrame({"concept": pd.Series(dtype=str), "mastery": pd.Series(dtype=float)})


def progress_view(tutor: Tutor, name: str, token: str | None = None) -> tuple[pd.DataFrame, str]:
    """Mastery per concept (for the bar chart) and a summary with what is due for review."""
    empty = no_progress()
    try:
        progress = tutor.quiz.engine.progress(name, token)
    except LearnerError as e:
        return empty, str(e)
    rows = [r for r in progress.concepts if r["attempts"] or r["mastered"]]
    frame = pd.DataFrame(
        {
            "concept": [r["title"] + (" ✓" if r["mastered"] else "") for r in rows],
            "mastery": [round(100 * r["p_known"], 1) for r in rows],
        }
    )
    titles = {r["slug"]: r["title"] for r in progress.concepts}
    due = ", ".join(titles[c] for c in progress.due) or "nothing yet"
    summary = (
        f"**{name.strip()}**: {progress.correct}/{progress.attempts} answers right · "
        f"**{progress.mastered}** of {len(progress.concepts)} concepts mastered · due for review: {due}"
    )
    return (frame if rows else empty), summary


def export_progress(tutor: Tutor, name: str, token: str | None = None) -> tuple[str | None, str]:
    try:
        data = tutor.quiz.engine.store.export(tutor.quiz.engine.store.learner(name, False, token))
    except LearnerError as e:
        return None, str(e)
    with tempfile.NamedTemporaryFile("w", suffix="-progress.json", delete=False) as f:
        json.dump(data, f, indent=2)
    return f.name, f"Exported {len(data['attempts'])} answers."


def reset_progress(tutor: Tutor, name: str, sure: bool, token: str | None = None) -> str:
    if not sure:
        return "Tick **Yes, erase my progress** first: a reset cannot be undone."
    try:
        removed = tutor.quiz.engine.store.reset(tutor.quiz.engine.store.learner(name, False, token))
    except LearnerError as e:
        return str(e)
    return f"Progress erased ({removed} answers)."

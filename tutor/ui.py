"""Rendering helpers for the Gradio page: tutor events into chat messages (Gradio's message format)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import gradio as gr
import pandas as pd

from tools.artifacts import ArtifactStore, artifact_store
from tools.markup import plain, unplain
from tools.registry import Registry
from tools.views import Part
from tutor.chat import Tutor
from tutor.conversation import Conversation
from tutor.events import (
    Citation,
    Citations,
    Comparison,
    Notice,
    Options,
    QuizAsk,
    QuizResult,
    TextDelta,
    ToolEnd,
    ToolProgress,
    ToolStart,
)
from tutor.learner_store import LearnerError
from tutor.quiz import LETTERS
from tutor.render import broken, safely, trace_parts
from tutor.runner import SessionRuns

log = logging.getLogger(__name__)

EXAMPLES = [
    "How does Stable Diffusion work?",
    "What does the guidance scale do?",
    "How does a language model pick the next word?",
    "What do the generator and discriminator do in a GAN?",
    "/demo code a function that reverses a string",
    "/demo audio a rising beep",
    "/demo speak Generative models make new data.",
    "/demo train vae",
    "quiz me",
]
SAY = "say:"  # an option's value that is sent as the learner's next message (not a quiz choice)
NOTICE_ICON = {"info": "ℹ️", "warning": "⚠️", "error": "⛔"}


def render_citations(citations: list) -> str:
    lessons = [f"- {c.label()}" for c in citations if isinstance(c, Citation)]
    run = [f"- {c.label()}" for c in citations if not isinstance(c, Citation)]
    out = "\n\n---"
    if lessons:
        out += "\n**Sources from the lessons**\n" + "\n".join(lessons)
    if run:
        out += "\n\n**Sources from your run**\n" + "\n".join(run)
    return out


def _text(content) -> str | None:
    """A message's text, whether Gradio hands it over as a string or as content blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text"]
        return "\n".join(texts) if texts else None
    return None


def chat_history(messages: list[dict]) -> list[dict]:
    """Earlier turns as plain {role, content} text, for backends that take history (the learner's
    words as they typed them)."""
    out = []
    for m in messages or []:
        text = _text(m.get("content"))
        if text is not None and m.get("role") in ("user", "assistant"):
            out.append({"role": m["role"], "content": unplain(text) if m["role"] == "user" else text})
    return out


def save_trace(trace, folder: Path) -> str:
    """The trace as a JSON file the chat offers for download, in the run's own folder."""
    path = folder / f"{trace.tool}-trace.json"
    path.write_text(trace.model_dump_json(indent=2))
    return str(path)


def quiz_message(ask: QuizAsk) -> dict:
    """A question as a chat message; its choices are buttons (message `options`) whose values name the
    question, so a late second click is recognised as an answer to an already answered question."""
    q = ask.question
    content = q.markdown()
    options = [
        {"value": f"{q.id}:{LETTERS[i]}", "label": f"{LETTERS[i]}. {c}"} for i, c in enumerate(q.choices)
    ]
    return {"role": "assistant", "content": content, "options": options}


def _at(messages: list[dict], message: dict) -> int:
    return next(i for i, m in enumerate(messages) if m is message)


def part_messages(parts: list[Part]) -> list[dict]:
    """Parts drawn into chat messages: Markdown runs joined into one message, each picture its own
    (its caption under it); a part that cannot be drawn becomes a note in its place."""
    out: list[dict] = []
    for part in parts:
        drawn = safely(part.draw, part.what)
        text = broken(part.what) if drawn is None else drawn if part.kind == "markdown" else None
        if text is not None:
            if out and isinstance(out[-1]["content"], str):
                out[-1]["content"] += "\n\n" + text
            else:
                out.append({"role": "assistant", "content": text})
            continue
        if part.kind == "audio":  # a file message: the chat shows an audio player
            out.append({"role": "assistant", "content": {"path": drawn}})
        else:
            alt = part.caption.replace("*", "") or part.what  # for screen readers: what the picture shows
            out.append({"role": "assistant", "content": picture_content(drawn, alt)})
        if part.caption:
            out.append({"role": "assistant", "content": f"*{part.caption}*"})
    return out


def picture_content(path: str, alt: str) -> dict:
    """A picture as chat content: Gradio's image component, whose `alt_text` reaches the page's <img>
    (a plain file message's alt text is dropped by Gradio 6.31's chatbot)."""
    return {
        "type": "component",
        "component": "image",
        "value": {"path": path, "meta": {"_type": "gradio.FileData"}},
        "constructor_args": {},
        "props": {"alt_text": alt, "show_label": False, "container": False, "buttons": ["fullscreen"]},
    }


def trace_messages(trace, tool, folder: Path) -> list[dict]:
    """A finished run as chat messages: header, the tool's views, key insight, the JSON to download."""
    out = part_messages(trace_parts(trace, tool, folder))
    path = safely(lambda: save_trace(trace, folder), "trace JSON")
    out.append({"role": "assistant", "content": {"path": path} if path else broken("trace JSON")})
    return out


class _Fold:
    """Folds one turn's events into the chat messages: the reply, tool steps, a run's live view."""

    def __init__(self, messages: list[dict], reply: dict, registry: Registry, files: ArtifactStore):
        self.messages, self.reply, self.registry, self.files = messages, reply, registry, files
        self.step: dict | None = None  # the tool step being run (a folded message)
        self.live: list[dict] = []  # a run's live view (e.g. training table, chart, sample) while it runs
        self.rows: list = []

    def note(self, text: str) -> None:
        sep = "\n\n" if self.reply["content"] else ""
        self.reply["content"] += f"{sep}{text}"

    def event(self, event) -> bool:
        """Apply one event; whether the messages changed."""
        if isinstance(event, TextDelta):
            self.reply["content"] += event.text
        elif isinstance(event, Notice):
            self.note(f"{NOTICE_ICON.get(event.level, '⚠️')} {event.text}")
        elif isinstance(event, Citations) and event.citations:
            self.reply["content"] += render_citations(event.citations)
        elif isinstance(event, QuizResult):
            self.reply["content"] += event.markdown()
        elif isinstance(event, QuizAsk):
            self.messages.append(quiz_message(event))
        elif isinstance(event, Options):
            self.reply["options"] = [{"value": SAY + o.say, "label": o.label} for o in event.options]
        elif isinstance(event, ToolStart):
            self.start(event)
        elif isinstance(event, ToolProgress) and event.row is not None:
            self.update(event)
        elif isinstance(event, ToolProgress) and self.step is not None:
            self.step["content"] += f"\n\n… {plain(event.line)}"
        elif isinstance(event, ToolEnd):
            self.end(event)
        elif isinstance(event, Comparison):
            parts = self.registry.get(event.name).compare(event.a, event.b, self._folder(event.folder))
            at = _at(self.messages, self.reply)
            self.messages[at:at] = part_messages(parts)
        else:
            return False
        return True

    def start(self, event: ToolStart) -> None:
        self.step = {
            "role": "assistant",
            "content": f"Arguments: {plain(json.dumps(event.args, ensure_ascii=False))}",
            "metadata": {"title": f"🛠️ Running {plain(event.name)}", "status": "pending"},
        }
        self.messages.insert(_at(self.messages, self.reply), self.step)

    def _folder(self, folder: str | None) -> Path:
        return Path(folder) if folder else self.files.new_run("view")

    def update(self, event: ToolProgress) -> None:
        """A live row (e.g. a finished epoch): the tool's live view is drawn again in place."""
        self.rows.append(event.row)
        parts = self.registry.get(event.name).live(list(self.rows), self._folder(event.folder))
        self.clear_live()
        self.live = part_messages(parts)
        at = _at(self.messages, self.reply)
        self.messages[at:at] = self.live

    def end(self, event: ToolEnd) -> None:
        self.close_step(event.ok, event.duration_ms / 1000)
        if event.ok and event.shown:
            at = _at(self.messages, self.reply)
            tool = self.registry.get(event.name)
            self.messages[at:at] = trace_messages(event.trace, tool, self._folder(event.folder))

    def clear_live(self) -> None:
        for message in self.live:
            del self.messages[_at(self.messages, message)]
        self.live = []

    def close_step(self, ok: bool, seconds: float | None = None) -> None:
        """Mark the running step finished (or failed) and let the live view give way."""
        if self.step is not None:
            title = self.step["metadata"]["title"].replace("Running ", "")
            self.step["metadata"] = {
                "title": f"{title} {'finished' if ok else 'failed'}",
                "status": "done",
                **({"duration": round(seconds, 2)} if seconds is not None else {}),
            }
            self.step = None
        self.clear_live()
        self.rows = []


def _show(events: Iterator, messages: list[dict], reply: dict, tutor: Tutor) -> Iterator[list[dict]]:
    """Fold tutor events into the chat messages, yielding after each change. Whatever fails, the
    learner keeps what was already shown, gets a short note, and no step stays "running"."""
    fold = _Fold(messages, reply, tutor.registry, artifact_store(tutor.settings))
    try:
        for event in events:
            try:
                changed = fold.event(event)
            except Exception as exc:  # a part that cannot be shown becomes a note
                log.exception("could not show %s", type(event).__name__)
                fold.note(f"⚠️ Part of this answer could not be shown ({type(exc).__name__}).")
                changed = True
            if changed:
                yield messages
    except Exception as exc:  # the turn itself failed: say so, keep the page serving
        log.exception("turn failed")
        fold.note(f"⛔ Something went wrong on my side ({type(exc).__name__}). Please try again.")
    fold.close_step(ok=False)
    if not reply["content"]:
        del messages[_at(messages, reply)]
    yield messages


def respond(
    tutor: Tutor,
    message: str,
    messages: list[dict],
    name: str = "",
    session: Conversation | None = None,
    runs: SessionRuns | None = None,
    token: str | None = None,
    shown: str | None = None,
) -> Iterator[tuple[str, list[dict], Conversation]]:
    """Stream one turn into the chat: yields (new textbox value, chat messages, quiz session).

    The learner's words are shown as typed (never as HTML); tool runs appear as folded steps (Gradio
    message metadata), then the rendered trace and its JSON; quiz questions carry their choices as
    buttons. `token` is the browser's id: the page always has one, so it is never the terminal's None.
    `shown`: what the learner's bubble shows when it is not the message (a clicked option's label).
    """
    session = session if session is not None else Conversation()
    session.learner, session.token = name or "", token or ""
    history = chat_history(messages)
    messages = list(messages or []) + [{"role": "user", "content": plain(shown or message or " ")}]
    reply = {"role": "assistant", "content": ""}
    messages.append(reply)
    yield "", messages, session
    for shown in _show(tutor.turn(message, history, session, runs), messages, reply, tutor):
        yield "", shown, session


def choose_option(
    tutor: Tutor,
    messages: list[dict],
    name: str,
    session: Conversation | None,
    token: str | None,
    evt: gr.SelectData,
    runs: SessionRuns | None = None,
) -> Iterator[tuple[list[dict], Conversation]]:
    """A click on an option: a next step (sent as the learner's message, the button's label shown), or
    a quiz choice (the answer to the question that choice belongs to)."""
    value = str(evt.value)
    label = next(
        (o.get("label") for m in messages for o in m.get("options") or [] if o.get("value") == value), None
    )
    if value.startswith(SAY):
        said = respond(tutor, value[len(SAY) :], messages, name, session, runs, token, label)
        for _, shown, conv in said:
            yield shown, conv
        return
    session = session if session is not None else Conversation()
    session.learner, session.token = name or "", token or ""
    question_id, _, letter = value.partition(":")
    label = label or letter
    messages = list(messages or []) + [{"role": "user", "content": plain(label)}]
    reply = {"role": "assistant", "content": ""}
    messages.append(reply)
    yield messages, session
    for shown in _show(tutor.quiz.answer(session, letter, question_id), messages, reply, tutor):
        yield shown, session


def no_progress() -> pd.DataFrame:
    """An empty mastery table with typed columns (untyped empty columns would chart as numbers)."""
    return pd.DataFrame({"concept": pd.Series(dtype=str), "mastery": pd.Series(dtype=float)})


def progress_view(tutor: Tutor, name: str, token: str | None = None) -> tuple[pd.DataFrame, str]:
    """Mastery per concept (for the bar chart) and a summary with what is due for review."""
    empty = no_progress()
    try:
        progress = tutor.quiz.engine.progress(name, token or "")
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
        f"**{plain(name.strip())}**: {progress.correct}/{progress.attempts} answers right · "
        f"**{progress.mastered}** of {len(progress.concepts)} concepts mastered · due for review: {due}"
    )
    return (frame if rows else empty), summary


def map_view(tutor: Tutor, name: str, token: str | None = None) -> str | None:
    """The concept map coloured by the learner's mastery (every concept grey before the first answer),
    drawn again only when their progress changed; None (no picture) if it cannot be drawn."""
    from tutor.concept_map import draw

    try:
        progress = tutor.quiz.engine.progress(name, token or "")
        rows, due = progress.concepts, set(progress.due)
    except LearnerError:
        rows, due = [], set()
    key = repr(([(r["slug"], r["p_known"], r["attempts"]) for r in rows], sorted(due)))
    drawn = _maps.get(key)
    if drawn is None or not Path(drawn).exists():
        path = artifact_store(tutor.settings).new_file("concept-map.png")
        drawn = safely(lambda: draw(tutor.teacher.concepts, rows, due, path), "concept map")
        if drawn:
            _maps[key] = drawn
            while len(_maps) > MAPS_KEPT:
                _maps.pop(next(iter(_maps)))  # the oldest first
    return drawn


_maps: dict[str, str] = {}  # learner state -> its drawn map (drawing takes a moment; states repeat)
MAPS_KEPT = 512


def export_progress(tutor: Tutor, name: str, token: str | None = None) -> tuple[str | None, str]:
    """The learner's own records as a JSON file (a fresh, unguessable path in the artifacts folder)."""
    store = tutor.quiz.engine.store
    try:
        data = store.export(store.learner(name, False, token or ""))
    except LearnerError as e:
        return None, str(e)
    path = artifact_store(tutor.settings).new_file("progress.json")
    path.write_text(json.dumps(data, indent=2))
    return str(path), f"Exported {len(data['attempts'])} answers."


def reset_progress(tutor: Tutor, name: str, sure: bool, token: str | None = None) -> str:
    if not sure:
        return "Tick **Yes, erase my progress** first: a reset cannot be undone."
    store = tutor.quiz.engine.store
    try:
        removed = store.reset(store.learner(name, False, token or ""))
    except LearnerError as e:
        return str(e)
    return f"Progress erased ({removed} answers)."

"""One chat turn: check the message, retrieve lesson sections, answer from them, cite them.

This is the single entry point used by the page and by `genai-tutor ask`. It yields events
(tutor.events) as they happen so answers stream. A small embedded model can be wrong, so with it the
answer *leads with the lesson passage itself* and the model only adds a short, labelled explanation;
a stronger backend writes the answer from the numbered passages and cites them.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from knowledge.store import Hit, KnowledgeStore
from tools.markup import code, no_html
from tools.registry import Registry
from tutor import run_facts
from tutor.agent import agent_stream
from tutor.events import Citation, Citations, Event, Notice, TextDelta, ToolEnd, TurnDone
from tutor.llm import Backend, make_backend
from tutor.llm.errors import explain_llm_error
from tutor.quiz import open_engine
from tutor.quiz_turn import QuizSession, QuizTurns
from tutor.render import compare_table
from tutor.router import Router
from tutor.runner import Runner, SessionRuns
from tutor.settings import Settings

CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
QUOTE_CHARS = 700  # the lesson passage shown before the model's words

GROUNDED_SYSTEM = (
    "You are a friendly tutor for beginners learning generative AI. Using only the lesson text, "
    "answer the question in one or two short, simple sentences."
)
CITING_SYSTEM = (
    "You are a patient tutor who teaches generative AI. Answer the learner's question using only the "
    "numbered lesson passages below, in a warm, clear tutor's voice, in at most 150 words. Mark each "
    "claim with the passage number in brackets, like [1]. If the passages do not answer the question, "
    "say so.\n\n{passages}"
)


def clean_message(text: str | None) -> str:
    """The message without control characters (newlines and tabs stay) or surrounding blanks."""
    return CONTROL_CHARS.sub("", text or "").strip()


def _excerpt(text: str, limit: int = QUOTE_CHARS) -> str:
    """At most `limit` characters, cut at a sentence end when there is one."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    end = max(cut.rfind(". "), cut.rfind(".\n"))
    return cut[: end + 1] if end > limit // 2 else cut.rstrip() + " …"


def _quote(text: str) -> str:
    return "\n".join("> " + line if line.strip() else ">" for line in text.splitlines())


@dataclass(frozen=True)
class _FirstToken:
    """Internal marker: when the model's first token arrived (for ttft_ms); never leaves `turn`."""

    at: float


class Tutor:
    def __init__(
        self,
        settings: Settings,
        store: KnowledgeStore,
        backend: Backend,
        registry: Registry | None = None,
        quiz: QuizTurns | None = None,
    ):
        self.settings = settings
        self.store = store
        self.backend = backend
        self.chat_model = backend.chat_model
        self.registry = registry or Registry(settings)
        self.runner = Runner(self.registry, settings.max_demos, settings.demo_wait_s)
        self.router = Router(self.registry, store.embedder)
        self.quiz = quiz or QuizTurns(
            open_engine(settings, store.embedder, grader=backend.grader),
            self.registry.questions,
        )

    def validate(self, message: str) -> str | None:
        """Why the message cannot be answered, or None when it can."""
        if not message:
            return "Your message is empty. Ask me something, for example: *What does the guidance scale do?*"
        if len(message) > self.settings.max_message_chars:
            return (
                f"Your message has {len(message):,} characters; I read at most "
                f"{self.settings.max_message_chars:,}. Please shorten it or ask one question at a time."
            )
        return None

    def turn(
        self,
        message: str | None,
        history: Iterable[dict] = (),
        session: QuizSession | None = None,
        runs: SessionRuns | None = None,
    ) -> Iterator[Event]:
        """One turn. `session` carries the quiz state of the page session or terminal it comes from;
        `runs` its demos (one at a time; setting `runs.cancel` stops a running one after its step)."""
        start = time.perf_counter()
        message = clean_message(message)
        if (
            session is not None
            and session.open_id
            and (not message or self.quiz.expects_answer(session, message))
        ):
            yield from self.quiz.answer(session, message[: self.settings.max_message_chars])
            yield TurnDone(answer="", timings={"total_ms": _ms(start)})
            return
        problem = self.validate(message)
        if problem:
            yield Notice(problem)
            yield TurnDone(answer=problem, timings={"total_ms": _ms(start)})
            return
        if self.quiz.is_request(message):
            yield from self.quiz.request(session or QuizSession(), message)
            yield TurnDone(answer="", timings={"total_ms": _ms(start)})
            return
        last_run = session.last_trace if session is not None else None
        if last_run is not None and run_facts.is_about_run(message) and not message.startswith("/"):
            yield from self._about_run(last_run, message, start)
            return
        answer, tools, citations, timings = [], [], [], {}
        for event in self._respond(message, list(history), start, timings, runs):
            if isinstance(event, _FirstToken):
                timings.setdefault("ttft_ms", _ms(start, event.at))
                continue
            if isinstance(event, TextDelta):
                answer.append(event.text)
            elif isinstance(event, ToolEnd):
                tools.append(event.summary())
                if event.ok and session is not None and self.quiz.remember_run(session, event.trace):
                    yield event
                    yield TextDelta("\n\n🔬 Quiz yourself on this run: type **/quiz run**.\n\n")
                    continue
            elif isinstance(event, Citations):
                citations = event.citations
            yield event
        timings["total_ms"] = _ms(start)
        yield TurnDone(answer="".join(answer), citations=citations, tools=tools, timings=timings)

    def _respond(self, message: str, history: list[dict], start: float, timings: dict, runs=None):
        if not self.backend.calls_tools:  # routing policy: commands, then the semantic router
            route = self.router.route(message)
            if route.kind == "help":
                yield TextDelta(self.router.help_text())
                return
            if route.kind == "unknown":
                yield Notice(f"I do not know the command {code(message.split()[0])}.", "info")
                yield TextDelta(self.router.help_text())
                return
            if route.kind == "compare":
                yield from self._compare(route.tool, route.text, runs)
                return
            if route.kind == "tool":
                yield from self._demo(route.tool, {"prompt": route.text}, runs)
                return
            message = route.text
        hits = self.store.search(message, k=self.settings.retrieval_k)
        timings["retrieval_ms"] = _ms(start)
        relevant = [h for h in hits if h.score >= self.settings.min_relevance]
        if self.backend.calls_tools:
            yield from self._agent(message, relevant, history, runs)
        elif relevant:
            yield from self._grounded(message, relevant)
        else:
            yield TextDelta(self._nothing_found(hits))
        if relevant:
            yield Citations(_citations(relevant))

    def _about_run(self, trace, message: str, start: float) -> Iterator[Event]:
        """A question about the last run: its closest measured facts, each cited as a stage of the run."""
        facts = run_facts.closest(self.store.embedder, self.registry.facts(trace), message)
        citations = [run_facts.cite(trace.tool, f) for f in facts]
        text = (
            run_facts.answer(facts, citations)
            if facts
            else "I have no measured facts about that run to show."
        )
        yield TextDelta(text)
        if citations:
            yield Citations(citations)
        yield TurnDone(answer=text, citations=citations, timings={"total_ms": _ms(start)})

    def _demo(self, name: str, args: dict, runs: SessionRuns | None = None) -> Iterator[Event]:
        """Routing policy: run the tool; the run's own key insight is the prose."""
        for event in self.runner.run(name, args, runs):
            yield event
            if isinstance(event, ToolEnd):
                if event.ok:
                    yield TextDelta(
                        f"That was a real run of **{name}** on your prompt; every number above was measured "
                        "in it. Ask me about any stage, or run it "
                        "again with another prompt."
                    )
                else:
                    yield Notice(event.error, level="error")

    def _compare(self, name: str, prompt: str, runs: SessionRuns | None = None) -> Iterator[Event]:
        """A tool and its counterpart on one prompt, then what each let us observe."""
        names = [name, self.registry.classes[name].counterpart]
        ends = []
        for name in names:
            for event in self.runner.run(name, {"prompt": prompt}, runs):
                yield event
                if isinstance(event, ToolEnd):
                    ends.append(event)
                    if not event.ok:
                        yield Notice(event.error, level="warning")
        yield TextDelta(compare_table(ends, [self.registry.get(n) for n in names]))

    def _grounded(self, message: str, hits: list[Hit]) -> Iterator[Event | _FirstToken]:
        """Lesson passage first (always right), then the small model's short explanation of it."""
        top = hits[0]
        passage = _excerpt(top.text)
        yield TextDelta(f"**From the lesson *{top.title}* — {top.section}:**\n\n{_quote(passage)}\n\n")
        context = "\n\n".join(_excerpt(h.text, 500) for h in hits[:2])
        messages = [
            SystemMessage(GROUNDED_SYSTEM),
            HumanMessage(f"Lesson text:\n{context}\n\nQuestion: {message}"),
        ]
        yield TextDelta("**In short:** ")
        yield from self._model_stream(messages, stop=["\n\n"])  # one paragraph: small models ramble

    def _agent(
        self, message: str, hits: list[Hit], history: list[dict], runs: SessionRuns | None = None
    ) -> Iterator[Event | _FirstToken]:
        """Tool-calling policy: the model answers from numbered passages (citing [n]) or runs demos."""
        passages = "\n\n".join(f"[{i}] {h.title} — {h.section}\n{h.text}" for i, h in enumerate(hits, 1))
        messages: list[BaseMessage] = []
        for turn in history[-6:]:
            content = turn.get("content")
            if isinstance(content, str) and turn.get("role") in ("user", "assistant"):
                messages.append(HumanMessage(content) if turn["role"] == "user" else AIMessage(content))
        messages.append(HumanMessage(message))
        system = CITING_SYSTEM.format(passages=passages or "(no lesson passage matches this message)")
        first = True
        try:
            for event in agent_stream(self.chat_model, self.runner, system, messages, runs):
                if first and isinstance(event, TextDelta):
                    first = False
                    yield _FirstToken(time.perf_counter())
                yield event
        except Exception as exc:  # any backend failure becomes a message; the learner keeps the lesson
            yield Notice(explain_llm_error(exc, where=self.backend.where), level="error")
            if hits:
                top = hits[0]
                yield TextDelta(
                    f"\n\n**From the lesson *{top.title}* — {top.section}:**\n\n{_quote(_excerpt(top.text))}"
                )

    def _model_stream(self, messages: list[BaseMessage], stop: list[str] | None = None):
        """Stream the embedded model's words; a failure becomes a Notice after the lesson text."""
        first = True
        try:
            for chunk in self.chat_model.stream(messages, stop=stop):
                if chunk.text:
                    if first:
                        yield _FirstToken(time.perf_counter())
                        first = False
                    yield TextDelta(no_html(chunk.text))  # a small model may echo the learner's HTML
        except Exception as exc:  # any backend failure becomes a message; the turn goes on
            yield Notice(explain_llm_error(exc), level="error")

    def ask(self, message: str, history: Iterable[dict] = ()) -> dict:
        """Run one turn to the end and return the `ask` JSON (see the README's command line)."""
        notices: list[str] = []
        for event in self.turn(message, history):
            if isinstance(event, Notice):
                notices.append(event.text)
            if isinstance(event, TurnDone):
                result = event.to_dict()
                if notices:
                    result["notices"] = notices
                return result
        raise AssertionError("a turn always ends with TurnDone")

    def _nothing_found(self, hits: list[Hit]) -> str:
        closest = f" The closest section I have is *{hits[0].title} — {hits[0].section}*." if hits else ""
        return (
            "I could not find this in my lessons, so I would rather not guess." + closest + " I teach how "
            "generative AI works: tokens and embeddings, transformers, sampling, diffusion, Stable "
            "Diffusion, GANs, DALL-E and more. Try asking about one of those."
        )


def open_store(settings: Settings) -> KnowledgeStore:
    """The lesson store the settings name (the embedding model loads lazily)."""
    from knowledge.embedder import Embedder
    from knowledge.store import open_client

    return KnowledgeStore(open_client(settings.home, settings.chroma_url), Embedder(settings.torch_device()))


def build_tutor(settings: Settings) -> Tutor:
    """The tutor with the store and chat model the settings name (model weights load lazily)."""
    return Tutor(settings, open_store(settings), make_backend(settings))


def _citations(hits: list[Hit]) -> list[Citation]:
    seen, out = set(), []
    for h in hits:
        if (h.lesson_id, h.section) not in seen:
            seen.add((h.lesson_id, h.section))
            out.append(Citation(h.lesson_id, h.title, h.section, h.concepts))
    return out


def _ms(start: float, end: float | None = None) -> float:
    return round(((end or time.perf_counter()) - start) * 1000, 1)

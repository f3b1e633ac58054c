"""One chat turn: understand the message in its conversation, then teach, run, quiz or guide.

This is the single entry point used by the page, `genai-tutor ask` and `genai-tutor chat`. It yields
events (tutor.events) as they happen so answers stream. With the small embedded model nothing it writes
is shown as fact: explanations are composed from authored, checked teaching content and the lessons
(tutor.teach), questions about a run from the run's own numbers, and the model is not asked to write.
A strong backend (tool calling) writes the answer from the same numbered passages and cites them.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from knowledge.store import Hit, KnowledgeStore
from tools.markup import code
from tools.registry import Registry
from tutor import dialogue, explore, predict, run_facts
from tutor.agent import agent_stream
from tutor.conversation import Conversation
from tutor.events import (
    Citation,
    Citations,
    Event,
    Notice,
    Options,
    QuizAsk,
    QuizResult,
    TextDelta,
    ToolEnd,
    TurnDone,
)
from tutor.guide import Guide
from tutor.intents import Intent, Understanding
from tutor.llm import Backend, make_backend
from tutor.llm.errors import explain_llm_error
from tutor.quiz import open_engine
from tutor.quiz_turn import QuizTurns
from tutor.render import compare_table
from tutor.router import Router
from tutor.runner import Runner, SessionRuns
from tutor.settings import ConfigError, Settings
from tutor.teach import FOLLOW_UPS, Teacher, excerpt, quote

CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

CITING_SYSTEM = (
    "You are a patient tutor who teaches generative AI. Answer the learner's question using only the "
    "numbered passages below (lesson sections and checked teaching notes), in a warm, clear tutor's "
    "voice, in at most 150 words: the direct answer first, in plain words, then one useful detail, then "
    "one short question that checks understanding. Mark each claim with the passage number in brackets, "
    "like [1]. If the passages do not answer the question, say so.\n\n{passages}"
)


def clean_message(text: str | None) -> str:
    """The message without control characters (newlines and tabs stay) or surrounding blanks."""
    return CONTROL_CHARS.sub("", text or "").strip()


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
        self.teacher = Teacher(store.embedder)
        self.guide = Guide(self.teacher, self.quiz.engine)
        self.understanding = Understanding(self.router, store, settings.min_relevance, settings.retrieval_k)

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
        session: Conversation | None = None,
        runs: SessionRuns | None = None,
    ) -> Iterator[Event]:
        """One turn. `session` is the conversation of the page session or terminal it comes from (a
        Conversation keeps the dialogue too); `runs` its demos (one at a time; setting `runs.cancel`
        stops a running one after its step)."""
        start = time.perf_counter()
        conv = session if session is not None else Conversation()
        message = clean_message(message)
        if conv.open_id and (not message or self.quiz.expects_answer(conv, message)):
            said = []
            for event in self.quiz.answer(conv, message[: self.settings.max_message_chars]):
                said.append(_quiz_text(event))
                yield event
            yield TurnDone(answer="\n\n".join(t for t in said if t), timings={"total_ms": _ms(start)})
            return
        problem = self.validate(message)
        if problem:
            yield Notice(problem)
            yield TurnDone(answer=problem, timings={"total_ms": _ms(start)})
            return
        # the page sends its chat history; a terminal's conversation keeps its own
        history = list(history) or [{"role": role, "content": text} for role, text in conv.turns]
        conv.remember("user", message)
        answer, tools, citations, options, timings = [], [], [], [], {}
        for event in self._dispatch(message, history, conv, start, timings, runs):
            if isinstance(event, _FirstToken):
                timings.setdefault("ttft_ms", _ms(start, event.at))
                continue
            if isinstance(event, TextDelta):
                timings.setdefault("ttft_ms", _ms(start))
                answer.append(event.text)
            elif isinstance(event, ToolEnd):
                tools.append(event.summary())
                if event.ok and self.quiz.remember_run(conv, event.trace):
                    yield event
                    yield TextDelta("\n\n🔬 Quiz yourself on this run: type **/quiz run**.\n\n")
                    continue
            elif isinstance(event, Citations):
                citations = event.citations
            elif isinstance(event, Options):
                options = event.options
            elif isinstance(event, QuizAsk | QuizResult):
                answer.append(_quiz_text(event))
            yield event
        timings["total_ms"] = _ms(start)
        conv.remember("assistant", "".join(answer))
        yield TurnDone("".join(answer), citations, tools, timings, options)

    def _dispatch(self, message, history, conv: Conversation, start, timings, runs) -> Iterator:
        """What the message asks for, in the conversation it belongs to."""
        if self.quiz.is_request(message):
            conv.guiding = None
            yield from self.quiz.request(conv, message)
            return
        offered, conv.offer = conv.offer, None
        if offered and dialogue.YES.match(message):
            message = offered
        elif offered and dialogue.NO.match(message):
            yield TextDelta("No problem. What would you like to know?")
            yield Options(dialogue.next_steps(self.teacher, conv))
            return
        command, _, rest = message.partition(" ")
        if command in ("/guide", "/more"):
            yield from (self.guide.command if command == "/guide" else self._more)(conv, rest.strip())
            return
        if command in ("/rerun", "/predict", "/reveal"):
            yield from self._experiment(command, rest, conv, runs)
            return
        if conv.guiding is not None and dialogue.is_answer(message):
            yield from self.guide.reply(conv, message)
            return
        conv.guiding = None
        if self.backend.calls_tools and not message.startswith("/"):
            yield from self._agent(message, history, conv, start, timings, runs)
        elif message.startswith("/"):
            yield from self._command(message, conv, start, timings, runs)
        else:
            topic = self.teacher.title(conv.concept) if conv.concept else None
            intent = self.understanding.classify(message, topic, conv.last_trace is not None)
            timings["retrieval_ms"] = _ms(start)
            yield from self._intent(intent, message, conv, runs)

    def _intent(self, intent: Intent, message: str, conv: Conversation, runs) -> Iterator[Event]:
        kind = intent.kind
        if kind in ("greeting", "who", "thanks"):
            text, options = dialogue.greeting(self.teacher, conv, kind)
        elif kind in ("injection", "offtopic"):
            text, options = dialogue.decline(self.teacher, conv, kind, message)
        elif kind == "offer":
            cls = self.registry.classes[intent.detail]
            command = f"/demo {cls.command or intent.detail} {intent.text}"
            text, options = dialogue.offer(cls.noun or f"the **{intent.detail}** demo", intent.text, command)
            conv.offer = command
        elif kind == "more":
            yield from self._more(conv, intent.detail)
            return
        elif kind == "run":
            yield from run_facts.about_run(self, conv, message)
            return
        elif kind == "demo":
            yield from self._demo(intent.detail, {"prompt": intent.text}, conv, runs)
            return
        else:
            yield from self._explain(message, intent.hits, conv)
            return
        yield TextDelta(text)
        yield Options(options)

    def _command(self, message: str, conv: Conversation, start, timings, runs) -> Iterator[Event]:
        route = self.router.route(message)
        if route.kind == "help":
            yield TextDelta(self.router.help_text())
        elif route.kind == "unknown":
            yield Notice(f"I do not know the command {code(message.split()[0])}.", "info")
            yield TextDelta(self.router.help_text())
        elif route.kind == "compare":
            yield from self._compare(route.tool, route.text, runs)
        elif route.kind == "tool":
            yield from self._demo(route.tool, {"prompt": route.text}, conv, runs)
        else:
            hits, relevant = self.understanding.lessons(route.text)
            timings["retrieval_ms"] = _ms(start)
            if relevant:
                yield from self._explain(route.text, relevant, conv)
            else:
                yield TextDelta(self._nothing_found(hits))

    def _explain(self, question: str, hits: list[Hit], conv: Conversation) -> Iterator[Event]:
        """Composed from checked content: plain words, the closest section, a check question (or, in
        guided mode, a guiding question instead of the explanation)."""
        slug = self.teacher.concept_for(question, hits)
        if conv.guide_mode:
            yield from self.guide.start(conv, slug)
            return
        answer = self.teacher.explain(slug, hits, self.guide.ask(conv, slug, check=True))
        conv.on_topic(answer.concept, answer.sections, answer.layers)
        yield TextDelta(answer.text)
        yield Citations(answer.citations)
        yield Options(answer.options)

    def _more(self, conv: Conversation, kind: str) -> Iterator[Event]:
        """Simpler, an example, or deeper: the current topic again, another layer of it."""
        if kind not in FOLLOW_UPS:
            yield Notice(f"`/more` takes one of: {', '.join(FOLLOW_UPS)}.", "info")
            return
        if conv.concept is None:
            yield TextDelta(
                "Ask me about something first, then I can make it simpler, show an example or go deeper."
            )
            yield Options(dialogue.START)
            return
        conv.guiding = None
        answer = self.teacher.follow_up(conv.concept, kind)
        conv.on_topic(answer.concept, answer.sections, answer.layers)
        yield TextDelta(answer.text)
        yield Citations(answer.citations)
        yield Options(answer.options)

    def _demo(self, name: str, args: dict, conv: Conversation, runs=None) -> Iterator[Event]:
        """Routing policy: run the tool; the run's own key insight is the prose."""
        for event in self.runner.run(name, args, runs):
            yield event
            if isinstance(event, ToolEnd):
                if event.ok:
                    yield TextDelta(
                        f"That was a real run of **{name}** on your prompt; every number above was measured "
                        "in it. Ask me about it (*which stage took longest in my run?*), change one setting "
                        "in the explorer beside the chat, or run it again with another prompt."
                    )
                    yield Options(predict.offer(self, conv))  # the trace is the conversation's last run now
                else:
                    yield Notice(event.error, level="error")

    def _experiment(self, command: str, rest: str, conv: Conversation, runs) -> Iterator[Event]:
        """Change one setting of the last run: directly, or after the learner predicted the outcome."""
        if command == "/rerun":
            yield from explore.rerun(self, conv, rest, runs)
        elif command == "/predict":
            yield from predict.ask(self, conv)
        else:
            yield from predict.reveal(self, conv, rest, runs)

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

    def _agent(
        self, message, history, conv: Conversation, start, timings, runs
    ) -> Iterator[Event | _FirstToken]:
        """Tool-calling policy: the model answers from numbered passages (citing [n]) or runs demos."""
        _, hits = self.understanding.lessons(message)
        timings["retrieval_ms"] = _ms(start)
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
                    f"\n\n**From the lesson *{top.title}* — {top.section}:**\n\n{quote(excerpt(top.text))}"
                )
        if hits:
            slug = self.teacher.concept_for(message, hits)
            conv.on_topic(slug, [h.section for h in hits], set())
            yield Citations(_citations(hits))
            yield Options(self.teacher.options(slug))

    def ask(self, message: str, history: Iterable[dict] = ()) -> dict:
        """Run one turn to the end and return the `ask` JSON (see the README's command line)."""
        return self.reply(message, Conversation(), history)

    def reply(self, message: str, conv: Conversation, history: Iterable[dict] = ()) -> dict:
        """One turn of a conversation, run to the end: the `ask`/`chat` JSON."""
        notices: list[str] = []
        for event in self.turn(message, history, conv):
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
    from knowledge.store import StoreUnreachable, open_client

    try:
        client = open_client(settings.home, settings.chroma_url)
    except StoreUnreachable as e:
        raise ConfigError(str(e)) from None
    return KnowledgeStore(client, Embedder(settings.torch_device()))


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


def _quiz_text(event) -> str:
    """A quiz event as the text a terminal shows (the page draws it as a message of its own)."""
    if isinstance(event, QuizAsk):
        return "\n\n" + event.question.markdown()
    if isinstance(event, QuizResult):
        return event.markdown()
    return getattr(event, "text", "")


def _ms(start: float, end: float | None = None) -> float:
    return round(((end or time.perf_counter()) - start) * 1000, 1)

"""The routing policy for the small embedded model: explicit commands, then a semantic router.

A 135M model cannot choose tools reliably, so the choice is made by embedding similarity between the
message and each tool's example phrasings (and the explanation route's); the model only writes prose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from knowledge.embedder import Embedder
from tools.registry import Registry

COMMANDS = {
    "/explain": "/explain QUESTION: answer from the lessons, with sources",
    "/demo": "/demo TOOL PROMPT: run a live demo and show its measured pipeline trace (tools below)",
    "/quiz": "/quiz [TOPIC | run | stop]: an adaptive quiz (also: *quiz me*, *quiz me on diffusion*)",
    "/guide": "/guide TOPIC: I ask, you answer, I guide (/guide on | off: always ask before explaining)",
    "/more": "/more simpler | example | deeper: the current topic again, another way",
    "/rerun": "/rerun SETTING VALUE: your last demo again with one setting changed, side by side",
    "/predict": "/predict: guess what one change to your last demo will do, then see it run",
    "/help": "/help: this list",
}
EXPLAIN_EXAMPLES = [
    "How does Stable Diffusion work?",
    "What does the guidance scale do?",
    "How does a language model pick the next word?",
    "What is a token?",
    "Explain attention to me",
    "What is the difference between a GAN and a diffusion model?",
    "Why do we normalise pixel values?",
    "What does temperature change when sampling?",
]
# A tool wins when its closest example is this similar to the message and beats the closest
# explanation example by the margin; anything else is treated as a question for the lessons.
MIN_TOOL_SCORE = 0.3
MARGIN = 0.05


@dataclass(frozen=True)
class Route:
    kind: str  # "explain" | "tool" | "compare" | "help" | "unknown" (quizzes are caught before routing)
    text: str = ""  # the question, or the tool's prompt
    tool: str | None = None  # for "compare": the tool whose counterpart runs beside it


def demo_prompt(message: str) -> str:
    """The text to give a generation tool, read from a natural request."""
    quoted = re.search(r"[\"“']([^\"”']{2,})[\"”']", message)
    if quoted:
        return quoted.group(1)
    after = re.search(r":\s*(\S.*)$", message)
    if after:
        return after.group(1).strip()
    asked = re.search(r"\b(?:writes?|writing|generates?|generating|composes?)\s+(.+)", message, re.I)
    if asked:
        return "Write " + re.split(r"\s+and\s+(?:show|explain)", asked.group(1))[0].rstrip(" ?.!") + "."
    about = re.search(r"\babout\s+(.+)", message, re.I)
    if about:
        return f"Write a short sentence about {about.group(1).rstrip(' ?.!')}."
    return message


class Router:
    def __init__(self, registry: Registry, embedder: Embedder):
        self.registry = registry
        self.embedder = embedder
        self._examples: tuple[list[str], np.ndarray] | None = None

    def _index(self) -> tuple[list[str], np.ndarray]:
        """Route label per example and the examples' unit vectors (embedded once)."""
        if self._examples is None:
            labels, texts = ["explain"] * len(EXPLAIN_EXAMPLES), list(EXPLAIN_EXAMPLES)
            for name in self.registry.names():
                examples = self.registry.classes[name].examples
                labels += [name] * len(examples)
                texts += examples
            self._examples = (labels, np.array(self.embedder.embed(texts)))
        return self._examples

    def scores(self, message: str) -> tuple[str | None, float, float]:
        """The closest tool (by its example phrasings), its similarity, and the closest explanation
        example's similarity."""
        labels, vectors = self._index()
        scores = vectors @ np.array(self.embedder.embed([message])[0])
        best: dict[str, float] = {}
        for label, score in zip(labels, scores.tolist(), strict=True):
            best[label] = max(best.get(label, -1.0), score)
        explain = best.pop("explain")
        tool = max(best, key=best.get) if best else None
        return tool, (best[tool] if tool else 0.0), explain

    def route(self, message: str) -> Route:
        if message.startswith("/"):
            return self._command(message)
        tool, score, explain = self.scores(message)
        if tool and score >= max(MIN_TOOL_SCORE, explain + MARGIN):
            return Route("tool", demo_prompt(message), tool)
        return Route("explain", message)

    def _command(self, message: str) -> Route:
        command, _, rest = message.partition(" ")
        rest = rest.strip()
        if command == "/help":
            return Route("help")
        if command == "/explain" and rest:
            return Route("explain", rest)
        if command == "/demo":
            kind, _, prompt = rest.partition(" ")
            classes = self.registry.classes
            paired = [n for n in self.registry.names() if classes[n].counterpart in classes]
            if kind == "compare" and prompt.strip() and paired:
                first, _, words = prompt.strip().partition(" ")  # `/demo compare [COMMAND] PROMPT`
                chosen = self.registry.resolve(first)
                if chosen in paired and words.strip():
                    return Route("compare", words.strip(), chosen)
                return Route("compare", prompt.strip(), paired[0])
            name = self.registry.resolve(kind)
            if name and prompt.strip():
                return Route("tool", prompt.strip(), name)
        return Route("unknown", message)

    def help_text(self) -> str:
        lines = ["Here is what I can do:", ""] + [f"- `{usage}`" for usage in COMMANDS.values()]
        lines += ["", "Live demos (tools), with the word to put after `/demo`:"]
        for n in self.registry.names():
            cls = self.registry.classes[n]
            lines.append(f"- `/demo {cls.command or n} PROMPT` (**{n}**): {cls.description}")
            if cls.counterpart:
                usage = f"/demo compare {cls.command or n} PROMPT"
                lines.append(f"- `{usage}`: **{n}** and **{cls.counterpart}** side by side")
        lines += [
            "",
            "Or just ask a question in your own words, e.g. *show me how a language model writes "
            "a sentence about cats* or *what does the guidance scale do?*",
        ]
        return "\n".join(lines)

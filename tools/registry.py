"""The tool registry: every class in the `genai_tutor.tools` entry-point group, built-ins included.

A plugin author writes one module with a Tool subclass and one line in their pyproject:
`[project.entry-points."genai_tutor.tools"] my_tool = "my_pkg.my_tool:MyTool"`.
"""

from __future__ import annotations

import logging
from importlib.metadata import entry_points

from knowledge.quizbank import QuizItem
from tools.base import Tool, ToolError
from tools.config import ToolConfig
from tools.trace import Fact, PipelineTrace

GROUP = "genai_tutor.tools"
log = logging.getLogger(__name__)


def discover() -> dict[str, type[Tool]]:
    """Tool classes by name, loaded from the installed entry points."""
    found: dict[str, type[Tool]] = {}
    for ep in entry_points(group=GROUP):
        cls = ep.load()
        if not (isinstance(cls, type) and issubclass(cls, Tool)):
            raise TypeError(f"entry point {ep.name!r} ({ep.value}) is not a genai-tutor Tool class")
        found[cls.name] = cls
    return found


class Registry:
    """Instantiates each tool once, on first use (construction is cheap; models load in `run`)."""

    def __init__(self, settings: ToolConfig, classes: dict[str, type[Tool]] | None = None):
        self.settings = settings
        self.classes = classes if classes is not None else discover()
        self._tools: dict[str, Tool] = {}

    def names(self) -> list[str]:
        return sorted(self.classes)

    def get(self, name: str) -> Tool:
        if name not in self.classes:
            known = ", ".join(self.names()) or "none"
            raise ToolError(f"There is no tool called {name!r}. Tools: {known}.")
        if name not in self._tools:
            self._tools[name] = self.classes[name](self.settings)
        return self._tools[name]

    def resolve(self, word: str) -> str | None:
        """The tool a word names: its name, or its short `command` (`/demo text` is text_generation)."""
        if word in self.classes:
            return word
        return next((n for n, cls in sorted(self.classes.items()) if cls.command == word), None)

    def commands(self) -> dict[str, str]:
        """Short command -> tool name, for the tools that have one."""
        return {cls.command: n for n, cls in sorted(self.classes.items()) if cls.command}

    def questions(self, trace: PipelineTrace) -> list[QuizItem]:
        """The run's quiz questions from the tool that made it; none if it cannot build them."""
        return self._ask(trace, "questions")

    def facts(self, trace: PipelineTrace) -> list[Fact]:
        """The run's measured facts from the tool that made it; none if it cannot state them."""
        return self._ask(trace, "facts")

    def _ask(self, trace: PipelineTrace, what: str) -> list:
        try:
            return [x for x in getattr(self.get(trace.tool), what)(trace) if x is not None]
        except Exception:  # a tool's bug costs the learner these extras, never the turn
            log.exception("%s of a %s run failed", what, trace.tool)
            return []

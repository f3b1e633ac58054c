"""The tool registry: every class in the `genai_tutor.tools` entry-point group, built-ins included.

A plugin author writes one module with a Tool subclass and one line in their pyproject:
`[project.entry-points."genai_tutor.tools"] my_tool = "my_pkg.my_tool:MyTool"`.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from tools.base import Tool, ToolError
from tutor.settings import Settings

GROUP = "genai_tutor.tools"


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

    def __init__(self, settings: Settings, classes: dict[str, type[Tool]] | None = None):
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

"""The Tool contract: one small class per file.

Class attributes name the tool and describe its arguments (a pydantic model with bounds) for the
agent; `examples` are phrasings the semantic router matches. Heavy models load on first `run`, never
at import or construction. Tools are registered through the `genai_tutor.tools` entry-point group,
built-ins included (see tools/registry.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from pydantic import BaseModel, ValidationError

from tools.trace import PipelineTrace
from tutor.settings import Settings

Progress = Callable[[str], None]  # a short line for the learner while a long run goes on


class ToolError(Exception):
    """A failure the learner can act on; the message says what went wrong and what to do."""


class Tool:
    name: ClassVar[str]
    description: ClassVar[str]
    Args: ClassVar[type[BaseModel]]
    examples: ClassVar[list[str]] = []

    def __init__(self, settings: Settings):
        self.settings = settings

    def parse(self, arguments: dict) -> BaseModel:
        """Validated arguments, or a ToolError naming each bad field and its allowed range."""
        try:
            return self.Args.model_validate(arguments)
        except ValidationError as e:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'arguments'}: {err['msg']}" for err in e.errors()
            )
            raise ToolError(f"{self.name} got unusable arguments ({problems}).") from e

    def __call__(self, arguments: dict, progress: Progress | None = None) -> PipelineTrace:
        return self.run(self.parse(arguments), progress or (lambda _line: None))

    def run(self, args: BaseModel, progress: Progress) -> PipelineTrace:
        raise NotImplementedError

"""The Tool contract: one small class per file.

Class attributes name the tool and describe its arguments (a pydantic model with bounds) for the
agent; `examples` are phrasings the semantic router matches. Heavy models load on first `run`, never
at import or construction. Tools are registered through the `genai_tutor.tools` entry-point group,
built-ins included (see tools/registry.py).

`run(args, ctx)` gets one RunContext: where to write its files (its own folder in the artifacts
store, the only place the page serves), how to report progress and live rows, and when to stop (the
learner's Stop button, or the tool's wall-clock ceiling `max_seconds`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel, ValidationError

from tools.artifacts import artifact_store
from tools.trace import PipelineTrace
from tutor.settings import Settings

Progress = Callable[[str], None]  # a short line for the learner while a long run goes on


def _quiet(_line: str) -> None:
    return None


@dataclass
class RunContext:
    """What one run gets from whoever starts it."""

    progress: Progress = _quiet
    on_row: Callable[[object], None] | None = None  # finished training epochs (EpochRow), live
    cancel: threading.Event = field(default_factory=threading.Event)  # set: stop after the current step
    deadline: float | None = None  # time.monotonic() past which the run stops (the wall-clock ceiling)
    folder: Path | None = None  # this run's own artifacts folder; made by Tool.__call__ when None

    def should_stop(self) -> bool:
        """Whether the learner stopped the run or its time is up (tools check between steps)."""
        if self.deadline is not None and time.monotonic() > self.deadline:
            self.cancel.set()
        return self.cancel.is_set()


class ToolError(Exception):
    """A failure the learner can act on; the message says what went wrong and what to do."""


class Tool:
    name: ClassVar[str]
    description: ClassVar[str]
    Args: ClassVar[type[BaseModel]]
    examples: ClassVar[list[str]] = []
    heavy: ClassVar[bool] = True  # runs a model on this machine: counts against the server's demo slots
    max_seconds: ClassVar[float] = 180.0  # wall-clock ceiling of one run

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

    def __call__(self, arguments: dict, ctx: RunContext | None = None) -> PipelineTrace:
        """Validate the arguments and run in a fresh artifacts folder (kept from pruning meanwhile)."""
        args = self.parse(arguments)
        ctx = ctx or RunContext()
        if ctx.deadline is None:
            ctx.deadline = time.monotonic() + self.max_seconds
        store = artifact_store(self.settings)
        if ctx.folder is None:
            ctx.folder = store.new_run(self.name)
        store.hold(ctx.folder)
        try:
            return self.run(args, ctx)
        finally:
            store.release(ctx.folder)

    def run(self, args: BaseModel, ctx: RunContext) -> PipelineTrace:
        raise NotImplementedError

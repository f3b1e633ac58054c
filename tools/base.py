"""The Tool contract: a tool owns its whole story, with generic defaults.

Class attributes name the tool and describe its arguments (a pydantic model with bounds) for the
agent and the command line; `examples` are phrasings the semantic router matches; `command` is its
short name after `/demo`. Tools are registered through the `genai_tutor.tools` entry-point group,
built-ins included (see tools/registry.py).

- `run(args, ctx)` does the work and returns a measured PipelineTrace. `ctx` is one RunContext: its
  own folder in the artifacts store (the only place the page serves), the device, progress lines,
  live rows, and when to stop (the learner's Stop button, or the tool's wall-clock ceiling).
  Heavy models load through `setup(key, load)`: once, on first use, never at import.
- `views(trace, folder)`: the parts the page shows (default: the stage table and the final image);
  `live(rows, folder)`: what to show while rows arrive (default: nothing).
- `questions(trace)`: quiz questions about the run (default: none).
- `facts(trace)`: measured statements about the run, each with the stage (and step or layer) it comes
  from, for answering a learner's questions about it (default: one per stage, from its note).
- `observed(trace)`: what the run let us see, for comparing it with its `counterpart` tool.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal, get_origin

from pydantic import BaseModel, ValidationError

from knowledge.quizbank import QuizItem
from tools.artifacts import artifact_store
from tools.config import ToolConfig
from tools.trace import Fact, PipelineTrace
from tools.views import Part, compare_runs, markdown, output_image, side_by_side, stage_table

Progress = Callable[[str], None]  # a short line for the learner while a long run goes on


def _quiet(_line: str) -> None:
    return None


@dataclass
class RunContext:
    """What one run gets from whoever starts it."""

    progress: Progress = _quiet
    on_row: Callable[[object], None] | None = None  # live updates while it runs (e.g. finished epochs)
    cancel: threading.Event = field(default_factory=threading.Event)  # set: stop after the current step
    deadline: float | None = None  # time.monotonic() past which the run stops (the wall-clock ceiling)
    folder: Path | None = None  # this run's own artifacts folder; made by Tool.__call__ when None
    device: str = "cpu"  # where models run ("cuda:0" or "cpu"); set by Tool.__call__ from the settings

    def should_stop(self) -> bool:
        """Whether the learner stopped the run or its time is up (tools check between steps)."""
        if self.deadline is not None and time.monotonic() > self.deadline:
            self.cancel.set()
        return self.cancel.is_set()


@dataclass(frozen=True)
class Prediction:
    """A question asked before re-running the last demo with one setting changed: what will happen?"""

    question: str  # Markdown
    knob: str
    value: str
    choices: list[str]  # the button labels, in order


KNOB_TYPES = (int, float, str, bool, int | None, float | None, str | None)


class ToolError(Exception):
    """A failure the learner can act on; the message says what went wrong and what to do."""


class Tool:
    name: ClassVar[str]
    description: ClassVar[str]
    Args: ClassVar[type[BaseModel]]
    examples: ClassVar[list[str]] = []
    command: ClassVar[str | None] = None  # `/demo COMMAND PROMPT`; the tool's name always works too
    counterpart: ClassVar[str | None] = None  # a tool doing the same job elsewhere, for `/demo compare`
    heavy: ClassVar[bool] = True  # runs a model on this machine: counts against the server's demo slots
    max_seconds: ClassVar[float] = 180.0  # wall-clock ceiling of one run
    not_knobs: ClassVar[tuple[str, ...]] = ()  # settings the explorer does not offer
    noun: ClassVar[str] = ""  # what it runs, in the tutor's words ("the language model")
    # the concept of the map each stage shows (stage name -> slug): "the idea behind" an answer about it
    concepts: ClassVar[dict[str, str]] = {}

    def __init__(self, settings: ToolConfig):
        self.settings = settings
        self._loaded: dict = {}
        self._loading = threading.Lock()

    def setup(self, key, load: Callable[[], object]):
        """What `load()` makes (a model, a pipeline), made once per key on first use and kept."""
        with self._loading:  # a second run that needs the same model waits for the first load
            if key not in self._loaded:
                self._loaded[key] = load()
            return self._loaded[key]

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
        ctx.device = self.settings.torch_device()
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

    def views(self, trace: PipelineTrace, folder: Path) -> list[Part]:
        """What the page shows of a finished run; pictures drawn here are written into `folder`."""
        return [markdown("stage table", lambda: stage_table(trace)), *output_image(trace)]

    def knobs(self, trace: PipelineTrace | None = None) -> list[str]:
        """The arguments a learner may change to re-run `trace` (any run of this tool when None) and
        compare: every plain setting but the prompt, the model, and the tool's `not_knobs`."""
        return [
            name
            for name, f in self.Args.model_fields.items()
            if name not in ("prompt", "model", *self.not_knobs)
            and (f.annotation in KNOB_TYPES or get_origin(f.annotation) is Literal)
        ]

    def compare(self, a: PipelineTrace, b: PipelineTrace, folder: Path) -> list[Part]:
        """Two runs that differ in one knob, side by side: what changed and what came out."""
        return [markdown("comparison", lambda: compare_runs(a, b)), *side_by_side(a, b, folder)]

    def prediction(self, trace: PipelineTrace) -> Prediction | None:
        """A prediction the learner can make about changing one setting of this run (default: none)."""
        return None

    def verdict(self, guess: Prediction, picked: int, a: PipelineTrace, b: PipelineTrace) -> tuple[bool, str]:
        """Whether choice `picked` came true in re-run `b` of run `a`, and what settles it."""
        raise NotImplementedError

    def frames(self, trace: PipelineTrace) -> list[tuple[str, str]]:
        """Pictures of the run in order, each with a label, for the page's slider (default: previews)."""
        previews = trace.output.get("previews") or []
        return [(p, f"step {i}") for i, p in enumerate(previews, 1) if isinstance(p, str)]

    def inside(self, trace: PipelineTrace) -> dict[str, tuple[list[str], str]]:
        """What a learner may pick to look inside a finished run (e.g. a layer and a head): each choice's
        options and its default, at most two choices; none (the default) when there is nothing to pick."""
        return {}

    def inside_figure(self, trace: PipelineTrace, picks: dict[str, str]) -> tuple[object, str]:
        """The interactive figure (Plotly) for the learner's picks, and a caption saying what to look at."""
        raise NotImplementedError

    def live(self, rows: list, folder: Path) -> list[Part]:
        """What the page shows while the run reports rows through `ctx.on_row`."""
        return []

    def questions(self, trace: PipelineTrace) -> list[QuizItem]:
        """Quiz questions about this run, answered from its own numbers."""
        return []

    def facts(self, trace: PipelineTrace) -> list[Fact]:
        """Measured statements about this run, each citing the stage it comes from."""
        return [Fact(text=s.note, stage=s.name) for s in trace.stages]

    def observed(self, trace: PipelineTrace) -> dict[str, str]:
        """What this run let us see, row by row, for a side-by-side with its counterpart."""
        hosted = trace.device == "api"
        return {
            "ran": f"yes, on {trace.device}, {trace.total_ms / 1000:.1f} s",
            "stages observed": str(len(trace.stages)),
            "stages with tensor shapes": str(sum(bool(s.input or s.output) for s in trace.stages)),
            "seed / reproducible": "no seed / no" if hosted else f"{trace.seed} / yes",
        }

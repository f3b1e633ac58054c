"""The pipeline trace: what a demo tool measured while it ran; `genai-tutor demo --json` prints it.

Every number in a trace comes from the run itself. `Clock` measures a stage's wall time.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Literal

from pydantic import BaseModel, Field


class TensorInfo(BaseModel):
    shape: list[int]
    dtype: str
    example: str = ""


class Artifact(BaseModel):
    kind: Literal["image", "audio", "plot", "table", "code"]  # code: a generated program, as a file
    path: str
    caption: str = ""


class Stage(BaseModel):
    name: str
    note: str  # what happened, for a learner
    input: TensorInfo | None = None
    output: TensorInfo | None = None
    duration_ms: float
    data: dict = Field(default_factory=dict)
    artifacts: list[Artifact] = Field(default_factory=list)


class EpochRow(BaseModel):
    epoch: int
    loss: float
    metrics: dict = Field(default_factory=dict)
    seconds: float


class LayerRow(BaseModel):
    name: str
    shape: list[int]
    summary: str
    data: dict = Field(default_factory=dict)


class PipelineTrace(BaseModel):
    tool: str
    title: str
    prompt: str
    device: str
    seed: int
    config: dict
    versions: dict
    stages: list[Stage]
    training: list[EpochRow] = Field(default_factory=list)
    layers: list[LayerRow] = Field(default_factory=list)
    output: dict
    key_insight: str
    total_ms: float

    def stage(self, name: str) -> Stage:
        return next(s for s in self.stages if s.name == name)


class Fact(BaseModel):
    """One measured statement about a run, with where it comes from (cited as a trace stage)."""

    text: str
    stage: str
    step: int | None = None
    layer: int | None = None


class Clock:
    """Stage timer: `with clock.stage() as t: ...; t.ms` after the block."""

    def __init__(self):
        self.start = time.perf_counter()
        self.ms = 0.0

    @contextmanager
    def stage(self):
        t0 = time.perf_counter()
        yield self
        self.ms = round((time.perf_counter() - t0) * 1000, 2)

    def total_ms(self) -> float:
        return round((time.perf_counter() - self.start) * 1000, 2)

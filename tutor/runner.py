"""Run registry tools inside chat turns, streaming their progress as events, within the server's limits.

Each tool runs in a worker thread so that progress reaches the page while the model works; any
failure ends as a ToolEnd with a learner-facing message, and the conversation goes on. Heavy work is
bounded three ways: a page session runs one demo at a time (`SessionRuns`), the server runs at most
`Settings.max_demos` heavy demos at once (the rest wait, and are told so, for `demo_wait_s`), and
every run stops at its tool's wall-clock ceiling (`Tool.max_seconds`).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch

from tools.base import RunContext, ToolError
from tools.registry import Registry
from tutor.events import ToolEnd, ToolProgress, ToolStart

GRACE_S = 10.0  # after the ceiling, how long a run gets to stop at its next step before we give up on it
WAIT_NOTE_S = 5.0  # while waiting for a demo slot, how often the learner hears that we still wait


def tool_failure_message(exc: BaseException) -> str:
    if isinstance(exc, ToolError):
        return str(exc)
    if isinstance(exc, torch.OutOfMemoryError):
        return "The demo ran out of memory. Try fewer tokens or steps, or a smaller model."
    return f"The demo failed ({type(exc).__name__}: {exc}). Try other settings, or ask me to explain instead."


@dataclass
class SessionRuns:
    """One page session's (or terminal's) demos: its Stop button, and the one demo it may run at a time."""

    cancel: threading.Event = field(default_factory=threading.Event)
    busy: threading.Lock = field(default_factory=threading.Lock)

    def new_turn(self) -> None:
        """A new message: an earlier Stop no longer applies, unless a demo of this session still runs."""
        if not self.busy.locked():
            self.cancel.clear()


class Runner:
    """Runs the registry's tools for the whole server (one per process)."""

    def __init__(self, registry: Registry, max_demos: int = 2, wait_s: float = 120.0):
        self.registry = registry
        self.max_demos, self.wait_s = max_demos, wait_s
        self._slots = threading.BoundedSemaphore(max_demos)
        self._running = 0  # heavy demos holding a slot now (for the waiting message)
        self._lock = threading.Lock()

    def run(
        self, name: str, args: dict, session: SessionRuns | None = None
    ) -> Iterator[ToolStart | ToolProgress | ToolEnd]:
        """Start, progress and end events of one run. Setting `session.cancel` stops tools that can stop
        after their current step; tools that report finished epochs stream them as ToolProgress rows."""
        yield ToolStart(name, args)
        start = time.perf_counter()
        session = session or SessionRuns()
        try:
            tool = self.registry.get(name)
        except ToolError as e:
            yield ToolEnd(name, args, False, 0.0, None, str(e))
            return
        if not session.busy.acquire(blocking=False):
            yield ToolEnd(name, args, False, 0.0, None, BUSY_SESSION)
            return
        try:
            slot = (yield from self._claim(name)) if tool.heavy else True
            if not slot:
                yield ToolEnd(name, args, False, _ms(start), None, self._busy_server())
                return
            yield from self._work(tool, name, args, session, start, release=tool.heavy)
        finally:
            session.busy.release()

    def _claim(self, name: str) -> Iterator[ToolProgress]:
        """Take a heavy-demo slot, telling the learner at once (and every few seconds) while they wait;
        returns whether one was had within `wait_s`."""
        waited = 0.0
        while not self._slots.acquire(blocking=False):
            if waited >= self.wait_s:
                return False
            yield ToolProgress(
                name,
                f"waiting for a free slot: {self._running} demos are running on this server (at most "
                f"{self.max_demos} at once); waited {waited:.0f} of at most {self.wait_s:.0f} s",
            )
            pause = min(WAIT_NOTE_S, self.wait_s - waited)
            if self._slots.acquire(timeout=pause):
                break
            waited += pause
        with self._lock:
            self._running += 1
        return True

    def _free(self) -> None:
        with self._lock:
            self._running -= 1
        self._slots.release()

    def _busy_server(self) -> str:
        return (
            f"The server is busy: {self.max_demos} demos are running and none finished within "
            f"{self.wait_s:.0f} s. Please try again in a minute, or ask me to explain in the meantime."
        )

    def _work(self, tool, name: str, args: dict, session: SessionRuns, start: float, release: bool):
        lines: queue.Queue = queue.Queue()
        result: dict = {}
        ctx = RunContext(
            progress=lambda line: lines.put(line),
            on_row=lambda row: lines.put(row),
            cancel=session.cancel,
            deadline=time.monotonic() + tool.max_seconds,
        )

        def work() -> None:
            try:
                result["trace"] = tool(args, ctx)
            except Exception as e:  # reported to the learner as a ToolEnd
                result["error"] = tool_failure_message(e)
            finally:
                if release:  # the slot is freed when the work really ends, not when we stop waiting
                    self._free()
                lines.put(None)

        threading.Thread(target=work, daemon=True, name=f"demo-{name}").start()
        give_up = ctx.deadline + GRACE_S
        while True:
            try:
                line = lines.get(timeout=max(0.1, min(1.0, give_up - time.monotonic())))
            except queue.Empty:
                ctx.should_stop()  # past the ceiling this sets cancel: the tool stops at its next step
                if time.monotonic() < give_up:
                    continue
                result.setdefault("error", self._too_long(tool))
                break
            if line is None:
                break
            folder = str(ctx.folder) if ctx.folder else None
            yield ToolProgress(name, line) if isinstance(line, str) else ToolProgress(name, "", line, folder)
        if "trace" not in result and "error" not in result:
            result["error"] = self._too_long(tool)
        ok, folder = "trace" in result, str(ctx.folder) if ctx.folder else None
        yield ToolEnd(name, args, ok, _ms(start), result.get("trace"), result.get("error"), folder)

    @staticmethod
    def _too_long(tool) -> str:
        return (
            f"The demo ran past its limit of {tool.max_seconds:.0f} s and was stopped. Try fewer steps or "
            "tokens, or a shorter training budget."
        )


BUSY_SESSION = (
    "A demo of yours is still running. Wait for it to finish (or press **Stop training**), then ask again."
)


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)

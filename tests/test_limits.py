"""Heavy work is bounded: one demo at a time per page session, at most `max_demos` heavy demos on the
server (the others wait and are told so, or give up with a clear message), and a wall-clock ceiling
on every run. The tool here is a real Tool subclass that works in small steps, as the demos do."""

from __future__ import annotations

import threading
import time
from typing import ClassVar

from pydantic import BaseModel, Field

from tools.base import RunContext, Tool
from tools.registry import Registry
from tools.trace import PipelineTrace, Stage
from tutor.events import ToolEnd, ToolProgress
from tutor.runner import Runner, SessionRuns


class WorkArgs(BaseModel):
    prompt: str = ""
    seconds: float = Field(0.5, ge=0, le=30)


class SlowTool(Tool):
    """Works for `seconds` in 20 ms steps, stopping between steps when asked to."""

    name = "slow_work"
    description = "Works for a while."
    Args = WorkArgs
    max_seconds: ClassVar[float] = 30.0
    running: ClassVar[list[int]] = [0, 0]  # (now, most at once)
    lock: ClassVar[threading.Lock] = threading.Lock()

    def run(self, args: WorkArgs, ctx: RunContext) -> PipelineTrace:
        with self.lock:
            self.running[0] += 1
            self.running[1] = max(self.running)
        try:
            start = time.perf_counter()
            while time.perf_counter() - start < args.seconds and not ctx.should_stop():
                time.sleep(0.02)
            ms = (time.perf_counter() - start) * 1000
        finally:
            with self.lock:
                self.running[0] -= 1
        stopped = ctx.cancel.is_set()
        return PipelineTrace(
            tool=self.name, title="work", prompt=args.prompt, device="cpu", seed=0, config={}, versions={},
            stages=[Stage(name="work", note="stopped" if stopped else "done", duration_ms=ms)],
            output={"text": "stopped" if stopped else "done"}, key_insight="-", total_ms=ms,
        )  # fmt: skip


class QuickCeiling(SlowTool):
    name = "short_ceiling"
    max_seconds: ClassVar[float] = 0.3


def _runner(settings, max_demos: int = 2, wait_s: float = 60.0) -> Runner:
    SlowTool.running[:] = [0, 0]
    registry = Registry(settings, {"slow_work": SlowTool, "short_ceiling": QuickCeiling})
    return Runner(registry, max_demos, wait_s)


def _end(events) -> ToolEnd:
    return [e for e in events if isinstance(e, ToolEnd)][-1]


def _in_background(events) -> dict:
    """Consume a run in another thread (as the page does); returns once its tool is working."""
    before, out = SlowTool.running[0], {}
    thread = threading.Thread(target=lambda: out.setdefault("events", list(events)))
    thread.start()
    deadline = time.monotonic() + 10
    while SlowTool.running[0] <= before and time.monotonic() < deadline:
        time.sleep(0.01)
    out["thread"] = thread
    return out


def _finish(background: dict) -> ToolEnd:
    background["thread"].join(30)
    return _end(background["events"])


def test_a_page_session_runs_one_demo_at_a_time(settings):
    runner, mine = _runner(settings), SessionRuns()
    first = _in_background(runner.run("slow_work", {"seconds": 1.5}, mine))
    second = _end(runner.run("slow_work", {"seconds": 0.1}, mine))
    assert not second.ok and "still running" in second.error
    assert _end(runner.run("slow_work", {"seconds": 0.1}, SessionRuns())).ok  # another session may run
    assert _finish(first).ok
    assert _end(runner.run("slow_work", {"seconds": 0.1}, mine)).ok  # and this one again, once done


def test_the_server_runs_at_most_max_demos_and_the_others_are_told_to_wait(settings):
    runner = _runner(settings, max_demos=2)
    results: dict[int, list] = {}

    def learner(i: int) -> None:
        results[i] = list(runner.run("slow_work", {"seconds": 1.5}, SessionRuns()))

    threads = [threading.Thread(target=learner, args=(i,)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(_end(events).ok for events in results.values())
    assert SlowTool.running[1] == 2  # never more than two at once
    waiting = [
        e.line
        for events in results.values()
        for e in events
        if isinstance(e, ToolProgress) and "waiting" in e.line
    ]
    assert waiting and "2 demos are running on this server" in waiting[0]


def test_a_learner_who_waits_too_long_gets_a_clear_message(settings):
    runner = _runner(settings, max_demos=1, wait_s=0.5)
    busy = _in_background(runner.run("slow_work", {"seconds": 2.0}, SessionRuns()))
    late = _end(runner.run("slow_work", {"seconds": 0.1}, SessionRuns()))
    assert not late.ok and "server is busy" in late.error and "try again" in late.error
    assert _finish(busy).ok


def test_every_run_stops_at_its_wall_clock_ceiling(settings):
    runner = _runner(settings)
    start = time.perf_counter()
    end = _end(runner.run("short_ceiling", {"seconds": 20}, SessionRuns()))
    assert time.perf_counter() - start < 5
    assert end.ok and end.trace.output["text"] == "stopped"  # the tool stopped at its next step


def test_the_stop_button_reaches_a_running_demo(settings):
    runner, mine = _runner(settings), SessionRuns()
    run = _in_background(runner.run("slow_work", {"seconds": 20}, mine))
    mine.cancel.set()
    end = _finish(run)
    assert end.ok and end.trace.output["text"] == "stopped" and end.duration_ms < 5000
    mine.new_turn()  # the next message: the old Stop no longer applies
    assert not mine.cancel.is_set()

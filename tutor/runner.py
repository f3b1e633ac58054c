"""Run one registry tool inside a chat turn, streaming its progress lines as events.

The tool runs in a worker thread so that progress reaches the page while the model works; any
failure ends as a ToolEnd with a learner-facing message, and the conversation goes on.
"""

from __future__ import annotations

import inspect
import queue
import threading
import time
from collections.abc import Iterator

import torch

from tools.base import ToolError
from tools.registry import Registry
from tutor.events import ToolEnd, ToolProgress, ToolStart


def tool_failure_message(exc: BaseException) -> str:
    if isinstance(exc, ToolError):
        return str(exc)
    if isinstance(exc, torch.OutOfMemoryError):
        return "The demo ran out of memory. Try fewer tokens or steps, or a smaller model."
    return f"The demo failed ({type(exc).__name__}: {exc}). Try other settings, or ask me to explain instead."


def run_tool(
    registry: Registry, name: str, args: dict, cancel: threading.Event | None = None
) -> Iterator[ToolStart | ToolProgress | ToolEnd]:
    """Run the tool; `cancel`, when set, stops tools that can stop (training) after their current step.
    Tools that report finished epochs (`on_epoch`) stream them as ToolProgress rows."""
    yield ToolStart(name, args)
    start = time.perf_counter()
    lines: queue.Queue = queue.Queue()
    result: dict = {}

    def work() -> None:
        try:
            tool = registry.get(name)
            accepts = inspect.signature(tool.__call__).parameters
            extra = {"cancel": cancel} if cancel is not None and "cancel" in accepts else {}
            if "on_epoch" in accepts:
                extra["on_epoch"] = lambda row: lines.put(row)
            result["trace"] = tool(args, progress=lambda line: lines.put(line), **extra)
        except Exception as e:  # reported to the learner as a ToolEnd
            result["error"] = tool_failure_message(e)
        finally:
            lines.put(None)

    threading.Thread(target=work, daemon=True).start()
    while (line := lines.get()) is not None:
        yield ToolProgress(name, line) if isinstance(line, str) else ToolProgress(name, "", row=line)
    duration = round((time.perf_counter() - start) * 1000, 1)
    yield ToolEnd(name, args, "trace" in result, duration, result.get("trace"), result.get("error"))

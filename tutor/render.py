"""A finished run as the parts of a chat answer, for any tool: a header (what ran, on what, the
output text), the tool's own views (tools.base.Tool.views), and the run's key insight. Each part is
drawn on its own; one that cannot be drawn becomes a one-line note (`safely`), never a failed turn."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from tools.markup import code, plain
from tools.views import Part, markdown

log = logging.getLogger(__name__)


def safely(draw: Callable[[], str], what: str) -> str | None:
    """`draw()`, or None after logging why it failed (the caller shows a note instead)."""
    try:
        return draw()
    except Exception:  # one broken part must not cost the learner the whole answer
        log.exception("could not draw %s", what)
        return None


def broken(what: str) -> str:
    return f"*⚠️ The {plain(what)} could not be drawn here; the trace JSON has the numbers.*"


def header(trace) -> str:
    parts = [
        f"### {plain(trace.title)}",
        f"Prompt: {plain(trace.prompt)} · device {code(trace.device)} · seed {trace.seed}",
    ]
    if isinstance(trace.output.get("text"), str):
        parts.append(f"**Output:** {plain(trace.output['text'])}")
    return "\n\n".join(parts)


def footer(trace) -> str:
    return f"**Key insight:** {plain(trace.key_insight)}  \n*Total: {trace.total_ms / 1000:.1f} s*"


def trace_parts(trace, tool, folder: Path) -> list[Part]:
    """Header, the tool's views (or a note if it cannot list them), key insight."""
    try:
        views = tool.views(trace, folder)
    except Exception:
        log.exception("views of a %s run failed", trace.tool)
        views = [markdown("views", lambda: broken("pictures and tables of this run"))]
    return [markdown("header", lambda: header(trace)), *views, markdown("key insight", lambda: footer(trace))]


def compare_table(ends: list, tools: list) -> str:
    """Runs of a tool and its counterpart side by side (ToolEnd events): what each let us observe."""

    def column(end, tool) -> dict:
        if not end.ok:
            return {"ran": f"no: {plain(end.error.split('.')[0])}"}
        return safely(lambda: tool.observed(end.trace), "comparison") or {"ran": "yes"}

    columns = [column(end, tool) for end, tool in zip(ends, tools, strict=True)]
    names = " | ".join(plain(t.name) for t in tools)
    rows = [f"| | {names} |", "|---" * (len(tools) + 1) + "|"]
    for key in dict.fromkeys(k for c in columns for k in c):
        rows.append(f"| {key} | " + " | ".join(c.get(key, "—") for c in columns) + " |")
    return (
        "#### Side by side\n\n"
        + "\n".join(rows)
        + "\n\nA pipeline run here shows every stage it went through, measured; a hosted service shows "
        "only what goes in and what comes out."
    )

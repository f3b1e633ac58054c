"""How a text-generation run is shown: the stage table and tokens, the prediction forming layer by
layer (logit lens) with where each layer attends, and each sampling step as a probability bar chart;
and the run's facts, step by step and layer by layer."""

from __future__ import annotations

from pathlib import Path

from tools.markup import plain
from tools.trace import Fact, PipelineTrace
from tools.views import Part, bar, markdown, stage_table, tokens_line

SHOWN_STEPS = 8  # sampling steps drawn in the chat; the JSON has all of them


def _cell(text: str) -> str:
    return plain(repr(text))


def lens_table(trace: PipelineTrace) -> str:
    rows = [
        "#### Prediction trace through the layers (logit lens, last prompt position)",
        "",
        "| layer | top guess | p | runner-up | attends most to (heads averaged) | most focused head |",
        "|---|---|---:|---|---|---|",
    ]
    for row in trace.layers:
        top, attn = row.data["top"], row.data["attention"]
        focus, mean = attn["most_focused_head"], attn["mean_over_heads"][0]
        rows.append(
            f"| {plain(row.name)} | {_cell(top[0]['token'])} | {top[0]['prob']:.0%} "
            f"| {_cell(top[1]['token'])} {top[1]['prob']:.0%} "
            f"| {_cell(mean['token'])} ({mean['weight']:.0%}) "
            f"| head {focus['head']}: {_cell(focus['token'])} ({focus['weight']:.0%}) |"
        )
    return "\n".join(rows)


def sampling_chart(trace: PipelineTrace) -> str:
    steps = trace.stage("sampling").data["steps"]
    lines = []
    for step in steps[:SHOWN_STEPS]:
        chosen = step["chosen"]
        lines.append(
            f"step {step['step']}: drew {chosen['token']!r}  (p {chosen['prob_before']:.0%} before, "
            f"{chosen['prob_after']:.0%} after temperature/top-k/top-p)"
        )
        for cand in step["before"]:
            mark = "◀" if cand["id"] == chosen["id"] else ""
            lines.append(f"  {cand['token']!r:>14} {bar(cand['prob'])} {cand['prob']:6.1%} {mark}")
    more = f"\n… {len(steps) - SHOWN_STEPS} more steps in the trace JSON." if len(steps) > SHOWN_STEPS else ""
    title = "#### Sampling, step by step (top candidates before sampling)\n\n"
    return title + "```\n" + "\n".join(lines) + "\n```" + more


def views(trace: PipelineTrace, folder: Path) -> list[Part]:
    """Each part reads the trace only when drawn, so one with missing numbers costs only itself."""
    return [
        markdown("stage table", lambda: stage_table(trace)),
        markdown("tokens", lambda: tokens_line(trace.stage("tokenization").data["tokens"])),
        markdown("logit-lens table", lambda: lens_table(trace)),
        markdown("sampling chart", lambda: sampling_chart(trace)),
    ]


def facts(trace: PipelineTrace) -> list[Fact]:
    """Each sampling step (the favourite, the token drawn) and each layer's top guess, measured."""
    out = [Fact(text=s.note, stage=s.name) for s in trace.stages]
    for step in trace.stage("sampling").data["steps"]:
        chosen, top = step["chosen"], step["before"][0]
        drawn = (
            "and was drawn"
            if chosen["id"] == top["id"]
            else f"but {chosen['token']!r} was drawn (p {chosen['prob_before']:.0%}, "
            f"rank {chosen['rank_before']})"
        )
        out.append(
            Fact(
                text=f"At step {step['step']} the most likely next token was {top['token']!r} with "
                f"{top['prob']:.0%}, {drawn}.",
                stage="sampling",
                step=step["step"],
            )
        )
    for i, row in enumerate(trace.layers, 1):
        top = row.data["top"][0]
        focus = row.data["attention"]["mean_over_heads"][0]
        out.append(
            Fact(
                text=f"At layer {i} the logit lens read the top guess {top['token']!r} ({top['prob']:.0%}); "
                f"the last position attended most to {focus['token']!r} ({focus['weight']:.0%}).",
                stage="transformer layers",
                layer=i,
            )
        )
    return out

"""Change one knob and compare: `/rerun KNOB VALUE` (the page's explorer sends it) runs the last demo
again with one setting changed, then shows the two runs side by side (the tool's `compare`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from tools.base import ToolError
from tools.markup import code, plain
from tutor.conversation import Conversation
from tutor.events import Comparison, Event, Notice, TextDelta, ToolEnd

NO_RUN = "Run a demo first (for example `/demo text The capital of France is`); its settings show up here."


def panel(tutor, conv: Conversation | None):
    """The explorer's setting choices, what the last run used, and its pictures' slider (the last
    one shown): Gradio updates."""
    import gradio as gr

    name, names, used = knobs(tutor, conv)
    if name is None:
        hidden = gr.update(visible=False)
        return gr.update(choices=[], value=None), NO_RUN, hidden, hidden
    settings = ", ".join(f"{k} {code(v)}" for k, v in used.items())
    pictures = tutor.registry.get(name).frames(conv.last_trace)
    if len(pictures) < 2:  # nothing to scrub through
        hidden = gr.update(visible=False)
        return (
            gr.update(choices=names, value=names[0]),
            f"Last run: **{name}** with {settings}.",
            hidden,
            hidden,
        )
    path, label = pictures[-1]
    slider = gr.update(visible=True, minimum=1, maximum=len(pictures), value=len(pictures), step=1)
    return (
        gr.update(choices=names, value=names[0]),
        f"Last run: **{name}** with {settings}.",
        slider,
        gr.update(visible=True, value=path, label=label),
    )


def frame(tutor, conv: Conversation | None, n: float):
    """The last run's n-th picture (1-based) under the slider, with its label."""
    import gradio as gr

    name, _, _ = knobs(tutor, conv)
    pictures = tutor.registry.get(name).frames(conv.last_trace) if name else []
    if not pictures:
        return gr.update()
    path, label = pictures[min(max(int(n), 1), len(pictures)) - 1]
    return gr.update(value=path, label=label)


def knobs(tutor, conv: Conversation | None) -> tuple[str | None, list[str], dict]:
    """The last run's tool, the settings a learner may change, and the values the run used."""
    trace = conv.last_trace if conv is not None else None
    if trace is None or trace.tool not in tutor.registry.classes:
        return None, [], {}
    names = tutor.registry.get(trace.tool).knobs(trace)
    return trace.tool, names, {k: trace.config.get(k) for k in names}


def rerun(tutor, conv: Conversation, text: str, runs=None) -> Iterator[Event]:
    name, names, used = knobs(tutor, conv)
    knob, _, value = text.strip().partition(" ")
    if name is None:
        yield Notice(
            "Run a demo first (for example `/demo text The capital of France is`), then change one "
            "of its settings.",
            "info",
        )
        return
    if knob not in names:
        yield Notice(
            f"`/rerun` changes one of {', '.join(names)}: for example `/rerun {names[0]} ...`.", "info"
        )
        return
    tool, a = tutor.registry.get(name), conv.last_trace
    args = {k: v for k, v in a.config.items() if k in tool.Args.model_fields}
    args[knob] = None if value.strip().casefold() in ("", "none", "default") else value.strip()
    try:
        args = tool.parse(args).model_dump()
    except ToolError as e:
        yield Notice(str(e), "warning")
        return
    for event in tutor.runner.run(name, args, runs):
        if isinstance(event, ToolEnd) and event.ok:
            yield dataclasses.replace(event, shown=False)
            yield Comparison(name, a, event.trace, event.folder)
            yield TextDelta(
                f"Above, side by side: run A, your last **{name}** run, and run B, the same with "
                f"**{knob}** = {code(args[knob])} instead of {code(used[knob])}; everything else the "
                "same.\n\n"
            )
        else:
            yield event
            if isinstance(event, ToolEnd):
                yield Notice(event.error, "error")


def inside_panel(tutor, conv: Conversation | None):
    """The last run's 'look inside' picks (at most two dropdowns) and its figure for the defaults:
    updates for the group, both dropdowns, the plot and its caption."""
    import gradio as gr

    options = _inside(tutor, conv)
    if not options:
        hidden = gr.update(visible=False)
        return hidden, hidden, hidden, gr.update(), gr.update()
    picks = {name: default for name, (_, default) in options.items()}
    drop = [
        gr.update(visible=True, label=name.capitalize(), choices=choices, value=default)
        for name, (choices, default) in options.items()
    ]
    drop += [gr.update(visible=False)] * (2 - len(drop))
    plot, caption = inside_view(tutor, conv, *picks.values())
    return gr.update(visible=True), *drop, plot, caption


def inside_view(tutor, conv: Conversation | None, *picked: str | None):
    """The figure for the learner's picks (in the order the tool lists its choices), and its caption;
    a note in place of the figure when it cannot be drawn."""
    import gradio as gr

    options = _inside(tutor, conv)
    if not options:
        return gr.update(value=None), ""
    picks = dict(zip(options, picked, strict=False))
    try:
        figure, caption = tutor.registry.get(conv.last_trace.tool).inside_figure(conv.last_trace, picks)
    except Exception as e:  # a missing file, a bad pick: a note, the page keeps working
        why = f"{type(e).__name__}: {plain(str(e))}"
        return gr.update(value=None), f"⚠️ This picture could not be drawn ({why})."
    return gr.update(value=figure), caption


def _inside(tutor, conv: Conversation | None) -> dict:
    name, _, _ = knobs(tutor, conv)
    return dict(list(tutor.registry.get(name).inside(conv.last_trace).items())[:2]) if name else {}

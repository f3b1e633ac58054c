"""Questions about the learner's last run, answered from the run's own measured facts.

"Why did it pick that word?" after a demo is about that run, not about a lesson: the tool that made
the run states its facts (tools.base.Tool.facts: each with the stage and step or layer it comes
from), the ones closest in meaning to the question are shown as they are, and each is cited as a
stage of the run. No model writes here, so nothing is made up.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np

from tools.markup import plain
from tools.trace import Fact
from tutor import dialogue
from tutor.events import Citations, Event, Options, TextDelta, TraceCitation

SHOWN = 3
ORDINALS = {"first": 1, "second": 2, "third": 3}  # "why did it pick that first word?" names step 1


def closest(embedder, facts: list[Fact], question: str, k: int = SHOWN) -> list[Fact]:
    """The k facts closest in meaning to the question; a step or layer the question names comes first."""
    if not facts:
        return []
    named = [int(n) for n in re.findall(r"\b(?:step|layer) (\d+)", question, re.I)]
    named += [
        n for word, n in ORDINALS.items() if re.search(rf"\b{word} (?:word|token|step)\b", question, re.I)
    ]
    exact = [i for i, f in enumerate(facts) if named and (f.step in named or f.layer in named)]
    vectors = np.array(embedder.embed([f.text for f in facts] + [question]))
    ranked = np.argsort(-(vectors[:-1] @ vectors[-1])).tolist()
    return [facts[i] for i in list(dict.fromkeys(exact + ranked))[:k]]


def cite(tool: str, fact: Fact) -> TraceCitation:
    return TraceCitation(tool, fact.stage, fact.step, fact.layer)


def answer(facts: list[Fact], citations: list[TraceCitation]) -> str:
    lines = ["**From your last run** (measured, not guessed):", ""]
    lines += [f"- {plain(f.text)} *[{plain(c.where())}]*" for f, c in zip(facts, citations, strict=True)]
    lines += ["", "Ask about another step or layer, or type **/quiz run** to test yourself on this run."]
    return "\n".join(lines)


def about_run(tutor, conv, message: str) -> Iterator[Event]:
    """A question about the last run: its closest measured facts, each cited as a stage of the run,
    then the concept behind them in plain words."""
    trace = conv.last_trace
    facts = closest(tutor.store.embedder, tutor.registry.facts(trace), message)
    if not facts:
        yield TextDelta("I have no measured facts about that run to show.")
        return
    citations = [cite(trace.tool, f) for f in facts]
    concepts = tutor.registry.classes[trace.tool].concepts if trace.tool in tutor.registry.classes else {}
    slug, idea = dialogue.run_concept(tutor.teacher, message, facts, concepts)
    conv.on_topic(slug, [], {"plain"})
    yield TextDelta(answer(facts, citations) + "\n\n" + idea)
    yield Citations([*citations, *tutor.teacher.cite(slug, ["plain"])])
    yield Options(tutor.teacher.options(slug))

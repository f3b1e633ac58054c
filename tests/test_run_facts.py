"""A question about the learner's last run is answered from that run's measured facts, each cited as a
stage (and step or layer) of the run, never from a lesson or from the small model's prose."""

from __future__ import annotations

from tools.markup import unplain
from tutor.conversation import Conversation
from tutor.events import ToolEnd, TraceCitation, TurnDone


def test_why_did_it_pick_that_word_is_read_from_the_run(tutor):
    session = Conversation()
    events = list(tutor.turn("/demo text The cat sat on the", session=session))
    trace = next(e for e in events if isinstance(e, ToolEnd)).trace
    step = trace.stage("sampling").data["steps"][1]
    done = list(tutor.turn("Why did it pick that word at step 2?", session=session))[-1]
    assert isinstance(done, TurnDone)
    first = done.citations[0]
    assert isinstance(first, TraceCitation) and first.to_dict() == {
        "kind": "trace",
        "tool": "text_generation",
        "stage": "sampling",
        "step": 2,
    }
    said = unplain(done.answer)  # Markdown-escaped, as everything a run produced
    assert repr(step["before"][0]["token"]) in said and f"{step['before'][0]['prob']:.0%}" in said


def test_without_a_run_the_same_question_goes_to_the_lessons(tutor):
    done = list(tutor.turn("Why did it pick that word at step 2?", session=Conversation()))[-1]
    assert not any(isinstance(c, TraceCitation) for c in done.citations)


def test_every_tool_states_facts_with_their_stage(tutor):
    from tools.trace import Fact

    session = Conversation()
    events = list(tutor.turn("/demo image a red circle", session=session))
    trace = next(e for e in events if isinstance(e, ToolEnd)).trace
    facts = tutor.registry.facts(trace)
    stages = {s.name for s in trace.stages}
    assert facts and all(isinstance(f, Fact) and f.stage in stages for f in facts)
    steps = [f for f in facts if f.step is not None]
    assert len(steps) == len(trace.stage("denoising").data["steps"])

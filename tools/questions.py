"""Building quiz questions about a learner's own run, read from its trace and graded exactly.

Every answer and every wrong option comes from the trace itself, so grading needs no judgement: the
options are the run's own candidates (tokens, layers, steps, epochs), and the misconception behind
each wrong option says what confusing it with the right one would mean. Tools build their questions
with `choice` and `true_false` (see each tool's questions.py); a trace with too little in it simply
yields fewer questions.
"""

from __future__ import annotations

import hashlib

from knowledge.quizbank import Option, QuizItem
from tools.trace import PipelineTrace


def item_id(trace: PipelineTrace, what: str) -> str:
    digest = hashlib.sha1(trace.model_dump_json().encode()).hexdigest()[:8]
    return f"trace-{trace.tool}-{digest}-{what}"


def choice(
    trace: PipelineTrace,
    what: str,
    concept: str,
    lesson: str,
    question: str,
    right: str,
    wrong: list[tuple[str, str, str]],
    explanation: str,
    difficulty: int = 2,
) -> QuizItem | None:
    """A multiple-choice item; `wrong` holds (text, misconception, feedback) and repeats are dropped.
    None when fewer than two distinct options are left."""
    options, seen = [Option(text=right, correct=True)], {right}
    for text, misconception, feedback in wrong:
        if text not in seen and len(options) < 4:
            seen.add(text)
            options.append(Option(text=text, misconception=misconception, feedback=feedback))
    if len(options) < 2:
        return None
    # The right answer's place comes from a hash, so it is not always first yet is reproducible.
    at = int(hashlib.sha1(what.encode()).hexdigest(), 16) % len(options)
    options.insert(at, options.pop(0))
    return QuizItem(
        id=item_id(trace, what),
        concept=concept,
        difficulty=difficulty,
        type="multiple_choice",
        question=question,
        options=options,
        explanation=explanation,
        lesson=lesson,
    )


def true_false(
    trace: PipelineTrace,
    what: str,
    concept: str,
    lesson: str,
    question: str,
    answer: bool,
    misconception: str,
    feedback: str,
    explanation: str,
) -> QuizItem:
    return QuizItem(
        id=item_id(trace, what),
        concept=concept,
        difficulty=2,
        type="true_false",
        question=question,
        answer=answer,
        misconception=misconception,
        feedback=feedback,
        explanation=explanation,
        lesson=lesson,
    )

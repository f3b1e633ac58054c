"""Questions about a code-generation run: how many samples passed, what pass@1 was, and whether
parsing told the learner the program worked; and a prediction to make before re-running it greedily."""

from __future__ import annotations

from knowledge.quizbank import QuizItem
from tools.base import Prediction
from tools.questions import choice, true_false
from tools.trace import PipelineTrace


def questions(trace: PipelineTrace) -> list[QuizItem]:
    scores = trace.stage("pass@k").data
    if not scores["pass_at"]:
        return []  # nothing was tested, so there is nothing to ask about the results
    n, c = scores["n"], scores["c"]
    items = [
        choice(
            trace,
            "samples-passed",
            "code-generation",
            "code-generation",
            f"In your code run, how many of the {n} samples passed every test?",
            f"{c} of {n}",
            [
                (f"{x} of {n}", wrong, "Count the ✓ in the table of what each sample did.")
                for x, wrong in (
                    (n, "every sample of the same request is the same program"),
                    (0, "a small model never writes working code"),
                    (_parsed(trace), "code that parses also works"),
                )
            ],
            f"{c} of {n} passed; the table and the samples' pictures show where the others broke.",
        ),
        choice(
            trace,
            "pass-at-1",
            "evaluation-limits",
            "code-generation",
            "What was pass@1 in your run: the chance that one sample, drawn at random from these, passes?",
            f"{scores['pass_at']['1']:.2f}",
            [
                (f"{v:.2f}", wrong, "pass@1 is the share of samples that passed: passed / samples.")
                for v, wrong in (
                    (scores["pass_at"][str(n)], "pass@1 is the chance that any of the samples passes"),
                    (1.0 - c / n, "pass@1 counts the failures"),
                    (1.0 if c else 0.0, "one passing sample makes pass@1 equal to 1"),
                )
            ],
            f"pass@1 = {c}/{n} = {scores['pass_at']['1']:.2f}; pass@{n} = {scores['pass_at'][str(n)]:.2f}.",
        ),
    ]
    parsed = _parsed(trace)
    if parsed > c:
        items.append(
            true_false(
                trace,
                "parsed-means-works",
                "code-generation",
                "code-generation",
                f"In your run {parsed} samples passed the syntax check, so {parsed} samples worked.",
                False,
                "code that parses is correct",
                f"Only {c} passed the tests: ast.parse checks the grammar, not what the code does.",
                "A syntax check runs nothing; only the tests showed which samples compute the right answers.",
            )
        )
    return [item for item in items if item is not None]


def _parsed(trace: PipelineTrace) -> int:
    return sum(c["ok"] for c in trace.stage("syntax check").data["checks"])


def prediction(trace: PipelineTrace) -> Prediction:
    """What greedy decoding does to k samples: all the same program, or still different ones?"""
    n = trace.stage("pass@k").data["n"]
    question = (
        f"If I draw the {n} samples again at **temperature 0** (always the most likely token), how many "
        "different programs will there be?"
    )
    return Prediction(question, "temperature", "0", ["just one", f"{n} different ones", "somewhere between"])


def verdict(guess: Prediction, picked: int, a: PipelineTrace, b: PipelineTrace) -> tuple[bool, str]:
    codes = [s["code"] for s in b.stage("generation").data["samples"]]
    distinct = len(set(codes))
    right = 0 if distinct == 1 else 1 if distinct == len(codes) else 2
    before = len({s["code"] for s in a.stage("generation").data["samples"]})
    return picked == right, (
        f"At temperature 0 the model wrote {distinct} different program{'s' if distinct != 1 else ''} "
        f"in {len(codes)} samples (run A, at temperature {a.config.get('temperature')}: {before}). Greedy "
        "decoding picks the same token every time, so every sample is the same: to explore, code tools "
        "sample at a higher temperature and keep whichever passes the tests."
    )

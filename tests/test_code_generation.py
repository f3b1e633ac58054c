"""The code-generation demo with the embedded model: samples drawn for real and checked for real
(syntax, then the tests in the sandbox); pass@k arithmetic; example tasks; bad arguments."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from tests.fake_openai import FakeOpenAI
from tests.helpers import needs_sandbox
from tools.base import ToolError
from tools.code_generation import CodeGenerationTool, generate, tasks
from tools.code_generation.tool import _syntax, pass_at_k
from tools.trace import Clock

FAST = {"samples": 2, "max_new_tokens": 96}


@pytest.fixture(scope="module")
def tool(settings, tutor):  # `tutor` makes sure the embedded model's cache exists
    return CodeGenerationTool(settings)


@pytest.fixture(scope="module")
def reverse(tool):
    return tool({"prompt": "a function that reverses a string", **FAST})


def test_pass_at_k_is_the_unbiased_estimate():
    assert pass_at_k(5, 2, 1) == pytest.approx(0.4)
    assert pass_at_k(5, 2, 2) == pytest.approx(1 - math.comb(3, 2) / math.comb(5, 2))  # 0.7
    assert pass_at_k(4, 0, 4) == 0.0 and pass_at_k(4, 4, 1) == 1.0 and pass_at_k(4, 1, 4) == 1.0
    assert [round(pass_at_k(10, 3, k), 4) for k in (1, 5, 10)] == [0.3, round(1 - 21 / 252, 4), 1.0]
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 4)


def test_requests_find_their_example_task():
    said = {
        "a function that reverses a string": "reverse_string",
        "check whether a word is a palindrome": "is_palindrome",
        "sum of two numbers": "add",
        "add up a list of numbers": "sum_list",
        "the largest number in a list": "maximum",
        "the nth fibonacci number": "fibonacci",
    }
    assert {text: getattr(tasks.match(text), "name", None) for text in said} == said
    assert tasks.match("sort a list") is None and tasks.match("seven samurai") is None


@needs_sandbox
def test_a_run_traces_every_stage_from_its_own_numbers(reverse):
    assert [s.name for s in reverse.stages] == [
        "request", "tokenization", "generation", "syntax check", "tests", "pass@k",
    ]  # fmt: skip
    request = reverse.stage("request").data
    assert request["task"] == "reverse_string" and request["tests_from"] == "the tutor's"
    samples = reverse.stage("generation").data["samples"]
    assert len(samples) == 2
    for s in samples:
        assert s["tokens"] and all(0 < t["prob"] <= 1 for t in s["tokens"])
        assert "".join(t["token"] for t in s["tokens"]) == s["reply"]  # the tokens are the reply
        assert s["code"] in s["reply"] and s["unsure"] == [
            {"token": t["token"], "prob": t["prob"]} for t in s["tokens"] if t["in_code"] and t["prob"] < 0.3
        ]
    # the test results are the sandbox's, and pass@k is computed from them
    results = reverse.stage("tests").data["results"]
    c = sum(r["passed"] for r in results)
    assert reverse.stage("pass@k").data["pass_at"]["1"] == pytest.approx(c / 2)
    assert f"{c} of 2 samples passed" in reverse.key_insight
    assert "audit hook" in reverse.stage("tests").data["isolation"]
    passing = [s["code"] for s, r in zip(samples, results, strict=True) if r["passed"]]
    assert reverse.output["code"] == (passing or [samples[0]["code"]])[0]


@needs_sandbox
def test_the_embedded_model_reverses_a_string_greedily(tool):
    """Greedy (temperature 0) SmolLM2 writes `return s[::-1]`-style code that passes the tutor's tests."""
    trace = tool({"prompt": "reverse a string", "temperature": 0, "samples": 1, "max_new_tokens": 96})
    assert trace.stage("tests").data["results"][0]["passed"], trace.stage("generation").data["samples"][0]


def test_the_same_seed_draws_the_same_samples(tool, reverse):
    again = tool({"prompt": "a function that reverses a string", **FAST})
    codes = [s["code"] for s in again.stage("generation").data["samples"]]
    assert codes == [s["code"] for s in reverse.stage("generation").data["samples"]]


def test_learners_tests_and_function_names_are_used(tool):
    mine = ["assert double(2) == 4", "assert double(0) == 0"]
    trace = tool({"prompt": "double a number", "function": "double", "tests": "\n".join(mine), **FAST})
    request = trace.stage("request").data
    assert request["tests_from"] == "yours" and request["tests"] == mine
    assert "named double" in request["request"]
    assert all(r["tests_total"] == 2 for r in trace.stage("tests").data["results"])


def test_the_syntax_check_reports_the_line_and_column():
    broken = generate.Sample(reply="", code="def f(x):\n    return (x +\n", tokens=[], ended="token limit")
    fine = generate.Sample(reply="", code="def f(x):\n    return x\n", tokens=[], ended="code block closed")
    checks = _syntax([fine, broken], Clock()).data["checks"]
    assert checks[0] == {"ok": True}
    assert not checks[1]["ok"] and checks[1]["line"] == 2 and "never closed" in checks[1]["error"]
    assert checks[1]["text"] == "    return (x +"


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"prompt": "x", "samples": 9}, "samples"),
        ({"prompt": "x", "samples": 0}, "samples"),
        ({"prompt": ""}, "prompt"),
        ({"prompt": "x" * 501}, "prompt"),
        ({"prompt": "x", "function": "os.system"}, "function"),
        ({"prompt": "x", "tests": "y" * 2001}, "tests"),
        ({"prompt": "x", "max_new_tokens": 1000}, "max_new_tokens"),
    ],
)
def test_bad_arguments_are_clear_errors(tool, arguments, field):
    with pytest.raises(ToolError, match=field):
        tool.parse(arguments)


def test_a_test_that_is_not_python_is_refused_before_anything_runs(tool):
    with pytest.raises(ToolError, match="not valid Python"):
        tool({"prompt": "reverse a string", "tests": "assert reverse_string('a') ==", **FAST})


def test_questions_about_the_run_are_answered_by_its_numbers(tool, reverse):
    items = tool.questions(reverse)
    c = reverse.stage("pass@k").data["c"]
    first = items[0]
    assert next(o.text for o in first.options if o.correct) == f"{c} of 2"
    assert len({o.text for o in first.options}) == len(first.options)


RIGHT = "Here it is:\n\n```python\ndef reverse_string(s: str) -> str:\n    return s[::-1]\n```\nIt slices."
WRONG = "```python\ndef reverse_string(s):\n    return s\n```"


@needs_sandbox
def test_an_api_model_writes_the_samples_through_the_real_sdk(settings, tmp_path):
    with FakeOpenAI() as api:
        api.script = [RIGHT, WRONG]
        tool = CodeGenerationTool(replace(settings, openai_api_key=api.api_key, openai_base_url=api.base_url))
        trace = tool({"prompt": "reverse a string", "api_model": "gpt-4o-mini", "samples": 2, "seed": 7})
    body = api.requests[-1]["body"]
    assert (body["n"], body["logprobs"], body["seed"], body["model"]) == (2, True, 7, "gpt-4o-mini")
    assert "reverse_string(s: str) -> str" in body["messages"][0]["content"]
    assert trace.device == "api" and trace.stage("tokenization").data["prompt_tokens"] == 10
    samples = trace.stage("generation").data["samples"]
    assert samples[0]["code"] == "def reverse_string(s: str) -> str:\n    return s[::-1]"
    assert all(0 < t["prob"] <= 1 for t in samples[0]["tokens"])  # exp(logprob) of each token
    assert [r["passed"] for r in trace.stage("tests").data["results"]] == [True, False]
    assert trace.stage("pass@k").data["pass_at"] == {"1": 0.5, "2": 1.0}


def test_api_failures_are_clear_messages(settings):
    args = {"prompt": "reverse a string", "api_model": "gpt-4o-mini", "samples": 1}
    with pytest.raises(ToolError, match="OPENAI_API_KEY"):
        CodeGenerationTool(replace(settings, openai_api_key=None))(args)
    with FakeOpenAI() as api:
        tool = CodeGenerationTool(replace(settings, openai_api_key=api.api_key, openai_base_url=api.base_url))
        for status, said in ((429, "rate-limiting"), (404, "does not serve gpt-4o-mini"), (500, "internal")):
            api.fail_with = status
            with pytest.raises(ToolError, match=said):
                tool(args)


def test_a_local_base_model_folder_runs_through_the_same_stages(tool, settings, tmp_path):
    """A tiny random Llama without a chat template: the prompt opens the code block and the model
    continues it; its gibberish is parsed and tested like any sample, and nothing crashes."""
    from tests.helpers import tiny_llama

    folder = tiny_llama(tmp_path, settings.home, chat_template=False)
    trace = tool({"prompt": "reverse a string", "model": str(folder), "samples": 2, "max_new_tokens": 16})
    prompt = "".join(trace.stage("tokenization").data["tokens"])
    assert prompt.endswith("```python\n") and "<|im_start|>" not in prompt
    samples = trace.stage("generation").data["samples"]
    assert len(samples) == 2 and all(len(s["tokens"]) <= 16 for s in samples)
    assert trace.title.startswith(f"How {folder.name} wrote")
    results = trace.stage("tests").data["results"]
    assert len(results) == 2 and trace.stage("pass@k").data["n"] == 2


def test_without_bubblewrap_no_generated_code_runs_and_the_trace_says_why(tool, monkeypatch):
    from tools.code_generation import sandbox

    monkeypatch.setenv("PATH", "/nonexistent")  # a machine where `bwrap` cannot be found
    sandbox.available.cache_clear()
    try:
        trace = tool({"prompt": "reverse a string", **FAST})
    finally:
        sandbox.available.cache_clear()
    assert {r["status"] for r in trace.stage("tests").data["results"]} <= {"not run", "syntax error"}
    assert "bubblewrap" in trace.stage("tests").note and trace.stage("pass@k").data["pass_at"] == {}
    assert "nothing was tested" in trace.key_insight


def test_at_temperature_zero_every_sample_is_the_one_greedy_program(tool):
    trace = tool({"prompt": "reverse a string", "temperature": 0, "samples": 3, "max_new_tokens": 96})
    samples = trace.stage("generation").data["samples"]
    assert len(samples) == 3 and len({s["code"] for s in samples}) == 1
    assert len({r["passed"] for r in trace.stage("tests").data["results"]}) == 1  # all pass or all fail

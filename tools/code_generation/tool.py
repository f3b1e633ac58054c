"""code_generation: ask a language model for a short Python function k times, then check every sample
as a careful engineer would, and trace it all.

The stages: the request (one of the tutor's example tasks, with its tests, or the learner's own
description and tests), the prompt's tokens, generation (each token with the model's probability; the
unsure ones are the ones to read), the syntax check (`ast.parse`, with the error's line and column),
the tests, run in a sandbox (sandbox.py: a separate, limited process; never this one), and pass@k
over the samples. The small embedded model often fails; the trace shows where and why.
"""

from __future__ import annotations

import ast
import math
from pathlib import Path

from pydantic import BaseModel, Field

from tools.base import RunContext, Tool, ToolError
from tools.code_generation import api, generate, questions, sandbox, tasks, views
from tools.embedded_model import MODEL_NAME, ModelUnavailable, load_causal_lm
from tools.trace import Artifact, Clock, PipelineTrace, Stage, TensorInfo


class CodeGenerationArgs(BaseModel):
    prompt: str = Field(
        min_length=1, max_length=500, description="What the function should do, e.g. 'reverse a string'."
    )
    samples: int = Field(4, ge=1, le=8, description="How many programs to draw: the n of pass@k.")
    temperature: float = Field(0.6, ge=0.0, le=2.0, description="0: the most likely program, every time.")
    top_p: float = Field(0.95, gt=0.0, le=1.0, description="Keep the smallest set with this probability.")
    max_new_tokens: int = Field(160, ge=16, le=320, description="The most tokens in one reply.")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="The same seed gives the same samples.")
    function: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,39}$",
        description="The function's name, for a request that is not one of the tutor's example tasks.",
    )
    tests: str | None = Field(
        None,
        max_length=2000,
        description="Your own tests, one Python line each (e.g. `assert f(2) == 4`); default: the "
        "tutor's tests for its example tasks.",
    )
    model: str | None = Field(None, description="A local transformers model folder; default: SmolLM2.")
    api_model: str | None = Field(
        None,
        max_length=80,
        pattern=r"^[A-Za-z0-9][\w.:/-]*$",
        description="Ask an OpenAI-compatible model instead (e.g. gpt-4o-mini; needs OPENAI_API_KEY).",
    )


def pass_at_k(n: int, c: int, k: int) -> float:
    """The chance that at least one of k samples, drawn from these n of which c passed, passes all tests:
    1 - C(n-c, k) / C(n, k), the unbiased estimate of the Codex paper (HumanEval)."""
    if not 1 <= k <= n or not 0 <= c <= n:
        raise ValueError(f"pass@k needs 1 <= k <= n and 0 <= c <= n (n={n}, c={c}, k={k})")
    return 1.0 if n - c < k else 1.0 - math.comb(n - c, k) / math.comb(n, k)


class CodeGenerationTool(Tool):
    name = "code_generation"
    command = "code"
    noun = "the language model"
    concepts = {
        "request": "prompt-engineering",
        "tokenization": "tokenization",
        "generation": "code-generation",
        "syntax check": "code-generation",
        "tests": "code-generation",
        "pass@k": "evaluation-limits",
    }
    not_knobs = ("function", "tests")
    description = (
        "Ask a real language model for a short Python function several times and check every sample: "
        "its tokens and how sure the model was of each, a syntax check, the tests run in a sandbox, and "
        "pass@k over the samples."
    )
    Args = CodeGenerationArgs
    max_seconds = 240.0
    examples = [
        "write a function that reverses a string",
        "generate python code for fizzbuzz",
        "show me a model writing code",
        "can the model write a factorial function? test it",
        "demo code generation",
        "let the AI write a palindrome checker and run the tests",
        "how good is the model at coding? show me pass@k",
    ]

    def run(self, args: CodeGenerationArgs, ctx: RunContext) -> PipelineTrace:
        clock = Clock()
        request, task = _request(args, clock)
        if args.api_model:
            ctx.progress(f"asking {args.api_model} for {args.samples} samples")
            with clock.stage() as t:
                samples, info = api.draw(self.settings, args.api_model, request.data["request"], args)
            tokenization = _api_tokens(info)
        else:
            samples, tokenization, t = self._draw_here(args, request.data["request"], clock, ctx)
        drawn = _generation(samples, t.ms, args, ctx.folder)
        checks = _syntax(samples, clock)
        ctx.progress("running the tests in a sandbox")
        tested = _tests(samples, checks, request.data["tests"], clock, ctx)
        scores = _pass_at_k(tested.data["results"], clock)
        passing = [s for s, r in zip(samples, tested.data["results"], strict=True) if r["passed"]]
        return PipelineTrace(
            tool=self.name,
            title=f"How {_model_name(args)} wrote {request.data['function']}",
            prompt=args.prompt,
            device="api" if args.api_model else ctx.device,
            seed=args.seed,
            config={**args.model_dump(), "task": task.name if task else None},
            versions=_versions(),
            stages=[request, tokenization, drawn, checks, tested, scores],
            output={"code": (passing or samples)[0].code},
            key_insight=_insight(checks, tested, scores),
            total_ms=clock.total_ms(),
        )

    def _draw_here(self, args: CodeGenerationArgs, request: str, clock: Clock, ctx: RunContext):
        """The samples from a model on this machine: (samples, the tokenization stage, the timer)."""
        ctx.progress("loading the model")
        try:
            model, tok = load_causal_lm(self.settings.home, args.model, ctx.device)
        except ModelUnavailable as e:
            raise ToolError(str(e)) from e
        prompt = generate.prompt_text(tok, request)
        ctx.progress(f"drawing {args.samples} samples")
        with clock.stage() as t:
            ids, samples = generate.draw(
                model, tok, prompt, args.samples, args.temperature, args.top_p, args.max_new_tokens, args.seed
            )
        return samples, _tokenization(tok, prompt, ids), t

    def views(self, trace, folder):
        return views.views(trace, folder)

    def facts(self, trace):
        return views.facts(trace)

    def questions(self, trace):
        return questions.questions(trace)

    def prediction(self, trace):
        return questions.prediction(trace) if trace.config.get("temperature") != 0 else None

    def verdict(self, guess, picked, a, b):
        return questions.verdict(guess, picked, a, b)

    def frames(self, trace):
        return []  # nothing to scrub through


def _request(args: CodeGenerationArgs, clock: Clock) -> tuple[Stage, tasks.Task | None]:
    """What the model is asked for and what it will be tested with: an example task's own tests, the
    learner's, or none (then only the syntax is checked)."""
    with clock.stage() as t:
        task = tasks.match(args.prompt) if args.function is None else tasks.by_name(args.function)
        if task is not None:
            function, head = task.name, task.signature.removeprefix("def ").rstrip(":")
            request = f"Write a Python function {head}. {task.doc}"
        else:
            function = args.function or "the function"
            named = f" named {args.function}" if args.function else ""
            request = f"Write a Python function{named}: {args.prompt.strip()}"
        mine = [line.strip() for line in (args.tests or "").splitlines() if line.strip()]
        for i, line in enumerate(mine, 1):
            try:
                ast.parse(line)
            except SyntaxError as e:
                raise ToolError(f"Your test {i} ({line!r}) is not valid Python: {e.msg}.") from e
        tests = mine[:20] or list(task.tests if task else [])
        source = "yours" if mine else "the tutor's" if task else "none"
    matched = f"the example task {task.name}" if task else "no example task"
    return Stage(
        name="request",
        note=f"Your request matched {matched}; tests: {source} ({len(tests)}).",
        input=TensorInfo(shape=[len(args.prompt)], dtype="str (characters)", example=args.prompt[:80]),
        duration_ms=t.ms,
        data={"request": request, "function": function, "task": task.name if task else None,
              "tests": tests, "tests_from": source},
    ), task  # fmt: skip


def _model_name(args: CodeGenerationArgs) -> str:
    return args.api_model or (Path(args.model).name if args.model else MODEL_NAME)


def _versions() -> dict:
    import openai
    import transformers

    return {"transformers": transformers.__version__, "openai": openai.__version__}


def _api_tokens(info: dict) -> Stage:
    counted = f"{info['prompt_tokens']} tokens" if info["prompt_tokens"] is not None else "tokens"
    return Stage(
        name="tokenization",
        note=f"{info['where']} tokenized the request on its side: {counted}, not shown to us.",
        duration_ms=0.0,
        data={"tokens": [], "prompt_tokens": info["prompt_tokens"], "probabilities": info["probabilities"]},
    )


def _tokenization(tok, prompt: str, ids) -> Stage:
    tokens = [tok.decode([i]) for i in ids[0].tolist()]
    return Stage(
        name="tokenization",
        note=f"The chat template wrapped the request in role markers: {len(tokens)} tokens.",
        input=TensorInfo(shape=[len(prompt)], dtype="str (characters)", example=prompt[:80]),
        output=TensorInfo(shape=list(ids.shape), dtype="int64", example=str(ids[0, :12].tolist())),
        duration_ms=0.0,  # measured inside generation, which tokenizes as it starts
        data={"tokens": tokens, "ids": ids[0].tolist()},
    )


def _generation(samples: list[generate.Sample], ms: float, args: CodeGenerationArgs, folder: Path) -> Stage:
    rows, artifacts = [], []
    for i, s in enumerate(samples, 1):
        code = [t for t in s.tokens if t["in_code"]]
        unsure = [{"token": t["token"], "prob": t["prob"]} for t in code if t["prob"] < generate.LOW]
        path = folder / f"sample-{i}.py"
        path.write_text(s.code + "\n")
        artifacts.append(Artifact(kind="code", path=str(path), caption=f"sample {i}"))
        rows.append({
            "sample": i, "reply": s.reply, "code": s.code, "tokens": s.tokens, "ended": s.ended,
            "code_tokens": len(code), "unsure": unsure,
            "mean_prob": round(sum(t["prob"] for t in code) / len(code), 4) if code else None,
        })  # fmt: skip
    return Stage(
        name="generation",
        note=f"{len(samples)} samples at temperature {args.temperature:g}, top-p {args.top_p:g}, "
        f"{sum(len(s.tokens) for s in samples)} tokens in all.",
        output=TensorInfo(shape=[len(samples), max(len(s.tokens) for s in samples)], dtype="int64"),
        duration_ms=ms,
        data={"samples": rows, "unsure_below": generate.LOW},
        artifacts=artifacts,
    )


def _syntax(samples: list[generate.Sample], clock: Clock) -> Stage:
    checks = []
    with clock.stage() as t:
        for s in samples:
            try:
                ast.parse(s.code)
                checks.append({"ok": True})
            except SyntaxError as e:
                lines = s.code.splitlines()
                text = lines[e.lineno - 1] if e.lineno and 0 < e.lineno <= len(lines) else ""
                checks.append({"ok": False, "error": e.msg, "line": e.lineno, "col": e.offset, "text": text})
    ok = sum(c["ok"] for c in checks)
    return Stage(
        name="syntax check",
        note=f"{ok} of {len(checks)} samples parse as Python (ast.parse, nothing run).",
        duration_ms=t.ms,
        data={"checks": checks},
    )


def _tests(samples, checks: Stage, tests: list[str], clock: Clock, ctx: RunContext) -> Stage:
    results, isolation = [], []
    runnable = bool(tests) and sandbox.available()
    with clock.stage() as t:
        for s, check in zip(samples, checks.data["checks"], strict=True):
            if not check["ok"] or not runnable or ctx.should_stop():
                why = (
                    "syntax error" if not check["ok"] else "no tests" if not tests
                    else "not run" if not runnable else "stopped"
                )  # fmt: skip
                results.append({"status": why, "passed": False, "tests_passed": 0, "tests_total": len(tests)})
                continue
            outcome = sandbox.run(s.code, tests)
            isolation = outcome.isolation or isolation
            failed = outcome.load_error or next((r for r in outcome.tests if not r["passed"]), None)
            results.append({
                "status": outcome.status, "passed": outcome.passed,
                "tests_passed": sum(r["passed"] for r in outcome.tests), "tests_total": len(tests),
                "failure": failed, "stdout": outcome.stdout, "seconds": outcome.seconds,
            })  # fmt: skip
    passed = sum(r["passed"] for r in results)
    return Stage(
        name="tests",
        note=f"{passed} of {len(results)} samples passed all {len(tests)} tests, each run in its own "
        "sandbox (bubblewrap)."
        if runnable
        else sandbox.NO_SANDBOX
        if tests
        else "No tests: give some (`tests`) or ask for one of the tutor's example tasks.",
        duration_ms=t.ms,
        data={"results": results, "tests": tests, "isolation": isolation},
    )


def _pass_at_k(results: list[dict], clock: Clock) -> Stage:
    with clock.stage() as t:
        n, c = len(results), sum(r["passed"] for r in results)
        tested = all(r["status"] not in ("no tests", "not run") for r in results)
        values = {str(k): round(pass_at_k(n, c, k), 4) for k in range(1, n + 1)} if tested else {}
    return Stage(
        name="pass@k",
        note=f"{c} of {n} passed: pass@1 = {values['1']:.2f}, pass@{n} = {values[str(n)]:.2f}."
        if values
        else "Without tests that ran there is no pass@k.",
        duration_ms=t.ms,
        data={"n": n, "c": c, "pass_at": values},
    )


def _failure_words(result: dict, check: dict) -> str:
    if not check["ok"]:
        return f"a syntax error at line {check['line']} ({check['error']})"
    failure = result.get("failure") or {}
    if result["status"] == "timeout":
        return "ran out of time"
    if failure:
        where = f" (line {failure['line']})" if failure.get("line") else ""
        said = f"{failure['error']}: {failure.get('message', '')[:60]}"
        return f"{said}{where}" + (f" in `{failure['test']}`" if failure.get("test") else "")
    return result["status"]


def _insight(checks: Stage, tested: Stage, scores: Stage) -> str:
    results, n, c = tested.data["results"], scores.data["n"], scores.data["c"]
    if not scores.data["pass_at"]:
        ok = sum(ch["ok"] for ch in checks.data["checks"])
        return f"{ok} of {n} samples parse, but nothing was tested, and parsing is not the same as working."
    broke = [
        f"sample {i} {_failure_words(r, ch)}"
        for i, (r, ch) in enumerate(zip(results, checks.data["checks"], strict=True), 1)
        if not r["passed"]
    ]
    head = f"{c} of {n} samples passed every test (pass@1 = {scores.data['pass_at']['1']:.2f})."
    return head + (f" The failures: {'; '.join(broke[:3])}." if broke else " Every sample worked this time.")

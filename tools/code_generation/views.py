"""How a code-generation run is shown: the stage table and the request, each sample's code drawn with
every token on a background saying how sure the model was of it (the unsure ones are where to read
first) and marked passed or failed, a table of what each sample did (syntax, tests, what broke),
pass@k as a chart, and the samples as code blocks to copy. Every string from the model is text."""

from __future__ import annotations

from pathlib import Path

from tools.code_generation.generate import LOW
from tools.markup import code, code_block, plain
from tools.trace import Fact, PipelineTrace
from tools.views import Part, line_chart, markdown, picture, stage_table, tokens_line

COLUMNS = 72  # characters of code drawn per line
LINES = 16  # lines drawn per sample


def _colour(p: float) -> tuple[int, int, int]:
    """White when the model was sure, through amber to red as the probability falls below LOW."""
    if p >= 0.9:
        return (255, 255, 255)
    if p >= LOW:
        return (255, 236, 179)
    return (255, 138, 128)


def _cells(tokens: list[dict]) -> list[list[tuple[str, float]]]:
    """The code tokens as lines of (text, probability) pieces; a token with a newline splits a line."""
    lines: list[list[tuple[str, float]]] = [[]]
    for t in (t for t in tokens if t["in_code"]):
        for i, part in enumerate(t["token"].split("\n")):
            if i:
                lines.append([])
            if part:
                lines[-1].append((part, t["prob"]))
    while lines and not lines[0]:
        lines.pop(0)
    return lines


def sample_picture(sample: dict, result: dict, path: Path) -> str:
    """One sample's code, each token on its probability's colour, under a header saying how it fared."""
    import matplotlib
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(f"{matplotlib.get_data_path()}/fonts/ttf/DejaVuSansMono.ttf", 26)
    cw, lh = 16, 34  # a character's width and a line's height, in pixels (drawn at twice the size)
    lines = _cells(sample["tokens"])[:LINES]
    mark = "passed" if result["passed"] else result["status"]
    header = f"sample {sample['sample']}: {mark} ({result['tests_passed']}/{result['tests_total']} tests)"
    widest = max([len(header), *(min(COLUMNS, sum(len(t) for t, _ in line)) for line in lines)])
    image = Image.new("RGB", (widest * cw + 40, (len(lines) + 1) * lh + 24), "white")
    draw = ImageDraw.Draw(image)
    draw.text((12, 8), header, fill="#2b8a3e" if result["passed"] else "#c92a2a", font=font)
    for row, pieces in enumerate(lines, 1):
        x, y = 20, 8 + row * lh
        for text, p in pieces:
            text = text.replace("\t", "    ")[: max(0, COLUMNS - (x - 20) // cw)]
            if not text:
                break
            draw.rectangle((x, y, x + cw * len(text) - 1, y + lh - 4), fill=_colour(p))
            draw.text((x, y + 2), text, fill="#111", font=font)
            x += cw * len(text)
    image.save(path)
    return str(path)


def results_table(trace: PipelineTrace) -> str:
    samples = trace.stage("generation").data["samples"]
    checks = trace.stage("syntax check").data["checks"]
    results = trace.stage("tests").data["results"]
    rows = ["| sample | syntax | tests | what broke | unsure tokens |", "|---:|---|---|---|---:|"]
    for s, c, r in zip(samples, checks, results, strict=True):
        syntax = "ok" if c["ok"] else f"line {c['line']}, col {c['col']}: {plain(c['error'])}"
        broke = _broke(r) if c["ok"] else code(c.get("text", ""))
        tests = f"{r['tests_passed']}/{r['tests_total']}" + (" ✓" if r["passed"] else "")
        rows.append(f"| {s['sample']} | {syntax} | {tests} | {broke} | {len(s['unsure'])} |")
    return "#### What each sample did\n\n" + "\n".join(rows)


def _broke(result: dict) -> str:
    failure = result.get("failure")
    if result["passed"] or result["status"] in ("no tests", "stopped", "not run"):
        return "—" if result["passed"] else plain(result["status"])
    if not failure:
        return plain(result["status"])
    where = f" at line {failure['line']}" if failure.get("line") else ""
    test = f" in {code(failure['test'], 50)}" if failure.get("test") else " while loading"
    return f"{plain(failure['error'])}{where}{test}: {code(failure.get('message', ''), 60)}"


def views(trace: PipelineTrace, folder: Path) -> list[Part]:
    request = trace.stage("request").data
    scores = trace.stage("pass@k").data
    parts = [
        markdown("stage table", lambda: stage_table(trace)),
        markdown("request", lambda: f"**Asked:** {plain(request['request'])}"),
        *(
            [markdown("tokens", lambda: tokens_line(trace.stage("tokenization").data["tokens"]))]
            if trace.stage("tokenization").data["tokens"]
            else []
        ),
        *_pictures(trace, folder),
        markdown("results", lambda: results_table(trace)),
    ]
    if scores["pass_at"]:
        parts.append(
            picture(
                "pass@k",
                lambda: line_chart(
                    {"pass@k": list(scores["pass_at"].values())},
                    [int(k) for k in scores["pass_at"]],
                    folder / "pass-at-k.png",
                    "chance that at least one of k samples passes",
                    "k",
                ),
                f"pass@k from these {scores['n']} samples ({scores['c']} passed): drawing more samples "
                "raises the chance that one works, if tests can tell which.",
            )
        )
    parts.append(markdown("samples", lambda: _blocks(trace)))
    return parts


def _pictures(trace: PipelineTrace, folder: Path) -> list[Part]:
    """A picture per sample; the first caption says how to read them, the others what happened."""
    samples, results = trace.stage("generation").data["samples"], trace.stage("tests").data["results"]
    how = (
        f"Each token's background is how sure the model was of it: white above 90%, amber below, red under "
        f"{LOW:.0%}. Read the red ones first: that is where a sample usually goes wrong. "
    )
    if trace.stage("tokenization").data.get("probabilities") is False:
        how = "This server sent no token probabilities, so every token is drawn on white. "
    parts = []
    for i, (sample, result) in enumerate(zip(samples, results, strict=True)):
        said = "it passed every test." if result["passed"] else f"it failed: {_broke(result)}."
        parts.append(
            picture(
                f"sample {i + 1}",
                lambda s=sample, r=result, n=i + 1: sample_picture(s, r, folder / f"sample-{n}.png"),
                (how if i == 0 else "") + f"Sample {i + 1}: {said}",
            )
        )
    return parts


def _blocks(trace: PipelineTrace) -> str:
    out = ["#### The samples"]
    for s in trace.stage("generation").data["samples"]:
        out += [f"Sample {s['sample']}:", code_block(s["code"])]
    return "\n\n".join(out)


def facts(trace: PipelineTrace) -> list[Fact]:
    out = [Fact(text=s.note, stage=s.name) for s in trace.stages]
    samples, results = trace.stage("generation").data["samples"], trace.stage("tests").data["results"]
    for s, r in zip(samples, results, strict=True):
        unsure = ", ".join(repr(t["token"]) for t in s["unsure"][:5]) or "none"
        out.append(
            Fact(
                text=f"Sample {s['sample']} {'passed' if r['passed'] else 'failed: ' + _broke(r)}; its "
                f"unsure tokens (p < {LOW:.0%}): {unsure}.",
                stage="tests",
            )
        )
    return out

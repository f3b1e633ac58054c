"""How often the embedded model writes working code: pass@1 and pass@k on the tutor's 10 example tasks
(tools/code_generation/tasks.py), every sample checked by its tests in the sandbox.

For each task: one greedy sample (temperature 0: the model's single best program) and n samples at
temperature 0.6 (seed 0), with pass@1 and pass@n from the unbiased estimator. Prints one row per task,
the means, and the time per task. Run: `.venv/bin/python bench/code_pass_at_k.py [--samples N]`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=5, help="samples per task at temperature 0.6")
    args = parser.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from tools.code_generation import CodeGenerationTool, tasks
    from tools.config import ToolConfig

    tool = CodeGenerationTool(ToolConfig())
    tool({"prompt": "add two numbers", "samples": 1, "temperature": 0})  # load the model first
    print(f"| task | greedy | passed (of {args.samples}) | pass@1 | pass@{args.samples} | s per task |")
    print("|---|---|---:|---:|---:|---:|")
    totals = {"greedy": 0, "pass@1": 0.0, "pass@k": 0.0, "seconds": 0.0}
    for task in tasks.TASKS:
        start = time.perf_counter()
        greedy = tool({"prompt": task.doc, "function": task.name, "samples": 1, "temperature": 0})
        drawn = tool({"prompt": task.doc, "function": task.name, "samples": args.samples, "temperature": 0.6})
        seconds = time.perf_counter() - start
        scores = drawn.stage("pass@k").data
        ok = greedy.stage("pass@k").data["c"] == 1
        at1, atk = scores["pass_at"]["1"], scores["pass_at"][str(args.samples)]
        mark = "✓" if ok else "✗"
        print(f"| {task.name} | {mark} | {scores['c']} | {at1:.2f} | {atk:.2f} | {seconds:.1f} |")
        for key, value in (("greedy", ok), ("pass@1", at1), ("pass@k", atk), ("seconds", seconds)):
            totals[key] += value
    n = len(tasks.TASKS)
    print(
        f"| **mean** | {totals['greedy']}/{n} | | {totals['pass@1'] / n:.2f} | {totals['pass@k'] / n:.2f} "
        f"| {totals['seconds'] / n:.1f} |"
    )


if __name__ == "__main__":
    main()

"""Trace overhead of text_generation: the tool with its full trace versus plain greedy `generate`
producing the same tokens on the same model object (prints the figures; not a test).

Run: `.venv/bin/python bench/trace_bench.py [--tokens 32] [--repeats 5]`.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from tools.registry import Registry
from tutor.settings import Settings

PROMPT = "Write one sentence about how rain forms."


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    tool = Registry(Settings.from_env()).get("text_generation")
    arguments = {"prompt": PROMPT, "max_new_tokens": args.tokens, "temperature": 0}
    trace = tool(arguments)  # warm-up: loads the model
    model, tok = tool._load(None, trace.device)
    ids = tok.apply_chat_template(
        [{"role": "user", "content": PROMPT}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )["input_ids"].to(trace.device)
    n_new = len(trace.stage("sampling").data["steps"])

    traced, plain = [], []
    for _ in range(args.repeats):
        t = time.perf_counter()
        run = tool(arguments)
        traced.append(time.perf_counter() - t)
        t = time.perf_counter()
        with torch.inference_mode():
            out = model.generate(
                ids,
                attention_mask=torch.ones_like(ids),  # pad id == <|im_end|>: never infer a mask from ids
                max_new_tokens=n_new,
                do_sample=False,
            )
        plain.append(time.perf_counter() - t)
        plain_text = tok.decode(out[0, ids.shape[1] :], skip_special_tokens=True)
        assert plain_text == run.output["text"], (plain_text, run.output["text"])
    ratio = statistics.median(traced) / statistics.median(plain)
    print(f"prompt tokens            {ids.shape[1]}")
    print(f"new tokens               {n_new}")
    print(f"tool with trace, median  {statistics.median(traced) * 1000:.0f} ms")
    print(f"plain generate, median   {statistics.median(plain) * 1000:.0f} ms")
    print(f"overhead ratio           {ratio:.2f}x (target <= 1.3x)")


if __name__ == "__main__":
    main()

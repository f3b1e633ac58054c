"""Benchmark of the conversation on this machine (prints figures; not a test).

- cold start to ready: `genai-tutor serve` until the page answers HTTP 200, first in an empty
  GENAI_TUTOR_HOME (GGUF conversion + ingestion) and again in the same home (cached);
- retrieval latency over 20 questions (median, p95);
- time to first visible text and to the finished answer (median, p95) for 20 explanation turns and
  10 follow-ups (simpler / an example / deeper / "what about ...?") on the embedded defaults;
- the embedded runtime: decode tokens/s of the chat model on llama.cpp (xllamacpp) against
  transformers bfloat16 on the same prompt, as a ratio in one run;
- could the small model write? The share of its one-sentence recaps of the cited passages that pass
  the support check (bench/prose_check.py), over the same 20 questions.

Run: `make bench` (or `.venv/bin/python bench/chat_bench.py [--questions 20]`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.servers

ROOT = Path(__file__).resolve().parents[1]


def start_to_ready(home: Path) -> float:
    """Seconds from starting `genai-tutor serve` until its page answers."""
    from tests.servers import serve, stop

    start = time.perf_counter()
    proc, _ = serve(home, home / "serve.log")
    try:
        return time.perf_counter() - start
    finally:
        stop(proc)


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


FOLLOW_UPS = [
    "can you explain that more simply?",
    "give me an example",
    "tell me more",
    "why?",
    "what about it in practice?",
]


def turn_times(
    tutor, questions: list[str], follow_ups: int
) -> tuple[list[float], list[float], list[float], list[float]]:
    """(first text ms, finished ms) for explanation turns and for follow-ups, each in its conversation."""
    from tutor.conversation import Conversation

    first, done, follow_first, follow_done = [], [], [], []
    for n, q in enumerate(questions):
        conv = Conversation()
        timings = tutor.reply(q, conv)["timings"]
        first.append(timings["ttft_ms"])
        done.append(timings["total_ms"])
        if n < follow_ups:
            timings = tutor.reply(FOLLOW_UPS[n % len(FOLLOW_UPS)], conv)["timings"]
            follow_first.append(timings["ttft_ms"])
            follow_done.append(timings["total_ms"])
    return first, done, follow_first, follow_done


def decode_rates(prompt: str, tokens: int = 128) -> tuple[float, float]:
    """Decode tokens/s of the embedded chat model: llama.cpp (xllamacpp) and transformers bfloat16."""
    import torch
    from langchain_core.messages import HumanMessage

    from tools.embedded_model import cached_model_dir
    from tutor.llm.local import LocalChatModel, load_local_lm

    model = LocalChatModel(max_new_tokens=tokens)
    model.warm()
    list(model.stream([HumanMessage(prompt)]))  # warm the prompt cache path too
    first, count = None, 0
    for chunk in model.stream([HumanMessage(prompt)]):
        first = first or time.perf_counter()
        count += bool(chunk.text)
    llama = (count - 1) / (time.perf_counter() - first)

    lm = load_local_lm(str(cached_model_dir(Path(os.environ["GENAI_TUTOR_HOME"]))), "cpu")
    inputs = lm.tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt}],
        add_generation_prompt=True,
        return_dict=True,
        return_tensors="pt",
    )
    with torch.inference_mode():
        lm.model.generate(**inputs, max_new_tokens=4, do_sample=False)  # warm-up
        t = time.perf_counter()
        out = lm.model.generate(**inputs, max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False)
        elapsed = time.perf_counter() - t
    made = out.shape[1] - inputs["input_ids"].shape[1]
    return llama, made / elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--questions", type=int, default=20)
    ap.add_argument("--follow-ups", type=int, default=10)
    args = ap.parse_args()
    questions = [q["q"] for q in yaml.safe_load((ROOT / "tests/data/questions.yaml").read_text())]
    questions = questions[: args.questions]

    home = Path(tempfile.mkdtemp(prefix="genai-tutor-bench-"))
    first = start_to_ready(home)
    second = start_to_ready(home)

    os.environ["GENAI_TUTOR_HOME"] = str(home)
    from prose_check import pass_rate

    from tutor.chat import build_tutor
    from tutor.settings import Settings

    tutor = build_tutor(Settings.from_env())
    tutor.store.ingest()
    tutor.ask("warm-up: what is a token?")

    retrieval = []
    for q in questions:
        t = time.perf_counter()
        tutor.store.search(q, k=3)
        retrieval.append((time.perf_counter() - t) * 1000)
    text_first, text_done, follow_first, follow_done = turn_times(tutor, questions, args.follow_ups)
    llama, transformers = decode_rates("Write a paragraph about cats.")
    passed, total, _ = pass_rate(tutor, questions)

    import torch

    machine = platform.processor() or platform.machine()
    figures = {
        "machine": f"{machine}, {os.cpu_count()} cores, torch {torch.__version__}",
        "cold_start_first_s": round(first, 1),
        "cold_start_second_s": round(second, 1),
        "retrieval_ms_median": round(statistics.median(retrieval), 1),
        "retrieval_ms_p95": round(pct(retrieval, 0.95), 1),
        "explain_first_text_ms_median": round(statistics.median(text_first), 1),
        "explain_first_text_ms_p95": round(pct(text_first, 0.95), 1),
        "explain_done_ms_median": round(statistics.median(text_done), 1),
        "explain_done_ms_p95": round(pct(text_done, 0.95), 1),
        "follow_up_first_text_ms_median": round(statistics.median(follow_first), 1),
        "follow_up_first_text_ms_p95": round(pct(follow_first, 0.95), 1),
        "follow_up_done_ms_median": round(statistics.median(follow_done), 1),
        "follow_up_done_ms_p95": round(pct(follow_done, 0.95), 1),
        "decode_tokens_per_s_llamacpp": round(llama, 1),
        "decode_tokens_per_s_transformers_bf16": round(transformers, 1),
        "decode_speed_ratio": round(llama / transformers, 2),
        "small_model_recaps_passing_check": f"{passed}/{total}",
        "questions": len(questions),
        "follow_ups": len(follow_first),
    }
    for key, value in figures.items():
        print(f"{key:40} {value}")
    out = ROOT / "bench/results"
    out.mkdir(exist_ok=True)
    (out / "chat_bench.json").write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()

"""Benchmark of the explanation path on this machine (prints figures; not a test).

- cold start to ready: `genai-tutor serve` until the page answers HTTP 200, first in an empty
  GENAI_TUTOR_HOME (GGUF conversion + ingestion) and again in the same home (cached);
- retrieval latency over 20 questions (median, p95);
- time to first token and tokens per second of the embedded model over the same 20 chat turns.

Run: `make bench` (or `.venv/bin/python bench/chat_bench.py [--questions 20]`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_to_ready(home: Path) -> float:
    port = free_port()
    env = {**os.environ, "GENAI_TUTOR_HOME": str(home), "GRADIO_ANALYTICS_ENABLED": "False"}
    script = Path(sys.executable).with_name("genai-tutor")
    start = time.perf_counter()
    proc = subprocess.Popen(
        [str(script), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while time.perf_counter() - start < 600:
            if proc.poll() is not None:
                raise RuntimeError(f"genai-tutor serve exited: {proc.stderr.read().decode()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                    if r.status == 200:
                        return time.perf_counter() - start
            except OSError:
                time.sleep(0.2)
        raise TimeoutError("the app did not come up in 600 s")
    finally:
        proc.terminate()
        proc.wait(30)


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--questions", type=int, default=20)
    args = ap.parse_args()
    questions = [q["q"] for q in yaml.safe_load((ROOT / "tests/data/questions.yaml").read_text())]
    questions = questions[: args.questions]

    home = Path(tempfile.mkdtemp(prefix="genai-tutor-bench-"))
    first = start_to_ready(home)
    second = start_to_ready(home)

    os.environ["GENAI_TUTOR_HOME"] = str(home)
    from tutor.chat import build_tutor
    from tutor.llm.local import load_local_lm
    from tutor.settings import Settings

    tutor = build_tutor(Settings.from_env())
    tutor.store.ingest()
    tutor.store.search("warm-up")
    tutor.chat_model.warm()
    tokenizer = load_local_lm(tutor.chat_model.model_dir, tutor.chat_model.device).tokenizer

    retrieval = []
    for q in questions:
        t = time.perf_counter()
        tutor.store.search(q, k=3)
        retrieval.append((time.perf_counter() - t) * 1000)

    ttft, rates = [], []
    for q in questions:
        result = tutor.ask(q)
        timings = result["timings"]
        if "ttft_ms" not in timings:
            continue
        generated = result["answer"].split("**In short:** ", 1)[-1]
        tokens = len(tokenizer(generated)["input_ids"])
        ttft.append(timings["ttft_ms"] - timings["retrieval_ms"])
        gen_s = (timings["total_ms"] - timings["ttft_ms"]) / 1000
        if tokens > 1 and gen_s > 0:
            rates.append((tokens - 1) / gen_s)

    import torch

    machine = platform.processor() or platform.machine()
    figures = {
        "machine": f"{machine}, {os.cpu_count()} cores, torch {torch.__version__}",
        "cold_start_first_s": round(first, 1),
        "cold_start_second_s": round(second, 1),
        "retrieval_ms_median": round(statistics.median(retrieval), 1),
        "retrieval_ms_p95": round(pct(retrieval, 0.95), 1),
        "ttft_ms_median": round(statistics.median(ttft), 1),
        "ttft_ms_p95": round(pct(ttft, 0.95), 1),
        "tokens_per_s_median": round(statistics.median(rates), 1),
        "questions": len(questions),
    }
    for key, value in figures.items():
        print(f"{key:24} {value}")
    out = ROOT / "bench/results"
    out.mkdir(exist_ok=True)
    (out / "chat_bench.json").write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()

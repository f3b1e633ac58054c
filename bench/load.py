"""Load: N simulated learners on the running deployment, each asking a question, taking a two-question
quiz and running a small demo through the page's own event endpoints (prints figures; not a test).

Every learner is one browser (its own page session and learner id, cookies kept, so a sticky proxy
keeps it on one process). Turns are bounded: one question, "quiz me" and two answers, one demo of 8
tokens; learners start a little apart and the whole run stops at --budget seconds. Time to first text
is from sending a message to the first streamed update of the reply.

    .venv/bin/python bench/load.py URL [URL ...] [--learners 30] [--budget 600]
    .venv/bin/python bench/load.py --start one   # starts one `genai-tutor serve` on the defaults
    .venv/bin/python bench/load.py --start two   # Chroma server, PostgreSQL, model server, 2 apps, HAProxy

Several URLs: learners are dealt over them in turn (no proxy needed).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.page_client import PageClient, completed  # noqa: E402

TURNS = [
    ("question", "How does Stable Diffusion work?"),
    ("quiz", "quiz me"),
    ("answer", "A"),
    ("answer", "A"),
    ("demo", '/demo text {"prompt": "The cat sat", "max_new_tokens": 8, "temperature": 0}'),
]


def timed_say(client: PageClient, name: str, message: str) -> tuple[float, float, str]:
    """(seconds to the first streamed update, seconds to the end, the stream) of one chat message."""
    start, first = time.perf_counter(), []

    def seen(message: dict) -> None:
        if message.get("msg") == "process_generating" and not first:
            first.append(time.perf_counter() - start)

    stream = client.say(name, message, on_message=seen)
    end = time.perf_counter() - start
    last = completed(stream)
    if not last.get("success", True):
        raise RuntimeError(str(last.get("output"))[:200])
    return (first[0] if first else end), end, stream


def learner(i: int, url: str, deadline: float, rows: list, errors: list) -> None:
    name = f"Load learner {i}"
    try:
        client = PageClient(url, timeout=300)
    except httpx.HTTPError as e:
        errors.append(f"{name}: connect: {e}")
        return
    for kind, message in TURNS:
        if time.monotonic() > deadline:
            errors.append(f"{name}: out of time before {kind}")
            return
        try:
            first, end, stream = timed_say(client, name, message)
        except (httpx.HTTPError, RuntimeError, ValueError) as e:
            errors.append(f"{name}: {kind}: {type(e).__name__}: {e}")
            continue
        ok = {"question": "Sources from the lessons", "demo": "finished"}.get(kind)
        if kind == "answer" and not ("Correct." in stream or "Not quite." in stream):
            ok = "(graded)"
        if ok and ok not in stream:
            errors.append(f"{name}: {kind}: no {ok!r} in the reply")
        rows.append({"kind": kind, "first": first, "end": end})


def run(urls: list[str], learners: int, budget: float, stagger: float) -> dict:
    rows, errors, threads = [], [], []
    start = time.monotonic()
    deadline = start + budget
    for i in range(learners):
        t = threading.Thread(target=learner, args=(i, urls[i % len(urls)], deadline, rows, errors))
        t.start()
        threads.append(t)
        time.sleep(stagger)
    for t in threads:
        t.join(max(1.0, deadline - time.monotonic() + 60))
    wall = time.monotonic() - start
    return {"wall": wall, "rows": rows, "errors": errors}


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) >= 2 else (values or [float("nan")])[0]


def report(result: dict, learners: int) -> None:
    rows = result["rows"]
    rate = len(rows) / result["wall"]
    print(f"{learners} learners, {len(rows)} turns in {result['wall']:.1f} s: {rate:.2f} turns/s")
    print("| turn | n | first text p50 | p95 | finished p50 | p95 |")
    print("|---|---:|---:|---:|---:|---:|")
    for kind in dict.fromkeys(k for k, _ in TURNS):
        mine = [r for r in rows if r["kind"] == kind]
        if mine:
            firsts, ends = [r["first"] for r in mine], [r["end"] for r in mine]
            print(f"| {kind} | {len(mine)} | {pct(firsts, 50):.2f} s | {pct(firsts, 95):.2f} s | "
                  f"{pct(ends, 50):.2f} s | {pct(ends, 95):.2f} s |")  # fmt: skip
    every = [r["first"] for r in rows]
    if every:
        print(f"all turns: first text p50 {pct(every, 50):.2f} s, p95 {pct(every, 95):.2f} s")
    print(f"errors: {len(result['errors'])}")
    for line in result["errors"][:10]:
        print("  ", line)


def start(kind: str, stack: ExitStack) -> list[str]:
    """A deployment on this machine: `one` app on the embedded defaults, or `two` apps on the shared
    servers behind HAProxy (tests/servers.py starts each)."""
    from tests.servers import chroma, haproxy, new_database, postgres, serve, stop

    folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tutor-load-")))
    if kind == "one":
        proc, url = serve(folder / "home", folder / "app.log")
        stack.callback(stop, proc)
        return [url]
    from tests.servers import model_server

    model, model_url = model_server(folder / "model.log", slots=4, threads=2)
    stack.callback(stop, model)
    env = {
        "TUTOR_CHROMA_URL": stack.enter_context(chroma(folder / "chroma")),
        "TUTOR_DATABASE_URL": new_database(stack.enter_context(postgres())),
        "TUTOR_MODEL_URL": model_url + "/v1",
    }
    apps = []
    for name in ("app1", "app2"):
        proc, url = serve(folder / name, folder / f"{name}.log", env)
        stack.callback(stop, proc)
        apps.append(url)
    return [stack.enter_context(haproxy(*apps))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("urls", nargs="*", help="the deployment's address(es)")
    ap.add_argument("--start", choices=["one", "two"], help="start a deployment here instead")
    ap.add_argument("--learners", type=int, default=30)
    ap.add_argument("--budget", type=float, default=600.0, help="seconds before learners stop")
    ap.add_argument("--stagger", type=float, default=0.5, help="seconds between learners' starts")
    args = ap.parse_args()
    if not (1 <= args.learners <= 200):
        ap.error("--learners must be between 1 and 200")
    with ExitStack() as stack:
        urls = args.urls or (start(args.start, stack) if args.start else ap.error("give URLs or --start"))
        print(f"deployment: {args.start or 'given'} at {', '.join(urls)}", flush=True)
        report(run(urls, args.learners, args.budget, args.stagger), args.learners)


if __name__ == "__main__":
    main()

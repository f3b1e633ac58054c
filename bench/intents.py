"""How well the tutor understands messages: precision and recall per class on the labelled phrasing set
(tests/data/router_phrasings.yaml), mid-conversation (a current topic and a last run exist).

A demo phrasing answered with "Shall I run ...?" (offer) counts as understood but not launched; any
non-demo phrasing that launches a demo is listed. Run: `.venv/bin/python bench/intents.py [--wrong]`.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PHRASINGS = ROOT / "tests" / "data" / "router_phrasings.yaml"
GROUPS = {  # the intent kinds each labelled class accepts
    "demo": {"demo", "offer"},
    "explain": {"explain"},
    "more": {"more", "explain"},  # a follow-up question answered on the current topic is right either way
    "smalltalk": {"thanks", "greeting", "who"},
    "offtopic": {"offtopic"},
    "injection": {"injection"},
    "run": {"run"},
}
CLASS_OF = {kind: label for label, kinds in GROUPS.items() for kind in kinds if label != "more"} | {
    "more": "more"
}
TOPIC = "Sampling"  # the current topic's title in the test conversation


def labelled() -> list[tuple[str, str, str | None]]:
    """(phrasing, class, expected tool or None)."""
    data = yaml.safe_load(PHRASINGS.read_text())
    rows = [(p, "demo", tool) for tool, ps in data.pop("demo").items() for p in ps]
    return rows + [(p, label, None) for label, ps in data.items() for p in ps]


def evaluate(understanding) -> dict:
    """Per class: precision, recall and count; the wrong rows; the non-demo phrasings that launched one."""
    rows = []
    for text, label, tool in labelled():
        intent = understanding.classify(text, TOPIC, has_run=True)
        ok = intent.kind in GROUPS[label] and (tool is None or intent.detail == tool)
        rows.append((text, label, intent.kind, intent.detail, ok))
    predicted = Counter(CLASS_OF[kind] for _, _, kind, _, _ in rows)
    right = Counter(CLASS_OF[kind] for _, _, kind, _, ok in rows if ok)
    truth = Counter(label for _, label, _, _, _ in rows)
    report = {
        label: {
            "precision": round(right[label] / predicted[label], 3) if predicted[label] else None,
            "recall": round(sum(ok for _, lab, _, _, ok in rows if lab == label) / truth[label], 3),
            "n": truth[label],
        }
        for label in GROUPS
    }
    launched = [text for text, label, kind, _, _ in rows if kind == "demo" and label != "demo"]
    offered = [text for text, label, kind, _, _ in rows if kind == "offer" and label == "demo"]
    return {
        "classes": report,
        "wrong": [r for r in rows if not r[4]],
        "launched_by_accident": launched,
        "demo_requests_asked_first": offered,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--wrong", action="store_true", help="list the misunderstood phrasings")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="intents-"))
    os.environ["GENAI_TUTOR_HOME"] = str(home)
    from tools.registry import Registry
    from tutor.chat import open_store
    from tutor.intents import Understanding
    from tutor.router import Router
    from tutor.settings import Settings

    settings = Settings.from_env(home=home, device="cpu")
    store = open_store(settings)
    store.ingest()
    router = Router(Registry(settings), store.embedder)
    result = evaluate(Understanding(router, store, settings.min_relevance, settings.retrieval_k))
    print(f"{len(labelled())} phrasings")
    print(f"{'class':<10} {'precision':>9} {'recall':>7} {'n':>4}")
    for label, r in result["classes"].items():
        precision = "-" if r["precision"] is None else f"{r['precision']:.2f}"
        print(f"{label:<10} {precision:>9} {r['recall']:>7.2f} {r['n']:>4}")
    print("non-demo phrasings that launched a demo:", len(result["launched_by_accident"]))
    print("demo requests asked about first (Shall I run ...?):", len(result["demo_requests_asked_first"]))
    if args.wrong:
        for text, label, kind, detail, _ in result["wrong"]:
            print(f"  [{label} -> {kind} {detail}] {text}")


if __name__ == "__main__":
    main()

"""Could the small model write any of the tutor's prose? A reproducible check of that design choice.

For each question, the embedded model (SmolLM2-135M on llama.cpp) is given the passages the tutor
cites (the concept's plain words and the closest lesson section) and asked for a one-sentence answer
using only their words. A sentence is *supported* when (1) every content word in it occurs in the
passages, (2) it is close in meaning to one passage sentence (MiniLM cosine >= 0.7), and (3) it
negates exactly when that sentence does. On this machine no recap passed (see the README), so the
tutor shows no model-written prose on the embedded defaults.

Run: `.venv/bin/python bench/prose_check.py [--questions 20] [--show]`.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SUPPORT = 0.7
NEGATION = re.compile(r"\b(?:not|no|never|none|cannot|without)\b|n't\b", re.I)
SYSTEM = (
    "You are a tutor. Using only words from the text, answer the question in one short sentence for a "
    "beginner."
)


def why_unsupported(embedder, said: str, source: str) -> str | None:
    """None when every sentence of `said` is supported by the source, else the first check it fails."""
    from knowledge.teaching import sentences
    from tutor.grading import content_words

    claims = sentences(said)
    backing = [s for s in re.split(r"(?<=[.!?:;])\s+|\n+", source) if s.strip()]
    if not claims:
        return "empty"
    if any(not content_words(c) <= content_words(source) for c in claims):
        return "words not in the passages"
    vectors = np.array(embedder.embed(claims + backing))
    for claim, row in zip(claims, vectors[: len(claims)] @ vectors[len(claims) :].T, strict=True):
        best = int(row.argmax())
        if row[best] < SUPPORT:
            return "not close to any passage sentence"
        if bool(NEGATION.search(claim)) != bool(NEGATION.search(backing[best])):
            return "negation differs"
    return None


def pass_rate(tutor, questions: list[str], show: bool = False) -> tuple[int, int, Counter]:
    from langchain_core.messages import HumanMessage, SystemMessage

    from tutor.llm.local import LocalChatModel

    model, reasons = LocalChatModel(max_new_tokens=60), Counter()
    for q in questions:
        hits = tutor.store.search(q, k=3)
        slug = tutor.teacher.concept_for(q, hits)
        lesson = next((h for h in hits if not h.lesson_id.startswith("teaching-")), None)
        source = "\n".join([tutor.teacher.teaching[slug].plain] + ([lesson.text[:450]] if lesson else []))
        messages = [SystemMessage(SYSTEM), HumanMessage(f"Text:\n{source}\n\nQuestion: {q}")]
        said = "".join(c.text for c in model.stream(messages, stop=["\n"])).strip()
        reason = why_unsupported(tutor.store.embedder, said, source)
        reasons[reason or "passed"] += 1
        if show:
            print(f"[{reason or 'passed'}] {q}\n    {said}")
    return reasons["passed"], len(questions), reasons


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--questions", type=int, default=20)
    ap.add_argument("--show", action="store_true", help="print each recap and why it failed")
    args = ap.parse_args()
    os.environ.setdefault("GENAI_TUTOR_HOME", tempfile.mkdtemp(prefix="prose-check-"))
    from tutor.chat import build_tutor
    from tutor.settings import Settings

    tutor = build_tutor(Settings.from_env())
    tutor.store.ingest()
    questions = [q["q"] for q in yaml.safe_load((ROOT / "tests/data/questions.yaml").read_text())]
    passed, total, reasons = pass_rate(tutor, questions[: args.questions], args.show)
    print(f"recaps passing the support check: {passed}/{total}")
    for reason, n in reasons.most_common():
        print(f"  {reason:36} {n}")


if __name__ == "__main__":
    main()

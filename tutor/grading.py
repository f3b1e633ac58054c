"""Short answers, graded two ways, always with the reasons shown to the learner.

With the embedded model: the whole answer against the reference answer by embedding similarity, and
each key point against the answer's closest sentence (or by the share of its content words the answer
uses). With a tool-calling backend: the model grades against the key points and explains; a reply
that cannot be used returns None, and the caller grades by similarity instead.
"""

from __future__ import annotations

import json
import re

import numpy as np

from knowledge.quizbank import QuizItem
from tools.markup import no_html

SIMILARITY_PASS = 0.6  # cosine similarity of the answer to the reference answer
KEY_POINT_HIT = 0.55  # similarity of a key point to a sentence of the answer
WORDS_HIT = 0.6  # ... or the share of the key point's content words that the answer uses
FILLER = {"the", "of", "to", "and", "or", "in", "on", "for", "is", "are", "be", "it", "its", "that", "this"}


def content_words(text: str) -> set[str]:
    """Words that carry meaning, cut to five letters so that 'predicts' meets 'prediction'."""
    return {w[:5] for w in re.findall(r"[a-z0-9]+", text.casefold()) if len(w) > 2 and w not in FILLER}


def uses_words(point: str, used: set[str]) -> bool:
    """Whether an answer whose content words are `used` says most of the point's content words."""
    words = content_words(point)
    return len(words & used) >= WORDS_HIT * len(words)


def split_sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?;,])\s+", text) if s.strip()] or [text]


def points_covered(embedder, points: list[str], text: str) -> list[bool]:
    """Which points the answer states: a sentence of it close in meaning to the point, or most of the
    point's content words used."""
    if not points:
        return []
    vectors = np.array(embedder.embed(points + split_sentences(text)))
    best = (vectors[: len(points)] @ vectors[len(points) :].T).max(axis=1)
    used = content_words(text)
    return [bool(b >= KEY_POINT_HIT or uses_words(p, used)) for p, b in zip(points, best, strict=True)]


def grade_by_similarity(embedder, item: QuizItem, text: str) -> tuple[bool, str]:
    """Embedded model: the whole answer against the reference, each key point against the answer's
    closest sentence or by the share of its words the answer uses."""
    whole, reference = np.array(embedder.embed([text, item.reference]))
    similarity = float(whole @ reference)
    hit = points_covered(embedder, item.key_points, text)
    covered = [kp for kp, h in zip(item.key_points, hit, strict=True) if h]
    needed = (len(item.key_points) + 1) // 2
    correct = similarity >= SIMILARITY_PASS and len(covered) >= needed
    missing = [kp for kp in item.key_points if kp not in covered]
    why = (
        f"Graded by meaning (embedding similarity): your answer is {similarity:.0%} similar to the "
        f"reference answer (pass: {SIMILARITY_PASS:.0%}) and covers {len(covered)} of "
        f"{len(item.key_points)} key points (pass: {needed})."
    )
    if missing:
        why += " Missing: " + "; ".join(missing) + "."
    return correct, why + f"\n\nA model answer: *{item.reference}*"


def grade_with_model(model, item: QuizItem, text: str) -> tuple[bool, str] | None:
    """The backend grades against the key points; None when its reply cannot be used."""
    from langchain_core.messages import HumanMessage, SystemMessage

    points = "\n".join(f"- {kp}" for kp in item.key_points)
    prompt = (
        f"Question: {item.question}\nReference answer: {item.reference}\nKey points:\n{points}\n\n"
        f"Learner's answer: {text}\n\nReply with JSON only: "
        '{"correct": true|false, "covered": [key points covered], "missing": [key points missing], '
        '"explanation": "two sentences for the learner"}. Correct means at least half the key points '
        "are covered and nothing said is wrong."
    )
    try:
        reply = model.invoke([SystemMessage("You grade short quiz answers fairly."), HumanMessage(prompt)])
        found = re.search(r"\{.*\}", reply.text, re.S)
        verdict = json.loads(found.group(0)) if found else None
        correct = verdict["correct"] if isinstance(verdict, dict) else None
    except Exception:  # an unusable reply or a backend error: grade by similarity instead
        return None
    if not isinstance(correct, bool):
        return None
    why = f"Graded by the model against the key points: {no_html(verdict.get('explanation', ''))}"
    if verdict.get("missing"):
        why += " Missing: " + no_html("; ".join(map(str, verdict["missing"]))) + "."
    return correct, why + f"\n\nA model answer: *{item.reference}*"

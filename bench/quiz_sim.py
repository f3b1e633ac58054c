"""Simulated learners: how many questions until every concept is truly known *and* detected as mastered?

Each simulated learner's true knowledge follows BKT with random parameters per concept: a starting
chance of already knowing it, a learning chance per question (four times smaller while a prerequisite
is still unknown, since building on missing foundations rarely works), and a slip chance; a guess
succeeds with the item's guess probability (1/k choices, 1/2 true/false, 0.05 short answer). Every
policy is tracked by the same learner model the tutor uses (tutor.learner, default parameters), and
the same learners (same random parameters and draws per concept) meet every policy:

- adaptive: the tutor's own selection (tutor.quiz.choose_concept / choose_item), with a review of the
  least-known concept once everything is detected as mastered (in the tutor, FSRS brings these back);
- fixed: the item bank in lesson order, concept by concept, over and over;
- random: any item of the bank.

False mastery: a concept detected as mastered (P(known) crosses 0.95) while the learner does not know it.
Run: `python bench/quiz_sim.py [--learners 200] [--seed 0]`.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from knowledge.lessons import load_concepts  # noqa: E402
from knowledge.quizbank import load_bank  # noqa: E402
from tutor.learner import (  # noqa: E402
    DIFFICULTY_RATING,
    MASTERY,
    BKTParams,
    bkt_update,
    elo_update,
    guess_probability,
)
from tutor.learner_store import ConceptState  # noqa: E402
from tutor.quiz import choose_concept, choose_item  # noqa: E402

MAX_QUESTIONS = 5000
PREREQ_PENALTY = 0.25


class Learner:
    """The true state of one simulated learner (hidden from the policies)."""

    def __init__(self, concepts, rng: random.Random):
        self.requires = {c.slug: c.requires for c in concepts}
        self.p_learn = {c.slug: rng.uniform(0.05, 0.35) for c in concepts}
        self.slip = {c.slug: rng.uniform(0.02, 0.15) for c in concepts}
        self.known = {c.slug: rng.random() < rng.uniform(0.0, 0.3) for c in concepts}

    def answer(self, item, rng: random.Random) -> bool:
        concept = item.concept
        n_options = len(item.options) if item.type == "multiple_choice" else 0
        if self.known[concept]:
            correct = rng.random() >= self.slip[concept]
        else:
            correct = rng.random() < guess_probability(item.type, n_options)
        if not self.known[concept]:  # practice can teach, less so on missing foundations
            blocked = any(not self.known[r] for r in self.requires[concept])
            self.known[concept] = rng.random() < self.p_learn[concept] * (PREREQ_PENALTY if blocked else 1)
        return correct


def simulate(policy: str, concepts, bank, by_concept, learner_seed: int) -> tuple[int, int]:
    """(questions asked until done, false masteries) for one learner under one policy."""
    learner = Learner(concepts, random.Random(learner_seed))
    rng = random.Random(learner_seed * 7919 + 1)  # the learner's answers: same stream for every policy
    pick = random.Random(learner_seed * 104729 + 2)  # the random policy's choices
    states: dict[str, ConceptState] = {}
    ratings: dict[str, tuple[float, int]] = {}
    seen: dict[str, int] = {}
    params, last, false_mastery = BKTParams(), None, 0
    order = [item for c in concepts for item in by_concept.get(c.slug, [])]
    for asked in range(1, MAX_QUESTIONS + 1):
        if policy == "adaptive":
            choice = choose_concept(concepts, states, [])
            # all detected as mastered: review the least certain one
            concept = min(states, key=lambda s: states[s].p_known) if choice is None else choice[0]
            state = states.get(concept, ConceptState(params.p_init))
            item = choose_item(by_concept[concept], state.ability, ratings, seen, last, state.p_known)
        elif policy == "fixed":
            item = order[(asked - 1) % len(order)]
        else:
            item = pick.choice(bank)
        correct = learner.answer(item, rng)
        state = states.get(item.concept, ConceptState(params.p_init))
        n_options = len(item.options) if item.type == "multiple_choice" else 0
        p_after = bkt_update(state.p_known, correct, guess_probability(item.type, n_options), params)
        rating, answers = ratings.get(item.id, (DIFFICULTY_RATING[item.difficulty], 0))
        ability, rating = elo_update(state.ability, rating, answers, correct)
        ratings[item.id] = (rating, answers + 1)
        if state.p_known < MASTERY <= p_after and not learner.known[item.concept]:
            false_mastery += 1
        states[item.concept] = ConceptState(
            p_after, ability, state.attempts + 1, state.correct + int(correct)
        )
        seen[item.id] = seen.get(item.id, 0) + 1
        last = item.id
        done = all(learner.known.values()) and all(
            c.slug in states and states[c.slug].p_known >= MASTERY for c in concepts
        )
        if done:
            return asked, false_mastery
    return MAX_QUESTIONS, false_mastery


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    concepts, bank = list(load_concepts().values()), load_bank()
    by_concept: dict[str, list] = {}
    for item in bank:
        by_concept.setdefault(item.concept, []).append(item)
    start = time.perf_counter()
    results = {}
    for policy in ("adaptive", "fixed", "random"):
        runs = [
            simulate(policy, concepts, bank, by_concept, args.seed * 100_000 + i)
            for i in range(args.learners)
        ]
        questions = [q for q, _ in runs]
        results[policy] = {
            "mean": statistics.mean(questions),
            "median": statistics.median(questions),
            "capped": sum(q >= MAX_QUESTIONS for q in questions),
            "false": statistics.mean(f for _, f in runs),
        }
    base = results["fixed"]["mean"]
    print(
        f"{args.learners} simulated learners, {len(concepts)} concepts, {len(bank)} items, seed {args.seed}"
    )
    header = "| policy | questions until known and detected (mean) | median | vs fixed | false masteries |"
    print(header)
    print("|---|---:|---:|---:|---:|")
    for policy, r in results.items():
        capped = f" ({r['capped']} hit the {MAX_QUESTIONS} cap)" if r["capped"] else ""
        print(
            f"| {policy} | {r['mean']:.0f}{capped} | {r['median']:.0f} | {r['mean'] / base - 1:+.0%} | "
            f"{r['false']:.2f} |"
        )
    saving = 1 - results["adaptive"]["mean"] / base
    fewer_false = results["adaptive"]["false"] <= results["fixed"]["false"]
    print(
        f"\nadaptive needs {saving:.0%} fewer questions than fixed order (target >= 30%); "
        f"false mastery {'no more' if fewer_false else 'MORE'} than fixed. "
        f"({time.perf_counter() - start:.1f} s)"
    )


if __name__ == "__main__":
    main()

"""The learner model: Bayesian Knowledge Tracing per concept and Elo-style item difficulty.

BKT keeps one number per concept, P(known). After each answer it is updated by Bayes' rule (a correct
answer may be a lucky guess, a wrong one a slip) and then by the chance of learning from the practice
itself. The guess probability follows the item type: 1/k for k choices, 1/2 for true/false, small for a
short answer. Item difficulty is a rating on a logit scale that moves as answers accumulate, so the
quiz can pick the item whose expected success is nearest a target (about 0.7: hard enough to teach,
easy enough to encourage). What this leaves out: per-learner fitting of the BKT parameters (the
defaults are the commonly used ones) and forgetting, which review scheduling (FSRS) handles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MASTERY = 0.95  # P(known) at which a concept counts as mastered
TARGET_SUCCESS = 0.7  # expected success the item choice aims for
DIFFICULTY_RATING = {1: -1.0, 2: 0.0, 3: 1.0}  # starting item ratings, logit scale
ABILITY_K = 0.4  # how far one answer moves the learner's ability on a concept
ITEM_K = 0.3  # how far one answer moves an item's rating, shrinking as answers accumulate
SHORT_ANSWER_GUESS = 0.05


@dataclass(frozen=True)
class BKTParams:
    p_init: float = 0.1  # P(known) before any practice
    p_learn: float = 0.2  # P(unknown -> known) from one practice opportunity
    p_slip: float = 0.1  # P(wrong | known)


def guess_probability(item_type: str, n_options: int = 0) -> float:
    """P(correct | unknown) for an item: blind choice among its options, or a lucky short answer."""
    if item_type == "true_false":
        return 0.5
    if item_type == "multiple_choice":
        return 1.0 / n_options
    return SHORT_ANSWER_GUESS


def bkt_posterior(p_known: float, correct: bool, guess: float, params: BKTParams) -> float:
    """P(known | this answer), before any learning from it."""
    slip = params.p_slip
    if correct:
        known, unknown = p_known * (1 - slip), (1 - p_known) * guess
    else:
        known, unknown = p_known * slip, (1 - p_known) * (1 - guess)
    return known / (known + unknown)


def bkt_update(p_known: float, correct: bool, guess: float, params: BKTParams) -> float:
    """P(known) after the answer: the posterior, then the chance of learning from this practice."""
    posterior = bkt_posterior(p_known, correct, guess, params)
    return posterior + (1 - posterior) * params.p_learn


def p_correct(p_known: float, guess: float, params: BKTParams) -> float:
    """The chance of a correct answer that BKT predicts."""
    return p_known * (1 - params.p_slip) + (1 - p_known) * guess


def expected_success(ability: float, rating: float) -> float:
    """Elo on a logit scale: the chance a learner of this ability answers an item of this rating."""
    return 1.0 / (1.0 + math.exp(rating - ability))


def elo_update(ability: float, rating: float, answers: int, correct: bool) -> tuple[float, float]:
    """New (learner ability, item rating). Items settle: their step shrinks with the answers seen."""
    surprise = float(correct) - expected_success(ability, rating)
    return ability + ABILITY_K * surprise, rating - ITEM_K / (1 + answers / 20) * surprise

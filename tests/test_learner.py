"""The learner model's arithmetic (against values worked out by hand) and the selection policy."""

from __future__ import annotations

import pytest

from knowledge.lessons import Concept
from knowledge.quizbank import QuizItem
from tutor.learner import (
    BKTParams,
    bkt_posterior,
    bkt_update,
    elo_update,
    expected_success,
    guess_probability,
    p_correct,
)
from tutor.learner_store import ConceptState
from tutor.quiz import choose_concept, choose_item

P = BKTParams(p_init=0.1, p_learn=0.2, p_slip=0.1)


def test_bkt_after_a_correct_answer():
    # posterior = 0.1*0.9 / (0.1*0.9 + 0.9*0.25) = 0.09 / 0.315 = 2/7
    assert bkt_posterior(0.1, True, 0.25, P) == pytest.approx(2 / 7)
    # then learning: 2/7 + (5/7)*0.2 = 3/7
    assert bkt_update(0.1, True, 0.25, P) == pytest.approx(3 / 7)


def test_bkt_after_a_wrong_answer():
    # posterior = 0.1*0.1 / (0.1*0.1 + 0.9*0.75) = 0.01 / 0.685
    assert bkt_posterior(0.1, False, 0.25, P) == pytest.approx(0.01 / 0.685)
    assert bkt_update(0.1, False, 0.25, P) == pytest.approx(0.01 / 0.685 + (0.675 / 0.685) * 0.2)


def test_a_lucky_guess_counts_for_less_on_true_false_than_on_four_choices():
    four = bkt_posterior(0.3, True, guess_probability("multiple_choice", 4), P)
    coin = bkt_posterior(0.3, True, guess_probability("true_false"), P)
    short = bkt_posterior(0.3, True, guess_probability("short_answer"), P)
    assert coin < four < short


def test_repeated_correct_answers_reach_mastery_and_predicted_success_rises():
    p, history = 0.1, []
    for _ in range(6):
        history.append(p_correct(p, 0.25, P))
        p = bkt_update(p, True, 0.25, P)
    assert p >= 0.95
    assert history == sorted(history)


def test_elo_moves_ability_up_and_item_rating_down_after_success():
    assert expected_success(0.0, 0.0) == 0.5
    ability, rating = elo_update(0.0, 0.0, answers=0, correct=True)
    assert ability == pytest.approx(0.2) and rating == pytest.approx(-0.15)
    # a well-calibrated item (many answers) moves less
    _, settled = elo_update(0.0, 0.0, answers=100, correct=True)
    assert -0.15 < settled < 0


C = [
    Concept("a", "A", "", ()),
    Concept("b", "B", "", ("a",)),
    Concept("c", "C", "", ("b",)),
    Concept("d", "D", "", ()),
]


def test_selection_starts_with_concepts_whose_prerequisites_are_met():
    assert choose_concept(C, {}, []) == ("a", "bank")  # ties: curriculum order
    # b needs a: while a is untouched, b is never chosen, however low its mastery
    assert choose_concept(C, {"d": ConceptState(0.97, attempts=5)}, []) == ("a", "bank")
    assert choose_concept(C, {"a": ConceptState(0.97, attempts=5)}, []) == ("b", "bank")
    # foundations first: a (in progress) goes before b, which is built on it
    states = {"a": ConceptState(0.5, attempts=1), "d": ConceptState(0.97, attempts=4)}
    assert choose_concept(C, states, []) == ("a", "bank")
    # b is eligible once a is in progress; it is chosen when nothing on mastered foundations is left
    states = {"a": ConceptState(0.5, attempts=1), "d": ConceptState(0.97, attempts=4)}
    assert choose_concept(C, states, [], focus={"b", "c"}) == ("b", "bank")


def test_selection_picks_the_lowest_mastery_and_skips_mastered_concepts():
    states = {
        "a": ConceptState(0.97, attempts=5),
        "b": ConceptState(0.6, attempts=2),
        "d": ConceptState(0.4, attempts=1),
    }
    assert choose_concept(C, states, []) == ("d", "bank")  # d (0.4) before b (0.6); c waits for b
    states["d"] = ConceptState(0.96, attempts=4)
    assert choose_concept(C, states, []) == ("b", "bank")
    everything = {s: ConceptState(0.99, attempts=5) for s in "abcd"}
    assert choose_concept(C, everything, []) is None


def test_due_reviews_come_first_and_focus_is_honoured():
    states = {"a": ConceptState(0.99, attempts=5)}
    assert choose_concept(C, states, ["a"]) == ("a", "review")
    assert choose_concept(C, states, ["a"], focus={"d"}) == ("d", "bank")
    # an explicit topic whose prerequisites are untouched is still asked about
    assert choose_concept(C, {}, [], focus={"c"}) == ("c", "bank")


def _item(n: int, difficulty: int) -> QuizItem:
    return QuizItem(
        id=f"i{n}",
        concept="a",
        difficulty=difficulty,
        type="true_false",
        question="Is this a question?",
        answer=True,
        misconception="m",
        feedback="f",
        explanation="e e e e",
        lesson="l",
    )


def test_item_choice_targets_seventy_percent_and_never_repeats_the_last_item():
    items = [_item(1, 1), _item(2, 2), _item(3, 3)]
    # ability 0: expected success 0.73 / 0.5 / 0.27, so the easy item is nearest 0.7
    assert choose_item(items, 0.0, {}, {}, None).id == "i1"
    assert choose_item(items, 0.0, {}, {}, "i1").id == "i2"
    # a stronger learner gets the harder item: 1.9 - 1.0 -> 0.71
    assert choose_item(items, 1.9, {}, {}, None).id == "i3"
    # calibrated ratings win over the written difficulty
    assert choose_item(items, 0.0, {"i2": (-0.85, 30)}, {}, None).id == "i2"

"""The quiz engine on the real item bank and a real SQLite learner store: asking, grading, bad input,
review scheduling, export and reset, durability across a killed process, concurrent learners."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import pytest

from knowledge.lessons import load_concepts
from knowledge.quizbank import load_bank
from tutor.learner import MASTERY, BKTParams, bkt_update, guess_probability
from tutor.learner_store import LearnerError, LearnerStore
from tutor.quiz import QuizEngine, parse_choice

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def bank():
    return load_bank()


@pytest.fixture
def engine(store_target, bank, embedder):
    """A quiz engine on a learner store, once on SQLite and once on PostgreSQL."""
    return QuizEngine(LearnerStore(store_target), bank, list(load_concepts().values()), embedder)


def right_answer(q) -> str:
    if q.item.type == "multiple_choice":
        return "ABCDE"[next(i for i, o in enumerate(q.item.options) if o.correct)]
    if q.item.type == "true_false":
        return "True" if q.item.answer else "False"
    return q.item.reference


def wrong_answer(q) -> str:
    if q.item.type == "multiple_choice":
        return "ABCDE"[next(i for i, o in enumerate(q.item.options) if not o.correct)]
    if q.item.type == "true_false":
        return "False" if q.item.answer else "True"
    return "I have no idea, sorry."


def test_first_question_is_on_a_root_concept_and_feedback_names_the_misconception(engine):
    q = engine.next_question("Ada")
    assert q.item.concept == "generative-ai"  # no prerequisites, first in the curriculum
    feedback = engine.answer("Ada", wrong_answer(q), q.id)
    assert not feedback.correct
    guess = guess_probability(q.item.type, len(q.choices))
    assert feedback.p_after == pytest.approx(bkt_update(0.1, False, guess, BKTParams()))
    if q.item.type != "short_answer":
        assert "Misconception" in feedback.text
    assert q.item.lesson in feedback.text


def test_mastery_rises_with_correct_answers_and_progress_survives_a_new_engine(engine, bank, embedder):
    mastered = None
    for _ in range(12):
        q = engine.next_question("Ada", focus={"tokenization"})
        fb = engine.answer("Ada", right_answer(q), q.id)
        assert fb.correct, q.item.id
        if fb.mastered:
            mastered = fb
            break
    assert mastered is not None and mastered.p_after >= MASTERY
    reopened = QuizEngine(LearnerStore(engine.store.url), bank, engine.concepts, embedder)
    progress = reopened.progress("Ada")
    row = next(r for r in progress.concepts if r["slug"] == "tokenization")
    assert row["mastered"] and row["review_due"] is not None  # an FSRS card was made at mastery
    assert progress.correct == progress.attempts >= 1


def test_the_same_item_is_never_asked_twice_in_a_row(engine):
    last = None
    for _ in range(8):
        q = engine.next_question("Bo", focus={"attention"})
        assert q.item.id != last
        last = q.item.id
        engine.answer("Bo", wrong_answer(q), q.id)


def test_a_mastered_concept_comes_back_for_review_when_due(store_target, bank, embedder):
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    engine = QuizEngine(
        LearnerStore(store_target), bank, list(load_concepts().values()), embedder, clock=lambda: now[0]
    )
    while True:
        q = engine.next_question("Cy", focus={"generative-ai"})
        if engine.answer("Cy", right_answer(q), q.id).mastered:
            break
    assert engine.due(engine.store.learner("Cy")) == []
    now[0] += timedelta(days=60)
    q = engine.next_question("Cy")
    assert (q.kind, q.item.concept) == ("review", "generative-ai")
    engine.answer("Cy", wrong_answer(q), q.id)  # forgotten: the card is rescheduled soon
    card = json.loads(engine.store.cards(engine.store.learner("Cy"))["generative-ai"])
    assert datetime.fromisoformat(card["due"]) < now[0] + timedelta(days=3)


def test_bad_answers_are_refused_and_change_nothing(engine):
    learner = engine.store.learner("Di")
    q = engine.pose(learner, next(i for i in engine.items if i.type == "multiple_choice"), "bank")
    for bad in ("", "   ", "Z", "the moon", "9"):
        with pytest.raises(LearnerError):
            engine.answer("Di", bad, q.id)
    assert engine.store.attempts(learner) == [] and engine.store.pending(learner)["id"] == q.id
    engine.answer("Di", right_answer(q), q.id)
    with pytest.raises(LearnerError, match="already answered"):
        engine.answer("Di", right_answer(q), q.id)
    with pytest.raises(LearnerError, match="no open question"):
        engine.answer("Di", "A")
    assert len(engine.store.attempts(learner)) == 1


def test_unknown_learners_and_bad_names_get_clear_messages(engine):
    with pytest.raises(LearnerError, match="no progress"):
        engine.progress("Nobody")
    with pytest.raises(LearnerError, match="no progress"):
        engine.answer("Nobody", "A")
    for name in ("", "x" * 41, "<script>"):
        with pytest.raises(LearnerError):
            engine.next_question(name)


def test_choices_are_read_from_letters_numbers_and_text(engine, bank):
    from tutor.quiz import Question

    item = next(i for i in bank if i.type == "multiple_choice")
    q = Question.of(item, "bank")
    assert parse_choice(q, "b") == parse_choice(q, "2") == parse_choice(q, item.options[1].text.upper()) == 1
    tf = Question.of(next(i for i in bank if i.type == "true_false"), "bank")
    assert parse_choice(tf, "yes") == 0 and parse_choice(tf, "False") == 1


def test_short_answers_are_graded_by_meaning_with_reasons(engine, bank):
    item = next(i for i in bank if i.type == "short_answer" and i.concept == "tokenization")
    learner = engine.store.learner("Eve")
    q = engine.pose(learner, item, "bank")
    good = engine.answer("Eve", item.reference, q.id)
    assert good.correct and "similar to the reference" in good.text
    q = engine.pose(learner, item, "bank")
    bad = engine.answer("Eve", "Pictures are painted by many small robots.", q.id)
    assert not bad.correct and "Missing:" in bad.text


def test_topics_name_concepts(engine):
    assert {"diffusion-models", "stable-diffusion"} <= engine.topic("quiz me on diffusion")
    assert engine.topic("quiz me on GANs") == {"gan"}
    assert engine.topic("quiz me") is None


def test_export_and_reset_touch_only_one_learner(engine):
    for name in ("Fay", "Gus"):
        q = engine.next_question(name)
        engine.answer(name, right_answer(q), q.id)
    fay = engine.store.learner("fay")  # names are case-insensitive
    exported = engine.store.export(fay)
    assert exported["learner"] == "Fay" and len(exported["attempts"]) == 1
    assert engine.store.reset(fay) == 1
    assert engine.store.attempts(fay) == [] and engine.progress("Fay").attempts == 0
    assert engine.progress("Gus").attempts == 1


def test_concurrent_learners_do_not_interfere(engine):
    errors = []

    def take(name: str, correct: bool) -> None:
        try:
            for _ in range(6):
                q = engine.next_question(name)
                engine.answer(name, right_answer(q) if correct else wrong_answer(q), q.id)
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=take, args=(f"L{i}", i % 2 == 0)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for i in range(4):
        attempts = engine.store.attempts(engine.store.learner(f"L{i}"))
        assert len(attempts) == 6
        assert all(a["correct"] == (i % 2 == 0) for a in attempts)


KILLED_QUIZ = """
import sys
from knowledge.lessons import load_concepts
from knowledge.quizbank import load_bank
from tutor.learner_store import LearnerStore
from knowledge.embedder import Embedder
from tutor.quiz import QuizEngine
engine = QuizEngine(LearnerStore(sys.argv[1]), load_bank(), list(load_concepts().values()), Embedder())
n = 0
while True:
    q = engine.next_question("Kim")
    answer = {"multiple_choice": "A", "true_false": "True"}.get(q.item.type, "Tokens are pieces of text.")
    engine.answer("Kim", answer, q.id)
    n += 1
    print(n, flush=True)
"""


def test_a_killed_process_loses_no_committed_attempt(store_target):
    db = store_target
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_QUIZ, str(db)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    committed = 0
    for line in proc.stdout:
        committed = int(line)
        if committed >= 25:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    store = LearnerStore(db)
    attempts = store.attempts(store.learner("Kim", create=False))
    assert len(attempts) >= committed  # every answer reported as done is on disk
    state = store.mastery(store.learner("Kim"))
    assert sum(s.attempts for s in state.values()) == len(attempts)  # mastery and attempts agree


def test_a_quiz_in_the_chat_asks_grades_and_stops(tutor):
    from tutor.conversation import Conversation
    from tutor.events import Notice, QuizAsk, QuizResult

    session = Conversation(learner="Chatty")
    ask = [e for e in tutor.turn("quiz me on embeddings", session=session) if isinstance(e, QuizAsk)]
    assert ask[0].question.item.concept == "embeddings" and session.open_id == ask[0].question.id
    # a long question while a choice is open is chat, not an answer
    if ask[0].question.choices:
        assert not tutor.quiz.expects_answer(session, "What exactly is an embedding vector, again?")
    events = list(tutor.turn(right_answer(ask[0].question), session=session))
    result = next(e for e in events if isinstance(e, QuizResult))
    assert result.feedback.correct and "1/1" in result.score
    assert any(isinstance(e, QuizAsk) for e in events)  # the quiz goes on
    stop = list(tutor.turn("/quiz stop", session=session))
    assert "stopped" in stop[0].text and not session.active
    nothing_open = list(tutor.turn("A", session=session))
    assert not any(isinstance(e, QuizResult) for e in nothing_open)
    unknown = [e for e in tutor.turn("quiz me on basket weaving", session=session) if isinstance(e, Notice)]
    assert unknown and "no quiz on" in unknown[0].text


def test_short_answers_are_graded_by_a_tool_calling_backend_against_the_key_points(
    tmp_path, bank, embedder, settings
):
    from tests.fake_openai import FakeOpenAI
    from tutor.llm import make_backend
    from tutor.settings import Settings

    item = next(i for i in bank if i.type == "short_answer")
    with FakeOpenAI() as api:
        s = Settings.from_env(
            home=settings.home, llm="openai", openai_api_key="sk-test-key", openai_base_url=api.base_url
        )
        engine = QuizEngine(
            LearnerStore(tmp_path / "l.db"),
            bank,
            list(load_concepts().values()),
            embedder,
            make_backend(s).grader,
        )
        learner = engine.store.learner("Gpt")
        api.reply = json.dumps(
            {
                "correct": False,
                "covered": [],
                "missing": item.key_points[:1],
                "explanation": "It misses the point.",
            }
        )
        q = engine.pose(learner, item, "bank")
        graded = engine.answer("Gpt", "Something vague.", q.id)
        asked = api.requests[-1]["body"]["messages"][-1]["content"]
        assert item.key_points[0] in asked and "Something vague." in asked
        assert (
            not graded.correct and "Graded by the model" in graded.text and item.key_points[0] in graded.text
        )
        api.reply = "I cannot decide."  # unusable: graded by meaning instead, and the learner is told how
        q = engine.pose(learner, item, "bank")
        fallback = engine.answer("Gpt", item.reference, q.id)
        assert fallback.correct and "embedding similarity" in fallback.text


def test_the_same_name_in_another_browser_is_another_learner(engine):
    import uuid

    ONE, TWO = uuid.uuid4().hex, uuid.uuid4().hex  # noqa: N806 (the two browsers' ids)
    q = engine.next_question("Ada", token=ONE)
    engine.answer("Ada", right_answer(q), q.id, token=ONE)
    assert engine.progress("Ada", token=ONE).attempts == 1
    with pytest.raises(LearnerError, match="no progress"):
        engine.progress("Ada", token=TWO)  # typing Ada's name elsewhere shows nothing of hers
    with pytest.raises(LearnerError, match="no progress"):
        engine.progress("Ada")


def test_a_page_without_a_browser_id_reaches_no_learner(engine):
    engine.next_question("Ada")  # a terminal learner called Ada
    for token in ("", "x" * 32, "../../etc", "A" * 32):
        with pytest.raises(LearnerError, match="no learner id"):
            engine.progress("Ada", token=token)


def test_two_answers_at_once_from_one_learner_count_once(engine):
    """Two tabs answer the same open question at the same moment, 12 times over: each question is
    counted once, and mastery agrees with the attempts (the state is read inside the write)."""
    import threading

    rounds = 12
    refused = 0
    for _ in range(rounds):
        q = engine.next_question("Ada")
        start, results = threading.Barrier(2), []

        def tab(q=q, start=start, results=results) -> None:
            start.wait()
            try:
                results.append(engine.answer("Ada", right_answer(q), q.id))
            except LearnerError as e:
                results.append(e)

        threads = [threading.Thread(target=tab) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sum(isinstance(r, LearnerError) for r in results) == 1
        refused += 1
    learner = engine.store.learner("Ada", create=False)
    attempts = engine.store.attempts(learner)
    assert len(attempts) == rounds == refused
    per_concept: dict[str, int] = {}
    for a in attempts:
        per_concept[a["concept"]] = per_concept.get(a["concept"], 0) + 1
    states = engine.store.mastery(learner)
    assert {c: s.attempts for c, s in states.items()} == per_concept
    answers = {i: n for i, (_r, n) in engine.store.item_stats().items()}
    assert sum(answers.values()) == rounds  # every answer moved its item's rating exactly once


def test_learners_answering_one_item_at_once_lose_no_rating_update(engine):
    """Eight learners answer the same item at once: its answer count is eight (a read outside the
    transaction would let two answers build on the same old rating)."""
    import threading

    item = engine.by_concept[engine.concepts[0].slug][0]
    questions = {}
    for i in range(8):
        questions[i] = engine.pose(engine.store.learner(f"L{i}"), item, "bank")
    start = threading.Barrier(8)

    def learner(i: int) -> None:
        start.wait()
        engine.answer(f"L{i}", right_answer(questions[i]), questions[i].id)

    threads = [threading.Thread(target=learner, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert engine.store.item_stats()[item.id][1] == 8


def test_app_processes_opening_one_new_database_at_once_make_one_schema(pg_server):
    """Four stores open the same empty PostgreSQL database at the same moment (app processes starting
    together): each creates the schema if it is missing, one at a time, and none fails."""
    import threading

    from tests.servers import new_database

    url, opened, start = new_database(pg_server), [], threading.Barrier(4)

    def open_store() -> None:
        start.wait()
        opened.append(LearnerStore(url))

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(opened) == 4
    assert opened[0].learner("Ada") == opened[3].learner("Ada")

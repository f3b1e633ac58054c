"""The adaptive quiz: which question to ask next, how to grade an answer, and what the learner learns.

Choosing: a concept due for review (FSRS) comes first; otherwise the concept with the lowest P(known)
whose prerequisites are mastered or in progress; then, within it, the item whose expected success is
nearest TARGET_SUCCESS, never the item just asked. Grading: choices exactly; short answers by the
model against the key points (tool-calling backends) or by embedding similarity plus key points (the
embedded model), with the reasons shown. Every answer is one transaction in the learner store.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from fsrs import Card, Rating, Scheduler

from knowledge.lessons import Concept
from knowledge.quizbank import QuizItem
from tools.markup import code
from tutor.grading import grade_by_similarity, grade_with_model
from tutor.learner import (
    DIFFICULTY_RATING,
    MASTERY,
    TARGET_SUCCESS,
    BKTParams,
    bkt_update,
    elo_update,
    expected_success,
    guess_probability,
)
from tutor.learner_store import Attempt, ConceptState, LearnerError, LearnerStore, Snapshot, Update

CONFIRM_FROM = 0.6  # P(known) from which choose_item prefers items that are hard to guess
GUESS_PENALTY = 1.0  # weight of an item's guess probability while confirming mastery
SEEN_PENALTY = 0.15  # per earlier answer of the same item: prefer fresh items at a similar difficulty
TOPIC_MATCH = 0.35  # "quiz me on X": similarity at which X names a concept
STOP_WORDS = {"quiz", "test", "ask", "question", "about", "the", "and", "some", "more", "please", "again"}
LETTERS = "ABCDE"
ONE_OFF = {"trace", "guide"}  # questions made for one moment (a run, a guided dialogue): no item rating
TRUE_WORDS, FALSE_WORDS = {"true", "t", "yes", "y"}, {"false", "f", "no", "n"}


@dataclass
class Question:
    id: str
    item: QuizItem
    kind: str  # bank | review | trace
    choices: list[str]  # what the learner picks from; empty for a short answer

    @classmethod
    def of(cls, item: QuizItem, kind: str) -> Question:
        if item.type == "multiple_choice":
            choices = [o.text for o in item.options]
        elif item.type == "true_false":
            choices = ["True", "False"]
        else:
            choices = []
        return cls(uuid.uuid4().hex[:12], item, kind, choices)

    def to_dict(self) -> dict:
        return {"id": self.id, "item": self.item.model_dump(), "kind": self.kind, "choices": self.choices}

    @classmethod
    def from_dict(cls, data: dict) -> Question:
        return cls(data["id"], QuizItem.model_validate(data["item"]), data["kind"], data["choices"])

    def markdown(self) -> str:
        lead = {"review": "🔁 Review", "trace": "🔬 About your run"}.get(self.kind, "❓ Question")
        text = (
            f"**{lead}** · *{self.item.concept}* · difficulty {self.item.difficulty}\n\n{self.item.question}"
        )
        if self.choices:
            text += "\n\n" + "\n".join(f"{LETTERS[i]}. {c}" for i, c in enumerate(self.choices))
            return text + "\n\n*Click a choice, or type its letter.*"
        return text + "\n\n*Type your answer in a sentence or two.*"


@dataclass
class Feedback:
    correct: bool
    text: str  # markdown for the learner: verdict, why, misconception, lesson
    concept: str
    p_before: float
    p_after: float
    mastered: bool  # this answer took the concept over the mastery threshold
    question_id: str


@dataclass
class Progress:
    concepts: list[dict]  # slug, title, p_known, attempts, correct, mastered, due
    due: list[str]
    attempts: int
    correct: int
    mastered: int = field(default=0)


def _stem(word: str) -> str:
    return word[:-1] if word.endswith("s") and len(word) > 3 else word


def _utcnow() -> datetime:
    return datetime.now(UTC)


def choose_concept(
    concepts: list[Concept], states: dict[str, ConceptState], due: list[str], focus: set[str] | None = None
) -> tuple[str, str] | None:
    """(concept, "review" | "bank") to ask about next, or None when nothing in focus is left."""
    for slug in due:  # most overdue first
        if focus is None or slug in focus:
            return slug, "review"
    init = BKTParams().p_init

    def p(slug: str) -> float:
        return states[slug].p_known if slug in states else init

    def started(slug: str) -> bool:
        return p(slug) >= MASTERY or (slug in states and states[slug].attempts > 0)

    pool = [c for c in concepts if (focus is None or c.slug in focus) and p(c.slug) < MASTERY]
    ready = [c for c in pool if all(started(r) for r in c.requires)]
    if focus is not None and not ready:  # the learner asked for this topic: honour it
        ready = pool
    if not ready:
        return None
    order = {c.slug: i for i, c in enumerate(concepts)}
    # Concepts whose foundations are already mastered go before those built on ones still in progress.
    best = min(ready, key=lambda c: (any(p(r) < MASTERY for r in c.requires), p(c.slug), order[c.slug]))
    return best.slug, "bank"


def choose_item(
    items: list[QuizItem],
    ability: float,
    ratings: dict[str, tuple[float, int]],
    seen: dict[str, int],
    last_item: str | None,
    p_known: float = 0.0,
) -> QuizItem:
    """The item whose expected success is nearest the target; never the one just asked. Near mastery,
    items that are easy to guess (true/false) count against themselves: the answer that declares a
    concept mastered should be one a lucky guess rarely gets right."""
    fresh = [i for i in items if i.id != last_item] or items
    confirming = p_known >= CONFIRM_FROM

    def distance(item: QuizItem) -> float:
        rating = ratings.get(item.id, (DIFFICULTY_RATING[item.difficulty], 0))[0]
        d = abs(expected_success(ability, rating) - TARGET_SUCCESS) + SEEN_PENALTY * seen.get(item.id, 0)
        if confirming:
            d += GUESS_PENALTY * guess_probability(item.type, len(item.options))
        return d

    return min(fresh, key=distance)


def parse_choice(question: Question, answer: str) -> int | None:
    """The index of the chosen option from its letter, number, or text; None when it is none of them."""
    text = answer.strip().rstrip(".)").strip()
    if question.item.type == "true_false":
        if text.casefold() in TRUE_WORDS:
            return 0
        if text.casefold() in FALSE_WORDS:
            return 1
    if len(text) == 1 and text.upper() in LETTERS[: len(question.choices)]:
        return LETTERS.index(text.upper())
    if text.isdigit() and 1 <= int(text) <= len(question.choices):
        return int(text) - 1
    folded = [c.casefold() for c in question.choices]
    return folded.index(text.casefold()) if text.casefold() in folded else None


class QuizEngine:
    def __init__(
        self,
        store: LearnerStore,
        items: list[QuizItem],
        concepts: list[Concept],
        embedder=None,
        grader=None,  # a LangChain chat model that grades short answers (tool-calling backends)
        clock: Callable[[], datetime] = _utcnow,
        params: dict[str, BKTParams] | None = None,
    ):
        self.store, self.items, self.concepts = store, items, concepts
        self.by_concept: dict[str, list[QuizItem]] = {}
        for item in items:
            self.by_concept.setdefault(item.concept, []).append(item)
        self.titles = {c.slug: c.title for c in concepts}
        self.embedder, self.grader, self.clock = embedder, grader, clock
        self.params = params or {}
        self.scheduler = Scheduler(learning_steps=(), relearning_steps=(), enable_fuzzing=False)

    def bkt(self, concept: str) -> BKTParams:
        return self.params.get(concept, BKTParams())

    # ---------------------------------------------------------------- asking

    def due(self, learner_id: int) -> list[str]:
        now = self.clock()
        cards = {c: Card.from_json(j) for c, j in self.store.cards(learner_id).items()}
        return sorted((c for c, card in cards.items() if card.due <= now), key=lambda c: cards[c].due)

    def topic(self, text: str) -> set[str] | None:
        """Concepts a learner's topic names ("diffusion", "GANs"), by word, else by meaning; None when
        the text names no topic (every concept is in play)."""
        words = {_stem(w) for w in re.findall(r"[a-z0-9]+", text.casefold()) if len(w) > 2} - STOP_WORDS
        if not words:
            return None

        def names(c: Concept) -> set[str]:
            return {_stem(w) for w in re.findall(r"[a-z0-9]+", f"{c.slug} {c.title}".casefold())}

        hits = {
            c.slug
            for c in self.concepts
            if any(n == w or (len(w) > 3 and n.startswith(w)) for w in words for n in names(c))
        }
        if hits or self.embedder is None:
            return hits or set()
        about = [f"{c.title}: {c.about}" for c in self.concepts]
        vectors = np.array(self.embedder.embed([text, *about]))  # (1 + concepts, 384)
        scores = vectors[1:] @ vectors[0]
        best = int(scores.argmax())
        return {self.concepts[best].slug} if scores[best] >= TOPIC_MATCH else set()

    def next_question(
        self, name: str, focus: set[str] | None = None, token: str | None = None
    ) -> Question | None:
        learner_id = self.store.learner(name, token=token)
        states = self.store.mastery(learner_id)
        choice = choose_concept(self.concepts, states, self.due(learner_id), focus)
        if choice is None:
            return None
        concept, kind = choice
        attempts = self.store.attempts(learner_id)
        seen: dict[str, int] = {}
        for a in attempts:
            seen[a["item_id"]] = seen.get(a["item_id"], 0) + 1
        ability = states[concept].ability if concept in states else 0.0
        last = attempts[-1]["item_id"] if attempts else None
        p_known = states[concept].p_known if concept in states else self.bkt(concept).p_init
        item = choose_item(self.by_concept[concept], ability, self.store.item_stats(), seen, last, p_known)
        return self.pose(learner_id, item, kind)

    def pose(self, learner_id: int, item: QuizItem, kind: str) -> Question:
        question = Question.of(item, kind)
        self.store.ask(learner_id, question.id, question.to_dict())
        return question

    # ---------------------------------------------------------------- answering

    def answer(
        self, name: str, text: str, question_id: str | None = None, token: str | None = None
    ) -> Feedback:
        """Grade the learner's answer to their open question and record it. LearnerError when there is
        no open question, the answer is empty or not one of the choices, or it was already answered."""
        learner_id = self.store.learner(name, create=False, token=token)
        pending = self.store.pending(learner_id)
        if question_id and (pending is None or pending["id"] != question_id):
            if self.store.answered(learner_id, question_id):
                raise LearnerError("You already answered that question. Type **quiz me** for the next one.")
            raise LearnerError("That question is no longer open. Type **quiz me** for a new one.")
        if pending is None:
            raise LearnerError("There is no open question. Type **quiz me** to get one.")
        question = Question.from_dict(pending)
        text = (text or "").strip()
        if not text:
            raise LearnerError("Your answer is empty. " + self._how_to_answer(question))
        correct, why = self._grade(question, text)
        return self._record(learner_id, question, text, correct, why)

    def record_guided(
        self, name: str, token: str | None, item: QuizItem, text: str, correct: bool
    ) -> Feedback:
        """A guided dialogue's outcome feeds the same learner model as a quiz answer."""
        learner_id = self.store.learner(name, token=token)
        return self._record(learner_id, self.pose(learner_id, item, "guide"), text, correct, "")

    def _how_to_answer(self, question: Question) -> str:
        if question.choices:
            letters = ", ".join(LETTERS[: len(question.choices)])
            return f"Pick one of the choices ({letters}) by clicking it or typing its letter."
        return "Write your answer in a sentence or two."

    def _grade(self, question: Question, text: str) -> tuple[bool, str]:
        item = question.item
        if question.choices:
            index = parse_choice(question, text)
            if index is None:
                raise LearnerError(
                    f"{code(text, 60)} is not one of the choices. " + self._how_to_answer(question)
                )
            if item.type == "true_false":
                chosen_true = index == 0
                if chosen_true == item.answer:
                    return True, ""
                return False, f"*Misconception: {item.misconception}.* {item.feedback}"
            option = item.options[index]
            if option.correct:
                return True, ""
            right = next(o.text for o in item.options if o.correct)
            return (
                False,
                f"*Misconception: {option.misconception}.* {option.feedback}\n\nThe answer: **{right}**",
            )
        graded = grade_with_model(self.grader, item, text) if self.grader is not None else None
        return graded or grade_by_similarity(self.embedder, item, text)

    def _record(self, learner_id: int, question: Question, text: str, correct: bool, why: str) -> Feedback:
        """Record the graded answer; the state it builds on is read inside the recording transaction."""
        item, now = question.item, self.clock()
        params = self.bkt(item.concept)
        guess = guess_probability(item.type, len(question.choices))

        def decide(seen: Snapshot) -> Update:
            state = seen.state or ConceptState(params.p_init)
            p_after = bkt_update(state.p_known, correct, guess, params)
            rating, answers = seen.item or (DIFFICULTY_RATING[item.difficulty], 0)
            ability, rating = elo_update(state.ability, rating, answers, correct)
            attempt = Attempt(
                question.id, item.id, item.concept, question.kind, text[:500], correct, state.p_known, p_after
            )
            return Update(
                attempt,
                ConceptState(p_after, ability, state.attempts + 1, state.correct + int(correct)),
                None if question.kind in ONE_OFF else (rating, answers + 1),
                self._review(seen.card, question.kind, correct, p_after, now),
            )

        update = self.store.record(learner_id, question.id, item.concept, item.id, decide, at=now)
        p_before, p_after = update.attempt.p_before, update.attempt.p_after
        mastered = p_before < MASTERY <= p_after
        return Feedback(
            correct,
            self._feedback(question, correct, why, p_before, p_after, mastered),
            item.concept,
            p_before,
            p_after,
            mastered,
            question.id,
        )

    def _review(self, existing: str | None, kind, correct, p_after, now) -> tuple[str, datetime] | None:
        """The concept's FSRS card after this answer: created at mastery, reviewed on review questions."""
        if existing is None and p_after < MASTERY:
            return None
        if existing is not None and kind != "review":
            return None
        card = Card.from_json(existing) if existing else Card()
        card, _log = self.scheduler.review_card(card, Rating.Good if correct else Rating.Again, now)
        return card.to_json(), card.due

    def _feedback(self, question, correct, why, p_before, p_after, mastered) -> str:
        item = question.item
        head = "✅ **Correct.**" if correct else "❌ **Not quite.**"
        parts = [head, why] if why else [head]
        parts.append(item.explanation)
        title = self.titles.get(item.concept, item.concept)
        parts.append(
            f"📘 Lesson: `/explain {title}` (lesson *{item.lesson}*) · mastery of *{title}*: "
            f"{p_before:.0%} → {p_after:.0%}" + (" · 🎉 **mastered!**" if mastered else "")
        )
        return "\n\n".join(p for p in parts if p)

    # ---------------------------------------------------------------- progress

    def progress(self, name: str, token: str | None = None) -> Progress:
        learner_id = self.store.learner(name, create=False, token=token)
        states = self.store.mastery(learner_id)
        due = self.due(learner_id)
        cards = {c: Card.from_json(j) for c, j in self.store.cards(learner_id).items()}
        rows = []
        for c in self.concepts:
            s = states.get(c.slug, ConceptState(self.bkt(c.slug).p_init))
            rows.append(
                {
                    "slug": c.slug,
                    "title": c.title,
                    "p_known": round(s.p_known, 3),
                    "attempts": s.attempts,
                    "correct": s.correct,
                    "mastered": s.p_known >= MASTERY,
                    "review_due": cards[c.slug].due.isoformat() if c.slug in cards else None,
                }
            )
        return Progress(
            rows,
            due,
            sum(r["attempts"] for r in rows),
            sum(r["correct"] for r in rows),
            sum(r["mastered"] for r in rows),
        )


def open_engine(settings, embedder, grader=None, store: LearnerStore | None = None) -> QuizEngine:
    """The quiz over the shipped item bank and concept map, with the learner store under the home."""
    from knowledge.lessons import load_concepts
    from knowledge.quizbank import load_bank

    concepts = list(load_concepts().values())
    store = store or LearnerStore.in_home(settings.home, settings.database_url)
    return QuizEngine(store, load_bank(), concepts, embedder, grader)

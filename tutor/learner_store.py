"""The learner store: learners, their answers and their progress, in SQLite or PostgreSQL.

By default one SQLite file (`learners.db` under GENAI_TUTOR_HOME), never Chroma's;
`TUTOR_DATABASE_URL=postgresql://...` puts it on a PostgreSQL server that several app processes share.
One set of statements serves both (SQLAlchemy Core, psycopg 3 for PostgreSQL), and the schema and its
migrations live in one place (tutor/learner_db.py).

Tables: learners, attempts, mastery (BKT and ability per learner and concept), item_stats (item
ratings, shared by all learners: they calibrate difficulty), review_cards (an FSRS card per mastered
concept) and pending (the one question each learner is answering). Every query is filtered by the
learner's id, so one learner never reads another's rows. One answer is one transaction: once `record`
returns, the attempt survives a killed process (SQLite: WAL with synchronous=FULL; PostgreSQL: its
write-ahead log, committed synchronously). Writers never build on a stale read: SQLite takes the write
lock when a transaction begins (BEGIN IMMEDIATE); PostgreSQL takes a lock per learner and per item.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import (
    delete,
    func,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import OperationalError

from tutor.learner_db import (
    ATTEMPTS,
    ITEM_STATS,
    LEARNERS,
    MASTERY,
    PENDING,
    REVIEW_CARDS,
    TOKEN_OK,
    StoreError,
    database_url,
    engine,
    migrate,
    token_hash,
    upsert,
)

MAX_NAME = 40
NAME_OK = re.compile(r"^[\w .'-]+$")


class LearnerError(ValueError):
    """Something the learner can fix (a bad name, an unknown learner, a stale question)."""


@dataclass(frozen=True)
class ConceptState:
    p_known: float
    ability: float = 0.0
    attempts: int = 0
    correct: int = 0


@dataclass(frozen=True)
class Attempt:
    question_id: str
    item_id: str
    concept: str
    kind: str  # bank | review | trace
    answer: str
    correct: bool
    p_before: float
    p_after: float


@dataclass(frozen=True)
class Snapshot:
    """What an answer is graded against, read inside the transaction that records it."""

    state: ConceptState | None  # the learner's state for the item's concept, None before a first answer
    item: tuple[float, int] | None  # the item's (rating, answers), None before anyone answered it
    card: str | None  # the concept's review card (FSRS JSON), None until it is mastered


@dataclass(frozen=True)
class Update:
    attempt: Attempt
    state: ConceptState
    item_rating: tuple[float, int] | None  # None: leave the item's rating alone (one-off questions)
    card: tuple[str, datetime] | None  # (FSRS JSON, due) or None: no change


def learner_key(name: str | None, token: str | None = None) -> tuple[str, str]:
    """(display name, lookup key) for a name typed by the learner, or a LearnerError saying why not.

    `token` is the browser's own random id (the page always sends one; the terminal quiz, None): the
    same name typed in another browser is another learner, so nobody reads someone else's progress by
    typing their name. Only a hash of the token is stored, so the database alone opens no account."""
    display = " ".join((name or "").split())
    if token is not None and not TOKEN_OK.match(token):
        raise LearnerError("This page has no learner id yet. Reload the page, then try again.")
    if not display:
        raise LearnerError("Type your name in the **Name** box first, so I can remember your progress.")
    if len(display) > MAX_NAME or not NAME_OK.match(display):
        raise LearnerError(
            f"A name has at most {MAX_NAME} letters, digits, spaces, dots, apostrophes or hyphens."
        )
    return display, display.casefold() + (f"#{token_hash(token)}" if token is not None else "")


def now_iso(at: datetime | None = None) -> str:
    return (at or datetime.now(UTC)).isoformat()


class LearnerStore:
    def __init__(self, target: str | Path):
        """`target`: a SQLite file path, or a database URL (`postgresql://user@host:port/db`)."""
        self.url = database_url(target)
        self.path = Path(make_url(self.url).database) if self.url.startswith("sqlite") else None
        self.engine = engine(self.url)
        try:
            with self._tx() as conn:
                migrate(conn)
        except OperationalError as e:
            where = make_url(self.url).render_as_string(hide_password=True)
            raise StoreError(f"Cannot open the learner store at {where}: {e.orig}") from None

    @classmethod
    def in_home(cls, home: Path, url: str | None = None) -> LearnerStore:
        return cls(url or Path(home) / "learners.db")

    @property
    def backend(self) -> str:
        return self.engine.dialect.name  # "sqlite" | "postgresql"

    @contextmanager
    def _tx(self, write: bool = True) -> Iterator[Connection]:
        """One connection, one transaction: committed when the block ends, rolled back on error."""
        with self.engine.connect() as conn:
            conn.execution_options(write=write)
            with conn.begin():
                yield conn

    def _lock(self, conn: Connection, learner_id: int, item_id: str | None = None) -> None:
        """PostgreSQL: hold the learner's (and the item's) lock to the end of the transaction, always in
        that order, so two answers never build on the same old state. SQLite's writers already queue."""
        if self.backend == "postgresql":
            conn.execute(select(func.pg_advisory_xact_lock(1, learner_id)))
            if item_id is not None:
                conn.execute(select(func.pg_advisory_xact_lock(2, func.hashtext(item_id))))

    # ---------------------------------------------------------------- learners

    def learner(self, name: str | None, create: bool = True, token: str | None = None) -> int:
        display, key = learner_key(name, token)
        with self._tx() as conn:
            found = conn.execute(select(LEARNERS.c.id).where(LEARNERS.c.key == key)).scalar()
            if found is not None:
                return found
            if not create:
                raise LearnerError(f"I have no progress for a learner called {display!r} yet.")
            dialect = postgresql if self.backend == "postgresql" else sqlite
            conn.execute(  # two first visits at once make one learner
                dialect.insert(LEARNERS)
                .values(name=display, key=key, created=now_iso())
                .on_conflict_do_nothing(index_elements=["key"])
            )
            return conn.execute(select(LEARNERS.c.id).where(LEARNERS.c.key == key)).scalar_one()

    # ---------------------------------------------------------------- reading

    def mastery(self, learner_id: int) -> dict[str, ConceptState]:
        m = MASTERY.c
        with self._tx(write=False) as conn:
            rows = conn.execute(
                select(m.concept, m.p_known, m.ability, m.attempts, m.correct).where(
                    m.learner_id == learner_id
                )
            )
            return {c: ConceptState(p, a, n, k) for c, p, a, n, k in rows}

    def item_stats(self) -> dict[str, tuple[float, int]]:
        with self._tx(write=False) as conn:
            rows = conn.execute(select(ITEM_STATS.c.item_id, ITEM_STATS.c.rating, ITEM_STATS.c.answers))
            return {i: (r, n) for i, r, n in rows}

    def cards(self, learner_id: int) -> dict[str, str]:
        """Review cards (FSRS JSON) by concept."""
        c = REVIEW_CARDS.c
        with self._tx(write=False) as conn:
            return dict(conn.execute(select(c.concept, c.card).where(c.learner_id == learner_id)).all())

    def attempts(self, learner_id: int) -> list[dict]:
        a = ATTEMPTS.c
        columns = (
            a.question_id,
            a.item_id,
            a.concept,
            a.kind,
            a.answer,
            a.correct,
            a.p_before,
            a.p_after,
            a.at,
        )
        with self._tx(write=False) as conn:
            rows = conn.execute(select(*columns).where(a.learner_id == learner_id).order_by(a.id))
            return [dict(r._mapping) for r in rows]

    def last_item(self, learner_id: int) -> str | None:
        a = ATTEMPTS.c
        with self._tx(write=False) as conn:
            return conn.execute(
                select(a.item_id).where(a.learner_id == learner_id).order_by(a.id.desc()).limit(1)
            ).scalar()

    # ---------------------------------------------------------------- the question being answered

    def ask(self, learner_id: int, question_id: str, question: dict) -> None:
        """Make this the learner's open question (an unanswered earlier one is set aside)."""
        with self._tx() as conn:
            upsert(conn, PENDING, ("learner_id",), learner_id=learner_id, question_id=question_id,
                    question=json.dumps(question), asked=now_iso())  # fmt: skip

    def pending(self, learner_id: int) -> dict | None:
        with self._tx(write=False) as conn:
            row = conn.execute(select(PENDING.c.question).where(PENDING.c.learner_id == learner_id)).scalar()
            return json.loads(row) if row else None

    def answered(self, learner_id: int, question_id: str) -> bool:
        a = ATTEMPTS.c
        with self._tx(write=False) as conn:
            found = conn.execute(select(a.id).where(a.learner_id == learner_id, a.question_id == question_id))
            return found.first() is not None

    # ---------------------------------------------------------------- writing

    def record(
        self,
        learner_id: int,
        question_id: str,
        concept: str,
        item_id: str,
        decide: Callable[[Snapshot], Update],
        at: datetime | None = None,
    ) -> Update:
        """One answer, all or nothing, in one transaction: the question is closed, the learner's state,
        the item's rating and the review card are read, `decide` turns them into the update, and the
        attempt, mastery, rating and card are written. Reading inside the locked transaction means two
        answers at once (two tabs, two learners on one item, two app processes) never build on the
        same old state. A second answer to the same question is refused (LearnerError)."""
        stamp = now_iso(at)
        with self._tx() as conn:
            self._lock(conn, learner_id, item_id)
            p = PENDING.c
            closed = conn.execute(
                delete(PENDING).where(p.learner_id == learner_id, p.question_id == question_id)
            )
            if not closed.rowcount:
                raise LearnerError("That question is already answered (or was replaced by a newer one).")
            change = decide(_snapshot(conn, learner_id, concept, item_id))
            a, s = change.attempt, change.state
            conn.execute(ATTEMPTS.insert().values(
                learner_id=learner_id, question_id=question_id, item_id=a.item_id, concept=a.concept,
                kind=a.kind, answer=a.answer, correct=int(a.correct), p_before=a.p_before, p_after=a.p_after,
                at=stamp,
            ))  # fmt: skip
            upsert(conn, MASTERY, ("learner_id", "concept"), learner_id=learner_id, concept=a.concept,
                    p_known=s.p_known, ability=s.ability, attempts=s.attempts, correct=s.correct,
                    updated=stamp)  # fmt: skip
            if change.item_rating is not None:
                rating, answers = change.item_rating
                upsert(conn, ITEM_STATS, ("item_id",), item_id=a.item_id, rating=rating, answers=answers)
            if change.card is not None:
                upsert(conn, REVIEW_CARDS, ("learner_id", "concept"), learner_id=learner_id,
                        concept=a.concept, card=change.card[0], due=now_iso(change.card[1]))  # fmt: skip
        return change

    def export(self, learner_id: int) -> dict:
        """Everything stored about one learner, as JSON-ready data."""
        with self._tx(write=False) as conn:
            name, created = conn.execute(
                select(LEARNERS.c.name, LEARNERS.c.created).where(LEARNERS.c.id == learner_id)
            ).one()
        return {
            "learner": name,
            "created": created,
            "mastery": {c: vars(s) for c, s in sorted(self.mastery(learner_id).items())},
            "review_cards": {c: json.loads(card) for c, card in sorted(self.cards(learner_id).items())},
            "attempts": self.attempts(learner_id),
        }

    def reset(self, learner_id: int) -> int:
        """Forget one learner's progress (their name stays); returns the number of attempts removed."""
        with self._tx() as conn:
            self._lock(conn, learner_id)
            removed = conn.execute(delete(ATTEMPTS).where(ATTEMPTS.c.learner_id == learner_id)).rowcount
            for table in (MASTERY, REVIEW_CARDS, PENDING):
                conn.execute(delete(table).where(table.c.learner_id == learner_id))
            return removed

    def close(self) -> None:
        self.engine.dispose()


def _snapshot(conn: Connection, learner_id: int, concept: str, item_id: str) -> Snapshot:
    m, i, r = MASTERY.c, ITEM_STATS.c, REVIEW_CARDS.c
    state = conn.execute(
        select(m.p_known, m.ability, m.attempts, m.correct).where(
            m.learner_id == learner_id, m.concept == concept
        )
    ).first()
    item = conn.execute(select(i.rating, i.answers).where(i.item_id == item_id)).first()
    card = conn.execute(select(r.card).where(r.learner_id == learner_id, r.concept == concept)).scalar()
    return Snapshot(ConceptState(*state) if state else None, tuple(item) if item else None, card)

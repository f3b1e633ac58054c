"""The learner store: one SQLite file (`learners.db` under GENAI_TUTOR_HOME), never Chroma's.

Tables: learners, attempts, mastery (BKT and ability per learner and concept), item_stats (item
ratings, shared by all learners: they calibrate difficulty), review_cards (an FSRS card per mastered
concept) and pending (the one question each learner is answering). WAL with synchronous=FULL: once
`record` returns, the attempt survives a killed process or a power cut. Every query is filtered by
the learner's id, so one learner never reads another's rows. Each call opens its own connection, so
the page's worker threads never share one; writers wait for each other (busy timeout), never fail.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

BUSY_TIMEOUT_MS = 10_000
MAX_NAME = 40
NAME_OK = re.compile(r"^[\w .'-]+$")
TOKEN_OK = re.compile(r"^[0-9a-f]{32}$")  # the page's browser id: uuid4().hex, made on the first visit

SCHEMA = """
CREATE TABLE IF NOT EXISTS learners (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, key TEXT NOT NULL UNIQUE, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY, learner_id INTEGER NOT NULL REFERENCES learners(id),
    question_id TEXT NOT NULL, item_id TEXT NOT NULL, concept TEXT NOT NULL, kind TEXT NOT NULL,
    answer TEXT NOT NULL, correct INTEGER NOT NULL, p_before REAL NOT NULL, p_after REAL NOT NULL,
    at TEXT NOT NULL, UNIQUE (learner_id, question_id));
CREATE TABLE IF NOT EXISTS mastery (
    learner_id INTEGER NOT NULL REFERENCES learners(id), concept TEXT NOT NULL,
    p_known REAL NOT NULL, ability REAL NOT NULL, attempts INTEGER NOT NULL, correct INTEGER NOT NULL,
    updated TEXT NOT NULL, PRIMARY KEY (learner_id, concept));
CREATE TABLE IF NOT EXISTS item_stats (
    item_id TEXT PRIMARY KEY, rating REAL NOT NULL, answers INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS review_cards (
    learner_id INTEGER NOT NULL REFERENCES learners(id), concept TEXT NOT NULL, card TEXT NOT NULL,
    due TEXT NOT NULL, PRIMARY KEY (learner_id, concept));
CREATE TABLE IF NOT EXISTS pending (
    learner_id INTEGER PRIMARY KEY REFERENCES learners(id), question_id TEXT NOT NULL,
    question TEXT NOT NULL, asked TEXT NOT NULL);
"""


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
    return display, display.casefold() + (f"#{_hash(token)}" if token is not None else "")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def now_iso(at: datetime | None = None) -> str:
    return (at or datetime.now(UTC)).isoformat()


class LearnerStore:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            db.execute("PRAGMA journal_mode=WAL")  # stored in the file: every later connection uses it
            db.executescript(SCHEMA)
            with db:  # keys written by earlier versions held the browser id itself: hash them
                for rowid, key in db.execute("SELECT id, key FROM learners WHERE key LIKE '%#%'").fetchall():
                    name, _, token = key.rpartition("#")
                    if TOKEN_OK.match(token):
                        db.execute(
                            "UPDATE learners SET key = ? WHERE id = ?", (f"{name}#{_hash(token)}", rowid)
                        )
        finally:
            db.close()

    @classmethod
    def in_home(cls, home: Path) -> LearnerStore:
        return cls(Path(home) / "learners.db")

    @contextmanager
    def _tx(self, write: bool = True) -> Iterator[sqlite3.Connection]:
        """One connection, one transaction: committed when the block ends, rolled back on error.
        Writers take the lock up front (no deadlocking lock upgrades); readers never wait in WAL."""
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        try:
            db.execute("PRAGMA synchronous=FULL")
            db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        finally:
            db.close()

    # ---------------------------------------------------------------- learners

    def learner(self, name: str | None, create: bool = True, token: str | None = None) -> int:
        display, key = learner_key(name, token)
        with self._tx() as db:
            row = db.execute("SELECT id FROM learners WHERE key = ?", (key,)).fetchone()
            if row:
                return row[0]
            if not create:
                raise LearnerError(f"I have no progress for a learner called {display!r} yet.")
            return db.execute(
                "INSERT INTO learners (name, key, created) VALUES (?, ?, ?)", (display, key, now_iso())
            ).lastrowid

    # ---------------------------------------------------------------- reading

    def mastery(self, learner_id: int) -> dict[str, ConceptState]:
        with self._tx(write=False) as db:
            rows = db.execute(
                "SELECT concept, p_known, ability, attempts, correct FROM mastery WHERE learner_id = ?",
                (learner_id,),
            )
            return {c: ConceptState(p, a, n, k) for c, p, a, n, k in rows}

    def item_stats(self) -> dict[str, tuple[float, int]]:
        with self._tx(write=False) as db:
            return {i: (r, n) for i, r, n in db.execute("SELECT item_id, rating, answers FROM item_stats")}

    def cards(self, learner_id: int) -> dict[str, str]:
        """Review cards (FSRS JSON) by concept."""
        with self._tx(write=False) as db:
            rows = db.execute("SELECT concept, card FROM review_cards WHERE learner_id = ?", (learner_id,))
            return dict(rows.fetchall())

    def attempts(self, learner_id: int) -> list[dict]:
        with self._tx(write=False) as db:
            db.row_factory = sqlite3.Row
            rows = db.execute(
                "SELECT question_id, item_id, concept, kind, answer, correct, p_before, p_after, at "
                "FROM attempts WHERE learner_id = ? ORDER BY id",
                (learner_id,),
            )
            return [dict(r) for r in rows]

    def last_item(self, learner_id: int) -> str | None:
        with self._tx(write=False) as db:
            row = db.execute(
                "SELECT item_id FROM attempts WHERE learner_id = ? ORDER BY id DESC LIMIT 1", (learner_id,)
            ).fetchone()
            return row[0] if row else None

    # ---------------------------------------------------------------- the question being answered

    def ask(self, learner_id: int, question_id: str, question: dict) -> None:
        """Make this the learner's open question (an unanswered earlier one is set aside)."""
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO pending (learner_id, question_id, question, asked) "
                "VALUES (?, ?, ?, ?)",
                (learner_id, question_id, json.dumps(question), now_iso()),
            )

    def pending(self, learner_id: int) -> dict | None:
        with self._tx(write=False) as db:
            row = db.execute("SELECT question FROM pending WHERE learner_id = ?", (learner_id,)).fetchone()
            return json.loads(row[0]) if row else None

    def answered(self, learner_id: int, question_id: str) -> bool:
        with self._tx(write=False) as db:
            row = db.execute(
                "SELECT 1 FROM attempts WHERE learner_id = ? AND question_id = ?", (learner_id, question_id)
            ).fetchone()
            return row is not None

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
        attempt, mastery, rating and card are written. Reading inside the transaction means two answers
        at once (two tabs, two learners on one item) never build on the same old state. A second answer
        to the same question is refused (LearnerError)."""
        stamp = now_iso(at)
        with self._tx() as db:
            closed = db.execute(
                "DELETE FROM pending WHERE learner_id = ? AND question_id = ?", (learner_id, question_id)
            ).rowcount
            if not closed:
                raise LearnerError("That question is already answered (or was replaced by a newer one).")
            update = decide(self._snapshot(db, learner_id, concept, item_id))
            a, s = update.attempt, update.state
            db.execute(
                "INSERT INTO attempts (learner_id, question_id, item_id, concept, kind, answer, correct, "
                "p_before, p_after, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (learner_id, question_id, a.item_id, a.concept, a.kind, a.answer, int(a.correct))
                + (a.p_before, a.p_after, stamp),
            )
            db.execute(
                "INSERT OR REPLACE INTO mastery (learner_id, concept, p_known, ability, attempts, correct, "
                "updated) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (learner_id, a.concept, s.p_known, s.ability, s.attempts, s.correct, stamp),
            )
            if update.item_rating is not None:
                db.execute(
                    "INSERT OR REPLACE INTO item_stats (item_id, rating, answers) VALUES (?, ?, ?)",
                    (a.item_id, *update.item_rating),
                )
            if update.card is not None:
                db.execute(
                    "INSERT OR REPLACE INTO review_cards (learner_id, concept, card, due) "
                    "VALUES (?, ?, ?, ?)",
                    (learner_id, a.concept, update.card[0], now_iso(update.card[1])),
                )
        return update

    @staticmethod
    def _snapshot(db: sqlite3.Connection, learner_id: int, concept: str, item_id: str) -> Snapshot:
        state = db.execute(
            "SELECT p_known, ability, attempts, correct FROM mastery WHERE learner_id = ? AND concept = ?",
            (learner_id, concept),
        ).fetchone()
        item = db.execute("SELECT rating, answers FROM item_stats WHERE item_id = ?", (item_id,)).fetchone()
        card = db.execute(
            "SELECT card FROM review_cards WHERE learner_id = ? AND concept = ?", (learner_id, concept)
        ).fetchone()
        return Snapshot(
            ConceptState(*state) if state else None, tuple(item) if item else None, card and card[0]
        )

    def export(self, learner_id: int) -> dict:
        """Everything stored about one learner, as JSON-ready data."""
        with self._tx(write=False) as db:
            name, created = db.execute(
                "SELECT name, created FROM learners WHERE id = ?", (learner_id,)
            ).fetchone()
        return {
            "learner": name,
            "created": created,
            "mastery": {c: vars(s) for c, s in sorted(self.mastery(learner_id).items())},
            "review_cards": {c: json.loads(card) for c, card in sorted(self.cards(learner_id).items())},
            "attempts": self.attempts(learner_id),
        }

    def reset(self, learner_id: int) -> int:
        """Forget one learner's progress (their name stays); returns the number of attempts removed."""
        with self._tx() as db:
            removed = db.execute("DELETE FROM attempts WHERE learner_id = ?", (learner_id,)).rowcount
            for table in ("mastery", "review_cards", "pending"):
                db.execute(f"DELETE FROM {table} WHERE learner_id = ?", (learner_id,))
            return removed

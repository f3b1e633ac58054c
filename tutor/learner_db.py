"""The learner store's database layer: the schema, the engines for SQLite and PostgreSQL, and the
migrations, in one place. tutor/learner_store.py holds the statements that read and write it.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from sqlalchemy import (
    Column,
    Double,
    ForeignKey,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError

from tools.config import ConfigError

BUSY_TIMEOUT_MS = 10_000
TOKEN_OK = re.compile(r"^[0-9a-f]{32}$")  # the page's browser id: uuid4().hex, made on the first visit

SCHEMA = MetaData()
LEARNERS = Table(
    "learners", SCHEMA,
    Column("id", Integer, primary_key=True), Column("name", Text, nullable=False),
    Column("key", Text, nullable=False, unique=True), Column("created", Text, nullable=False),
)  # fmt: skip
ATTEMPTS = Table(
    "attempts", SCHEMA,
    Column("id", Integer, primary_key=True),
    Column("learner_id", Integer, ForeignKey("learners.id"), nullable=False),
    Column("question_id", Text, nullable=False), Column("item_id", Text, nullable=False),
    Column("concept", Text, nullable=False), Column("kind", Text, nullable=False),
    Column("answer", Text, nullable=False), Column("correct", Integer, nullable=False),
    Column("p_before", Double, nullable=False), Column("p_after", Double, nullable=False),
    Column("at", Text, nullable=False),
    UniqueConstraint("learner_id", "question_id"),
)  # fmt: skip
MASTERY = Table(
    "mastery", SCHEMA,
    Column("learner_id", Integer, ForeignKey("learners.id"), nullable=False),
    Column("concept", Text, nullable=False), Column("p_known", Double, nullable=False),
    Column("ability", Double, nullable=False), Column("attempts", Integer, nullable=False),
    Column("correct", Integer, nullable=False), Column("updated", Text, nullable=False),
    PrimaryKeyConstraint("learner_id", "concept"),
)  # fmt: skip
ITEM_STATS = Table(
    "item_stats", SCHEMA,
    Column("item_id", Text, primary_key=True), Column("rating", Double, nullable=False),
    Column("answers", Integer, nullable=False),
)  # fmt: skip
REVIEW_CARDS = Table(
    "review_cards", SCHEMA,
    Column("learner_id", Integer, ForeignKey("learners.id"), nullable=False),
    Column("concept", Text, nullable=False), Column("card", Text, nullable=False),
    Column("due", Text, nullable=False),
    PrimaryKeyConstraint("learner_id", "concept"),
)  # fmt: skip
PENDING = Table(
    "pending", SCHEMA,
    Column("learner_id", Integer, ForeignKey("learners.id"), primary_key=True, autoincrement=False),
    Column("question_id", Text, nullable=False), Column("question", Text, nullable=False),
    Column("asked", Text, nullable=False),
)  # fmt: skip


class StoreError(ConfigError):
    """The learner store cannot be opened as configured (a bad URL, an unreachable server)."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def database_url(target: str | Path) -> str:
    """A SQLAlchemy URL for a SQLite file path or a database URL (postgresql:// means psycopg 3)."""
    text = str(target)
    if "://" not in text:
        return f"sqlite:///{Path(text).resolve()}"
    if text.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + text.split("://", 1)[1]
    return text


def engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as e:
        raise StoreError(f"TUTOR_DATABASE_URL is not a database URL: {e}") from None
    if parsed.get_backend_name() == "sqlite":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi, _record) -> None:
            dbapi.isolation_level = None  # transactions are begun below, not by the driver
            pragmas = (
                "journal_mode=WAL",
                "synchronous=FULL",  # (the busy timeout is the driver's `timeout`, above)
                "foreign_keys=ON",
            )
            for pragma in pragmas:
                dbapi.execute(f"PRAGMA {pragma}")

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:  # writers take the lock up front: no lock upgrades
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("write") else "BEGIN")

        return engine
    if parsed.get_backend_name() == "postgresql":
        return create_engine(parsed, pool_pre_ping=True, pool_size=4, max_overflow=8)
    raise StoreError(f"The learner store runs on SQLite or PostgreSQL, not {parsed.get_backend_name()!r}.")


def upsert(conn: Connection, table: Table, keys: tuple[str, ...], **values) -> None:
    """Insert a row, or replace the non-key columns of the row with the same keys."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).values(**values)
    conn.execute(stmt.on_conflict_do_update(index_elements=list(keys), set_={
        name: stmt.excluded[name] for name in values if name not in keys
    }))  # fmt: skip


def migrate(conn: Connection) -> None:
    """Every schema change, in order; each one safe to run again, and by one process at a time (app
    processes sharing a PostgreSQL database may start together)."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(0, 0)))
    SCHEMA.create_all(conn, checkfirst=True)
    # keys written by early versions held the browser id itself: hash them
    for rowid, key in conn.execute(select(LEARNERS.c.id, LEARNERS.c.key).where(LEARNERS.c.key.like("%#%"))):
        name, _, token = key.rpartition("#")
        if TOKEN_OK.match(token):
            conn.execute(
                update(LEARNERS).where(LEARNERS.c.id == rowid).values(key=f"{name}#{token_hash(token)}")
            )

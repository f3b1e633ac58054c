"""Ten learners answer quiz questions at once on the real server (`genai-tutor serve`, through the
page's own event endpoints); the server is killed with SIGKILL in the middle and started again. No
answer the server confirmed is lost, nobody sees "database is locked", and every learner's progress
is intact and goes on: with the learner store in SQLite and in PostgreSQL."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import threading
import time

import httpx
import pytest

from tests.page_client import PageClient
from tests.servers import serve

LEARNERS = 10
KILL_AFTER = 40  # confirmed answers in all before the kill
ANSWERED = re.compile(r"Correct\.|Not quite\.")


@pytest.fixture
def crash_home(tmp_path):
    """A data directory of its own (the server converts no model at start, so it starts empty)."""
    return tmp_path / "home"


def _learner(client: PageClient, name: str, confirmed: dict, errors: list, stop: threading.Event) -> None:
    try:
        client.say(name, "quiz me")
        while not stop.is_set():
            stream = client.say(name, "A")  # a letter answers any choice question (short answers too)
            if ANSWERED.search(stream):
                confirmed[name] += 1
            if "database is locked" in stream or '"success": false' in stream:
                errors.append(stream[-500:])
    except (httpx.HTTPError, ValueError):  # the server was killed under us
        return


def test_a_killed_server_loses_no_confirmed_answer(crash_home, tmp_path, store_target):
    """Once with the learner store in SQLite (the default), once in PostgreSQL."""
    log, target = tmp_path / "server.log", str(store_target)
    env = {"TUTOR_DATABASE_URL": target} if "://" in target else {}
    proc, url = serve(crash_home, log, env)
    clients = {f"Learner {i}": PageClient(url, timeout=30) for i in range(LEARNERS)}
    confirmed = dict.fromkeys(clients, 0)
    errors: list[str] = []
    stop = threading.Event()
    threads = [
        threading.Thread(target=_learner, args=(c, name, confirmed, errors, stop))
        for name, c in clients.items()
    ]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 180
    while sum(confirmed.values()) < KILL_AFTER and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)  # mid-traffic: answers are in flight
    proc.wait()
    stop.set()
    for t in threads:
        t.join(60)
    assert sum(confirmed.values()) >= KILL_AFTER, "the learners could not answer before the kill"

    proc, url = serve(crash_home, log, env)
    try:
        from tutor.learner_store import LearnerStore

        store = LearnerStore(target if env else crash_home / "learners.db")
        for name, client in clients.items():
            learner = store.learner(name, create=False, token=client.token)
            attempts = store.attempts(learner)
            assert len(attempts) >= confirmed[name], name  # every confirmed answer survived
            assert sum(s.attempts for s in store.mastery(learner).values()) == len(attempts), name
            shown = PageClient(url, token=client.token).progress(name)
            assert f"/{len(attempts)} answers right" in shown, name  # the page shows it all
        again = PageClient(url, token=clients["Learner 0"].token)
        again.say("Learner 0", "quiz me")
        assert ANSWERED.search(again.say("Learner 0", "A"))  # and the learner goes on
        if not env:
            db = sqlite3.connect(crash_home / "learners.db")
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            db.close()
    finally:
        proc.kill()
        proc.wait()
    assert not errors, errors[:2]
    assert "database is locked" not in log.read_text()

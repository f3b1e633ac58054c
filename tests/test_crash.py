"""Ten learners answer quiz questions at once on the real server (`genai-tutor serve`, through the
page's own event endpoints); the server is killed with SIGKILL in the middle and started again. No
answer the server confirmed is lost, nobody sees "database is locked", and every learner's progress
is intact and goes on."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.page_client import PageClient

LEARNERS = 10
KILL_AFTER = 40  # confirmed answers in all before the kill
ANSWERED = re.compile(r"Correct\.|Not quite\.")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(home: Path, log: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    script = Path(sys.executable).with_name("genai-tutor")
    env = {**os.environ, "GENAI_TUTOR_HOME": str(home)}
    proc = subprocess.Popen(
        [str(script), "serve", "--port", str(port)], env=env, stdout=log.open("a"), stderr=subprocess.STDOUT
    )
    url, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the server exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(url + "/config", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.5)
    proc.kill()
    raise AssertionError("the server did not start within 300 s")


@pytest.fixture
def crash_home(tmp_path, settings, tutor):
    """A data directory of its own, with the embedded model already converted (saves ~20 s)."""
    from tools.embedded_model import CACHE_SUBDIR

    home = tmp_path / "home"
    shutil.copytree(settings.home / CACHE_SUBDIR, home / CACHE_SUBDIR)
    return home


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


def test_a_killed_server_loses_no_confirmed_answer(crash_home, tmp_path):
    log = tmp_path / "server.log"
    proc, url = _serve(crash_home, log)
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

    proc, url = _serve(crash_home, log)
    try:
        from tutor.learner_store import LearnerStore

        store = LearnerStore(crash_home / "learners.db")
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
        db = sqlite3.connect(crash_home / "learners.db")
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        db.close()
    finally:
        proc.kill()
        proc.wait()
    assert not errors, errors[:2]
    assert "database is locked" not in log.read_text()

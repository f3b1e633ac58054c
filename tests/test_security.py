"""The real server, called as a stranger on the network would: Gradio's file routes serve generated
artifacts and nothing else, and no client reads, answers for, exports or resets another learner's
progress through the page's own event endpoints (called directly, with an fn_index)."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import httpx
import pytest

from tests.page_client import PageClient, completed

FILE_ROUTES = ("/gradio_api/file={}", "/gradio_api/file/{}", "/file={}")


@pytest.fixture(scope="module")
def server(page_server):
    return page_server


@pytest.fixture(scope="module")
def ada(server, settings):
    """A learner who answered a quiz question in the page."""
    client = PageClient(server)
    client.say("Ada", "quiz me")
    answer = client.say("Ada", "A")
    assert re.search(r"Correct\.|Not quite\.", answer)
    yield client
    client.close()


def _private_files(home: Path) -> list[Path]:
    files = [home / "learners.db", *(home / "chroma").rglob("*.sqlite3")]
    files += [p for p in home.rglob("*.safetensors") if "artifacts" not in p.parts]
    return [f for f in files if f.is_file()]


def test_the_data_directory_is_not_served(server, settings, ada):
    from tools.embedded_model import cached_model_dir

    cached_model_dir(settings.home)  # made by the first text demo; made here when this test runs alone
    private = _private_files(settings.home)
    assert len(private) >= 3  # the learner store, the vector store and the model cache
    for path in private:
        for route in FILE_ROUTES:
            response = httpx.get(server + route.format(path))
            assert response.status_code in (403, 404), (route, path, response.status_code)


def test_a_demo_image_is_served(server, ada):
    stream = ada.say("Ada", "/demo image a red circle")
    urls = sorted(set(re.findall(r'"url": ?"([^"]+\.png)"', stream)))
    assert urls, "the demo showed no picture"
    response = httpx.get(urls[-1] if urls[-1].startswith("http") else server + urls[-1])
    assert response.status_code == 200 and response.content.startswith(b"\x89PNG")


def _attempts(tutor, name: str, token: str | None) -> int:
    store = tutor.quiz.engine.store
    return len(store.attempts(store.learner(name, False, token)))


def test_another_client_cannot_read_answer_export_or_reset_a_learners_progress(server, tutor, ada):
    engine = tutor.quiz.engine
    terminal = engine.store.learner("Ada")  # a terminal learner of the same name (no browser id)
    engine.pose(terminal, engine.items[0], "bank")
    engine.answer("Ada", "A")
    before = (_attempts(tutor, "Ada", ada.token), _attempts(tutor, "Ada", None))

    eve = PageClient(server)
    try:
        for token in ("mine", None, "", "not-a-browser-id", ada.token.upper()):
            shown = completed(eve.progress("Ada", token))["output"]["data"][1]
            assert re.search(r"no progress|no learner id", shown), (token, shown)
        for token in (eve.token, None, ""):
            exported = completed(eve.call("export", "click", ["Ada", token]))["output"]["data"]
            assert exported[0] is None and "answers" not in exported[1]
            reset = completed(eve.call("reset", "click", ["Ada", token, True]))["output"]["data"][0]
            assert "erased" not in reset
        # Answering Ada's open question by its id, as a click on her choice would.
        ada.say("Ada", "quiz me")
        question = engine.store.pending(engine.store.learner("Ada", False, ada.token))["id"]
        for token in (eve.token, None):
            data = [[], "Ada", None, token, False]
            event = {"index": 0, "value": f"{question}:A", "selected": True}
            done = completed(eve.call("chat", "option_select", data, event_data=event))
            assert done["success"] and re.search(r"no progress|no learner id", json.dumps(done))
        assert eve.say("Ada", "A")  # with eve's own id: there is no open question of hers
    finally:
        eve.close()
    assert (_attempts(tutor, "Ada", ada.token), _attempts(tutor, "Ada", None)) == before
    assert engine.store.pending(engine.store.learner("Ada", False, ada.token))["id"] == question


def test_only_a_hash_of_the_browser_id_is_stored(tutor, ada):
    import sqlite3

    db = sqlite3.connect(tutor.quiz.engine.store.path)
    keys = [k for (k,) in db.execute("SELECT key FROM learners")]
    db.close()
    assert keys and not any(ada.token in k for k in keys)


def test_old_keys_holding_the_browser_id_are_hashed_on_open(tmp_path):
    import sqlite3

    from tutor.learner_store import LearnerStore

    token = uuid.uuid4().hex
    LearnerStore(tmp_path / "l.db")
    db = sqlite3.connect(tmp_path / "l.db")
    db.execute("INSERT INTO learners (name, key, created) VALUES ('Bo', ?, 'x')", (f"bo#{token}",))
    db.commit()
    db.close()
    store = LearnerStore(tmp_path / "l.db")
    assert store.learner("Bo", create=False, token=token)  # the same learner, found by the hashed key


def test_uploads_are_held_to_a_small_size(server):
    big = {"files": ("big.bin", b"0" * (2 * 2**20), "application/octet-stream")}
    assert httpx.post(server + "/gradio_api/upload", files=big).status_code == 413

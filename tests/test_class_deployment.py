"""A class's deployment, for real: two `genai-tutor serve` processes (each with its own data folder, as
on two machines) share a Chroma server, a PostgreSQL database and the model server. A learner's
progress recorded through one is seen through the other; and behind HAProxy with the shipped example
configuration (deploy/haproxy.cfg) each browser sticks to one process while browsers spread over both."""

from __future__ import annotations

import re

import pytest

from tests.page_client import PageClient
from tests.servers import chroma, haproxy, new_database, serve, stop

ANSWERED = re.compile(r"Correct\.|Not quite\.")


@pytest.fixture(scope="module")
def apps(tmp_path_factory, pg_server, model_server):
    """Two app processes on the shared servers: their URLs."""
    folder = tmp_path_factory.mktemp("class")
    with chroma(folder / "chroma") as chroma_url:
        env = {"TUTOR_CHROMA_URL": chroma_url, "TUTOR_DATABASE_URL": new_database(pg_server),
               "TUTOR_MODEL_URL": model_server}  # fmt: skip
        started = [serve(folder / name, folder / f"{name}.log", env) for name in ("app1", "app2")]
        try:
            yield [url for _, url in started]
        finally:
            for proc, _ in started:
                stop(proc)


def _answer(client: PageClient, name: str) -> None:
    client.say(name, "quiz me")
    assert ANSWERED.search(client.say(name, "A"))  # a letter answers any question


def test_progress_recorded_through_one_process_is_seen_through_the_other(apps):
    one = PageClient(apps[0])
    other = PageClient(apps[1], token=one.token)  # the same browser, on the other process
    _answer(one, "Ada")
    assert "/1 answers right" in other.progress("Ada")
    _answer(other, "Ada")
    assert "/2 answers right" in one.progress("Ada")
    stranger = PageClient(apps[1])  # the same name in another browser is another learner
    assert "/2 answers right" not in stranger.progress("Ada")


def test_both_processes_answer_from_the_shared_lessons(apps):
    for url in apps:
        reply = PageClient(url).say("Bo", "How does Stable Diffusion work?")
        assert "Sources from the lessons" in reply and "Stable Diffusion" in reply


def test_behind_the_proxy_each_browser_sticks_to_one_process(apps):
    with haproxy(*apps) as proxy:
        browsers = [PageClient(proxy) for _ in range(4)]  # each keeps the cookies the proxy sets
        placed = [b.http.cookies.get("TUTOR_APP") for b in browsers]
        assert set(placed) == {"app1", "app2"}  # new browsers spread over both processes
        for i, browser in enumerate(browsers):
            _answer(browser, f"Cy {i}")  # every request of a page reaches the process holding its session
            assert browser.http.cookies.get("TUTOR_APP") == placed[i]
            assert "/1 answers right" in browser.progress(f"Cy {i}")

"""The lesson store on a real Chroma server (`chroma run` from the installed chromadb, on a loopback port
with its own data folder): ingest, search, re-ingest idempotently, survive a server restart, and two
app processes ingesting at the same time, or one rebuilding under another, without duplicates or errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import chromadb
import pytest

from knowledge.store import COLLECTION, KnowledgeStore, StoreUnreachable, open_client
from tests.servers import chroma, free_port

QUESTION = "What does classifier-free guidance do?"


def _server_ids(url: str) -> list[str]:
    host, port = url.removeprefix("http://").split(":")
    client = chromadb.HttpClient(
        host=host, port=int(port), settings=chromadb.Settings(anonymized_telemetry=False)
    )
    return client.get_collection(COLLECTION).get(include=[])["ids"]


def test_ingest_search_reingest_and_a_restart(tmp_path, embedder):
    folder, port = tmp_path / "chroma-data", free_port()
    with chroma(folder, port) as url:
        store = KnowledgeStore(open_client(tmp_path / "home", url), embedder)
        first = store.ingest()
        assert first["added"] == first["chunks"] == store.count() > 100
        hits = store.search(QUESTION)
        assert hits and hits[0].lesson_id == "text-encoders-guidance"
        again = store.ingest()
        assert (again["added"], again["updated"], again["removed"]) == (0, 0, 0)
    with chroma(folder, port) as url:  # the same data folder, a new server process
        assert store.count() == first["chunks"]  # the first client carries on over HTTP
        fresh = KnowledgeStore(open_client(tmp_path / "home", url), embedder)
        assert fresh.search(QUESTION) == hits
        assert fresh.ingest()["added"] == 0


def test_two_app_processes_ingest_into_one_server_at_once(tmp_path):
    with chroma(tmp_path / "chroma-data") as url:
        script = Path(sys.executable).with_name("genai-tutor")
        procs = [
            subprocess.Popen(
                [str(script), "ingest", "--json"],
                env={**os.environ, "TUTOR_CHROMA_URL": url, "GENAI_TUTOR_HOME": str(tmp_path / name)},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )  # fmt: skip
            for name in ("app-a", "app-b")
        ]
        results = []
        for proc in procs:
            out, err = proc.communicate(timeout=300)
            assert proc.returncode == 0, err[-2000:]
            results.append(json.loads(out.strip().splitlines()[-1]))
        ids = _server_ids(url)
        assert len(ids) == len(set(ids)) == results[0]["chunks"] == results[1]["chunks"]
        assert all(r["removed"] == 0 for r in results)
        assert max(r["added"] for r in results) > 0  # at least one of them found it empty


def test_a_rebuild_by_another_process_does_not_break_this_one(tmp_path, embedder):
    with chroma(tmp_path / "chroma-data") as url:
        mine = KnowledgeStore(open_client(tmp_path / "a", url), embedder)
        chunks = mine.ingest()["chunks"]
        other = KnowledgeStore(open_client(tmp_path / "b", url), embedder)
        other.ingest(rebuild=True)  # deletes the collection this process holds a handle to
        assert mine.search(QUESTION)[0].lesson_id == "text-encoders-guidance"
        assert mine.count() == chunks == len(_server_ids(url))


def test_no_server_at_the_url_is_a_clear_message(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(StoreUnreachable, match="TUTOR_CHROMA_URL"):
        open_client(tmp_path, url, wait_s=0.5)

"""Shared fixtures: a temporary GENAI_TUTOR_HOME, the real embedder, a real Chroma store holding the
real lessons, and the tutor on the real embedded model. Built once per session (they are slow)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from tests.helpers import OUTPUT

for var in ("TUTOR_LLM", "OPENAI_API_KEY", "OPENAI_BASE_URL", "TUTOR_DEVICE", "TUTOR_CHROMA_URL"):
    os.environ.pop(var, None)
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_OFFLINE"] = "1"


@pytest.fixture(scope="session")
def home(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("home")
    os.environ["GENAI_TUTOR_HOME"] = str(path)
    return path


@pytest.fixture(scope="session")
def settings(home):
    from tutor.settings import Settings

    return Settings.from_env(home=home, device="cpu")


@pytest.fixture(scope="session")
def embedder():
    from knowledge.embedder import Embedder

    return Embedder("cpu")


@pytest.fixture(scope="session")
def store(settings, embedder):
    from knowledge.store import KnowledgeStore, open_client

    store = KnowledgeStore(open_client(settings.home), embedder)
    store.ingest()
    return store


@pytest.fixture(scope="session")
def tutor(settings, store):
    from tutor.chat import Tutor
    from tutor.llm import make_backend

    return Tutor(settings, store, make_backend(settings))


@pytest.fixture(scope="session")
def output_dir() -> Path:
    OUTPUT.mkdir(exist_ok=True)
    return OUTPUT


@pytest.fixture(scope="session")
def text_tool(settings, tutor):  # `tutor` makes sure the embedded model's cache exists
    from tools.registry import Registry

    return Registry(settings).get("text_generation")


@pytest.fixture(scope="session")
def page_server(settings, tutor):
    """The page as `genai-tutor serve` launches it, on a free loopback port: its base URL."""
    from app import build_app, launch_options
    from tests.servers import free_port

    port = free_port()
    demo = build_app(settings, tutor)
    demo.queue().launch(
        server_name="127.0.0.1",
        server_port=port,
        prevent_thread_lock=True,
        quiet=True,
        **launch_options(settings),
    )
    yield f"http://127.0.0.1:{port}"
    demo.close()


@pytest.fixture(scope="session")
def pg_server():
    """A real PostgreSQL server for the session (tests/servers.py): its URL without a database."""
    from tests.servers import postgres

    with postgres() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_target(request, tmp_path):
    """Where a learner store lives, once per backend: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return tmp_path / "learners.db"
    from tests.servers import new_database

    return new_database(request.getfixturevalue("pg_server"))


@pytest.fixture(scope="session")
def model_server(tmp_path_factory):
    """`genai-tutor model-server` (the embedded GGUF on llama.cpp's OpenAI-compatible server) on a free
    loopback port: its OpenAI base URL (…/v1)."""
    from tests.servers import model_server as start_model_server
    from tests.servers import stop

    proc, base = start_model_server(tmp_path_factory.mktemp("model-server") / "server.log")
    yield base + "/v1"
    stop(proc)


@pytest.fixture(scope="module")
def one_thread():
    """Torch on one thread for a module: models this small gain little from a second thread, and on a
    shared 2-core machine OpenMP threads that wait for each other make a run several times slower."""

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

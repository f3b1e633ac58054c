"""Real servers for the tests, each on a free loopback port with its own data folder, stopped after:
PostgreSQL (Debian's packages, installed by `make test`), a Chroma server (`chroma run` from the
installed chromadb) and the embedded GGUF behind llama.cpp's OpenAI-compatible server (xllamacpp).

When a server's programs are missing, its tests are skipped with the reason, unless
TUTOR_REQUIRE_SERVERS=1 (set by `make test`), when they fail: CI must not pass by skipping them."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def missing(what: str) -> None:
    """Skip (or, under `make test`, fail) a test whose server cannot be started here."""
    if os.environ.get("TUTOR_REQUIRE_SERVERS") == "1":
        pytest.fail(f"{what} (make test installs it)")
    pytest.skip(what)


def wait_until(ready, proc: subprocess.Popen, log: Path, what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited: {log.read_text()[-1500:]}")
        if ready():
            return
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{what} was not ready within {timeout_s:.0f} s: {log.read_text()[-1500:]}")


def answers(url: str):
    """A readiness check: whether `url` answers 200 (for `wait_until`)."""

    def ready() -> bool:
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    return ready


def launch(command: list[str], port: int, log: Path, ready: str, what: str, env: dict | None = None,
           timeout_s: float = 60) -> tuple[subprocess.Popen, str]:  # fmt: skip
    """Start a server on `port` (output to `log`, `env` added) and wait until its `ready` path answers:
    the process and its URL."""
    with log.open("a") as out:  # the server writes to its own copy of the file handle
        proc = subprocess.Popen(
            command, env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    wait_until(answers(url + ready), proc, log, what, timeout_s)
    return proc, url


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ---------------------------------------------------------------- PostgreSQL


def postgres_bin() -> Path | None:
    """Debian's PostgreSQL programs (/usr/lib/postgresql/N/bin: not on PATH), the newest."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else None


def _as_user() -> list[str]:
    """PostgreSQL refuses to run as root: as root, run it as `nobody` (setpriv: no extra process)."""
    if os.geteuid() != 0:
        return []
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


@contextmanager
def postgres() -> Iterator[str]:
    """A throwaway PostgreSQL server: yields its URL (superuser `postgres`, trust auth, loopback only)."""
    bindir = postgres_bin()
    if bindir is None:
        missing("PostgreSQL is not installed (apt-get install postgresql)")
    folder = Path(tempfile.mkdtemp(prefix="tutor-pg-"))  # not under pytest's root-only tmp folder
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        os.chown(folder, nobody.pw_uid, nobody.pw_gid)
    log, port = folder / "postgres.log", free_port()
    try:
        subprocess.run(
            [*_as_user(), str(bindir / "initdb"), "-D", str(folder / "data"), "-U", "postgres",
             "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions"],
            check=True, capture_output=True,
        )  # fmt: skip
        proc = subprocess.Popen(
            [*_as_user(), str(bindir / "postgres"), "-D", str(folder / "data"), "-p", str(port), "-k",
             str(folder), "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200"],
            stdout=log.open("w"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        ready = [str(bindir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port)]
        wait_until(lambda: subprocess.run(ready).returncode == 0, proc, log, "PostgreSQL")
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}"
        finally:
            stop(proc, signal.SIGINT)  # fast shutdown
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def new_database(server: str) -> str:
    """A fresh, empty database on the server: its URL."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"{server}/{name}"


# ---------------------------------------------------------------- Chroma


@contextmanager
def chroma(folder: Path, port: int | None = None) -> Iterator[str]:
    """`chroma run` on a loopback port over `folder` (kept: a restart on it finds the data): its URL."""
    program = Path(sys.executable).with_name("chroma")
    if not program.exists():
        missing("the chroma program of the installed chromadb is missing")
    port = port or free_port()
    folder.mkdir(parents=True, exist_ok=True)
    log = folder.parent / f"chroma-{port}.log"
    command = [str(program), "run", "--path", str(folder), "--host", "127.0.0.1", "--port", str(port)]
    proc, url = launch(
        command, port, log, "/api/v2/heartbeat", "The Chroma server", {"ANONYMIZED_TELEMETRY": "False"}
    )
    try:
        yield url
    finally:
        stop(proc)


# ---------------------------------------------------------------- the app and a proxy in front of it


def serve(home: Path, log: Path, env: dict | None = None) -> tuple[subprocess.Popen, str]:
    """`genai-tutor serve` on a free loopback port with `home` as its data folder (and `env` added):
    the process and its URL, once the page answers."""
    port = free_port()
    command = [str(Path(sys.executable).with_name("genai-tutor")), "serve", "--port", str(port)]
    return launch(
        command, port, log, "/config", "The app", {"GENAI_TUTOR_HOME": str(home), **(env or {})}, 300
    )


def model_server(log: Path, env: dict | None = None, slots: int = 2, threads: int = 1):
    """`genai-tutor model-server` on a free loopback port: the process and its base URL (no /v1)."""
    port = free_port()
    command = [str(Path(sys.executable).with_name("genai-tutor")), "model-server", "--port", str(port),
               "--threads", str(threads), "--slots", str(slots)]  # fmt: skip
    return launch(command, port, log, "/health", "The model server", env, timeout_s=120)


@contextmanager
def haproxy(*apps: str) -> Iterator[str]:
    """HAProxy with the shipped example configuration (deploy/haproxy.cfg) in front of two app URLs."""
    program = shutil.which("haproxy")
    if program is None:
        missing("HAProxy is not installed (apt-get install haproxy)")
    port = free_port()
    env = {"TUTOR_PROXY_BIND": f"127.0.0.1:{port}"}
    env |= {f"TUTOR_APP{i}": url.removeprefix("http://") for i, url in enumerate(apps, 1)}
    log = Path(tempfile.mkdtemp(prefix="tutor-proxy-")) / "haproxy.log"
    command = [program, "-db", "-f", str(ROOT / "deploy" / "haproxy.cfg")]
    proc, url = launch(command, port, log, "/config", "HAProxy", env)
    try:
        yield url
    finally:
        stop(proc)

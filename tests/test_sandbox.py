"""The sandbox that runs generated code: hostile programs, each refused or stopped, and honest results
for ordinary ones. Every case runs a real child process in bubblewrap (`make setup` installs it)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import threading
import time

import pytest

from tests.helpers import needs_sandbox
from tools.code_generation import sandbox

pytestmark = needs_sandbox


def test_a_right_solution_passes_and_a_wrong_one_fails_with_the_test_that_caught_it():
    tests = ["assert add(0, 0) == 0", "assert add(1, 2) == 3"]
    ok = sandbox.run("def add(a, b):\n    return a + b\n", tests)
    assert ok.passed and [t["passed"] for t in ok.tests] == [True, True]
    wrong = sandbox.run("def add(a, b):\n    return a - b\n", tests)
    assert wrong.status == "failed" and [t["passed"] for t in wrong.tests] == [True, False]
    assert wrong.tests[1]["error"] == "AssertionError"
    broken = sandbox.run("def add(a, b):\n    return a +\n", ["assert add(1, 2) == 3"])
    assert broken.load_error["error"] == "SyntaxError" and broken.load_error["line"] == 2


def test_it_cannot_read_files_outside_its_folder(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("the app's private data")
    out = sandbox.run(f"data = open({str(secret)!r}).read()\nprint(data)\n", [])
    assert out.load_error["error"] == "FileNotFoundError" and "private" not in out.stdout  # not there at all
    listing = sandbox.run(f"import os\nprint(os.listdir({str(tmp_path)!r}))\n", [])
    assert listing.load_error["error"] == "FileNotFoundError" and "secret" not in listing.stdout
    seen = sandbox.run("import os\nprint(sorted(os.listdir('/')))\n", ["x = 1"])
    assert "work" not in seen.stdout and "home" not in seen.stdout and "sandbox" in seen.stdout
    # ...but its own folder is its own
    mine = sandbox.run("open('note.txt', 'w').write('hi')\n", ["assert open('note.txt').read() == 'hi'"])
    assert mine.passed


def test_with_its_fence_switched_off_it_still_sees_nothing_of_the_app(tmp_path, monkeypatch):
    """The audit hook can be tampered with from inside; the namespaces and the seccomp filter cannot."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-the-apps-secret")
    victim = tmp_path / "victim.txt"
    victim.write_text("untouched")
    outside = subprocess.Popen(["sleep", "60"])
    hostile = f"""import sys
fence = sys.modules["__main__"]
fence.REFUSED, fence._inside = (), lambda *a: True
import ctypes, os, signal, subprocess, time
libc = ctypes.CDLL(None, use_errno=True)
attempts = {{
    "environ": lambda: open("/proc/1/environ", "rb").read(),
    "sysctl": lambda: open("/proc/sys/kernel/core_uses_pid", "w"),
    "rename": lambda: open("x", "w").close() or os.rename("x", {str(victim)!r}),
    "pidfd": lambda: signal.pidfd_send_signal(os.pidfd_open({outside.pid}), 9),
    "ptrace": lambda: libc.ptrace(16, 1, None, None) or "attached",
    "unshare": lambda: libc.unshare(0x10000000) or "new namespace",
    "clone": lambda: libc.syscall(56, 0x50000011, 0, 0, 0, 0),  # a child in new user and net namespaces
    "process": lambda: subprocess.Popen(["/bin/sh", "-c", "sleep 30 # genai-sandbox-marker"]),
    "disk": lambda: [open(f"f{{i}}", "wb").write(bytes(2**20 - 1)) for i in range(64)],
}}
for name, attempt in attempts.items():
    try:
        print(name, "->", attempt())
    except OSError as e:
        print(name, "->", type(e).__name__)
sys.stdout.flush()
sys.stdout.write("x" * 5_000_000)  # more than it may write: the file-size limit stops it
os.setpgid(0, os.getpgid(os.getppid()))
time.sleep(30)
"""
    try:
        out = sandbox.run(hostile, [], sandbox.Limits(wall_s=3))
        assert outside.poll() is None  # the outside process was out of reach
    finally:
        outside.kill()
    lines = dict(line.split(" -> ") for line in out.stdout.splitlines() if " -> " in line)
    assert lines == {
        "environ": "FileNotFoundError", "sysctl": "FileNotFoundError", "rename": "FileNotFoundError",
        "pidfd": "ProcessLookupError", "ptrace": "-1", "unshare": "-1", "clone": "-1",
        "process": "PermissionError", "disk": "OSError",
    }  # fmt: skip
    assert "sk-the-apps-secret" not in out.stdout and len(out.stdout) <= sandbox.Limits().output_chars
    assert victim.read_text() == "untouched"
    time.sleep(0.5)
    left = subprocess.run(["pgrep", "-f", "genai-sandbox-marker"], capture_output=True, text=True).stdout
    assert not left.split()  # nothing it started outlived it


def test_it_cannot_open_a_socket():
    server = socket.create_server(("127.0.0.1", 0))
    port, reached = server.getsockname()[1], []
    server.settimeout(5)

    def accept():
        with contextlib.suppress(OSError):  # closed after the sandbox ran: nobody came
            reached.append(server.accept())

    waiter = threading.Thread(target=accept)
    waiter.start()
    out = sandbox.run(f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)\n", [])
    server.close()
    waiter.join()
    assert out.load_error["error"] in ("PermissionError", "ConnectionRefusedError", "OSError")
    assert not reached  # nothing ever connected


def test_it_sees_none_of_the_apps_environment(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-the-apps-secret")
    shown = "import os\nprint(sorted(os.environ.items()))\n"
    out = sandbox.run(shown, ["assert 'OPENAI_API_KEY' not in os.environ"])
    assert out.passed and "sk-the-apps-secret" not in out.stdout
    assert os.environ["OPENAI_API_KEY"] == "sk-the-apps-secret"  # the app's own is untouched


def test_memory_time_file_size_and_new_processes_are_limited():
    memory = sandbox.run("block = bytearray(1024 ** 3)\n", [])
    assert memory.load_error["error"] == "MemoryError"
    busy = sandbox.run("while True:\n    pass\n", [], sandbox.Limits(cpu_s=1, wall_s=10))
    assert busy.status == "timeout" and busy.seconds < 5  # the CPU limit, not the wall clock, stopped it
    asleep = sandbox.run("import time\ntime.sleep(60)\n", [], sandbox.Limits(wall_s=1.5))
    assert asleep.status == "timeout" and asleep.seconds < 10
    big = sandbox.run("open('big.bin', 'wb').write(b'x' * (4 * 2 ** 20))\n", [])
    assert big.load_error["error"] == "OSError" and "too large" in big.load_error["message"]
    for spawn in ("import os\nos.system('true')\n", "import subprocess\nsubprocess.run(['true'])\n"):
        out = sandbox.run(spawn, [])
        assert out.load_error["error"] == "PermissionError"


def test_it_records_what_held_it():
    out = sandbox.run("x = 1\n", ["assert x == 1"])
    held = {
        "own filesystem, network, processes (bubblewrap)",
        "seccomp filter",
        "resource limits",
        "audit hook",
    }
    assert held <= set(out.isolation)


@pytest.mark.parametrize("hostile", ["import ctypes\nctypes.CDLL(None)\n", "import os\nos.kill(1, 9)\n"])
def test_native_code_and_signals_to_other_processes_are_refused(hostile):
    assert sandbox.run(hostile, []).load_error["error"] == "PermissionError"

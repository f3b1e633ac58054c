"""Run generated Python and its tests somewhere it can do no harm: never in the app's own process.

Each run is a separate Python process inside bubblewrap (`bwrap`), which gives it its own namespaces:
- a filesystem that holds only the system's programs and libraries and the Python install, read-only,
  a minimal /dev, and small memory-backed folders it may write to: /sandbox (its working folder,
  where bwrap copies the program, the tests and the harness), /tmp and /dev/shm, 16 MB at most each.
  Nothing of the host is writable, and there is no /proc at all: the app's data, its learners'
  database, home folders, kernel settings (/proc/sys) and every other file do not exist in there;
- no network (its own network namespace, with nothing in it), no other processes to see (its own
  process namespace), no capabilities, and an empty environment (no API keys);
- a seccomp filter (seccomp.py) that refuses new processes (threads are fine), tracing, mounting,
  namespaces, io_uring, kernel modules and the like;
- it dies with the app (`--die-with-parent`); at the wall-clock limit its process group is killed.
Inside, `harness.py` sets resource limits (CPU seconds, address space, file size, open files) and an
audit hook that refuses new processes, sockets and native code: a second fence for ordinary code,
not the wall. Its output goes to files it cannot grow past the file-size limit.

Where bubblewrap is missing or the system forbids namespaces, generated code is not run at all: the
outcome says why (`make setup` installs bubblewrap). What it leaves out: the program shares the
harness's process, so it can forge its own test report (misleading only whoever asked for it); on
other architectures than x86-64 the seccomp filter is missing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tools.code_generation import seccomp

HARNESS = Path(__file__).with_name("harness.py")
INSIDE = "/sandbox"  # the run's working folder, as the sandboxed program sees it
NO_SANDBOX = (
    "Generated code is only run inside bubblewrap (`bwrap`), and it is not available here, so the tests "
    "were not run: install it (`make setup`, or `apt-get install bubblewrap`)."
)


@dataclass(frozen=True)
class Limits:
    cpu_s: int = 2  # CPU seconds (RLIMIT_CPU): a busy loop is stopped by SIGXCPU
    wall_s: float = 5.0  # wall-clock seconds: a sleeping or blocked program is killed
    memory_mb: int = 256  # address space (RLIMIT_AS): a larger allocation raises MemoryError
    file_mb: float = 1.0  # the largest file it may write (RLIMIT_FSIZE)
    output_chars: int = 2000  # of stdout and stderr kept for the trace


@dataclass
class Outcome:
    """What one sandboxed run did."""

    status: str  # "passed", "failed" (a test or the solution raised), "timeout", "crashed", "not run"
    tests: list[dict] = field(default_factory=list)  # per test: test, passed, error, message, line
    load_error: dict | None = None  # the solution raised before any test ran
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0
    isolation: list[str] = field(default_factory=list)  # what held it

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def _bwrap() -> list[str]:
    """The bubblewrap command line that gives the program its own, nearly empty world."""
    small = str(16 * 2**20)  # bytes in each writable, memory-backed folder
    command = [
        shutil.which("bwrap") or "bwrap",
        "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
        "--clearenv", "--setenv", "LC_ALL", "C.UTF-8",
        "--dev", "/dev", "--size", str(2**20), "--tmpfs", "/dev/shm",  # no /proc: nothing of the kernel's
        "--size", small, "--tmpfs", "/tmp", "--size", small, "--tmpfs", INSIDE, "--chdir", INSIDE,
    ]  # fmt: skip
    for path in ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin"):
        if os.path.islink(path):  # merged /usr: /lib -> usr/lib
            command += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            command += ["--ro-bind", path, path]
    prefix = os.path.realpath(sys.base_prefix)  # the Python install (a pyenv under /root, say)
    if not prefix.startswith("/usr/"):
        command += ["--ro-bind", prefix, prefix]
    return command


@functools.cache
def available() -> bool:
    """Whether bubblewrap can make its namespaces here (checked once, with a trivial program)."""
    if shutil.which("bwrap") is None:
        return False
    probe = [*_bwrap(), os.path.realpath(sys.executable), "-I", "-S", "-c", "pass"]
    try:
        return subprocess.run(probe, env={}, capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def run(source: str, tests: list[str], limits: Limits | None = None) -> Outcome:
    """Run `source`, then each test (Python statements, usually asserts), in a fresh sandbox."""
    limits = limits or Limits()
    if not available():
        return Outcome(status="not run", stderr=NO_SANDBOX)
    files = {
        "solution.py": source.encode(),
        "tests.json": json.dumps(tests).encode(),
        "harness.py": HARNESS.read_bytes(),
    }
    with contextlib.ExitStack() as stack:
        copied = {name: _readable(stack, data) for name, data in files.items()}  # bwrap copies them in
        stdout, stderr = (stack.enter_context(tempfile.TemporaryFile()) for _ in range(2))
        code, timed_out, report, seconds = _start(copied, limits, stdout, stderr)
        stdout.seek(0), stderr.seek(0)
        said = stdout.read(limits.output_chars), stderr.read()[-limits.output_chars :]
    return _outcome(code, timed_out, report, *said, seconds, limits)


def _readable(stack: contextlib.ExitStack, data: bytes) -> int:
    """An anonymous file holding `data`, open for reading from its start: a descriptor for bwrap."""
    f = stack.enter_context(tempfile.TemporaryFile())  # noqa: SIM115 (the stack closes it)
    f.write(data)
    f.flush()
    f.seek(0)
    return f.fileno()


def _start(copied: dict[str, int], limits: Limits, stdout, stderr) -> tuple[int, bool, list[str], float]:
    """The sandboxed process, to the end or the wall clock: (exit code, timed out, report, seconds)."""
    results_r, results_w = os.pipe()
    filter_r, filter_w = os.pipe()
    rules = seccomp.program() if seccomp.supported() else b""
    os.write(filter_w, rules)  # a few hundred bytes: the pipe holds them
    os.close(filter_w)
    python = [os.path.realpath(sys.executable), "-I", "-S", f"{INSIDE}/harness.py"]
    command = [*_bwrap(), *(["--seccomp", str(filter_r)] if rules else [])]
    for name, fd in copied.items():
        command += ["--file", str(fd), f"{INSIDE}/{name}"]
    start = time.perf_counter()
    child = subprocess.Popen(  # no preexec_fn (unsafe in a threaded app): bwrap and the harness limit
        [*command, *python, json.dumps(dataclasses.asdict(limits)), str(results_w)],
        env={},  # not even bwrap keeps the app's environment
        stdin=subprocess.DEVNULL,
        stdout=stdout,  # files, so what it prints never piles up in the app's memory
        stderr=stderr,
        pass_fds=(results_w, filter_r, *copied.values()),
        process_group=0,  # its own group, so a timeout kills bwrap and everything under it
    )
    os.close(results_w)
    os.close(filter_r)
    timed_out = False
    try:
        child.wait(timeout=limits.wall_s)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill(child)
        child.wait()
    with os.fdopen(results_r) as results:
        report = results.read(1_000_000).strip().splitlines()
    return child.returncode, timed_out, report, time.perf_counter() - start


def _kill(child: subprocess.Popen) -> None:
    """bwrap's whole process group; bwrap dying takes its process namespace, and everything in it, along."""
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except ProcessLookupError:
        child.kill()


def _outcome(code, timed_out, report, stdout: bytes, stderr: bytes, seconds, limits) -> Outcome:
    out = Outcome(
        status="crashed",
        stdout=stdout.decode(errors="replace"),
        stderr=stderr.decode(errors="replace"),
        seconds=round(seconds, 3),
    )
    cpu_killed = code in (-signal.SIGXCPU, -signal.SIGKILL, 128 + signal.SIGXCPU, 128 + signal.SIGKILL)
    if timed_out or (not report and cpu_killed):
        out.status = "timeout"
        return out
    if not report:
        return out
    try:
        data = json.loads(report[-1])
    except json.JSONDecodeError:
        return out
    out.tests, out.load_error = data.get("tests", []), data.get("load_error")
    walls = ["own filesystem, network, processes (bubblewrap)"] + (
        ["seccomp filter"] if seccomp.supported() else []
    )
    out.isolation = [*walls, *data.get("isolation", [])]
    ok = data.get("loaded") and out.tests and all(t.get("passed") for t in out.tests)
    out.status = "passed" if ok else "failed"
    return out

"""Run generated Python and its tests somewhere it can do no harm: never in the app's own process.

Each run gets a fresh, empty temporary folder and a separate Python process inside bubblewrap
(`bwrap`), which gives it its own namespaces:
- a filesystem that holds only the system's programs and libraries and the Python install, read-only,
  a private /tmp, a minimal /dev and its folder as /sandbox (the only place it may write). No /proc
  at all: the app's data, its learners' database, home folders, kernel settings (/proc/sys) and every
  other file do not exist in there;
- no network (its own network namespace, with nothing in it), no other processes to see (its own
  process namespace), no capabilities, and an empty environment (no API keys);
- a seccomp filter (seccomp.py) that refuses tracing processes, mounting, new namespaces, kernel
  modules and the like, so even a process that slips its resource limits cannot reach past them;
- it dies with the app (`--die-with-parent`); at the wall-clock limit its process group is killed.
Inside, `harness.py` sets resource limits (CPU seconds, address space, file size, open files) and an
audit hook that refuses new processes, sockets and native code: a second fence for ordinary code,
not the wall. Its output goes to files it cannot grow past the file-size limit.

Where bubblewrap is missing or the system forbids namespaces, generated code is not run at all: the
outcome says why (`make setup` installs bubblewrap). What it leaves out: there is no process-count
limit, so a program that starts processes can load the machine until the wall clock stops it.
"""

from __future__ import annotations

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
INSIDE = "/sandbox"  # the run's folder, as the sandboxed program sees it
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


def _bwrap(folder: str) -> list[str]:
    """The bubblewrap command line that gives the program its own, nearly empty world."""
    command = [
        shutil.which("bwrap") or "bwrap",
        "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
        "--clearenv", "--setenv", "LC_ALL", "C.UTF-8",
        "--dev", "/dev", "--tmpfs", "/tmp",  # and no /proc: nothing of the host's kernel to read or write
        "--bind", folder, INSIDE, "--chdir", INSIDE,
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
    with tempfile.TemporaryDirectory(prefix="genai-tutor-sandbox-") as folder:
        probe = [*_bwrap(folder), os.path.realpath(sys.executable), "-I", "-S", "-c", "pass"]
        try:
            return subprocess.run(probe, env={}, capture_output=True, timeout=20).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            return False


def run(source: str, tests: list[str], limits: Limits | None = None) -> Outcome:
    """Run `source`, then each test (Python statements, usually asserts), in a fresh sandbox."""
    limits = limits or Limits()
    if not available():
        return Outcome(status="not run", stderr=NO_SANDBOX)
    folder = tempfile.mkdtemp(prefix="genai-tutor-sandbox-")
    try:
        (Path(folder) / "solution.py").write_text(source)
        (Path(folder) / "tests.json").write_text(json.dumps(tests))
        shutil.copy(HARNESS, Path(folder) / "harness.py")
        with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
            code, timed_out, report, seconds = _start(folder, limits, stdout, stderr)
            stdout.seek(0), stderr.seek(0)
            said = stdout.read(limits.output_chars), stderr.read()[-limits.output_chars :]
    finally:  # not TemporaryDirectory: its cleanup chmods through symlinks the program may plant
        shutil.rmtree(folder, ignore_errors=True)
    return _outcome(code, timed_out, report, *said, seconds, limits)


def _start(folder: str, limits: Limits, stdout, stderr) -> tuple[int, bool, list[str], float]:
    """The sandboxed process, to the end or the wall clock: (exit code, timed out, report, seconds)."""
    results_r, results_w = os.pipe()
    filter_r, filter_w = os.pipe()
    rules = seccomp.program() if seccomp.supported() else b""
    os.write(filter_w, rules)  # a few hundred bytes: the pipe holds them
    os.close(filter_w)
    python = [os.path.realpath(sys.executable), "-I", "-S", f"{INSIDE}/harness.py"]
    command = [*_bwrap(folder), *(["--seccomp", str(filter_r)] if rules else [])]
    start = time.perf_counter()
    child = subprocess.Popen(  # no preexec_fn (unsafe in a threaded app): bwrap and the harness limit
        [*command, *python, json.dumps(dataclasses.asdict(limits)), str(results_w)],
        env={},  # not even bwrap keeps the app's environment
        stdin=subprocess.DEVNULL,
        stdout=stdout,  # files, so what it prints never piles up in the app's memory
        stderr=stderr,
        pass_fds=(results_w, filter_r),
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

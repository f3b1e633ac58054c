"""Run generated Python and its tests somewhere it can do no harm: never in the app's own process.

Each run gets a fresh, empty temporary folder and a separate Python process inside bubblewrap
(`bwrap`), which gives it its own namespaces:
- a filesystem that holds only the system's programs and libraries and the Python install, read-only,
  a private /tmp, and its folder as /sandbox (the only place it may write): the app's data, its
  learners' database, the home folders and every other file do not exist in there;
- no network (its own network namespace, with nothing in it), no other processes to see or signal
  (its own process namespace and /proc), no capabilities, and an empty environment (no API keys);
- it dies with the app (`--die-with-parent`); at the wall-clock limit its process group is killed.
Inside, `harness.py` sets resource limits (CPU seconds, address space, file size, open files) and an
audit hook that refuses new processes, sockets and native code: a second fence for ordinary code,
not the wall (the namespaces are).

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
        "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
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
    with tempfile.TemporaryDirectory(prefix="genai-tutor-sandbox-") as folder:
        (Path(folder) / "solution.py").write_text(source)
        (Path(folder) / "tests.json").write_text(json.dumps(tests))
        shutil.copy(HARNESS, Path(folder) / "harness.py")
        results_r, results_w = os.pipe()
        python = [os.path.realpath(sys.executable), "-I", "-S", f"{INSIDE}/harness.py"]
        start = time.perf_counter()
        child = subprocess.Popen(  # no preexec_fn (unsafe in a threaded app): bwrap and the harness limit
            [*_bwrap(folder), *python, json.dumps(dataclasses.asdict(limits)), str(results_w)],
            env={},  # not even bwrap keeps the app's environment (/proc/1/environ inside is bwrap's)
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(results_w,),
            process_group=0,  # its own group, so a timeout kills bwrap and everything under it
        )
        os.close(results_w)
        timed_out = False
        try:
            stdout, stderr = child.communicate(timeout=limits.wall_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill(child)
            stdout, stderr = child.communicate()
        with os.fdopen(results_r) as results:
            report = results.read().strip().splitlines()
        seconds = time.perf_counter() - start
    return _outcome(child.returncode, timed_out, report, stdout, stderr, seconds, limits)


def _kill(child: subprocess.Popen) -> None:
    """bwrap's whole process group; bwrap dying takes its process namespace, and everything in it, along."""
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except ProcessLookupError:
        child.kill()


def _outcome(code, timed_out, report, stdout, stderr, seconds, limits) -> Outcome:
    keep = limits.output_chars
    out = Outcome(
        status="crashed",
        stdout=stdout.decode(errors="replace")[:keep],
        stderr=stderr.decode(errors="replace")[-keep:],
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
    out.isolation = ["own filesystem, network, processes (bubblewrap)", *data.get("isolation", [])]
    ok = data.get("loaded") and out.tests and all(t.get("passed") for t in out.tests)
    out.status = "passed" if ok else "failed"
    return out

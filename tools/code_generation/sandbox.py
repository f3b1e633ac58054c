"""Run generated Python and its tests somewhere it can do no harm: never in the app's own process.

Each run gets a fresh, empty temporary folder and a separate `python -I -S` process (isolated: no
user site, no site-packages, no PYTHON* variables) with:
- an empty environment: the app's secrets (API keys, settings) are not there to read;
- resource limits: CPU seconds, address space, the largest file it may write, open files;
- a wall-clock limit, after which its whole process group is killed;
- no network: its own empty network namespace when the OS allows it (root on Linux), and always an
  audit hook (harness.py) that refuses sockets, new processes, native code and files outside its folder.

What it leaves out: it is not a container. Pure-Python tasks are what it is for; the audit hook is a
guard against ordinary code and plain mistakes, and the namespace and limits hold even if it fails.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

HARNESS = Path(__file__).with_name("harness.py")


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

    status: str  # "passed", "failed" (a test or the solution raised), "timeout", "crashed"
    tests: list[dict] = field(default_factory=list)  # per test: test, passed, error, message, line
    load_error: dict | None = None  # the solution raised before any test ran
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0
    isolation: list[str] = field(default_factory=list)  # what held it: "network namespace", ...

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def run(source: str, tests: list[str], limits: Limits | None = None) -> Outcome:
    """Run `source`, then each test (Python statements, usually asserts), in a fresh sandbox."""
    import time

    limits = limits or Limits()
    with tempfile.TemporaryDirectory(prefix="genai-tutor-sandbox-") as folder:
        (Path(folder) / "solution.py").write_text(source)
        (Path(folder) / "tests.json").write_text(json.dumps(tests))
        results_r, results_w = os.pipe()
        start = time.perf_counter()
        child = subprocess.Popen(  # no preexec_fn: it is unsafe in a threaded app; the harness limits itself
            [
                sys.executable,
                "-I",
                "-S",
                str(HARNESS),
                json.dumps(dataclasses.asdict(limits)),
                str(results_w),
            ],
            cwd=folder,
            env={"LC_ALL": "C.UTF-8"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(results_w,),
            process_group=0,  # its own group, so a timeout kills everything it started
        )
        os.close(results_w)
        timed_out = False
        try:
            stdout, stderr = child.communicate(timeout=limits.wall_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(child.pid, signal.SIGKILL)
            stdout, stderr = child.communicate()
        with os.fdopen(results_r) as results:
            report = results.read().strip().splitlines()
        seconds = time.perf_counter() - start
    return _outcome(child.returncode, timed_out, report, stdout, stderr, seconds, limits)


def _outcome(code, timed_out, report, stdout, stderr, seconds, limits) -> Outcome:
    keep = limits.output_chars
    out = Outcome(
        status="crashed",
        stdout=stdout.decode(errors="replace")[:keep],
        stderr=stderr.decode(errors="replace")[-keep:],
        seconds=round(seconds, 3),
    )
    cpu_killed = code in (-signal.SIGXCPU, -signal.SIGKILL)
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
    out.isolation = data.get("isolation", [])
    ok = data.get("loaded") and out.tests and all(t.get("passed") for t in out.tests)
    out.status = "passed" if ok else "failed"
    return out

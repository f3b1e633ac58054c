"""Runs inside the sandbox's child process (`python -I -S harness.py LIMITS FD`), never imported by
the app. Before any generated code runs it:
1. sets the resource limits (CPU seconds, address space, file size, open files, no core dumps);
2. leaves the network: a new, empty network namespace when the OS allows it;
3. reads `solution.py` and `tests.json` from its working folder (a fresh, empty temporary folder);
4. installs an audit hook (PEP 578: a hook cannot be removed once added) that refuses sockets, new
   processes, native code (ctypes), signals to other processes, and any file outside the folder (the
   standard library stays readable, so imports work).
Then it runs the solution and each test in one namespace and writes one JSON line of results to the
file descriptor FD. The parent gives it an empty environment and kills it at the wall-clock limit.
"""

import ctypes
import json
import os
import resource
import sys
import traceback

ROOT = os.path.realpath(os.getcwd())
STDLIB = tuple(os.path.realpath(p) for p in sys.path if p and os.path.isdir(p) and p != ROOT)
REFUSED = (  # audit events: the network, new processes, native code, other processes' signals
    "socket.",
    "subprocess.",
    "ctypes.",
    "os.fork",
    "os.forkpty",
    "os.exec",
    "os.posix_spawn",
    "os.spawn",
    "os.system",
    "os.kill",
    "os.killpg",
    "os.putenv",
    "pty.",
)
PATH_EVENTS = {"os.listdir", "os.scandir", "os.chdir", "os.remove", "os.rename", "os.rmdir", "os.mkdir"}
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def _inside(path: str, folders: tuple[str, ...]) -> bool:
    return any(path == f or path.startswith(f + os.sep) for f in folders)


def _guard(event: str, args: tuple) -> None:
    if event.startswith(REFUSED):
        raise PermissionError(f"the sandbox refuses {event}")
    if event == "open" and not isinstance(args[0], int):
        path = os.path.realpath(os.fsdecode(args[0]))
        mode, flags = args[1] or "", args[2] or 0
        writing = any(c in mode for c in "wax+") or bool(flags & WRITE_FLAGS)
        if not (_inside(path, (ROOT,)) or (not writing and _inside(path, STDLIB))):
            raise PermissionError(f"the sandbox refuses to open {args[0]!r}: only its own folder")
    elif event in PATH_EVENTS and args and isinstance(args[0], (str, bytes)):
        path = os.path.realpath(os.fsdecode(args[0]))
        if not _inside(path, (ROOT,)):
            raise PermissionError(f"the sandbox refuses {event} outside its own folder")


def _failure(error: BaseException, filename: str) -> dict:
    """The exception's type, message and the line of `filename` it came from."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == filename]
    line = frames[-1].lineno if frames else getattr(error, "lineno", None)
    return {"error": type(error).__name__, "message": str(error)[:300], "line": line}


def _limit(limits: dict) -> list[str]:
    """The resource limits, then the network namespace; what held, for the trace."""
    mb = 2**20
    resource.setrlimit(resource.RLIMIT_CPU, (limits["cpu_s"], limits["cpu_s"] + 1))
    resource.setrlimit(resource.RLIMIT_AS, (limits["memory_mb"] * mb,) * 2)
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(limits["file_mb"] * mb),) * 2)
    resource.setrlimit(resource.RLIMIT_NOFILE, (32, 32))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    held = ["resource limits", "empty environment", "own temporary folder", "audit hook"]
    clone_newnet = 0x40000000  # unshare(2): a network namespace whose only interface is down
    if ctypes.CDLL(None, use_errno=True).unshare(clone_newnet) == 0:
        held.append("no network (own network namespace)")
    return held


def main() -> None:
    held = _limit(json.loads(sys.argv[1]))
    out = os.fdopen(int(sys.argv[2]), "w")
    with open("solution.py") as f:
        source = f.read()
    with open("tests.json") as f:
        tests = json.load(f)
    sys.addaudithook(_guard)
    namespace = {"__name__": "solution"}
    report = {"loaded": True, "load_error": None, "tests": [], "isolation": held}
    try:
        exec(compile(source, "solution.py", "exec"), namespace)
    except BaseException as e:  # the solution itself failed before any test
        report["loaded"], report["load_error"] = False, _failure(e, "solution.py")
    for i, test in enumerate(tests if report["loaded"] else []):
        name = f"test {i + 1}"
        try:
            exec(compile(test, name, "exec"), namespace)
            report["tests"].append({"test": test, "passed": True})
        except BaseException as e:
            report["tests"].append({"test": test, "passed": False, **_failure(e, "solution.py")})
    out.write(json.dumps(report) + "\n")
    out.flush()


if __name__ == "__main__":
    main()

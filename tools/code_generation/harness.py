"""Runs inside the sandbox (sandbox.py starts `python -I -S /sandbox/harness.py LIMITS FD` in
bubblewrap), never imported by the app. The namespaces around it are the wall; this adds a fence.
Before any generated code runs it:
1. sets the resource limits (CPU seconds, address space, file size, open files, no core dumps);
2. reads `solution.py` and `tests.json` from its folder;
3. installs an audit hook (PEP 578) that refuses new processes, sockets, native code (ctypes), signals
   and writing anywhere but its folder. Code in the same process can tamper with the hook's settings,
   so it only stops ordinary code; the namespaces hold regardless.
Then it runs the solution and each test in one namespace and writes one JSON line of results to the
file descriptor FD.
"""

import json
import os
import resource
import sys
import traceback

ROOT = os.path.realpath(os.getcwd())
REFUSED = (  # audit events: the network, new processes, native code, signals, raising the limits
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
    "resource.setrlimit",
)
PATH_EVENTS = {"os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.link", "os.symlink", "os.chmod",
               "os.chown", "os.utime", "os.truncate"}  # fmt: skip
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def _inside(path: str, folders: tuple[str, ...]) -> bool:
    return any(path == f or path.startswith(f + os.sep) for f in folders)


def _guard(event: str, args: tuple) -> None:
    if event.startswith(REFUSED):
        raise PermissionError(f"the sandbox refuses {event}")
    if event == "open" and not isinstance(args[0], int):
        mode, flags = args[1] or "", args[2] or 0
        writing = any(c in mode for c in "wax+") or bool(flags & WRITE_FLAGS)
        if writing and not _inside(os.path.realpath(os.fsdecode(args[0])), (ROOT,)):
            raise PermissionError(f"the sandbox refuses to write {args[0]!r}: only in its own folder")
    elif event in PATH_EVENTS:
        paths = [a for a in args[:2] if isinstance(a, (str, bytes))]
        if any(not _inside(os.path.realpath(os.fsdecode(a)), (ROOT,)) for a in paths):
            raise PermissionError(f"the sandbox refuses {event} outside its own folder")


def _failure(error: BaseException, filename: str) -> dict:
    """The exception's type, message and the line of `filename` it came from."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == filename]
    line = frames[-1].lineno if frames else getattr(error, "lineno", None)
    return {"error": type(error).__name__, "message": str(error)[:300], "line": line}


def _limit(limits: dict) -> list[str]:
    """The resource limits; what held, for the trace."""
    mb = 2**20
    resource.setrlimit(resource.RLIMIT_CPU, (limits["cpu_s"], limits["cpu_s"] + 1))
    resource.setrlimit(resource.RLIMIT_AS, (limits["memory_mb"] * mb,) * 2)
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(limits["file_mb"] * mb),) * 2)
    resource.setrlimit(resource.RLIMIT_NOFILE, (32, 32))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return ["resource limits", "empty environment", "own temporary folder", "audit hook"]


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

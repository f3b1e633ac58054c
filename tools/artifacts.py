"""The artifacts folder: the only place whose files the page serves (images, previews, charts, trace
JSON, progress exports), kept apart from the learner store, the vector store and the model cache.

Layout: `<root>/runs/<tool>-<time>-<random>/` holds one run's files; `<root>/files/<random>/` one
loose file (a chart, a trace JSON); Gradio keeps its own copies of what it shows under
`<root>/gradio/`. Retention is bounded by age and by total size: `prune` removes whole entries,
oldest first, and runs before every new entry is made, so a busy server never grows past its limit
by more than the runs in progress. Names carry 128 random bits, so a path cannot be guessed.
"""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

KINDS = ("runs", "files", "gradio")  # the folders whose entries retention looks after


@dataclass(frozen=True)
class Entry:
    path: Path
    mtime: float  # the newest file's modification time
    size: int  # bytes, all files included


def _entry(path: Path) -> Entry:
    files = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
    stats = [f.stat() for f in files if f.exists()]
    newest = max((s.st_mtime for s in stats), default=path.stat().st_mtime)
    return Entry(path, newest, sum(s.st_size for s in stats))


class ArtifactStore:
    def __init__(self, root: Path, max_age_s: float = 24 * 3600, max_bytes: int = 512 * 2**20):
        self.root = Path(root)
        self.max_age_s = max_age_s  # entries untouched for longer are removed
        self.max_bytes = max_bytes  # past this total, the oldest entries are removed
        self._active: set[Path] = set()  # run folders still being written: never pruned
        self._lock = threading.Lock()

    def new_run(self, label: str) -> Path:
        """A fresh, empty folder for one run's files (retention is applied first)."""
        self.prune()
        path = self.root / "runs" / f"{_safe(label)}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex}"
        path.mkdir(parents=True)
        return path

    def new_file(self, name: str) -> Path:
        """A path for one loose file called `name`, in a folder of its own (not created as a file)."""
        self.prune()
        folder = self.root / "files" / uuid.uuid4().hex
        folder.mkdir(parents=True)
        return folder / _safe(name)

    def hold(self, path: Path) -> None:
        """Keep `path` out of pruning until `release`: a run still writing into it."""
        with self._lock:
            self._active.add(Path(path))

    def release(self, path: Path) -> None:
        with self._lock:
            self._active.discard(Path(path))

    def entries(self) -> list[Entry]:
        """Every entry under the kinds' folders, oldest first."""
        found = []
        for kind in KINDS:
            folder = self.root / kind
            if folder.is_dir():
                for p in folder.iterdir():
                    try:
                        found.append(_entry(p))
                    except FileNotFoundError:  # removed meanwhile (another process pruned it)
                        continue
        return sorted(found, key=lambda e: e.mtime)

    def footprint(self) -> int:
        return sum(e.size for e in self.entries())

    def prune(self, now: float | None = None) -> int:
        """Remove entries older than `max_age_s`, then the oldest until the total fits `max_bytes`;
        runs still being written are kept. Returns the number of entries removed."""
        now = time.time() if now is None else now
        with self._lock:
            active = set(self._active)
        every = self.entries()  # one walk of the folder: the total counts the runs in progress too
        total = sum(e.size for e in every)
        entries = [e for e in every if e.path not in active]
        removed = 0
        for e in entries:
            if now - e.mtime <= self.max_age_s and total <= self.max_bytes:
                break
            shutil.rmtree(e.path, ignore_errors=True) if e.path.is_dir() else e.path.unlink(missing_ok=True)
            total -= e.size
            removed += 1
        return removed


def _safe(name: str) -> str:
    """A file or folder name without separators or leading dots."""
    cleaned = "".join(c if c.isalnum() or c in "-_." else "-" for c in name).lstrip(".")
    return cleaned[:80] or "file"


_SHARED: dict[Path, ArtifactStore] = {}
_SHARED_LOCK = threading.Lock()


def artifact_store(settings) -> ArtifactStore:
    """The process's one store for the settings' artifacts folder, so every tool and the page see the
    same runs in progress; its limits follow the latest settings."""
    root = Path(settings.artifacts_dir).resolve()
    with _SHARED_LOCK:
        store = _SHARED.setdefault(root, ArtifactStore(root))
    store.max_age_s = settings.artifacts_max_age_h * 3600
    store.max_bytes = int(settings.artifacts_max_mb * 2**20)
    return store

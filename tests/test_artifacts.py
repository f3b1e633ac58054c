"""The artifacts folder: retention by age and size, runs in progress kept, and a bounded footprint
after many demos rendered for the page (no files elsewhere, no file descriptors left open)."""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import pytest

from tools.artifacts import ArtifactStore, artifact_store


def _fill(store: ArtifactStore, label: str, size: int) -> Path:
    run = store.new_run(label)
    (run / "data.bin").write_bytes(os.urandom(size))
    return run


def test_prune_removes_old_entries_then_the_oldest_past_the_size_limit(tmp_path):
    store = ArtifactStore(tmp_path, max_age_s=3600, max_bytes=10_000)
    old = _fill(store, "old", 100)
    past = time.time() - 7200
    os.utime(old / "data.bin", (past, past))
    runs = [_fill(store, f"run{i}", 4000) for i in range(3)]  # 12,000 bytes: over the limit
    assert not old.exists()  # too old: removed before the size limit even mattered
    store.prune()
    assert not runs[0].exists() and runs[1].exists() and runs[2].exists()
    assert store.footprint() <= 10_000


def test_a_run_in_progress_is_never_pruned(tmp_path):
    store = ArtifactStore(tmp_path, max_age_s=3600, max_bytes=1000)
    busy = _fill(store, "busy", 5000)
    store.hold(busy)
    _fill(store, "next", 10)
    assert busy.exists()  # held: kept although the store is over its limit
    store.release(busy)
    store.prune()
    assert not busy.exists()


def test_names_are_unguessable_and_safe(tmp_path):
    store = ArtifactStore(tmp_path)
    a, b = store.new_file("../../etc/passwd"), store.new_file("chart.png")
    assert a.parent.parent == tmp_path / "files" and a.name == "-..-etc-passwd"
    assert len(a.parent.name) == 32 and a.parent != b.parent


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize("demos", [30])
def test_thirty_image_demos_leave_a_bounded_footprint(tutor, settings, demos, tmp_path):
    """30 image demos through the page's renderer: the artifacts folder stays within its limit, nothing
    is left in the temporary folder, and no file descriptor stays open."""
    from tutor.chat import Tutor
    from tutor.ui import respond

    limit_mb = 1.5  # more than one image run (about 0.6 MB with its pictures), so old runs must go
    small = replace(settings, home=tmp_path, artifacts_max_mb=limit_mb)
    page = Tutor(small, tutor.store, tutor.backend)
    tmp_before = set(os.listdir(tempfile.gettempdir()))
    sizes, fds = [], []
    for i in range(demos):
        *_, (_, messages, _) = respond(page, f"/demo image a red circle {i}", [], "", None, None, None)
        assert any(isinstance(m["content"], dict) for m in messages)  # pictures were shown
        sizes.append(artifact_store(small).footprint())
        fds.append(_open_fds())
    one_run = max(b - a for a, b in zip(sizes, sizes[1:], strict=False) if b > a)
    assert max(sizes) <= limit_mb * 2**20 + one_run  # the limit, plus at most the run just made
    assert len(list((tmp_path / "artifacts" / "runs").iterdir())) < demos  # old runs were removed
    new_in_tmp = set(os.listdir(tempfile.gettempdir())) - tmp_before
    assert not [n for n in new_in_tmp if n.startswith(("genai-tutor", "image_api", "tmp"))]  # nothing in /tmp
    assert fds[-1] - fds[4] <= 2  # no descriptor leaks run after run
    assert not (tmp_path / "runs").exists()  # nothing outside the artifacts folder

"""The command-line contract: one JSON object per result on stdout."""

from __future__ import annotations

import io
import json
import math
import os
import subprocess
import sys

import pytest

from tutor.cli import main as cli_main


def test_ask_json(store, tutor, capsys):
    assert cli_main(["ask", "What does the guidance scale do?", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) >= {"answer", "citations", "tools", "timings"}
    assert any("classifier-free-guidance" in c["concepts"] for c in result["citations"])
    assert set(result["citations"][0]) == {"kind", "lesson_id", "title", "section", "concepts"}
    assert result["citations"][0]["kind"] == "lesson"
    assert set(result["timings"]) >= {"retrieval_ms", "ttft_ms", "total_ms"}


def test_search_reads_queries_from_stdin(store, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("What is a token?\n\nWhat is a GAN?\n"))
    assert cli_main(["search", "-", "-k", "2", "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])["results"]
    assert len(first) == 2
    assert set(first[0]) == {"lesson_id", "title", "section", "concepts", "score", "text"}
    assert any("tokenization" in r["concepts"] for r in first)


def test_console_script_ingests_a_fresh_home(tmp_path):
    env = {**os.environ, "GENAI_TUTOR_HOME": str(tmp_path)}
    script = os.path.join(os.path.dirname(sys.executable), "genai-tutor")
    out = subprocess.run([script, "ingest", "--json"], env=env, capture_output=True, text=True, check=True)
    first = json.loads(out.stdout)
    assert first["lessons"] >= 20 and first["added"] == first["chunks"] > 0
    out = subprocess.run([script, "ingest", "--json"], env=env, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout)["added"] == 0


def test_the_installed_command_finds_the_app_from_anywhere(tmp_path):
    """`genai-tutor serve` imports the composition root; it must resolve outside the checkout too."""
    out = subprocess.run(
        [sys.executable, "-c", "import app; print(callable(app.build_app))"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "True"


def test_quiz_in_the_terminal_then_progress_export_and_reset(home, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("Z\nA\nB\n"))
    assert cli_main(["quiz", "--learner", "Term", "--topic", "tokenization", "-n", "2", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {
        "learner": "Term",
        "asked": 2,
        "right": json.loads(captured.out)["right"],
    }
    assert "is not one of the choices" in captured.err and "Score this session" in captured.err
    assert cli_main(["quiz", "--learner", "term", "--progress", "--json"]) == 0
    progress = json.loads(capsys.readouterr().out)
    assert progress["attempts"] == 2
    assert {c["slug"] for c in progress["concepts"] if c["attempts"]} <= {"tokenization", "detokenization"}
    assert cli_main(["quiz", "--learner", "Term", "--export", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["attempts"]) == 2
    assert cli_main(["quiz", "--learner", "Term", "--reset", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"removed": 2}
    assert cli_main(["quiz", "--learner", "Nobody Here", "--progress"]) == 1
    assert "no progress" in capsys.readouterr().err


def test_demo_train_prints_the_training_trace(home, capsys):
    args = ["demo", "train", "gan", "--epochs", "2", "--width", "8", "--seed", "3", "--json"]
    assert cli_main(args) == 0
    trace = json.loads(capsys.readouterr().out)
    assert trace["tool"] == "training_demo" and trace["config"]["model"] == "gan"
    assert [row["epoch"] for row in trace["training"]] == [1, 2]
    assert all(math.isfinite(row["loss"]) for row in trace["training"])


def test_demo_image_writes_the_image_and_previews(home, tmp_path, capsys):
    out = tmp_path / "run"
    assert cli_main(["demo", "image", "a green square", "--steps", "3", "--out", str(out), "--json"]) == 0
    trace = json.loads(capsys.readouterr().out)
    assert trace["tool"] == "image_generation" and len(trace["output"]["previews"]) == 3
    written = sorted(p.name for p in out.iterdir())
    assert "trace.json" in written and any(n.endswith("image.png") for n in written)
    assert sum("step" in n for n in written) >= 3


@pytest.mark.parametrize(
    ("argv", "why"),
    [
        (["search", "tokens", "-k", "0"], "0 is out of range: use 1 to 20"),
        (["search", "tokens", "-k", "-3"], "-3 is out of range: use 1 to 20"),
        (["search", "tokens", "-k", "many"], "'many' is not an integer"),
        (["quiz", "-n", "0"], "0 is out of range: use 1 to 200"),
        (["serve", "--port", "70000"], "70000 is out of range: use 1 to 65535"),
    ],
)
def test_out_of_range_values_get_one_clear_line(argv, why, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli_main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and why in err and "Traceback" not in err
    assert len([line for line in err.splitlines() if "error:" in line]) == 1


def test_demo_code_writes_the_samples(home, tutor, tmp_path, capsys):
    out = tmp_path / "code"
    args = ["demo", "code", "reverse a string", "--samples", "2", "--max-new-tokens", "80", "--out", str(out)]
    assert cli_main([*args, "--json"]) == 0
    trace = json.loads(capsys.readouterr().out)
    written = sorted(p.name for p in out.iterdir())
    assert sum(n.endswith(("sample-1.py", "sample-2.py")) for n in written) == 2
    sample = next(out.glob("*sample-1.py")).read_text()
    assert sample.strip() == trace["stages"][2]["data"]["samples"][0]["code"].strip()

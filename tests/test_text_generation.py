"""The text_generation tool on the real embedded model: the trace is measured, consistent and
reproducible; bad arguments and unknown models are clear errors."""

from __future__ import annotations

import json
import math

import pytest
import torch

from tools.base import ToolError
from tools.registry import Registry
from tools.text_generation import TextGenerationTool

PROMPT = "The cat sat on the"


@pytest.fixture(scope="module")
def tool(text_tool):
    return text_tool


@pytest.fixture(scope="module")
def greedy(tool):
    return tool({"prompt": PROMPT, "mode": "continue", "max_new_tokens": 6, "temperature": 0})


@pytest.fixture(scope="module")
def sampled(tool):
    args = {"prompt": PROMPT, "mode": "continue", "max_new_tokens": 6, "temperature": 1.2, "top_k": 20}
    return tool({**args, "seed": 7}), tool({**args, "seed": 7}), tool({**args, "seed": 8})


def test_builtin_is_registered_through_the_entry_point_group(settings):
    assert isinstance(Registry(settings).get("text_generation"), TextGenerationTool)


def test_trace_shapes_follow_the_model_config(tool, greedy):
    cfg = tool.model(None, "cpu")[0].config
    tokens = greedy.stage("tokenization")
    n = len(tokens.data["ids"])
    assert tokens.output.shape == [1, n] and len(tokens.data["tokens"]) == n
    assert greedy.stage("embedding").output.shape == [1, n, cfg.hidden_size]
    assert greedy.stage("transformer layers").output.shape == [1, n, cfg.vocab_size]
    assert len(greedy.layers) == cfg.num_hidden_layers  # one logit-lens row per layer
    assert all(row.shape == [1, n, cfg.hidden_size] for row in greedy.layers)
    assert all(s.duration_ms >= 0 for s in greedy.stages) and greedy.total_ms >= sum(
        s.duration_ms for s in greedy.stages
    )
    json.loads(greedy.model_dump_json())  # serialisable


def test_probabilities_are_probabilities(greedy, sampled):
    for trace in (greedy, *sampled):
        for row in trace.layers:
            probs = [c["prob"] for c in row.data["top"]]
            assert all(0 <= p <= 1 for p in probs) and sum(probs) <= 1 + 1e-4
            assert probs == sorted(probs, reverse=True)
            weights = row.data["attention"]["weights"]
            assert math.isclose(sum(weights), 1, abs_tol=1e-2)
        for step in trace.stage("sampling").data["steps"]:
            for key in ("before", "after"):
                probs = [c["prob"] for c in step[key]]
                assert all(0 <= p <= 1 for p in probs) and sum(probs) <= 1 + 1e-4
    # Greedy: the chosen token is always the most likely one, with all the probability after warping.
    for step in greedy.stage("sampling").data["steps"]:
        assert step["chosen"]["rank_before"] == 1 and step["chosen"]["prob_after"] == 1.0


def test_top_k_leaves_no_probability_outside_k(sampled):
    for step in sampled[0].stage("sampling").data["steps"]:
        assert step["chosen"]["rank_before"] <= 20


def test_greedy_equals_generate(tool, greedy):
    model, tok = tool.model(None, "cpu")
    ids = tok(PROMPT, return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        out = model.generate(ids, max_new_tokens=6, do_sample=False, pad_token_id=tok.eos_token_id)
    assert greedy.output["text"] == tok.decode(out[0, ids.shape[1] :], skip_special_tokens=True)


def test_the_last_lens_row_is_the_real_prediction(greedy):
    first_step = greedy.stage("sampling").data["steps"][0]
    assert greedy.layers[-1].data["top"][0]["id"] == first_step["chosen"]["id"]
    k = greedy.stage("transformer layers").data["first_layer_with_final_top1"]
    assert greedy.layers[k - 1].data["top"][0]["id"] == first_step["chosen"]["id"]


def test_same_seed_same_text(sampled):
    a, b, _ = sampled
    assert a.output == b.output and a.seed == b.seed == 7
    assert a.config == b.config and a.versions["torch"] == torch.__version__


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ({"prompt": ""}, "prompt"),
        ({"prompt": "x" * 1001}, "prompt"),
        ({"prompt": "hi", "max_new_tokens": 10_000}, "max_new_tokens"),
        ({"prompt": "hi", "temperature": -1}, "temperature"),
        ({"prompt": "hi", "top_p": 0}, "top_p"),
    ],
)
def test_out_of_range_arguments_are_named(tool, args, words):
    with pytest.raises(ToolError, match=words):
        tool(args)


def test_unknown_model_cannot_load(tool):
    with pytest.raises(ToolError, match="Cannot load the model 'no-such-org/no-such-model'"):
        tool({"prompt": "hi", "model": "no-such-org/no-such-model"})


def test_demo_text_cli_prints_and_writes_the_trace(tool, tmp_path, capsys):
    from tutor.cli import main as cli_main

    code = cli_main(
        [
            "demo",
            "text",
            PROMPT,
            "--json",
            "--max-new-tokens",
            "3",
            "--temperature",
            "0",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["tool"] == "text_generation" and printed["config"]["max_new_tokens"] == 3
    assert json.loads((tmp_path / "trace.json").read_text())["output"] == printed["output"]
    assert cli_main(["demo", "text", PROMPT, "--max-new-tokens", "999"]) == 1
    assert "max_new_tokens" in capsys.readouterr().err


def test_any_local_model_folder_runs_with_the_same_trace(tool, settings, tmp_path):
    """A tiny randomly initialised Llama saved with from_pretrained's layout: the `model` option path."""
    from tests.helpers import tiny_llama

    tiny_llama(tmp_path, settings.home)
    trace = tool(
        {"prompt": PROMPT, "mode": "continue", "max_new_tokens": 4, "temperature": 0, "model": str(tmp_path)}
    )
    assert len(trace.layers) == 2 and trace.stage("embedding").output.shape[-1] == 32
    assert 1 <= len(trace.stage("sampling").data["steps"]) <= 4


def test_the_warped_probabilities_are_the_librarys(tool, sampled):
    """Step 1's candidates after temperature/top-k/top-p are exactly what `generate` computes."""
    model, tok = tool.model(None, "cpu")
    ids = tok(PROMPT, return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        out = model.generate(
            ids,
            max_new_tokens=1,
            do_sample=True,
            temperature=1.2,
            top_k=20,
            top_p=0.95,
            output_scores=True,
            return_dict_in_generate=True,
            pad_token_id=tok.eos_token_id,
        )
    library = out.scores[0][0].float().softmax(-1)
    for cand in sampled[0].stage("sampling").data["steps"][0]["after"]:
        assert cand["prob"] == pytest.approx(float(library[cand["id"]]), abs=1e-5)
    assert int((library > 0).sum()) <= 20


@pytest.mark.parametrize(
    ("prompt", "mode"),
    [
        ("The capital of France is", "continue"),
        ("Once upon a time", "continue"),
        ("What is the capital of France?", "chat"),
        ("Write a short poem about the sea.", "chat"),
        ("the moon is made of", "continue"),
    ],
)
def test_auto_mode_continues_a_text_and_chats_with_a_question(prompt, mode):
    from tools.text_generation.prompting import resolve_mode

    assert resolve_mode(prompt, "auto", True)[0] == mode
    assert resolve_mode(prompt, "chat", True)[0] == "chat"  # asked for: as asked
    assert resolve_mode(prompt, "auto", False)[0] == "continue"  # no template: raw text only


def test_paris_forms_in_the_last_layers_of_the_raw_continuation(tool):
    """The lesson's classic: "The capital of France is" continued as raw text (the default for it)."""
    trace = tool({"prompt": "The capital of France is", "max_new_tokens": 3, "temperature": 0})
    tokenization = trace.stage("tokenization")
    assert tokenization.data["mode"] == "continue" and "start of a text" in tokenization.note
    assert tokenization.data["tokens"][0] != "<|im_start|>"  # no chat template around it
    last = trace.layers[-1].data["top"][0]
    assert last["token"] == " Paris", trace.layers[-1].summary
    early = trace.layers[len(trace.layers) // 2].data["top"][0]["token"]
    assert early != " Paris"  # it forms late: the middle layer still guesses something else

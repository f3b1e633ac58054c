"""training_demo at tiny size: each model trains for real and its trace reports what happened; the time
budget and the cancel flag stop a run cleanly; a seed reproduces a run; bad arguments are clear errors."""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path

import pytest

from tests.helpers import TINY
from tools.base import RunContext, ToolError
from tools.training_demo import TrainingDemoTool, infer_model

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tool(settings):
    return TrainingDemoTool(settings)


@pytest.fixture(scope="module")
def gan(tool):
    lines: list[str] = []
    rows = []
    trace = tool({**TINY["gan"], "epochs": 2}, RunContext(progress=lines.append, on_row=rows.append))
    return trace, lines, rows


@pytest.fixture(scope="module")
def gpt(tool):
    return tool({**TINY["char_gpt"], "epochs": 3})


@pytest.fixture(scope="module")
def diffusion(tool):
    return tool({**TINY["diffusion"], "epochs": 3})


def _finite(trace) -> bool:
    return all(math.isfinite(r.loss) for r in trace.training)


def test_gan_trace_reports_its_numbers(gan):
    trace, lines, rows = gan
    assert [r.epoch for r in trace.training] == [1, 2] and _finite(trace)
    for row in trace.training:
        m = row.metrics
        assert 0 <= m["d_acc_real"] <= 1 and 0 <= m["d_acc_fake"] <= 1
        assert row.loss == m["g_loss"] and m["d_loss"] > 0 and row.seconds > 0
        assert m["batches"] == m["batches_total"] == 1797 // 64
        assert Path(m["sample"]).read_bytes().startswith(b"\x89PNG") and m["observation"]
    assert trace.output == {"image": trace.training[-1].metrics["sample"]}
    assert trace.stage("dataset").output.shape == [1797, 8, 8]
    assert trace.stage("batch").output.shape == [64, 1, 8, 8]
    assert trace.stage("samples").output.shape == [16, 1, 8, 8]
    assert len(trace.stage("samples").artifacts) == 2
    assert (
        trace.stage("training").data["stopped"] is None
        and "Ran all 2 full epochs" in trace.stage("training").note
    )
    # The layer trace follows one noise vector through G (ending in an 8x8 image) and then D (one logit).
    names = [row.name for row in trace.layers]
    assert names[0] == "generator.project" and names[-1] == "discriminator.logit"
    assert trace.layers[names.index("generator.out")].shape == [1, 1, 8, 8]
    tanh = trace.layers[names.index("generator.out")].data
    assert -1 <= tanh["min"] <= tanh["max"] <= 1 and 0 <= tanh["fraction_positive"] <= 1
    assert 0 <= trace.layers[-1].data["p_real"] <= 1
    # Live: one progress line and one on_epoch row per epoch, the same rows as the trace.
    assert [line.split(":")[0] for line in lines if line.startswith("epoch")] == ["epoch 1/2", "epoch 2/2"]
    assert rows == trace.training
    assert trace.tool == "training_demo" and trace.device == "cpu" and trace.config["width"] == 8
    json.loads(trace.model_dump_json())


def test_char_gpt_learns_on_the_lessons(gpt):
    losses = [r.loss for r in gpt.training]
    assert len(losses) == 3 and _finite(gpt) and losses[2] < losses[0]
    for row in gpt.training:
        assert 0 <= row.metrics["val_accuracy"] <= 1 and len(row.metrics["sample"]) == 120
    assert gpt.output["text"].startswith("The loss ")
    vocab = len(gpt.stage("tokenization").data["vocab"])
    assert gpt.stage("batch").output.shape == [32, 64]
    assert gpt.layers[-1].name == "head" and gpt.layers[-1].shape == [1, len("The loss "), vocab]
    probs = [c["prob"] for c in gpt.layers[-1].data["top_next"]]
    assert probs == sorted(probs, reverse=True) and sum(probs) <= 1 + 1e-4
    gelu = next(r for r in gpt.layers if r.name == "blocks.0.mlp.act")
    assert gelu.shape == [1, len("The loss "), 4 * 16] and gelu.data["min"] >= -0.2  # GELU's floor is -0.17
    assert "held-out accuracy" in gpt.training[-1].metrics["observation"]


def test_diffusion_loss_falls(diffusion):
    losses = [r.loss for r in diffusion.training]
    assert len(losses) == 3 and _finite(diffusion) and losses[2] < losses[0] < 1.5
    assert Path(diffusion.output["image"]).exists()
    assert diffusion.stage("noising").output.shape == [128, 1, 8, 8]
    assert diffusion.layers[-1].name == "conv_out" and diffusion.layers[-1].shape == [1, 1, 8, 8]
    by_level = diffusion.stage("training").data["loss_by_noise_level"]
    assert len(by_level) == 4 and all(v > 0 for v in by_level.values())


def test_time_budget_stops_after_the_current_batch(tool):
    trace = tool({**TINY["gan"], "batch_size": 8, "epochs": 50, "time_budget_s": 1})
    training = trace.stage("training")
    assert 1 <= len(trace.training) < 50 and training.data["stopped"] == "time budget"
    assert [r.epoch for r in trace.training] == list(range(1, len(trace.training) + 1))
    assert all(r.metrics["batches"] == r.metrics["batches_total"] for r in trace.training[:-1])
    assert "Stopped at the time budget of 1 s after" in training.note
    assert "Stopped at the time budget" in trace.key_insight and _finite(trace)


def test_each_model_has_its_own_default_length_and_the_live_view_states_the_budget(tool, tmp_path):
    from tools.training import views

    assert tool.parse({"prompt": "train a GAN"}).epochs is None  # the model's own, not one for all
    trace = tool({**TINY["gan"], "time_budget_s": 1})
    assert trace.stage("training").data["epochs_asked"] == 40
    heading = views.live_heading(trace.training)
    assert f"epoch {trace.training[-1].epoch} of 40" in heading and "of the 1 s budget" in heading
    assert "Stop training" in heading
    rows = [trace.training[0].model_copy(update={"epoch": i}) for i in range(1, 31)]
    table = views.training_table(rows)  # a long run shows a spread of its epochs, first and last
    assert table.count("\n| ") == 12 and "| 30 |" in table and "12 of 30 epochs" in table


def test_cancel_from_the_progress_callback(tool):
    cancel = threading.Event()

    def progress(line: str) -> None:
        if line.startswith("epoch 1/"):
            cancel.set()

    trace = tool({**TINY["gan"], "epochs": 5}, RunContext(progress=progress, cancel=cancel))
    assert len(trace.training) == 1 and trace.stage("training").data["stopped"] == "cancelled"
    assert "Cancelled by the learner after 1 full epoch." in trace.stage("training").note


def test_cancel_from_a_live_row_stops_the_run(tool):
    ctx = RunContext()
    ctx.on_row = lambda row: ctx.cancel.set()
    trace = tool({**TINY["gan"], "epochs": 5}, ctx)
    assert len(trace.training) == 1 and trace.stage("training").data["stopped"] == "cancelled"


def test_cancelled_before_the_first_batch_is_an_error(tool):
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(ToolError, match="cancelled before its first batch"):
        tool({**TINY["gan"], "epochs": 1}, RunContext(cancel=cancel))


@pytest.mark.parametrize("model", list(TINY))
def test_the_same_seed_gives_the_same_run(tool, model):
    a, b = (tool({**TINY[model], "epochs": 1, "seed": 3}) for _ in range(2))
    assert [r.loss for r in a.training] == [r.loss for r in b.training]
    assert [r.data for r in a.layers] == [r.data for r in b.layers]
    if model in ("char_gpt", "lora"):
        assert a.output == b.output
    else:
        assert Path(a.output["image"]).read_bytes() == Path(b.output["image"]).read_bytes()
        assert a.output["image"] != b.output["image"]  # each run keeps its own files
    if model == "gan":
        c = tool({**TINY[model], "epochs": 1, "seed": 4})
        assert c.training[0].loss != a.training[0].loss


@pytest.mark.parametrize(
    "arguments, field",
    [
        ({"model": "vqgan"}, "model"),
        ({"beta": -1}, "beta"),
        ({"rank": 33}, "rank"),
        ({"epochs": 0}, "epochs"),
        ({"epochs": 201}, "epochs"),
        ({"learning_rate": 1.0}, "learning_rate"),
        ({"batch_size": 4}, "batch_size"),
        ({"width": 12}, "width"),
        ({"time_budget_s": 0}, "time_budget_s"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_arguments_are_tool_errors(tool, arguments, field):
    with pytest.raises(ToolError, match=field):
        tool(arguments)


def test_the_prompt_picks_the_model():
    assert infer_model("train a tiny GPT on the lessons") == ("char_gpt", True)
    assert infer_model("a character-level language model please") == ("char_gpt", True)
    assert infer_model("Show me diffusion learning digits") == ("diffusion", True)
    assert infer_model("train GANs, not diffusion") == ("gan", True)  # the first one named wins
    assert infer_model("train something live") == ("gan", False)
    assert infer_model("train a VAE on digits") == ("vae", True)
    assert infer_model("show me a variational autoencoder learn") == ("vae", True)
    assert infer_model("fine-tune the GPT with LoRA") == ("lora", True)  # "fine-tune" comes first
    assert infer_model("train a flow matching model") == ("flow", True)
    assert infer_model("how does data flow through training?") == ("gan", False)
    assert infer_model(" Flow ") == ("flow", True)  # `/demo train flow`: the name alone


def test_a_gan_run_is_drawn_losses_accuracy_and_samples_by_epoch(gan, tmp_path):
    from PIL import Image

    from tools.training import views

    trace = gan[0]
    parts = {p.what: p for p in views.views(trace, tmp_path)}
    assert {"loss chart", "discriminator accuracy", "samples by epoch"} <= set(parts)
    assert all(parts[name].caption for name in ("loss chart", "discriminator accuracy", "samples by epoch"))
    strip = Image.open(parts["samples by epoch"].draw())
    grid = Image.open(trace.training[0].metrics["sample"])  # 16 digits, 4 by 4
    assert strip.size[0] == round(128 * grid.width / grid.height) * len(trace.training)  # one per epoch
    assert Image.open(parts["discriminator accuracy"].draw()).size == (480, 200)
    accuracy = [(r.metrics["d_acc_real"], r.metrics["d_acc_fake"]) for r in trace.training]
    assert all(0 <= a <= 1 and 0 <= b <= 1 for a, b in accuracy)

"""The training demo's newer families at tiny size: flow matching, a VAE and LoRA adapters each train
for real, and their traces hold what the lessons promise, measured in the run (straight paths and few
steps; the KL trade-off; frozen base weights, adapters that switch off and merge)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from PIL import Image

from tests.helpers import TINY
from tools.base import ToolError
from tools.training import flow, views
from tools.training.questions import questions
from tools.training_demo import TrainingDemoTool

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tool(settings):
    return TrainingDemoTool(settings)


@pytest.fixture(scope="module")
def flow_run(tool):
    return tool({**TINY["flow"], "epochs": 3})


@pytest.fixture(scope="module")
def vae_runs(tool):
    return {beta: tool({**TINY["vae"], "epochs": 15, "beta": beta}) for beta in (0, 1, 20)}


@pytest.fixture(scope="module")
def lora_run(tool):
    return tool({**TINY["lora"], "epochs": 2})


def test_flow_matching_learns_and_few_steps_land_near_many(flow_run):
    losses = [r.loss for r in flow_run.training]
    assert len(losses) == 3 and all(map(math.isfinite, losses)) and losses[2] < losses[0]
    sweep = flow_run.stage("step sweep")
    rms = sweep.data["rms_from_finest"]
    assert list(rms) == list(flow.STEP_SWEEP) and rms[flow.STEP_SWEEP[-1]] == 0
    assert rms[1] > rms[10]  # more Euler steps land nearer the finest result
    assert 0 < sweep.data["straightness"] <= 1
    assert [a.caption for a in sweep.artifacts] == ["1 step", "2 steps", "4 steps", "10 steps", "25 steps"]
    assert all(Path(a.path).read_bytes().startswith(b"\x89PNG") for a in sweep.artifacts)
    assert flow_run.output["image"] == sweep.artifacts[flow.STEP_SWEEP.index(flow.SAMPLE_STEPS)].path
    assert flow_run.layers[-1].name == "conv_out" and flow_run.layers[-1].shape == [1, 1, 8, 8]
    assert len(flow_run.stage("training").data["loss_by_time"]) == 4
    assert f"{rms[1]:.2f}" in flow_run.key_insight


class _ToOnePoint(torch.nn.Module):
    """The exact velocity field of straight lines from noise to one image x0: v(x, s) = (x - x0) / s."""

    def __init__(self, x0: torch.Tensor):
        super().__init__()
        self.x0 = x0

    def forward(self, x, t):
        s = torch.as_tensor(t, dtype=x.dtype) / flow.TRAIN_TIMESTEPS
        return type("Out", (), {"sample": (x - self.x0) / s})()


@pytest.mark.parametrize("steps", [1, 4])
def test_the_euler_sampler_follows_a_straight_field_to_its_end_in_any_number_of_steps(steps):
    x0 = torch.linspace(-0.9, 0.9, 64).view(1, 1, 8, 8)
    noise = torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    images, path = flow.sample(_ToOnePoint(x0), noise, steps)
    assert len(path) == steps + 1 and torch.allclose(images, x0.expand(2, -1, -1, -1), atol=1e-3)
    assert flow.straightness(path) == pytest.approx(1.0, abs=1e-4)
    bent = [path[0], path[0] + torch.ones_like(path[0]), path[-1]]  # a detour
    assert flow.straightness(bent) < 0.99


def test_vae_loss_is_reconstruction_plus_beta_kl_and_beta_trades_them(vae_runs):
    for beta, run in vae_runs.items():
        for row in run.training:
            m = row.metrics
            assert row.loss == pytest.approx(m["reconstruction"] + beta * m["kl"], abs=2e-3)
        assert run.config["beta"] == beta and f"beta = {beta:g}" in run.key_insight
    kl = {beta: run.stage("training").data["kl"] for beta, run in vae_runs.items()}
    rec = {beta: run.stage("training").data["reconstruction_at_mean"] for beta, run in vae_runs.items()}
    assert kl[0] > kl[1] > kl[20] and rec[0] < rec[1] < rec[20]  # the trade-off, measured
    collapsed = vae_runs[20].stage("training").data
    assert all(v < 0.1 for v in collapsed["kl_per_latent"]) and collapsed["sigma_mean"] > 0.9
    assert "posterior collapse" in vae_runs[20].key_insight
    assert "posterior collapse" not in vae_runs[1].key_insight


def test_vae_trace_shows_the_trick_the_map_and_the_digits_in_latent_space(vae_runs, tmp_path):
    run = vae_runs[1]
    assert run.stage("encoder").output.shape == [64, 2]
    assert run.stage("reparameterisation").output.shape == [64, 2]
    assert run.stage("decoder").output.shape == [64, 1, 8, 8]
    latent = run.stage("latent map")
    scatter = latent.data["scatter"]
    assert len(scatter["mean"]) == len(scatter["label"]) == 600 and set(scatter["label"]) == set(range(10))
    plane = Image.open(latent.artifacts[0].path)
    assert plane.size == ((10 * 9 + 1) * 8, (10 * 9 + 1) * 8)  # 10 x 10 digits, 8x8 each with borders
    assert run.layers[0].name == "encoder.0" and run.layers[-1].name == "decoder.4"
    assert "code z = " in run.layers[-1].summary
    parts = {p.what: p for p in views.views(run, tmp_path)}
    assert {"latent scatter", "latent map", "reconstructions"} <= set(parts)
    assert Image.open(parts["latent scatter"].draw()).size[0] > 300
    used = sum(v > 0.1 for v in run.stage("training").data["kl_per_latent"])
    for beta, answer in ((1, str(used)), (20, "0")):
        item = next(q for q in questions(vae_runs[beta]) if "latent numbers carried" in q.question)
        assert next(o.text for o in item.options if o.correct) == answer


def test_lora_trains_only_the_adapters_and_keeps_its_promises(lora_run):
    rows = lora_run.training
    assert [r.metrics["phase"] for r in rows] == ["base", "base", "adapters", "adapters"]
    assert [r.epoch for r in rows] == [1, 2, 3, 4] and rows[-1].metrics["epochs_asked"] == 4
    checks = lora_run.stage("checks").data
    width, rank = TINY["lora"]["width"], TINY["lora"]["rank"]
    # per block: qkv r(w + 3w), proj r(w + w), fc r(w + 4w), mlp.proj r(4w + w)
    assert (
        checks["trainable"]
        == 2 * rank * width * (4 + 2 + 5 + 5)
        == lora_run.stage("adapters").data["trainable"]
    )
    assert checks["base_weights_max_change"] == 0.0
    assert checks["adapters_off_identical"] and checks["adapters_off_loss"] == checks["base_loss"]
    assert checks["merged_max_logit_gap"] < 1e-4
    assert len(checks["delta_rank"]) == 8 and all(1 <= r <= rank for r in checks["delta_rank"].values())
    base = lora_run.stage("base model").data["held_out_loss"]
    assert rows[-1].metrics["val_code_loss"] < base["code"]  # the adapters learned some code
    assert lora_run.output["text"].startswith("def ")
    sampling = lora_run.stage("sampling").data
    assert sampling["base"] == rows[1].metrics["sample"] and sampling["adapted"] == rows[-1].metrics["sample"]
    added = [layer for layer in lora_run.layers if layer.name.endswith(".adapter")]
    assert len(added) == 8 and all(layer.data["relative_to_base"] >= 0 for layer in added)


def test_lora_view_and_question_read_the_run(lora_run, tmp_path):
    parts = {p.what: p for p in views.views(lora_run, tmp_path)}
    text = parts["before and after"].draw()
    assert "| the base weights stay as they were | largest change 0 |" in text
    assert lora_run.stage("sampling").data["adapted"] in text
    assert Image.open(parts["loss chart"].draw()).size == (480, 200)
    (item,) = [q for q in questions(lora_run) if "lessons" in q.question]
    base = lora_run.stage("base model").data["held_out_loss"]["lessons"]
    after = lora_run.training[-1].metrics["val_lessons_loss"]
    right = next(o.text for o in item.options if o.correct)
    assert right == (
        "It rose"
        if after > base + 0.005
        else "It fell"
        if after < base - 0.005
        else "It stayed exactly the same"
    )
    assert not any("lowest" in q.question for q in questions(lora_run))


def test_lora_stopped_before_any_adapter_trained_says_so(tool):
    with pytest.raises(ToolError, match="before any adapter trained"):
        tool({**TINY["lora"], "batch_size": 8, "epochs": 50, "time_budget_s": 1})


def test_each_run_offers_only_its_own_settings_to_change(tool, flow_run, vae_runs, lora_run, tmp_path):
    from tools.views import compare_runs

    assert "#### Run A and run B: only beta changed" in compare_runs(vae_runs[1], vae_runs[20])
    insights = tool.compare(vae_runs[1], vae_runs[20], tmp_path)[-1].draw()
    assert insights.index("**Run B:** With beta") < insights.index("posterior collapse")
    assert "beta" in tool.knobs(vae_runs[1]) and "rank" not in tool.knobs(vae_runs[1])
    assert "rank" in tool.knobs(lora_run) and "beta" not in tool.knobs(lora_run)
    assert not {"beta", "rank"} & set(tool.knobs(flow_run))
    assert flow_run.config["beta"] is None and lora_run.config["rank"] == TINY["lora"]["rank"]

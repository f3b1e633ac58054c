"""The shapes diffusion pipeline at tiny size, the shipped model, and the image_generation tool's trace,
including a tiny Stable Diffusion pipeline saved to disk and loaded back through `model`."""

from __future__ import annotations

import json
import string
from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import (
    AutoencoderKL,
    DDIMScheduler,
    DDPMScheduler,
    StableDiffusionPipeline,
    UNet2DConditionModel,
)
from PIL import Image

from tools import shapes
from tools.base import ToolError
from tools.diffusion_pipeline import MAX_TOKENS, ShapesDiffusionPipeline, load_pipeline, load_text_encoder
from tools.image_generation import ImageGenerationTool

STAGES = [
    "tokenization",
    "text_encoding",
    "initial_noise",
    "denoising",
    "guidance",
    "final_image",
    "cross_attention",
]


@pytest.fixture(scope="module")
def minilm():
    return load_text_encoder()


@pytest.fixture(scope="module")
def tiny_pipe(minilm):
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=8,
        in_channels=3,
        out_channels=3,
        block_out_channels=(8, 16),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=384,
        attention_head_dim=4,
        norm_num_groups=4,
    )
    pipe = ShapesDiffusionPipeline(*minilm, unet.eval(), DDPMScheduler(beta_schedule="linear"))
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _run(pipe, seed=0, steps=3, guidance=4.0):
    """Images and the sample after every step, as the callback saw it."""
    seen = []

    def keep(_pipe, i, t, tensors):
        seen.append((i, int(t), tensors["latents"].clone()))
        return {}

    out = pipe(
        "a red circle",
        num_inference_steps=steps,
        guidance_scale=guidance,
        generator=torch.Generator().manual_seed(seed),
        callback_on_step_end=keep,
    )
    return out.images, seen


def test_tiny_pipeline_shapes_and_callback(tiny_pipe):
    images, seen = _run(tiny_pipe, steps=3)
    assert len(images) == 1 and images[0].size == (8, 8) and images[0].mode == "RGB"
    assert [i for i, _, _ in seen] == [0, 1, 2]  # one callback per step
    assert [t for _, t, _ in seen] == sorted((t for _, t, _ in seen), reverse=True)
    assert all(x.shape == (1, 3, 8, 8) for _, _, x in seen)


def test_tiny_pipeline_is_deterministic_and_guidance_matters(tiny_pipe):
    a, seen_a = _run(tiny_pipe, seed=1)
    b, seen_b = _run(tiny_pipe, seed=1)
    c, seen_c = _run(tiny_pipe, seed=2)
    unguided, seen_u = _run(tiny_pipe, seed=1, guidance=1.0)
    assert np.array_equal(np.asarray(a[0]), np.asarray(b[0]))
    assert torch.equal(seen_a[-1][2], seen_b[-1][2])
    assert not torch.equal(seen_a[-1][2], seen_c[-1][2])
    assert not torch.allclose(seen_a[-1][2], seen_u[-1][2])  # guidance 1 vs 4: a different image


def test_empty_caption_is_the_unconditional_context(minilm):
    from tools.diffusion_pipeline import encode_text

    ctx = encode_text(*minilm, ["a red circle", ""])
    assert ctx.shape == (2, MAX_TOKENS, 384)
    assert not torch.allclose(ctx[0], ctx[1])


def test_dataset_is_deterministic_and_its_captions_name_what_is_drawn():
    one, two = shapes.dataset(30, seed=3), shapes.dataset(30, seed=3)
    assert all(
        np.array_equal(a.image, b.image) and a.caption == b.caption for a, b in zip(one, two, strict=True)
    )
    assert any(a.caption != b.caption for a, b in zip(one, shapes.dataset(30, seed=4), strict=True))
    for s in one:
        assert s.image.shape == (shapes.SIZE, shapes.SIZE, 3) and s.image.dtype == np.uint8
        assert s.colour in s.caption and s.shape in s.caption
        assert shapes.classify(s.image) == (s.colour, s.shape)


def test_training_reproduces_its_weights_from_the_seed(tmp_path):
    from safetensors.torch import load_file

    from tools.train_shapes import Config, train

    small = {"steps": 3, "batch_size": 8, "dataset_size": 48, "warmup": 1, "log_every": 1}
    figures = [train(Config(**small, out=str(tmp_path / run))) for run in ("a", "b")]
    assert figures[0]["final_loss"] == figures[1]["final_loss"] and figures[0]["images"] == 48
    a, b = (load_file(tmp_path / run / "diffusion_pytorch_model.safetensors") for run in ("a", "b"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    card = (tmp_path / "a" / "MODEL_CARD.md").read_text()
    assert "3 x 8" in card and "final loss" in card
    assert load_pipeline(tmp_path / "a").unet.config.cross_attention_dim == 384  # loadable as shipped


def test_shipped_model_loads_and_draws():
    pipe = load_pipeline()
    pipe.set_progress_bar_config(disable=True)
    image = pipe("a blue square", num_inference_steps=4, generator=torch.Generator().manual_seed(0)).images[0]
    assert image.size == (shapes.SIZE, shapes.SIZE)
    assert sum(p.numel() for p in pipe.unet.parameters()) < 5_000_000  # a few MB of weights


@pytest.fixture(scope="module")
def tool(settings):
    return ImageGenerationTool(settings)


@pytest.fixture(scope="module")
def traces(tool):
    base = {
        "prompt": "a red circle on a white background",
        "steps": 4,
        "guidance_scale": 5.0,
        "compare_guidance": False,
    }
    return {
        name: tool({**base, "scheduler": name}) for name in ("ddim", "ddpm", "euler", "euler_ancestral")
    } | {
        "again": tool({**base, "scheduler": "ddim"}),
        "seed 1": tool({**base, "scheduler": "ddim", "seed": 1}),
        "unguided": tool({**base, "scheduler": "ddim", "guidance_scale": 1.0}),
    }


def test_trace_invariants(traces):
    for name, trace in traces.items():
        assert [s.name for s in trace.stages] == STAGES, name
        tokens = trace.stage("tokenization").data
        assert (
            tokens["tokens"][0] == "[CLS]" and tokens["tokens"][-1] == "[SEP]" and "red" in tokens["tokens"]
        )
        assert trace.stage("text_encoding").output.shape == [1, MAX_TOKENS, 384]
        assert trace.stage("initial_noise").output.shape == [1, 3, shapes.SIZE, shapes.SIZE]
        assert 0.8 < trace.stage("initial_noise").data["std"] < 1.2

        steps = trace.stage("denoising").data["steps"]
        assert [r["step"] for r in steps] == [1, 2, 3, 4]
        assert [r["timestep"] for r in steps] == sorted((r["timestep"] for r in steps), reverse=True)
        sigmas = [r["sigma"] for r in steps] + [steps[-1]["sigma_after"]]
        assert sigmas == sorted(sigmas, reverse=True) and sigmas[-1] == 0, name
        assert [r["sigma_after"] for r in steps[:-1]] == [r["sigma"] for r in steps[1:]]
        assert all(r["ms"] > 0 for r in steps)

        assert len(trace.output["previews"]) == 4 and all(Path(p).is_file() for p in trace.output["previews"])
        arts = trace.stage("denoising").artifacts
        assert len(arts) == 8 and all(a.kind == "image" and Path(a.path).is_file() for a in arts)
        final = Image.open(trace.output["image"])
        assert final.size == (256, 256)  # 32 px enlarged 8x
        assert trace.total_ms >= sum(s.duration_ms for s in trace.stages)
        json.loads(trace.model_dump_json())


def test_predicted_x0_matches_the_scheduler(traces):
    # DDIM and Euler land exactly on their last x0 prediction: the trace's x0 formula must agree.
    for name in ("ddim", "euler"):
        assert traces[name].stage("denoising").data["steps"][-1]["x0_rms_to_final"] < 1e-3, name


def test_seed_reproduces_the_image_and_guidance_is_measured(traces):
    pixels = {k: np.asarray(Image.open(t.output["image"])) for k, t in traces.items()}
    assert np.array_equal(pixels["ddim"], pixels["again"])
    assert not np.array_equal(pixels["ddim"], pixels["seed 1"])
    guided, unguided = traces["ddim"].stage("guidance").data, traces["unguided"].stage("guidance").data
    assert guided["unet_passes_per_step"] == 2 and len(guided["delta_rms_per_step"]) == 4
    assert all(d > 0 for d in guided["delta_rms_per_step"])
    assert unguided["unet_passes_per_step"] == 1 and unguided["delta_rms_per_step"] == []
    assert traces["ddim"].stage("text_encoding").data["calls"] == 2  # the prompt and the empty prompt
    assert "pixel_classifier" in traces["ddim"].stage("final_image").data


def test_the_guidance_comparison_redraws_the_same_seed_at_each_scale(tool, tmp_path):
    from tools.image_generation import views

    trace = tool({"prompt": "a blue square on a white background", "steps": 6, "seed": 3})
    assert [s.name for s in trace.stages] == [*STAGES, "guidance_comparison"]
    data = trace.stage("guidance_comparison").data
    assert data["scales"] == [1.0, 1.5, 3.0, 7.5] and data["this_run"] == 1.5
    # the 1.5 drawing is this very run again: same seed, same starting noise, same pixels
    final = np.asarray(Image.open(trace.output["image"]).convert("RGB"))[::8, ::8]
    again = np.asarray(Image.open(data["images"][1]).convert("RGB"))[::3, ::3]
    assert np.array_equal(final, again)
    firsts = [np.asarray(Image.open(p)) for p in data["images"]]
    assert not np.array_equal(firsts[0], firsts[3])  # guidance 1 and 7.5 differ
    shown = views.views(trace, tmp_path)
    labelled = next(p for p in shown if p.what == "guidance comparison")
    assert labelled.caption and Image.open(labelled.draw()).size[0] == 4 * 128
    strip = next(p for p in shown if p.what == "preview strip")
    assert Image.open(strip.draw()).size[0] == 6 * 96  # every one of the 6 steps, labelled


def _tiny_stable_diffusion(folder: Path) -> Path:
    """A real StableDiffusionPipeline at the smallest size, with a CLIP tokenizer from local files."""
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for suffix in ("", "</w>"):
        vocab |= {c + suffix: len(vocab) + i for i, c in enumerate(string.ascii_lowercase)}
    files = folder / "tokenizer-files"
    files.mkdir(parents=True)
    (files / "vocab.json").write_text(json.dumps(vocab))
    (files / "merges.txt").write_text("#version: 0.2\n")  # no merges: one token per letter
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    torch.manual_seed(0)
    tokenizer = CLIPTokenizer.from_pretrained(files, model_max_length=12)
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(vocab),
            hidden_size=32,
            intermediate_size=37,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=12,
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
        )
    )
    unet = UNet2DConditionModel(
        sample_size=8,
        in_channels=4,
        out_channels=4,
        block_out_channels=(8, 16),
        layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=4,
        norm_num_groups=4,
    )
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        block_out_channels=(8, 16),
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        latent_channels=4,
        norm_num_groups=4,
        sample_size=16,
    )
    scheduler = DDIMScheduler(
        beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, clip_sample=False, steps_offset=1
    )
    pipe = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(folder / "tiny-sd")
    return folder / "tiny-sd"


def test_model_path_runs_a_saved_stable_diffusion_pipeline(tool, tmp_path):
    path = _tiny_stable_diffusion(tmp_path)
    trace = tool({"prompt": "a red circle", "model": str(path), "steps": 3, "scheduler": "euler"})
    assert trace.config["pipeline"] == "StableDiffusionPipeline"
    assert [s.name for s in trace.stages] == STAGES
    assert trace.stage("tokenization").data["tokens"][:2] == ["<|startoftext|>", "a</w>"]
    assert trace.stage("text_encoding").output.shape == [1, 12, 32]
    assert trace.stage("initial_noise").output.shape == [1, 4, 8, 8]  # latents: 16 px / VAE factor 2
    data = trace.stage("denoising").data
    assert data["scheduler"] == "EulerDiscreteScheduler" and data["preview"].startswith("linear latent->RGB")
    assert len(data["steps"]) == 3 and data["steps"][-1]["sigma_after"] == 0
    assert len(trace.output["previews"]) == 3 and Image.open(trace.output["image"]).size == (256, 256)
    assert trace.stage("guidance").data["unet_passes_per_step"] == 2
    assert "pixel_classifier" not in trace.stage("final_image").data


def test_bad_model_and_bad_arguments_are_clear_errors(tool, tmp_path):
    with pytest.raises(ToolError, match="Cannot load the diffusion pipeline"):
        tool({"prompt": "a red circle", "model": str(tmp_path / "no-such-model")})
    with pytest.raises(ToolError, match="steps"):
        tool({"prompt": "a red circle", "steps": 0})
    with pytest.raises(ToolError, match="scheduler"):
        tool({"prompt": "a red circle", "scheduler": "heun"})


def test_word_maps_light_up_where_each_word_was_drawn(tool):
    trace = tool({"prompt": "a red circle on a white background", "steps": 12, "compare_guidance": False})
    data = trace.stage("cross_attention").data
    assert data["words"] == ["a", "red", "circle", "on", "a", "white", "background"]
    assert len(data["maps"]) == len(data["words"]) and all(Path(p).is_file() for p in data["maps"])
    pixels = np.asarray(Image.open(trace.output["image"]).convert("RGB"))[::8, ::8].astype(int)  # 32 x 32
    shape = (pixels[..., 0] - pixels[..., 1:].mean(-1)) > 80  # the red pixels: where the circle is
    assert 20 < shape.sum() < 32 * 32 - 20
    grid = {w: np.array(g) for w, g in zip(data["words"], data["grids"], strict=True)}
    inside = {w: g[shape].mean() for w, g in grid.items()}
    outside = {w: g[~shape].mean() for w, g in grid.items()}
    assert inside["red"] > outside["red"]  # "red" was read where the red shape is
    assert inside["background"] < outside["background"]  # "background" everywhere else

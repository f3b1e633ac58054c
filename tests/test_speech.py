"""The offline neural voice: Piper speaks a sentence; its phoneme durations add up to the waveform, the
knobs do what they say, and the pictures plot the run's own samples."""

from __future__ import annotations

import wave

import numpy as np
import pytest

from tools.base import ToolError
from tools.speech import SpeechTool, views

SENTENCE = "Generative models make new data."


@pytest.fixture(scope="module")
def tool(settings):
    return SpeechTool(settings)


@pytest.fixture(scope="module")
def spoken(tool):
    return tool({"prompt": SENTENCE})


def test_the_phoneme_durations_add_up_to_the_waveform(spoken):
    durations = spoken.stage("durations").data
    assert (
        durations["total_samples"]
        == durations["waveform_samples"]
        == spoken.stage("waveform").data["samples"]
    )
    assert all(row["samples"] > 0 for row in durations["phonemes"])
    phonemes = spoken.stage("phonemes").data["phonemes"]
    assert "m" in phonemes and len(phonemes) > 20  # IPA symbols from espeak-ng
    ids = spoken.stage("phoneme ids").data["ids"][0]
    assert ids[1::2] == [0] * len(ids[1::2])  # the blank id between phoneme ids


def test_the_audio_file_is_the_waveform(spoken):
    with wave.open(spoken.output["audio"], "rb") as f:
        assert f.getframerate() == spoken.stage("waveform").data["sample_rate"] == 22050
        assert f.getnframes() == spoken.stage("waveform").data["samples"]
        assert f.getnchannels() == 1 and f.getsampwidth() == 2


def test_length_scale_stretches_every_duration(tool, spoken):
    slow = tool({"prompt": SENTENCE, "length_scale": 1.6, "noise_w_scale": 0})
    fast = tool({"prompt": SENTENCE, "length_scale": 0.6, "noise_w_scale": 0})
    n_slow, n_fast = (t.stage("waveform").data["samples"] for t in (slow, fast))
    assert 1.9 < n_slow / n_fast < 3.4  # 1.6 / 0.6 = 2.7, give or take rounding to frames


def test_the_pictures_plot_the_runs_own_samples(spoken, tmp_path):
    parts = views.views(spoken, tmp_path)
    assert [p.kind for p in parts].count("audio") == 1 and parts[2].draw() == spoken.output["audio"]
    assert all(p.caption for p in parts if p.kind == "image")
    line = views.waveform_figure(spoken).axes[0].lines[0]
    with wave.open(spoken.output["audio"], "rb") as f:
        samples = np.frombuffer(f.readframes(f.getnframes()), dtype="<i2")
    assert np.array_equal(line.get_ydata(), samples / 32768.0)
    drawn = np.asarray(views.spectrogram_figure(spoken).axes[0].images[0].get_array())
    spec = views.spectrogram(samples, 22050)
    assert np.array_equal(drawn, spec["db"][spec["hz"] <= 8000])
    bars = [b.get_height() for b in views.durations_figure(spoken).axes[0].patches]
    rows = [r for r in spoken.stage("durations").data["phonemes"] if r["phoneme"].strip()]
    assert np.allclose(bars, [r["samples"] / 22050 * 1000 for r in rows])
    for part in parts:
        assert part.draw()


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"prompt": ""}, "prompt"),
        ({"prompt": "x" * 301}, "prompt"),
        ({"prompt": "hi", "length_scale": 3}, "length_scale"),
    ],
)
def test_bad_arguments_are_clear_errors(tool, arguments, field):
    with pytest.raises(ToolError, match=field):
        tool.parse(arguments)


def test_questions_about_the_run_are_answered_by_its_durations(tool, spoken):
    items = tool.questions(spoken)
    longest = items[0]
    rows = views.spoken(spoken.stage("durations").data["phonemes"])
    right = next(o.text for o in longest.options if o.correct)
    assert max(r["samples"] for r in rows) == max(r["samples"] for r in rows if r["phoneme"] == right)
    assert len({o.text for o in longest.options}) == len(longest.options) >= 2
    assert items[1].answer is True  # the durations add up to the waveform


def _tiny_vits(folder):
    """A tiny randomly initialised VITS (the MMS-TTS architecture) with a character vocabulary, saved as
    a transformers model folder."""
    import json

    import torch
    from transformers import VitsConfig, VitsModel, VitsTokenizer

    vocab = {c: i for i, c in enumerate(["<pad>", *" abcdefghijklmnopqrstuvwxyz'.,"])}
    folder.mkdir(parents=True)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    VitsTokenizer(
        str(folder / "vocab.json"), pad_token="<pad>", unk_token="<pad>", phonemize=False
    ).save_pretrained(folder)
    torch.manual_seed(0)
    config = VitsConfig(
        vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2, ffn_dim=32,
        flow_size=8, spectrogram_bins=17, upsample_initial_channel=16, upsample_rates=[4, 4],
        upsample_kernel_sizes=[8, 8], resblock_kernel_sizes=[3], resblock_dilation_sizes=[[1, 3]],
        prior_encoder_num_flows=1, prior_encoder_num_wavenet_layers=1, posterior_encoder_num_wavenet_layers=1,
        duration_predictor_num_flows=1, duration_predictor_filter_channels=16, depth_separable_num_layers=1,
        sampling_rate=8000,
    )  # fmt: skip
    VitsModel(config).save_pretrained(folder)
    return folder


def test_a_local_transformers_model_folder_speaks_through_the_same_tool(tool, tmp_path):
    folder = _tiny_vits(tmp_path / "tiny-vits")
    trace = tool({"prompt": "hello there", "model": str(folder)})
    assert [s.name for s in trace.stages] == ["tokens", "waveform", "spectrogram"]
    assert trace.stage("tokens").data["ids"][0]  # the model's own tokenizer
    with wave.open(trace.output["audio"], "rb") as f:
        assert f.getframerate() == 8000 and f.getnframes() == trace.stage("waveform").data["samples"] > 0
    assert "does not hand out how long" in trace.key_insight and tool.questions(trace) == []
    parts = views.views(trace, tmp_path)
    assert [p.what for p in parts] == ["stage table", "the spoken sentence", "waveform", "spectrogram"]
    assert all(p.draw() for p in parts)
    with pytest.raises(ToolError, match="Cannot load"):
        tool({"prompt": "hi", "model": str(tmp_path / "missing")})

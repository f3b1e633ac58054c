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

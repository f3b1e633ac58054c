"""Questions about a speech run: which phoneme the voice made longest, and whether the durations or
the letters decide how long the audio is."""

from __future__ import annotations

from knowledge.quizbank import QuizItem
from tools.questions import choice, true_false
from tools.speech.views import spoken
from tools.trace import PipelineTrace


def questions(trace: PipelineTrace) -> list[QuizItem]:
    if not any(s.name == "durations" for s in trace.stages):
        return []  # a model that did not time its phonemes
    data = trace.stage("durations").data
    rate, rows = data["sample_rate"], spoken(data["phonemes"])
    if len(rows) < 4:
        return []
    longest = max(rows, key=lambda r: r["samples"])
    top = {r["phoneme"] for r in rows if r["samples"] == longest["samples"]}  # ties would be right too
    others = [r["phoneme"] for r in rows if r["phoneme"] not in top]
    if not others:
        return []
    least = min(rows, key=lambda r: r["samples"] if r["phoneme"] not in top else 10**9)["phoneme"]
    wrong = [
        (least, "the durations are the same for every phoneme", "Find its bar in the durations chart."),
        (others[0], "the first sound is held longest", "The first bar of the chart is not the tallest."),
        (others[-1], "the last sound is held longest", "The last bar of the chart is not the tallest."),
    ]
    items = [
        choice(
            trace,
            "longest-phoneme",
            "audio-generation",
            "audio-generation",
            "In your speech run, which phoneme did the voice make longest?",
            longest["phoneme"],
            wrong,
            f"{longest['phoneme']!r} lasted {longest['samples'] / rate * 1000:.0f} ms: the tallest bar in "
            "the durations chart.",
        ),
        true_false(
            trace,
            "durations-add-up",
            "audio-generation",
            "audio-generation",
            "In your run, the phoneme durations the model predicted add up to the length of the audio.",
            data["total_samples"] == data["waveform_samples"],
            "the waveform is generated first and cut into phonemes afterwards",
            f"They add up to {data['total_samples']:,} samples, the waveform has "
            f"{data['waveform_samples']:,}: the model set the timing first, then made sound to fill it.",
            "A VITS voice predicts each phoneme's duration, then decodes exactly that much audio.",
        ),
    ]
    return [item for item in items if item is not None]

"""How fast the offline voice speaks: Piper (en_US-joe-medium, onnxruntime on the CPU) on five
sentences, three runs each, through the speech tool with its full trace (phonemes, durations, WAV,
spectrogram). Prints per sentence the audio length, the median wall time of a run, and the real-time
factor (seconds of audio per second of compute). Run: `.venv/bin/python bench/speech_bench.py`.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SENTENCES = [
    "Hello.",
    "Generative models make new data.",
    "A diffusion model starts from noise and removes a little of it at every step.",
    "The tutor runs real models in front of you, so every number you see was measured.",
    "Speech models first decide how long each sound lasts, then generate the waveform to fill that time, "
    "which is why a speed setting changes the timing and not the pitch.",
]


def main() -> None:
    from tools.config import ToolConfig
    from tools.speech import SpeechTool

    tool = SpeechTool(ToolConfig())
    tool({"prompt": "warm up"})  # loads the voice once
    print("| characters | audio (s) | run, median of 3 (s) | real-time factor |")
    print("|---:|---:|---:|---:|")
    for text in SENTENCES:
        times, seconds = [], 0.0
        for _ in range(3):
            start = time.perf_counter()
            trace = tool({"prompt": text})
            times.append(time.perf_counter() - start)
            wave = trace.stage("waveform").data
            seconds = wave["samples"] / wave["sample_rate"]
        run = statistics.median(times)
        print(f"| {len(text)} | {seconds:.2f} | {run:.3f} | {seconds / run:.1f}x |")


if __name__ == "__main__":
    main()

"""The speech demo: a real neural voice (Piper) speaking the learner's sentence (tool.py), and how a run
is drawn: waveform, spectrogram and phoneme durations (views.py)."""

from tools.speech.tool import SpeechArgs, SpeechTool

__all__ = ["SpeechArgs", "SpeechTool"]

"""The audio-generation demo: the project's own text-to-audio model drawing a spectrogram from a
caption and Griffin-Lim turning it into sound (tool.py), how a run is drawn (views.py), and what a
learner can be asked about it (questions.py)."""

from tools.audio_generation.tool import SOUNDS_GUIDANCE, AudioGenerationArgs, AudioGenerationTool

__all__ = ["SOUNDS_GUIDANCE", "AudioGenerationArgs", "AudioGenerationTool"]

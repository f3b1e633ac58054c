"""The text-to-speech API counterpart of the speech demo: OpenAI's `audio.speech.create`."""

from tools.speech_api.tool import SpeechAPIArgs, SpeechAPITool

__all__ = ["SpeechAPIArgs", "SpeechAPITool"]

"""The text-generation demo: the tool (tool.py), how its trace is drawn (views.py), and what a learner
can be asked and told about a run (questions.py)."""

from tools.text_generation.tool import TextGenerationArgs, TextGenerationTool

__all__ = ["TextGenerationArgs", "TextGenerationTool"]

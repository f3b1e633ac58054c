"""The image-generation demo: the tool (tool.py), how its trace is drawn (views.py), and what a learner
can be asked and told about a run (questions.py)."""

from tools.image_generation.tool import SHAPES_GUIDANCE, ImageGenerationArgs, ImageGenerationTool

__all__ = ["SHAPES_GUIDANCE", "ImageGenerationArgs", "ImageGenerationTool"]

"""The image-API demo: the tool (tool.py) and the hosted models' limits and prices (models.py)."""

from tools.image_api.tool import ImageAPIArgs, ImageAPITool

__all__ = ["ImageAPIArgs", "ImageAPITool"]

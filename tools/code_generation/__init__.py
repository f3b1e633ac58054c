"""The code-generation demo: the tool (tool.py), drawing samples (generate.py), the example tasks
(tasks.py), the sandbox the tests run in (sandbox.py, harness.py), how a run is shown (views.py) and
what a learner can be asked about it (questions.py)."""

from tools.code_generation.tool import CodeGenerationArgs, CodeGenerationTool

__all__ = ["CodeGenerationArgs", "CodeGenerationTool"]

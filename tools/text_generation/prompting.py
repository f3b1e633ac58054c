"""How a prompt goes into the model: continued as raw text, or as a chat message to the assistant."""

from __future__ import annotations

import re

# a prompt that asks (a question) or instructs (an imperative) is a message for the assistant
INSTRUCTION = re.compile(
    r"^\W*(?:write|tell|explain|describe|give|list|name|summari[sz]e|translate|create|compose|generate|"
    r"make|show|please|can|could|would|what|why|how|who|when|where|which|is|are|do|does)\b",
    re.I,
)


def resolve_mode(prompt: str, mode: str, has_template: bool) -> tuple[str, str]:
    """The mode to run in, and why (the trace says both)."""
    if not has_template:
        return "continue", "this model has no chat template, so the prompt is continued as raw text"
    if mode != "auto":
        return mode, f"{mode} mode was asked for"
    if prompt.rstrip().endswith("?") or INSTRUCTION.match(prompt):
        return "chat", "the prompt reads as a question or an instruction, so it went in as a chat message"
    return "continue", "the prompt reads as the start of a text, so the model continued it as raw text"

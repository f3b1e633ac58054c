"""What tools need to know about where they run: the data directory, the device, the OpenAI endpoint,
and how long generated files are kept. `tutor.settings.Settings` extends it with the tutor's own
settings, so the tutor hands its settings down and tools never import the tutor."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


class ConfigError(Exception):
    """A setting that cannot work; the message tells the user what to change."""


def default_home() -> Path:
    return Path(os.environ.get("GENAI_TUTOR_HOME") or Path.home() / ".local/share/genai-tutor")


@dataclass(frozen=True)
class ToolConfig:
    home: Path = field(default_factory=default_home)  # Chroma store, learner db, model cache, artifacts
    device: str = "auto"  # auto: CUDA when present
    openai_api_key: str | None = None
    openai_base_url: str | None = None  # None: api.openai.com
    artifacts_max_age_h: float = 24.0  # generated files (images, charts, traces) older than this go
    artifacts_max_mb: float = 512.0  # past this total the oldest generated files go first

    @property
    def artifacts_dir(self) -> Path:
        """The only folder the page serves: generated images, previews, charts, traces, exports."""
        return self.home / "artifacts"

    def torch_device(self) -> str:
        """The device models run on: 'cuda:0' or 'cpu'."""
        import torch

        if self.device == "cuda" and not torch.cuda.is_available():
            raise ConfigError("TUTOR_DEVICE=cuda, but no CUDA GPU is visible. Use TUTOR_DEVICE=auto or cpu.")
        if self.device != "cpu" and torch.cuda.is_available():
            return "cuda:0"
        return "cpu"

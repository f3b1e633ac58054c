"""The samplers a learner may pick: swapped into the pipeline from its own scheduler's configuration."""

from __future__ import annotations

from tools.base import ToolError

SCHEDULERS = {  # name -> diffusers class name
    "ddim": "DDIMScheduler",
    "ddpm": "DDPMScheduler",
    "euler": "EulerDiscreteScheduler",
    "euler_ancestral": "EulerAncestralDiscreteScheduler",
}


def set_scheduler(pipe, name: str) -> None:
    import diffusers

    cls = getattr(diffusers, SCHEDULERS[name])
    if cls not in pipe.scheduler.compatibles:
        raise ToolError(f"This pipeline's {type(pipe.scheduler).__name__} cannot be swapped for {name}.")
    if not isinstance(pipe.scheduler, cls):
        pipe.scheduler = cls.from_config(pipe.scheduler.config)

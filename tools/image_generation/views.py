"""How an image-generation run is shown: the stages and tokens, every denoising step (timestep, noise
level, guidance, how far the predicted clean image was from the final one), the previews as strips,
the final image; the run's facts step by step; and what it let us observe, for `/demo compare`."""

from __future__ import annotations

from pathlib import Path

from tools.diffusion_views import denoising_table, step_facts, strip
from tools.trace import Fact, PipelineTrace
from tools.views import (
    Part,
    labelled_strip,
    markdown,
    output_image,
    picture,
    stage_table,
    tokens_line,
)

CONCEPTS = {  # the concept of the map each stage shows
    "tokenization": "tokenization",
    "text_encoding": "text-encoder",
    "initial_noise": "diffusion-models",
    "denoising": "diffusion-models",
    "guidance": "classifier-free-guidance",
    "final_image": "image-generation",
    "guidance_comparison": "classifier-free-guidance",
    "cross_attention": "text-encoder",
}


def word_strip(trace: PipelineTrace, path: Path) -> str:
    data = trace.stage("cross_attention").data
    return labelled_strip([data["image"], *data["maps"]], ["the image", *data["words"]], path, size=104)


def guidance_strip(trace: PipelineTrace, path: Path) -> str:
    data = trace.stage("guidance_comparison").data
    labels = [
        f"guidance {r['scale']:g}"
        + (" ◀ this run" if r["scale"] == data["this_run"] else "")
        + f"\nread: {r['colour']} {r['shape']}"
        for r in data["read"]
    ]
    return labelled_strip(data["images"], labels, path, size=128)


def views(trace: PipelineTrace, folder: Path) -> list[Part]:
    """Each part reads the trace only when drawn, so one with missing numbers costs only itself."""
    parts = [
        markdown("stage table", lambda: stage_table(trace)),
        markdown("tokens", lambda: tokens_line(trace.stage("tokenization").data["tokens"])),
        picture(
            "preview strip",
            lambda: strip(trace, "sample_preview", folder / "steps.png"),
            "The sample after evenly spaced steps, left to right, with each step's timestep t and noise "
            "level sigma: noise turning into the picture as sigma falls.",
        ),
        picture(
            "predicted clean images",
            lambda: strip(trace, "x0_preview", folder / "x0.png"),
            "What the model predicted the clean image to be at the same steps: it settles long before "
            "the noise is gone.",
        ),
        *output_image(trace),
    ]
    if any(s.name == "cross_attention" and s.data["maps"] for s in trace.stages):
        parts.append(
            picture(
                "word maps",
                lambda: word_strip(trace, folder / "words.png"),
                "Which pixels read which word (bright: most attention from the U-Net's cross-attention, "
                "summed over its layers and all steps), beside the image. Compare where the colour and "
                "shape words are bright with where the shape is.",
            )
        )
    if any(s.name == "guidance_comparison" for s in trace.stages):
        parts.append(
            picture(
                "guidance comparison",
                lambda: guidance_strip(trace, folder / "guidance.png"),
                "The same prompt, seed and starting noise at four guidance scales. At 1 the model's "
                "prompt-conditioned prediction is used as it is; higher scales push further toward the "
                "words, and past about 3 this small model overdoes it (bench/image_bench.py: prompt "
                "fidelity 0.87 at 1, 0.92 at 1.5, 0.65 at 3, 0.10 at 7.5).",
            )
        )
    parts.append(markdown("denoising table", lambda: denoising_table(trace)))
    return parts


def facts(trace: PipelineTrace) -> list[Fact]:
    return [Fact(text=s.note, stage=s.name) for s in trace.stages] + step_facts(trace)


def observed(trace: PipelineTrace) -> dict[str, str]:
    return {
        "denoising steps seen": str(len(trace.stage("denoising").data["steps"])),
        "cost": "free (runs here)",
    }

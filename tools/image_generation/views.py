"""How an image-generation run is shown: the stages and tokens, every denoising step (timestep, noise
level, guidance, how far the predicted clean image was from the final one), the previews as strips,
the final image; the run's facts step by step; and what it let us observe, for `/demo compare`."""

from __future__ import annotations

from pathlib import Path

from tools.trace import Fact, PipelineTrace
from tools.views import (
    Part,
    labelled_strip,
    markdown,
    output_image,
    picture,
    spread,
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


def frames(trace: PipelineTrace) -> list[tuple[str, str]]:
    """Every denoising step's sample, labelled, for the page's slider."""
    steps = trace.stage("denoising").data["steps"]
    return [
        (r["sample_preview"], f"step {r['step']}: t={r['timestep']:g}, sigma={r['sigma']:.3g}") for r in steps
    ]


def denoising_table(trace: PipelineTrace, shown: int = 12) -> str:
    """Every denoising step (at most `shown`, evenly spaced): timestep, noise level, guidance, time."""
    steps = trace.stage("denoising").data["steps"]
    picks = spread(len(steps), shown)
    rows = [
        "#### Denoising, step by step (previews below: the sample, then the predicted clean image)",
        "",
        "| step | timestep | noise level σ | σ after | guidance Δ (RMS) | predicted clean vs final | ms |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for i in picks:
        r = steps[i]
        delta = "—" if r.get("guidance_delta_rms") is None else f"{r['guidance_delta_rms']:.3g}"
        x0 = "—" if r.get("x0_rms_to_final") is None else f"{r['x0_rms_to_final']:.3g}"
        sigmas = f"{r['sigma']:.3g} | {r['sigma_after']:.3g}"
        rows.append(f"| {r['step']} | {r['timestep']:g} | {sigmas} | {delta} | {x0} | {r['ms']:.0f} |")
    more = f"\n\n{len(steps) - len(picks)} more steps in the trace JSON." if len(steps) > len(picks) else ""
    return "\n".join(rows) + more


def _previews(trace: PipelineTrace, key: str) -> list[str]:
    return [r[key] for r in trace.stage("denoising").data["steps"]]


def strip(trace: PipelineTrace, key: str, path: Path, shown: int = 8) -> str:
    """Evenly spaced steps' previews, each labelled with its step, timestep and noise level."""
    steps = trace.stage("denoising").data["steps"]
    picks = [steps[i] for i in spread(len(steps), shown)]
    labels = [
        f"step {r['step']}\nt={r['timestep']:g}\nsigma={r['sigma']:.2g}" for r in picks
    ]  # the font has no σ
    return labelled_strip([r[key] for r in picks], labels, path)


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
    out = [Fact(text=s.note, stage=s.name) for s in trace.stages]
    for r in trace.stage("denoising").data["steps"]:
        guided = (
            f", guidance changed the noise prediction by {r['guidance_delta_rms']:.3g} (RMS)"
            if r.get("guidance_delta_rms") is not None
            else ""
        )
        out.append(
            Fact(
                text=f"At step {r['step']} (timestep {r['timestep']:g}) the noise level went from σ="
                f"{r['sigma']:.3g} to {r['sigma_after']:.3g}{guided}; the predicted clean image was "
                f"{r['x0_rms_to_final']:.3g} (RMS) away from the final image.",
                stage="denoising",
                step=r["step"],
            )
        )
    return out


def observed(trace: PipelineTrace) -> dict[str, str]:
    return {
        "denoising steps seen": str(len(trace.stage("denoising").data["steps"])),
        "cost": "free (runs here)",
    }

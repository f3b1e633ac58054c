"""How an image-generation run is shown: the stages and tokens, every denoising step (timestep, noise
level, guidance, how far the predicted clean image was from the final one), the previews as strips,
the final image; the run's facts step by step; and what it let us observe, for `/demo compare`."""

from __future__ import annotations

from pathlib import Path

from tools.trace import Fact, PipelineTrace
from tools.views import Part, markdown, output_image, picture, picture_strip, spread, stage_table, tokens_line


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


def views(trace: PipelineTrace, folder: Path) -> list[Part]:
    """Each part reads the trace only when drawn, so one with missing numbers costs only itself."""
    return [
        markdown("stage table", lambda: stage_table(trace)),
        markdown("tokens", lambda: tokens_line(trace.stage("tokenization").data["tokens"])),
        markdown("denoising table", lambda: denoising_table(trace)),
        picture(
            "preview strip",
            lambda: picture_strip(_previews(trace, "sample_preview"), folder / "steps.png"),
            "The sample after evenly spaced steps, left to right: noise turning into the picture.",
        ),
        picture(
            "predicted clean images",
            lambda: picture_strip(_previews(trace, "x0_preview"), folder / "x0.png"),
            "What the model predicted the clean image to be at the same steps: it settles early.",
        ),
        *output_image(trace),
    ]


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

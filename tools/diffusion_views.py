"""How any traced diffusion run's denoising is shown: its steps as a table, evenly spaced previews as a
labelled strip, and every step's sample for the page's slider. The image and audio demos share them."""

from __future__ import annotations

from pathlib import Path

from tools.trace import Fact, PipelineTrace
from tools.views import labelled_strip, spread


def frames(trace: PipelineTrace) -> list[tuple[str, str]]:
    """Every denoising step's sample, labelled, for the page's slider."""
    steps = trace.stage("denoising").data["steps"]
    return [
        (r["sample_preview"], f"step {r['step']}: t={r['timestep']:g}, sigma={r['sigma']:.3g}") for r in steps
    ]


def denoising_table(
    trace: PipelineTrace,
    shown: int = 12,
    where: str = "previews below: the sample, then the predicted clean image",
) -> str:
    """Every denoising step (at most `shown`, evenly spaced): timestep, noise level, guidance, time;
    `where` says where the step previews are."""
    steps = trace.stage("denoising").data["steps"]
    picks = spread(len(steps), shown)
    rows = [
        f"#### Denoising, step by step ({where})",
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


def strip(trace: PipelineTrace, key: str, path: Path, shown: int = 8) -> str:
    """Evenly spaced steps' previews, each labelled with its step, timestep and noise level."""
    steps = trace.stage("denoising").data["steps"]
    picks = [steps[i] for i in spread(len(steps), shown)]
    labels = [
        f"step {r['step']}\nt={r['timestep']:g}\nsigma={r['sigma']:.2g}" for r in picks
    ]  # the font has no σ
    return labelled_strip([r[key] for r in picks], labels, path)


def step_facts(trace: PipelineTrace, what: str = "image") -> list[Fact]:
    """One measured statement per denoising step: the noise level, guidance's push, and how far the
    predicted clean `what` still was from the final one."""
    out = []
    for r in trace.stage("denoising").data["steps"]:
        guided = (
            f", guidance changed the noise prediction by {r['guidance_delta_rms']:.3g} (RMS)"
            if r.get("guidance_delta_rms") is not None
            else ""
        )
        out.append(
            Fact(
                text=f"At step {r['step']} (timestep {r['timestep']:g}) the noise level went from σ="
                f"{r['sigma']:.3g} to {r['sigma_after']:.3g}{guided}; the predicted clean {what} was "
                f"{r['x0_rms_to_final']:.3g} (RMS) away from the final {what}.",
                stage="denoising",
                step=r["step"],
            )
        )
    return out

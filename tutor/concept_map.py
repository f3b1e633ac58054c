"""The learner's progress drawn on the concept map: every concept of the map, placed in rows by how
many prerequisites lead to it, prerequisites as lines down to what builds on them, each concept
coloured by the learner's mastery (grey: not started), reviews that are due ringed in red."""

from __future__ import annotations

import textwrap
from pathlib import Path

from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure

from knowledge.lessons import Concept

MASTERY_COLOURS = LinearSegmentedColormap.from_list("mastery", ["#ffe3e3", "#ffd43b", "#2f9e44"])
NOT_STARTED = "#e9ecef"


def levels(concepts: dict[str, Concept]) -> dict[str, int]:
    """Each concept's column: 0 with no prerequisites, else one more than its deepest prerequisite."""
    out: dict[str, int] = {}

    def level(slug: str) -> int:
        if slug not in out:
            out[slug] = 1 + max((level(r) for r in concepts[slug].requires), default=-1)
        return out[slug]

    for slug in concepts:
        level(slug)
    return out


def positions(concepts: dict[str, Concept]) -> dict[str, tuple[float, float]]:
    """(x, y) per concept: its level top down, and its place in the level's row (in map order)."""
    rows: dict[int, list[str]] = {}
    for slug, level in levels(concepts).items():
        rows.setdefault(level, []).append(slug)
    return {
        slug: (i - (len(slugs) - 1) / 2, -level)  # each row centred on x = 0
        for level, slugs in rows.items()
        for i, slug in enumerate(slugs)
    }


def draw(concepts: dict[str, Concept], rows: list[dict], due: set[str], path: Path) -> str:
    """The map as a PNG at `path`."""
    figure(concepts, rows, due).savefig(path, dpi=100, bbox_inches="tight")
    return str(path)


def figure(concepts: dict[str, Concept], rows: list[dict], due: set[str]) -> Figure:
    """`rows`: the learner's progress per concept (slug, p_known, attempts, mastered...); `due`: the
    concepts whose review is due."""
    place = positions(concepts)
    state = {r["slug"]: r for r in rows}
    width = max(abs(x) for x, _ in place.values()) * 2 + 1
    height = -min(y for _, y in place.values()) + 1
    fig = Figure(figsize=(1.9 * width + 0.5, 0.85 * height + 0.8))
    ax = fig.subplots()
    for slug, concept in concepts.items():
        for required in concept.requires:
            ax.annotate(
                "",
                xy=place[slug],
                xytext=place[required],
                arrowprops={"arrowstyle": "->", "color": "#868e96", "lw": 0.8, "shrinkA": 11, "shrinkB": 11},
            )
    for slug, (x, y) in place.items():
        row = state.get(slug, {})
        started = row.get("attempts", 0) > 0
        colour = MASTERY_COLOURS(row["p_known"]) if started else NOT_STARTED
        edge, width_ = ("#e03131", 2.5) if slug in due else ("#495057", 0.8)
        title = textwrap.fill(concepts[slug].title, 18)
        mark = " ✓" if row.get("mastered") else ""
        ax.text(
            x,
            y,
            title + mark + (f"\n{row['p_known']:.0%}" if started else ""),
            ha="center",
            va="center",
            fontsize=7.5,
            bbox={"boxstyle": "round,pad=0.4", "facecolor": colour, "edgecolor": edge, "linewidth": width_},
        )
    ax.set_xlim(-width / 2, width / 2)
    ax.set_ylim(-height + 0.5, 0.5)
    ax.axis("off")
    ax.set_title(
        "Your concept map: each line runs down from a prerequisite to what builds on it.\n"
        "Colour is mastery (grey: not started); a red ring: a review is due.",
        fontsize=9,
    )
    return fig

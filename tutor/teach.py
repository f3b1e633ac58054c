"""Answers that teach, composed from checked content: the concept's teaching layers and the lessons.

An explanation gives the direct answer in plain words first (the concept's plain layer), then the
most useful next layer (the lesson section that answers the question most closely, or the concept's
closest other layer), then one short check question the learner may answer or skip, with its
sources and the next steps as options. "Simpler", "An example" and "Deeper" show the other layers of
the current topic. No model writes here: every sentence is authored and checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from knowledge.lessons import load_concepts
from knowledge.store import Hit
from knowledge.teaching import LAYERS, Teaching, load_teaching, teaching_id
from tutor.events import Citation, Option

LESSON_WEIGHT = 0.9  # a lesson section teaches several concepts; a teaching layer only its own
EXCERPT_CHARS = 450  # the lesson passage under the plain answer
# what each follow-up shows: the layers, with the heading each is introduced by
FOLLOW_UPS = {
    "simpler": ("Simpler", ["analogy"]),
    "example": ("An example", ["example"]),
    "deeper": ("Deeper", ["deeper", "misconceptions"]),
}
LEADS = {
    "analogy": "**Picture it like this:**",
    "example": "**A worked example:**",
    "deeper": "**Going deeper:**",
    "misconceptions": "**Common mix-ups:**",
}


@dataclass
class Answer:
    text: str
    concept: str
    citations: list[Citation]
    options: list[Option]
    layers: set[str] = field(default_factory=set)
    sections: list[str] = field(default_factory=list)
    check: int | None = None  # the guiding question asked as a check, if any


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """At most `limit` characters, cut at a sentence end when there is one."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    end = max(cut.rfind(". "), cut.rfind(".\n"))
    return cut[: end + 1] if end > limit // 2 else cut.rstrip() + " …"


def quote(text: str) -> str:
    return "\n".join("> " + line if line.strip() else ">" for line in text.splitlines())


class Teacher:
    def __init__(self, embedder):
        self.embedder = embedder
        self.teaching: dict[str, Teaching] = load_teaching()
        self.concepts = load_concepts()
        self._vectors: np.ndarray | None = None

    def title(self, slug: str) -> str:
        return self.concepts[slug].title

    def closest_concepts(self, text: str, among: list[str] | None = None) -> list[tuple[str, float]]:
        """Concepts by how close their title and description are to `text`, best first."""
        slugs = list(self.concepts)
        if self._vectors is None:
            self._vectors = np.array(
                self.embedder.embed([f"{c.title}: {c.about}" for c in self.concepts.values()])
            )
        scores = self._vectors @ np.array(self.embedder.embed([text])[0])
        ranked = sorted(zip(slugs, scores.tolist(), strict=True), key=lambda p: -p[1])
        return [(s, v) for s, v in ranked if among is None or s in among]

    def concept_for(self, question: str, hits: list[Hit]) -> str:
        """The concept a question is about, among the concepts of the best matching sections: how well
        its sections matched (a lesson's shared among its concepts), how close its description is, and
        how much of its name the question uses ("Stable Diffusion" over "Diffusion models")."""
        matched: dict[str, float] = {}
        for h in hits[:3]:
            for c in h.concepts:
                weight = 1.0 if h.lesson_id == teaching_id(c) else LESSON_WEIGHT
                matched[c] = max(matched.get(c, 0.0), weight * h.score)
        if not matched:
            return self.closest_concepts(question)[0][0]
        described = dict(self.closest_concepts(question, list(matched)))
        said = stems(question)

        def score(slug: str) -> float:
            named = stems(self.title(slug))
            return matched[slug] + 0.5 * described[slug] + 0.3 * len(named & said) / max(len(named), 1)

        return max(matched, key=score)

    def cite(self, slug: str, layers: list[str]) -> list[Citation]:
        return [Citation(teaching_id(slug), self.title(slug), LAYERS[name], [slug]) for name in layers]

    def options(self, slug: str, without: str | None = None) -> list[Option]:
        title = self.title(slug)
        out = [Option(label, f"/more {kind}") for kind, (label, _) in FOLLOW_UPS.items() if kind != without]
        out.append(Option("Quiz me on this", f"/quiz {title}"))
        if self.teaching[slug].demo:
            out.append(Option("Show me (demo)", self.teaching[slug].demo))
        return out

    def explain(self, slug: str, hits: list[Hit], check: int | None) -> Answer:
        """Plain words first, then the closest lesson section (or layer), then a check question."""
        item = self.teaching[slug]
        parts = [plain_answer(item.plain)]
        citations = self.cite(slug, ["plain"])
        layers = {"plain"}
        lesson = next((h for h in hits if not h.lesson_id.startswith("teaching-")), None)
        layer = next(
            (h for h in hits if h.lesson_id == teaching_id(slug) and h.section != LAYERS["plain"]), None
        )
        if lesson is not None:  # the section that answers this very question, else another layer
            parts.append(
                f"**From the lesson *{lesson.title}* — {lesson.section}:**\n\n{quote(excerpt(lesson.text))}"
            )
            citations.append(Citation(lesson.lesson_id, lesson.title, lesson.section, lesson.concepts))
        elif layer is not None:
            name = next(k for k, v in LAYERS.items() if v == layer.section)
            parts.append(lead(name, item.layer(name)))
            citations += self.cite(slug, [name])
            layers.add(name)
        if check is not None:
            parts.append(check_line(item.questions[check].ask))
        return Answer(
            "\n\n".join(parts),
            slug,
            citations,
            self.options(slug),
            layers,
            [c.section for c in citations],
            check,
        )

    def follow_up(self, slug: str, kind: str) -> Answer:
        """The current topic again, the way the learner asked for: simpler, an example, or deeper."""
        item = self.teaching[slug]
        _, layers = FOLLOW_UPS[kind]
        parts = [f"**{self.title(slug)}**"]
        parts += [lead(name, item.layer(name)) for name in layers]
        if kind == "simpler":
            parts.append(f"**In one line:** {first_sentence(item.plain)}")
        elif kind == "example" and item.demo:
            parts.append(f"Try it yourself: `{item.demo}` (or click **Show me (demo)**).")
        citations = self.cite(slug, layers + (["plain"] if kind == "simpler" else []))
        return Answer("\n\n".join(parts), slug, citations, self.options(slug, without=kind), set(layers))


def stems(text: str) -> set[str]:
    """Words of three letters or more, cut to five, so that "token" meets "Tokenization"."""
    return {w[:5] for w in re.findall(r"[a-z0-9]+", text.casefold()) if len(w) >= 3} - {"and", "the", "how"}


def lead(layer: str, text: str) -> str:
    """A layer under its heading (a list starts on its own line)."""
    return f"{LEADS[layer]}\n\n{text}" if layer == "misconceptions" else f"{LEADS[layer]} {text}"


def plain_answer(text: str) -> str:
    return f"**In plain words:** {text}"


def check_line(question: str) -> str:
    return f"**Check yourself:** {question} *(Answer in a sentence, or just ask your next question.)*"


def first_sentence(text: str) -> str:
    from knowledge.teaching import sentences

    return sentences(text)[0]

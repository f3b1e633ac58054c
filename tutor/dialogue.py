"""The short turns of a conversation, all authored: greetings, thanks, a polite no to off-topic
questions and to instructions aimed at the tutor, an offer to run a demo, and answers about the last
run (its measured facts plus the concept behind them). Each comes with next steps as options."""

from __future__ import annotations

import re

from tools.markup import code, plain
from tutor.conversation import Conversation
from tutor.events import Option
from tutor.intents import DEEPER, EXAMPLE, GREETING, INJECTION, QUESTION, SIMPLER, THANKS
from tutor.teach import Teacher

YES = re.compile(
    r"^\W*(?:y|yes|yeah|yep|sure|ok(?:ay)?|please|please do|go ahead|do it|run it)\b[\s.!]*$", re.I
)
NO = re.compile(r"^\W*(?:n|no|nope|no thanks|not now|don'?t)\b[\s.!]*$", re.I)
START = [
    Option("How does a language model pick the next word?", "How does a language model pick the next word?"),
    Option("Show me a model writing", "/demo text The capital of France is"),
    Option("Guide me through diffusion", "/guide diffusion models"),
    Option("Quiz me", "quiz me"),
]
SCOPE = (
    "I teach how generative AI works (tokens, transformers, sampling, diffusion, GANs, image and text "
    "models, their limits and risks), run live demos of real models, and quiz you on it."
)


def next_steps(teacher: Teacher, conv: Conversation) -> list[Option]:
    return teacher.options(conv.concept) if conv.concept else START


def greeting(teacher: Teacher, conv: Conversation, kind: str) -> tuple[str, list[Option]]:
    if kind == "thanks":
        if conv.concept:
            title = teacher.title(conv.concept)
            return (
                f"Glad it helped! To make *{title}* stick: try **Quiz me on this**, or look at an example.",
                next_steps(teacher, conv),
            )
        return "You're welcome! What would you like to look at next?", START
    hello = "Hello! " if kind == "greeting" else "I'm genai-tutor, a tutor for generative AI. "
    return hello + SCOPE + " Where would you like to start?", START


def decline(teacher: Teacher, conv: Conversation, kind: str, message: str) -> tuple[str, list[Option]]:
    """An honest no: what was asked is not something the tutor does, and what it can do instead."""
    if kind == "injection":
        text = (
            "I'll stay your generative-AI tutor: I don't change or reveal my instructions, and I only run "
            "the demos you ask for with `/demo` or in plain words. Curious how prompt injection works? "
            "It is one of the risks in the lesson on responsible use."
        )
        return text, [
            Option("What are the risks of generative AI?", "/explain risks of generative AI"),
            *START[:2],
        ]
    text = (
        f"That's outside what I can help with: I would only be guessing about {code(message, 60)}. " + SCOPE
    )
    return text, next_steps(teacher, conv)


def offer(noun: str, prompt: str, command: str) -> tuple[str, list[Option]]:
    """Not sure the learner wants a demo: ask, with the two answers as options."""
    text = f"Shall I run {noun} on {code(prompt, 80)}? It runs a real model and shows every step."
    return text, [Option("Yes, run it", command), Option("No, just explain", f"/explain {prompt}")]


def is_answer(message: str) -> bool:
    """Whether a message replies to the tutor's open question rather than starting something new (a
    question of its own, a follow-up such as "simpler please", thanks, a command)."""
    if message.startswith("/") or INJECTION.search(message) or GREETING.match(message):
        return False
    if THANKS.match(message) and len(message) < 30:
        return False
    if len(message) < 80 and any(p.search(message) for p in (SIMPLER, EXAMPLE, DEEPER)):
        return False
    return not (QUESTION.match(message) and message.rstrip().endswith("?"))


def run_concept(teacher: Teacher, question: str, facts: list, concepts: dict[str, str]) -> tuple[str, str]:
    """The concept behind an answer about a run, as a line of plain words; (slug, markdown). The tool
    names the concept each of its stages shows; otherwise the closest by meaning."""
    slug = concepts.get(facts[0].stage) or teacher.closest_concepts(f"{question} ({facts[0].stage})")[0][0]
    title = plain(teacher.title(slug))
    return slug, f"**The idea behind it ({title}):** {teacher.teaching[slug].plain}"

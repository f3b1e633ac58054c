"""What a learner's message asks for, read against the conversation: the tutor's understanding.

High-precision patterns first (instructions aimed at the tutor, small talk, follow-ups on the current
topic, questions about the last run), then meaning: a demo runs only when the message is closest to a
tool's example requests *and* asks for something to be made or run; a near miss is asked about
("Shall I run ...?") instead of run; a question far from every lesson and close to everyday topics is
declined honestly. Measured on a labelled phrasing set (tests/data/router_phrasings.yaml,
`python bench/intents.py`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from knowledge.store import Hit
from tutor.router import Router, demo_prompt

INJECTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b.{0,40}\b(?:instructions?|prompt|rules|above|everything|"
    r"settings|lessons)\b|\bsystem prompt\b|\bhidden instructions\b|\byou are now\b|\bfrom now on you\b|"
    r"\bpretend (?:you are|to be)\b|\bact as\b|\bjailbreak|\bdeveloper mode\b|\bnew instructions\b|"
    r"\bno (?:longer|rules)\b.{0,20}\b(?:tutor|rules|restrictions)\b|\bunrestricted\b",
    re.I,
)
THANKS = re.compile(
    r"^\W*(?:thanks?|thank you|thx|cheers|ok(?:ay)?|cool|great|nice|awesome|perfect|got it|makes sense|"
    r"i see|i understand|understood|you'?re (?:helpful|great|awesome)|good|bye|goodbye|see you)\b[^?]{0,40}$",
    re.I,
)
GREETING = re.compile(r"^\W*(?:hi|hello|hey|good (?:morning|afternoon|evening)|yo)\b[^?]{0,20}$", re.I)
WHO = re.compile(r"^\W*(?:how are you|who are you|what are you|what can you do)\b", re.I)
SIMPLER = re.compile(
    r"\b(?:simpl(?:er|y|e words)|don'?t (?:get|understand)|too (?:complicated|hard|technical)|"
    r"like i'?m (?:five|5|a beginner)|eli5|confus|lost me|plain(?:er)? (?:words|english))\b",
    re.I,
)
EXAMPLE = re.compile(r"\b(?:examples?|for instance|e\.g\.|show me how that looks)\b", re.I)
DEEPER = re.compile(
    r"\b(?:deeper|more (?:detail|depth)|in (?:more )?depth|tell me more|go further|more technical|"
    r"the details|elaborate)\b",
    re.I,
)
# words that leave a follow-up without a subject of its own: "why?", "and what does that mean in practice?"
LEANING_WORDS = frozenset(
    re.findall(
        r"[\w'-]+",
        "why what how when which and but so about that this it its they them does do did is are was can "
        "could would will work works working exactly mean means meaning practice happens happen change "
        "changed if the a an in on of to ok okay different from really then there again more you me i "
        "please ",
    )
)
ABOUT_RUN = re.compile(
    r"\b(?:(?:my|the|this|that|last) (?:run|demo|trace|result)|in my run|step \d+|layer \d+|"
    r"why did (?:it|the model)|(?:that|this|first) (?:word|token|picture|image|loss))\b|"
    r"\b(?:did|was|were|happened|took|changed)\b.{0,40}\b(?:it|its|the model|the loss|the image|"
    r"the picture|the noise|halfway|layer|step|epoch)\b",
    re.I,
)
DEMO_CUE = re.compile(
    r"\b(?:show|run|demo|draw|paint|generate|make|create|train|training|watch|see|let|continue|finish|"
    r"complete|write|sketch|render|produce|use|call|start|try|have|say|speak|pronounce|aloud|speech|"
    r"fine[- ]?tune)\b",
    re.I,
)
# a question ("how does GPT generate text?") asks to be taught, unless it is a polite request to do something
QUESTION = re.compile(
    r"^\W*(?:and |but |so )?"
    r"(?:how|what|why|when|which|who|where|is|are|does|do|did|was|were|can|could|would|will|should)\b",
    re.I,
)
REQUEST = re.compile(
    r"\b(?:can|could|would|will) you\b|\bplease\b|\bi want\b|\bi'?d like\b|\blet me\b|\bshow me\b"
    r"|\bcan (?:the|a|this|your) (?:model|ai|llm|voice)\b.*\b(?:run|test|show)\b",  # ... and run it
)
OFFTOPIC_EXAMPLES = [
    "what's the weather like tomorrow",
    "who won the match last night",
    "what is the capital of Spain",
    "help me with my homework in history",
    "give me a recipe for dinner",
    "how do I repair my car",
    "what time is it",
    "recommend a good book to read",
    "what is the stock price of Apple",
    "how far is the moon from the earth",
    "what is 17 plus 25",
    "who is the prime minister",
    "what gift should I buy",
    "how do I lose weight",
    "tell me a funny joke",
    "which laptop should I buy",
    "translate this sentence into French",
    "plan my holiday",
    "how many planets are in the solar system",
    "what is the best football team",
]
ON_TOPIC = 0.45  # a lesson section this close to the message makes it a question for the lessons
OFFTOPIC_MARGIN = 0.05  # ...otherwise everyday topics closer than the lessons by this margin decline it
OFFER_DEMO = 0.3  # ...this close: ask first ("Shall I run ...?"); less: not a demo request
STRONG_DEMO = 0.5  # a tool's example phrasing this close, with a request to make or run something: run it


@dataclass(frozen=True)
class Intent:
    kind: str  # injection|thanks|greeting|who|more|run|demo|offer|explain|offtopic
    detail: str = ""  # more: simpler|example|deeper; demo/offer: the tool
    text: str = ""  # the question to search for, or the tool's prompt
    hits: list[Hit] = field(default_factory=list)  # explain: the lesson sections found


QUOTED = re.compile(r'"[^"]*"|“[^”]*”|:.*$', re.S)  # quoted or introduced text: the content, not the request


def request_part(message: str) -> str:
    """The words that say what to do, without the text to do it to ("speak the sentence "diffusion
    models remove noise"" is about speaking, not diffusion), when a request remains."""
    rest = QUOTED.sub(" ", message).strip()
    return rest if len(rest.split()) >= 2 else message


class Understanding:
    def __init__(self, router: Router, store, min_relevance: float, retrieval_k: int):
        self.router, self.store = router, store
        self.min_relevance, self.retrieval_k = min_relevance, retrieval_k
        self._offtopic: np.ndarray | None = None

    def classify(self, message: str, topic: str | None = None, has_run: bool = False) -> Intent:
        """`topic`: the current topic's title, if any; `has_run`: whether a demo ran in this conversation."""
        if INJECTION.search(message):
            return Intent("injection")
        if GREETING.match(message):
            return Intent("greeting")
        if WHO.match(message):
            return Intent("who")
        if THANKS.match(message) and len(message) < 60:
            return Intent("thanks")
        if has_run and ABOUT_RUN.search(message):
            return Intent("run", text=message)
        if topic:
            for kind, pattern in (("simpler", SIMPLER), ("example", EXAMPLE), ("deeper", DEEPER)):
                if pattern.search(message) and len(message) < 80:
                    return Intent("more", kind)
        tool, tool_score, explain_score = self.router.scores(request_part(message))
        asks_to_do = DEMO_CUE.search(message) and (not QUESTION.match(message) or REQUEST.search(message))
        if tool and tool_score >= OFFER_DEMO and tool_score > explain_score and asks_to_do:
            kind = "demo" if tool_score >= STRONG_DEMO else "offer"
            return Intent(kind, tool, demo_prompt(message))
        return self._question(message, topic)

    def _question(self, message: str, topic: str | None) -> Intent:
        """A question for the lessons (read against the current topic when it leans on it), or off-topic."""
        words = set(re.findall(r"[a-z0-9-]+", message.casefold()))
        query = f"{message} ({topic})" if topic and words <= LEANING_WORDS else message
        hits, relevant = self.lessons(query)
        best = hits[0].score if hits else 0.0
        if best < ON_TOPIC and self._everyday(message) > best + OFFTOPIC_MARGIN or not relevant:
            return Intent("offtopic", text=message, hits=hits)
        return Intent("explain", text=query, hits=relevant)

    def lessons(self, query: str) -> tuple[list[Hit], list[Hit]]:
        """The closest lesson sections, and those of them close enough to be about the query."""
        hits = self.store.search(query, k=self.retrieval_k)
        return hits, [h for h in hits if h.score >= self.min_relevance]

    def _everyday(self, message: str) -> float:
        """How close the message is to everyday questions the tutor does not teach."""
        embed = self.store.embedder.embed
        if self._offtopic is None:
            self._offtopic = np.array(embed(OFFTOPIC_EXAMPLES))
        return float((self._offtopic @ np.array(embed([message])[0])).max())

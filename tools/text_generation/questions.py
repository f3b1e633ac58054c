"""Questions about a text-generation run: which token led at a step, whether the drawn token was the
favourite, where the logit lens first found the final guess, how many tokens the prompt became."""

from __future__ import annotations

from knowledge.quizbank import QuizItem
from tools.base import Prediction
from tools.markup import code
from tools.questions import choice, true_false
from tools.trace import PipelineTrace


def questions(trace: PipelineTrace) -> list[QuizItem]:
    items = _sampling(trace) + _lens(trace) + _tokens(trace)
    return [i for i in items if i is not None]


def _sampling(trace: PipelineTrace) -> list[QuizItem | None]:
    """Which token led at step 2, and whether a drawn token was the favourite."""
    items = []
    steps = trace.stage("sampling").data["steps"]
    if steps:
        step = steps[1] if len(steps) > 1 else steps[0]
        top = step["before"]
        chosen = step["chosen"]
        wrong = []
        for cand in top[1:]:
            drawn = cand["id"] == chosen["id"]
            wrong.append(
                (
                    repr(cand["token"]),
                    "the token drawn is always the most likely one" if drawn else "any listed candidate led",
                    f"{cand['token']!r} had p = {cand['prob']:.1%}"
                    + (", and it was drawn: sampling can pick a less likely token." if drawn else "."),
                )
            )
        items.append(
            choice(
                trace,
                f"top-{step['step']}",
                "next-token-prediction",
                "next-token-sampling",
                f"In your run, which token was the most likely at step {step['step']}, before sampling?",
                repr(top[0]["token"]),
                wrong,
                f"At step {step['step']} the model gave {top[0]['token']!r} p = {top[0]['prob']:.1%}; "
                f"the sampler drew {chosen['token']!r}.",
            )
        )
        greedy_steps = [s for s in steps if s["chosen"]["rank_before"] == 1]
        item_step = next((s for s in steps if s["chosen"]["rank_before"] > 1), steps[0])
        rank = item_step["chosen"]["rank_before"]
        items.append(
            true_false(
                trace,
                f"greedy-{item_step['step']}",
                "sampling",
                "next-token-sampling",
                f"In your run, the token drawn at step {item_step['step']} "
                f"({item_step['chosen']['token']!r}) was the model's most likely token at that step.",
                rank == 1,
                "sampling always takes the most likely token"
                if rank > 1
                else "sampling never takes the most likely token",
                f"It was the number {rank} candidate (p = {item_step['chosen']['prob_before']:.1%}). "
                f"In this run {len(greedy_steps)} of {len(steps)} draws were the top token.",
                "With a temperature above 0 the token is drawn at random from the reshaped probabilities, "
                "so the most likely token usually wins but not always.",
            )
        )
    return items


def _lens(trace: PipelineTrace) -> list[QuizItem | None]:
    """At which layer the logit lens first showed the final guess."""
    items = []
    if trace.layers:
        final = trace.layers[-1].data["top"][0]
        first = next(i for i, row in enumerate(trace.layers, 1) if row.data["top"][0]["id"] == final["id"])
        n = len(trace.layers)
        others = [1, max(1, first - 3), min(n, first + 3), n, max(1, n // 2)]
        items.append(
            choice(
                trace,
                "lens",
                "transformer",
                "transformer-attention",
                f"In your run, at which layer did the model's final guess {final['token']!r} first become "
                "the top guess under the logit lens?",
                f"layer {first}",
                [
                    (
                        f"layer {k}",
                        "the prediction is settled in the first layer"
                        if k < first
                        else "only the last layer knows the answer",
                        f"At layer {k} the top guess was {trace.layers[k - 1].data['top'][0]['token']!r}.",
                    )
                    for k in others
                    if k != first
                ],
                f"The logit lens reads each layer's hidden state through the final norm and unembedding; "
                f"{final['token']!r} led from layer {first} of {n} on.",
                difficulty=3,
            )
        )
    return items


def _tokens(trace: PipelineTrace) -> list[QuizItem | None]:
    """How many tokens the prompt became."""
    items = []
    tokens = trace.stage("tokenization").data.get("tokens", [])
    if tokens:
        n = len(tokens)
        items.append(
            choice(
                trace,
                "tokens",
                "tokenization",
                "tokenization",
                "How many tokens did your prompt become (with the chat template around it)?",
                str(n),
                [
                    (str(n - k), "one token per word", "Counting words undercounts: words split into pieces.")
                    for k in (n // 3, n // 2)
                    if n - k > 0
                ]
                + [
                    (str(n + n // 2), "one token per character", "Tokens are usually longer than one letter.")
                ],
                f"The tokenizer turned the text into {n} ids; the first few: {tokens[:6]}.",
                difficulty=1,
            )
        )
    return [i for i in items if i is not None]


def prediction(trace: PipelineTrace) -> Prediction:
    """Which token will be drawn first at another temperature (the choices: this run's favourites)."""
    value = "0.2" if trace.config.get("temperature") != 0.2 else "1.5"
    first = trace.stage("sampling").data["steps"][0]["before"][:4]
    question = f"If I run it again at **temperature {value}**, which token will the model draw first?"
    return Prediction(question, "temperature", value, [repr(c["token"]) for c in first])


def verdict(guess: Prediction, picked: int, a: PipelineTrace, b: PipelineTrace) -> tuple[bool, str]:
    predicted = a.stage("sampling").data["steps"][0]["before"][picked]["token"]
    step = b.stage("sampling").data["steps"][0]
    drawn = step["chosen"]["token"]
    return drawn == predicted, (
        f"You predicted {code(repr(predicted))}; the model drew {code(repr(drawn))}. At temperature "
        f"{guess.value} the favourite's share went from {step['before'][0]['prob']:.0%} to "
        f"{step['after'][0]['prob']:.0%} before the draw: see the orange bars of run B in the picture above."
    )

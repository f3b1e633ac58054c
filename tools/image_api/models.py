"""What each OpenAI image model accepts and what it costs: the limits image_api checks before sending.

Limits follow the API reference (and the SDK's docstrings); prices are OpenAI's published list prices
as copied from its pricing pages up to mid-2026, DALL-E's until its retirement. They are approximate
and dated: an estimate for the learner, not a bill. GPT Image models report their token usage, which
gives a better estimate than the per-image table; the table is the fallback.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, get_args

DEFAULT_MODEL = "gpt-image-1-mini"  # the cheapest model OpenAI still serves (DALL-E retired 2026-05-12)
PRICES_AS_OF = "OpenAI list prices published up to mid-2026 (DALL-E's until its retirement)"
GPT_SIZES = ("1024x1024", "1536x1024", "1024x1536")


@dataclass(frozen=True)
class ModelSpec:
    max_prompt: int  # characters
    sizes: tuple[str, ...]
    qualities: tuple[str, ...]  # the first is the model's own default
    max_n: int
    legacy: bool  # DALL-E: takes response_format (default url); GPT Image models always answer base64
    per_image: dict[tuple[str, str], float]  # (quality, size) -> USD per image
    tokens: tuple[float, float, float] | None = None  # USD per 1M tokens: text in, image in, image out
    retired: str | None = None  # when OpenAI stopped serving it (compatible servers may still)
    any_size: bool = False  # also any WIDTHxHEIGHT within the documented limits

    def size_problem(self, size: str) -> str | None:
        """Why this model cannot make `size`, or None when it can."""
        if size in self.sizes:
            return None
        if not self.any_size:
            return f"choose one of {', '.join(self.sizes)}"
        match = re.fullmatch(r"(\d+)x(\d+)", size)  # gpt-image-2's documented limits follow
        if not match:
            return "write it as WIDTHxHEIGHT (for example 1536x864), or auto"
        w, h = int(match[1]), int(match[2])
        if w % 16 or h % 16:
            return "width and height must both be multiples of 16"
        if max(w, h) > 3840 or w * h > 3840 * 2160:
            return "the largest size is 3840x2160"
        if not 1 / 3 <= w / h <= 3:
            return "the aspect ratio must be between 1:3 and 3:1"
        return None


def _gpt_prices(square: tuple[float, ...], other: tuple[float, ...]) -> dict[tuple[str, str], float]:
    """Per-image prices for low / medium / high: one for squares, one for portrait and landscape."""
    return {
        (q, size): sq if size == "1024x1024" else ot
        for q, sq, ot in zip(("low", "medium", "high"), square, other, strict=True)
        for size in GPT_SIZES
    }


MODELS = {
    "dall-e-2": ModelSpec(
        1000,
        ("256x256", "512x512", "1024x1024"),
        ("standard",),
        10,
        legacy=True,
        per_image={("standard", "256x256"): 0.016, ("standard", "512x512"): 0.018}
        | {("standard", "1024x1024"): 0.020},
        retired="2026-05-12",
    ),
    "dall-e-3": ModelSpec(
        4000,
        ("1024x1024", "1792x1024", "1024x1792"),
        ("standard", "hd"),
        1,
        legacy=True,
        per_image={("standard", "1024x1024"): 0.040, ("hd", "1024x1024"): 0.080}
        | {(q, s): p for s in ("1792x1024", "1024x1792") for q, p in (("standard", 0.080), ("hd", 0.120))},
        retired="2026-05-12",
    ),
    "gpt-image-1": ModelSpec(
        32000,
        (*GPT_SIZES, "auto"),
        ("auto", "low", "medium", "high"),
        10,
        legacy=False,
        per_image=_gpt_prices((0.011, 0.042, 0.167), (0.016, 0.063, 0.25)),
        tokens=(5.0, 10.0, 40.0),
        retired="2026-10-23",
    ),
    "gpt-image-1-mini": ModelSpec(
        32000,
        (*GPT_SIZES, "auto"),
        ("auto", "low", "medium", "high"),
        10,
        legacy=False,
        per_image=_gpt_prices((0.005, 0.011, 0.036), (0.006, 0.015, 0.052)),
        tokens=(2.0, 2.5, 8.0),
    ),
    "gpt-image-1.5": ModelSpec(
        32000,
        (*GPT_SIZES, "auto"),
        ("auto", "low", "medium", "high"),
        10,
        legacy=False,
        per_image=_gpt_prices((0.009, 0.034, 0.133), (0.013, 0.050, 0.200)),
        tokens=(5.0, 8.0, 32.0),
    ),
    "gpt-image-2": ModelSpec(
        32000,
        (*GPT_SIZES, "auto"),
        ("auto", "low", "medium", "high"),
        10,
        legacy=False,
        per_image=_gpt_prices((0.006, 0.053, 0.211), (0.005, 0.041, 0.165)),
        tokens=(5.0, 8.0, 30.0),
        any_size=True,
    ),
}
ModelName = Literal[  # the keys of MODELS, spelled out for the agent's schema
    "dall-e-2", "dall-e-3", "gpt-image-1", "gpt-image-1-mini", "gpt-image-1.5", "gpt-image-2"
]

assert set(get_args(ModelName)) == set(MODELS)


def estimate_cost(spec: ModelSpec, quality: str, size: str, usage, count: int) -> dict:
    """Approximate USD for one response: from its token usage when reported, else the per-image table.

    `usage` is the response's `usage` (GPT Image models) or None; `quality` and `size` are what the
    response says it made, or what was asked for.
    """
    if usage and spec.tokens:
        text_in, image_in, image_out = spec.tokens
        tokens = {
            "text_in": usage.input_tokens_details.text_tokens,
            "image_in": usage.input_tokens_details.image_tokens,
            "out": usage.output_tokens,  # image tokens, plus any text the model wrote
        }
        usd = (tokens["text_in"] * text_in + tokens["image_in"] * image_in + tokens["out"] * image_out) / 1e6
        return {
            "usd": round(usd, 5),
            "method": "the token usage the API reported",
            "tokens": tokens,
            "usd_per_million_tokens": {"text_in": text_in, "image_in": image_in, "out": image_out},
            "prices_as_of": PRICES_AS_OF,
        }
    price = spec.per_image.get((quality, size))
    if price is None:
        return {"usd": None, "method": f"no usage reported and no table price for {quality} {size}"}
    return {
        "usd": round(price * count, 5),
        "method": "the per-image price table",
        "usd_per_image": price,
        "images": count,
        "priced_as": {"quality": quality, "size": size},
        "prices_as_of": PRICES_AS_OF,
    }

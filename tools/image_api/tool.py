"""image_api: send a prompt to OpenAI's image API (GPT Image, formerly DALL-E) and trace what is visible.

A hosted model is a black box: the trace records only what a client can observe, all measured from
the run — the request sent (never the key), the latency and the server's own processing time, the
prompt as the service rewrote it (DALL-E 3), the decoded image(s), and an approximate price from the
token usage the API reports or, failing that, a dated per-image price table. API failures become
ToolErrors that tell the learner what to do. Left out: streaming partial images, edits and
variations. Model limits and prices live in tools.image_api.models.py.

The API has no seed parameter, so the same request can return a different image each time.
"""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import openai
import PIL
from PIL import Image, ImageStat
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from tools.base import RunContext, Tool, ToolError
from tools.image_api.models import DEFAULT_MODEL, MODELS, ModelName, ModelSpec, estimate_cost
from tools.markup import plain
from tools.openai_errors import endpoint, explain_openai_error, no_key
from tools.trace import Artifact, Clock, PipelineTrace, Stage, TensorInfo
from tools.views import markdown, picture, stage_table

DEFAULT_TIMEOUT_S = 120.0  # GPT Image at high quality can take a minute or more


class ImageAPIArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")  # an ignored option would pretend to do something

    prompt: str = Field(
        min_length=1,
        max_length=32000,
        description="What the image should show (dall-e-2: up to 1000 characters, dall-e-3: 4000, "
        "GPT Image models: 32000).",
    )
    model: ModelName = Field(
        default_factory=lambda: os.environ.get("TUTOR_IMAGE_MODEL") or DEFAULT_MODEL,
        validate_default=True,
        description="The hosted model. OpenAI retired dall-e-2 and dall-e-3 on 2026-05-12 and gpt-image-1 "
        "on 2026-10-23; they only work on compatible servers that still host them.",
    )
    size: str | None = Field(
        None,
        description="Default 1024x1024. dall-e-2: 256x256, 512x512, 1024x1024; dall-e-3: 1024x1024, "
        "1792x1024, 1024x1792; GPT Image: 1024x1024, 1536x1024, 1024x1536, auto (gpt-image-2 also any "
        "WIDTHxHEIGHT in multiples of 16 up to 3840x2160).",
    )
    quality: str | None = Field(
        None,
        description="Default: the model's own. dall-e-2: standard; dall-e-3: standard, hd; "
        "GPT Image: auto, low, medium, high.",
    )
    n: int = Field(1, ge=1, le=10, description="How many images (dall-e-3 makes only one).")

    @model_validator(mode="before")
    @classmethod
    def _no_seed(cls, data):
        if isinstance(data, dict) and "seed" in data:
            raise PydanticCustomError(
                "no_seed",
                "the image API takes no seed (the same request can give another image); leave it out",
            )
        return data

    @model_validator(mode="after")
    def _within_model_limits(self) -> ImageAPIArgs:
        spec, problems = MODELS[self.model], []
        if len(self.prompt) > spec.max_prompt:
            problems.append(f"the prompt has {len(self.prompt)} characters, at most {spec.max_prompt}")
        self.size = self.size or "1024x1024"
        if why := spec.size_problem(self.size):
            problems.append(f"size {self.size!r} does not work: {why}")
        self.quality = self.quality or spec.qualities[0]
        if self.quality not in spec.qualities:
            problems.append(
                f"quality {self.quality!r} does not exist; choose one of {', '.join(spec.qualities)}"
            )
        if self.n > spec.max_n:
            problems.append(f"n={self.n} is too many: it makes at most {spec.max_n} per request")
        if problems:
            raise PydanticCustomError(
                "model_limits", "{model}: {problems}", {"model": self.model, "problems": "; ".join(problems)}
            )
        return self


class ImageAPITool(Tool):
    name = "image_api"
    command = "dalle"
    concepts = dict.fromkeys(("request", "api_call", "cost", "image"), "dall-e-api")
    description = (
        "Send the prompt to OpenAI's image API (DALL-E / GPT Image) and show what comes back. It is a "
        "black box: only the request, the latency, the revised prompt, the price and the image can be "
        "observed. Needs OPENAI_API_KEY."
    )
    Args = ImageAPIArgs
    heavy = False  # the work happens at the provider; here it only waits
    examples = [
        "ask DALL-E to draw a cat on a skateboard",
        "generate an image with OpenAI's image API",
        "use gpt-image to make a picture of a lighthouse",
        "what does the OpenAI API draw for my prompt?",
        "try my prompt on the hosted DALL-E model",
        "compare with a commercial image API",
        "send this prompt to the OpenAI images endpoint",
    ]

    def run(self, args: ImageAPIArgs, ctx: RunContext) -> PipelineTrace:
        key = self.settings.openai_api_key
        if not key:
            raise ToolError(no_key("The image API", "The local image demo needs no key."))
        spec, timeout = MODELS[args.model], _timeout_s()
        where, base_url = endpoint(self.settings.openai_base_url), self.settings.openai_base_url
        clock = Clock()
        request = _request(args, spec, where, timeout, clock)
        ctx.progress(f"waiting for {args.model} to draw (a black box: nothing to see until it answers)")
        with openai.OpenAI(api_key=key, base_url=base_url, timeout=timeout, max_retries=0) as client:
            raw, response, call = _call(client, request.data["body"], args, spec, where, timeout, key, clock)
        ctx.progress("decoding the image")
        with clock.stage() as t:
            images = [_save(item, i, ctx.folder, timeout) for i, item in enumerate(response.data)]
        revised = call.data["revised_prompts"]
        cost = _cost(spec, response, args, len(images), clock)
        stages = [request, call, _image_stage(images, revised, args.prompt, t.ms), cost]
        return PipelineTrace(
            tool=self.name,
            title=f"What the {args.model} API let us see",
            prompt=args.prompt,
            device="api",
            seed=0,  # not used: the image API takes no seed (see config and the request stage)
            config=args.model_dump() | {"seed_supported": False, "timeout_s": timeout},
            versions={"openai": openai.__version__, "pillow": PIL.__version__, "httpx": httpx.__version__},
            stages=stages,
            output={"image": images[0]["path"], "images": [img["path"] for img in images]},
            key_insight=_insight(args, call.data, images, revised, cost.data),
            total_ms=clock.total_ms(),
        )

    def views(self, trace, folder):
        shown = trace.stage("image").artifacts
        return [
            markdown("stage table", lambda: stage_table(trace)),
            *[
                picture(f"image {i + 1}", lambda a=a: a.path, a.caption and plain(a.caption))
                for i, a in enumerate(shown)
            ],
        ]

    def observed(self, trace):
        revised = trace.stage("api_call").data.get("revised_prompts") or []
        usd = trace.stage("cost").data.get("usd")
        return {
            **super().observed(trace),
            "denoising steps seen": "none (hidden inside the service)",
            "revised prompt": plain(revised[0]) if revised else "—",
            "cost": f"≈ ${usd:.3f}" if usd is not None else "unknown",
        }


def _request(args: ImageAPIArgs, spec: ModelSpec, where: str, timeout: float, clock: Clock) -> Stage:
    with clock.stage() as t:
        params = {"model": args.model, "prompt": args.prompt, "n": args.n, "size": args.size}
        params["quality"] = args.quality
        if spec.legacy:  # DALL-E answers with a URL unless asked for base64
            params["response_format"] = "b64_json"
    return Stage(
        name="request",
        note=f"One JSON request to POST {where}/images/generations with {len(params)} parameters; "
        "the API key travels in a header and is not recorded. There is no seed parameter."
        + (f" OpenAI retired {args.model} on {spec.retired}." if spec.retired else ""),
        input=TensorInfo(shape=[len(args.prompt)], dtype="str (characters)", example=args.prompt[:80]),
        duration_ms=t.ms,
        data={
            "endpoint": f"POST {where}/images/generations",
            "body": params,
            "timeout_s": timeout,
            "retries": 0,
            "seed": "not an API parameter: the service picks its own randomness",
        },
    )


def _call(client, params: dict, args: ImageAPIArgs, spec: ModelSpec, where, timeout, key, clock: Clock):
    """The one HTTP call, measured; every failure becomes a ToolError the learner can act on."""
    with clock.stage() as t:
        try:
            raw = client.images.with_raw_response.generate(**params)
            response = raw.parse()
        except openai.OpenAIError as e:
            raise ToolError(_explain(e, args.model, spec, where, timeout, key)) from None
    items = response.data or []
    if not items:
        raise ToolError(f"{where} answered without an image. Try again, or try another model.")
    server_ms = raw.headers.get("openai-processing-ms")
    revised = [item.revised_prompt for item in items if item.revised_prompt]
    form = "a URL" if items[0].url and not items[0].b64_json else "base64"
    server = f"; the server reports {float(server_ms) / 1000:.2f} s of its own work" if server_ms else ""
    stage = Stage(
        name="api_call",
        note=f"{args.model} answered HTTP {raw.status_code} after {t.ms / 1000:.2f} s with {len(items)} "
        f"image(s) as {form}{server}" + ("; it rewrote the prompt before drawing." if revised else "."),
        input=TensorInfo(shape=[1], dtype="HTTP request", example=f"{args.model}, {args.size}"),
        output=TensorInfo(shape=[len(items)], dtype="JSON images", example=(revised or [""])[0][:80]),
        duration_ms=t.ms,
        data={
            "latency_ms": t.ms,
            "http_elapsed_ms": round(raw.elapsed.total_seconds() * 1000, 2),
            "server_processing_ms": float(server_ms) if server_ms else None,
            "http_status": raw.status_code,
            "model": args.model,
            "request_id": raw.request_id,
            "response_bytes": len(raw.content),
            "revised_prompts": revised,
            "reported": {
                k: getattr(response, k)
                for k in ("size", "quality", "output_format", "background")
                if getattr(response, k)
            },
            "usage": response.usage.model_dump() if response.usage else None,
        },
    )
    return raw, response, stage


def _image_stage(images: list[dict], revised: list[str], prompt: str, ms: float) -> Stage:
    first = images[0]
    return Stage(
        name="image",
        note=f"Decoded {len(images)} image(s) of {first['width']}x{first['height']} pixels "
        f"({first['format']}, {first['bytes'] / 1024:.0f} KB) and saved them as PNG.",
        input=TensorInfo(shape=[first["bytes"]], dtype=f"bytes ({first['format']})"),
        output=TensorInfo(
            shape=[len(images), first["height"], first["width"], first["channels"]],
            dtype="uint8",
            example=f"mean RGB {first['mean_rgb']}",
        ),
        duration_ms=ms,
        data={"images": images},
        artifacts=[
            Artifact(
                kind="image", path=img["path"], caption=(revised[i] if i < len(revised) else prompt)[:200]
            )
            for i, img in enumerate(images)
        ],
    )


def _cost(spec: ModelSpec, response, args: ImageAPIArgs, count: int, clock: Clock) -> Stage:
    with clock.stage() as t:
        quality, size = response.quality or args.quality, response.size or args.size
        cost = estimate_cost(spec, quality, size, response.usage, count)
    return Stage(
        name="cost",
        note=(
            f"About ${cost['usd']:.4f} for {count} image(s), from {cost['method']}. "
            if cost["usd"] is not None
            else f"No price estimate: {cost['method']}. "
        )
        + "Prices are approximate and dated; check OpenAI's pricing page.",
        duration_ms=t.ms,
        data=cost,
    )


def _save(item, index: int, out_dir: Path, timeout: float) -> dict:
    """Decode one returned image (base64, or downloaded from its URL) and save it as PNG."""
    if item.b64_json:
        data, source = base64.b64decode(item.b64_json), "b64_json"
    elif item.url:
        data, source = _download(item.url, timeout), "url"
    else:
        raise ToolError("The API answered with an empty image entry. Try again.")
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except Exception as e:
        raise ToolError("The API's answer did not decode as an image. Try again.") from e
    path = out_dir / f"image_{index}.png"
    image.save(path, format="PNG")
    mean = [round(c, 1) for c in ImageStat.Stat(image.convert("RGB")).mean]  # per channel
    return {
        "path": str(path),
        "source": source,
        "width": image.width,
        "height": image.height,
        "mode": image.mode,
        "channels": len(image.getbands()),
        "format": image.format or "unknown",
        "bytes": len(data),
        "mean_rgb": mean,
    }


def _timeout_s() -> float:
    raw = os.environ.get("TUTOR_IMAGE_TIMEOUT_S") or str(DEFAULT_TIMEOUT_S)
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if value <= 0:
        raise ToolError(f"TUTOR_IMAGE_TIMEOUT_S must be a number of seconds above 0, not {raw!r}.")
    return value


def _download(url: str, timeout: float) -> bytes:
    """Fetch an image URL the API returned; these are pre-signed, so no key is sent with them."""
    where = urlsplit(url).hostname
    try:
        response = httpx.get(url, timeout=timeout, follow_redirects=True)
        response.raise_for_status()
    except httpx.HTTPStatusError as e:
        raise ToolError(
            f"The image is at a URL on {where}, but downloading it failed ({e.response.status_code}). "
            "Such URLs expire after an hour; run the request again."
        ) from None
    except httpx.HTTPError as e:
        raise ToolError(
            f"Could not download the image from {where} ({type(e).__name__}). Try again."
        ) from None
    return response.content


def _explain(
    exc: openai.OpenAIError, model: str, spec: ModelSpec, where: str, timeout: float, key: str
) -> str:
    """A learner-facing sentence for an API failure: the image API's own cases, then the shared ones."""
    code = getattr(exc, "code", None)
    if code in ("content_policy_violation", "moderation_blocked"):
        return (
            f"OpenAI's safety system refused this prompt (400 {code}), so no image was made. "
            "Rephrase the prompt without the content it objected to and try again."
        )
    if spec.retired and (isinstance(exc, openai.NotFoundError) or code == "model_not_found"):
        return (
            f"{where} no longer serves {model}: OpenAI retired it on {spec.retired}. Choose "
            "gpt-image-1-mini, gpt-image-1.5 or gpt-image-2 (or set TUTOR_IMAGE_MODEL)."
        )
    if isinstance(exc, openai.PermissionDeniedError):
        return (
            f"This key may not use {model} (403). GPT Image models need a verified organisation; "
            "check the account, or choose another model."
        )
    return explain_openai_error(
        exc,
        where,
        what="image requests",
        model=model,
        model_setting="TUTOR_IMAGE_MODEL",
        timeout=timeout,
        timeout_setting="TUTOR_IMAGE_TIMEOUT_S",
        key=key,
    )


def _insight(args: ImageAPIArgs, call: dict, images: list[dict], revised: list[str], cost: dict) -> str:
    seconds = call["latency_ms"] / 1000
    server = call["server_processing_ms"]
    parts = [
        f"The service took {seconds:.2f} s"
        + (f" ({server / 1000:.2f} s of it on OpenAI's side, by its own report)" if server else "")
        + f" to return {len(images)} image(s) of {images[0]['width']}x{images[0]['height']} pixels"
        + (f" for about ${cost['usd']:.4f}." if cost["usd"] is not None else ".")
    ]
    if revised:
        parts.append(
            f"It silently rewrote your {len(args.prompt)}-character prompt into {len(revised[0])} characters "
            "before drawing; the rewrite is the only glimpse of its inner steps."
        )
    parts.append(
        "That is all a black box shows: request, time, price, pixels. How the prompt was encoded, the "
        "intermediate images, the sampling settings and the randomness all stay on the server, and with "
        "no seed the same request can return a different picture. An open pipeline run here shows each "
        "of those stages, measured, and repeats exactly from its seed."
    )
    return " ".join(parts)

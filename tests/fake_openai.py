"""A local stand-in for the OpenAI HTTP API, for tests: the real `openai` SDK talks to it over HTTP.

It answers like the documented API: chat completions (plain JSON or server-sent-event chunks, `n`
choices, `logprobs`), image generations (base64 or a URL it then serves, DALL-E 3's revised prompt,
GPT Image token usage), speech (`/v1/audio/speech`: WAV bytes whose length follows the text and the
speed), and error bodies of the documented shape. Tests script its behaviour through attributes
and read back the requests it received.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image, ImageDraw

ERRORS = {
    401: ("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"),
    404: (
        "The model does not exist or you do not have access to it.",
        "invalid_request_error",
        "model_not_found",
    ),
    429: ("Rate limit reached for requests.", "requests", "rate_limit_exceeded"),
    500: ("The server had an error while processing your request.", "server_error", None),
}

# Image endpoint failures a test can script by name: (status, message, type, code).
IMAGE_ERRORS = {
    "rate_limit": (
        429,
        "Rate limit reached for images per minute. Limit: 5/1min. Please try again in 12s.",
        "requests",
        "rate_limit_exceeded",
    ),
    "insufficient_quota": (
        429,
        "You exceeded your current quota, please check your plan and billing details.",
        "insufficient_quota",
        "insufficient_quota",
    ),
    "content_policy": (  # what DALL-E answers; GPT Image models answer `moderation_blocked`
        400,
        "Your request was rejected as a result of our safety system. Your prompt may contain text "
        "that is not allowed by our safety system.",
        "invalid_request_error",
        "content_policy_violation",
    ),
    "model_not_found": (
        404,
        "The model `{model}` has been deprecated, learn more here: https://platform.openai.com/docs/deprecations",
        "invalid_request_error",
        "model_not_found",
    ),
    "bad_size": (400, "Invalid value: '{size}'. Supported values are: ...", "invalid_request_error", None),
    "server_error": (500, "The server had an error processing your request.", "server_error", None),
}

# Output image tokens per image as GPT Image models report them: quality -> (square, portrait, landscape).
IMAGE_TOKENS = {"low": (272, 408, 400), "medium": (1056, 1584, 1568), "high": (4160, 6240, 6208)}


class FakeOpenAI:
    """`with FakeOpenAI() as api:` serves on 127.0.0.1 at `api.base_url` until the block ends."""

    def __init__(self, api_key: str = "sk-test-key"):
        self.api_key = api_key
        self.reply = "A scripted answer [1]."
        # Answers to give in order before falling back to `reply`: a string, or
        # {"tool_calls": [(name, arguments_json_text), ...]} for a turn that calls tools.
        self.script: list = []
        self.fail_with: int | None = None  # HTTP status to answer every request with
        self.image_error: str | None = None  # a key of IMAGE_ERRORS for /v1/images/generations
        self.image_delay_s = 0.0  # wait this long before answering an image request
        self.image_format: str | None = None  # "url" or "b64_json" whatever was asked; None: as asked
        self.files: dict[str, bytes] = {}  # images served at GET /files/<name>
        self.requests: list[dict] = []
        self._closing = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(  # a short poll interval makes the block end quickly
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._closing.set()  # wakes a handler that is holding back a slow answer
        self._server.shutdown()
        self._server.server_close()

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def _json(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _error(self, status: int) -> None:
                message, kind, code = ERRORS[status]
                self._json(status, {"error": {"message": message, "type": kind, "param": None, "code": code}})

            def do_GET(self):  # the image URLs that image generations hand out
                fake.requests.append(
                    {
                        "method": "GET",
                        "path": self.path,
                        "body": None,
                        "auth": self.headers.get("Authorization"),
                    }
                )
                data = fake.files.get(self.path.removeprefix("/files/"))
                if data is None:
                    return self._json(
                        404, {"error": {"message": "No such file", "type": "invalid_request_error"}}
                    )
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                fake.requests.append(
                    {
                        "method": "POST",
                        "path": self.path,
                        "body": body,
                        "auth": self.headers.get("Authorization"),
                    }
                )
                if self.headers.get("Authorization") != f"Bearer {fake.api_key}":
                    return self._error(401)
                if fake.fail_with:
                    return self._error(fake.fail_with)
                if self.path.rstrip("/") == "/v1/images/generations":
                    return self._images(body)
                if self.path.rstrip("/") == "/v1/audio/speech":
                    return self._speech(body)
                if self.path.rstrip("/") != "/v1/chat/completions":
                    return self._json(
                        404, {"error": {"message": "Unknown path", "type": "invalid_request_error"}}
                    )
                if body.get("stream"):
                    return self._stream(body)
                self._json(200, fake.completion(body))

            def _stream(self, body: dict) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for chunk in fake.chunks(body):
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                self.wfile.write(b"data: [DONE]\n\n")

            def _speech(self, body: dict) -> None:
                if body.get("model") not in SPEECH_MODELS:
                    return self._error(404)
                if body.get("instructions") and body["model"].startswith("tts-1"):
                    message = "instructions are not supported with this model"
                    error = {"message": message, "type": "invalid_request_error", "param": "instructions"}
                    return self._json(400, {"error": {**error, "code": None}})
                audio = _wav(body["input"], float(body.get("speed") or 1.0))
                self.send_response(200)
                self.send_header("Content-Type", "audio/wav")
                self.send_header("Content-Length", str(len(audio)))
                self.end_headers()
                self.wfile.write(audio)

            def _images(self, body: dict) -> None:
                if fake.image_delay_s and fake._closing.wait(fake.image_delay_s):
                    return  # the server is stopping; the client gave up long ago
                try:
                    if fake.image_error:
                        status, message, kind, code = IMAGE_ERRORS[fake.image_error]
                        if code == "content_policy_violation" and body.get("model", "").startswith(
                            "gpt-image"
                        ):
                            kind, code = "image_generation_user_error", "moderation_blocked"
                            message = "Your request was rejected by the safety system."
                        message = message.format(model=body.get("model"), size=body.get("size"))
                        error = {"message": message, "type": kind, "param": None, "code": code}
                        return self._json(status, {"error": error})
                    host, port = self.server.server_address[:2]
                    self._json(200, fake.image_generation(body, f"http://{host}:{port}/files/"))
                except (BrokenPipeError, ConnectionResetError):  # the client timed out meanwhile
                    pass

        return Handler

    def image_generation(self, body: dict, files_url: str) -> dict:
        """An images response as the documented API gives it, with real PNGs of the requested size."""
        model = body.get("model", "dall-e-2")
        size = body.get("size") or "1024x1024"
        width, height = (1024, 1024) if size == "auto" else map(int, size.split("x"))
        gpt = model.startswith("gpt-image")
        as_url = (self.image_format or ("b64_json" if gpt else body.get("response_format", "url"))) == "url"
        data = []
        for i in range(body.get("n") or 1):
            png = _png(f"{body['prompt']}#{i}", width, height)
            if as_url:
                name = f"img-{len(self.files)}.png"
                self.files[name] = png
                item = {"url": files_url + name}
            else:
                item = {"b64_json": base64.b64encode(png).decode()}
            if model == "dall-e-3":
                item["revised_prompt"] = f"A detailed digital illustration of {body['prompt']}, soft light."
            data.append(item)
        answer = {"created": int(time.time()), "data": data}
        if gpt:
            quality = body.get("quality") if body.get("quality") in IMAGE_TOKENS else "medium"
            shape = 0 if width == height else 1 if height > width else 2
            out = IMAGE_TOKENS[quality][shape] * len(data)
            text = max(1, len(body["prompt"]) // 4)
            answer |= {
                "background": "opaque",
                "output_format": "png",
                "quality": quality,
                "size": f"{width}x{height}",
                "usage": {
                    "input_tokens": text,
                    "input_tokens_details": {"text_tokens": text, "image_tokens": 0},
                    "output_tokens": out,
                    "output_tokens_details": {"image_tokens": out, "text_tokens": 0},
                    "total_tokens": text + out,
                },
            }
        return answer

    def _next(self):
        return self.script.pop(0) if self.script else self.reply

    def completion(self, body: dict) -> dict:
        """`n` choices (the next scripted answers), with per-token log-probabilities when asked."""
        choices = []
        for i in range(body.get("n") or 1):
            content = self._next()
            logprobs = {"content": _logprobs(content), "refusal": None} if body.get("logprobs") else None
            choices.append({
                "index": i,
                "message": {"role": "assistant", "content": content, "refusal": None},
                "finish_reason": "stop",
                "logprobs": logprobs,
            })  # fmt: skip
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake"),
            "choices": choices,
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        }

    def chunks(self, body: dict):
        answer = self._next()
        base = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model", "fake"),
        }
        if isinstance(answer, dict):  # a tool-calling turn, streamed as the API does it
            for i, (name, arguments) in enumerate(answer["tool_calls"]):
                call = {
                    "index": i,
                    "id": f"call_{i}",
                    "type": "function",
                    "function": {"name": name, "arguments": arguments},
                }
                delta = {"role": "assistant", "content": None, "tool_calls": [call]}
                yield {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
            yield {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}
            return
        for i, word in enumerate(answer.split(" ")):
            delta = {"content": word if i == 0 else " " + word}
            if i == 0:
                delta["role"] = "assistant"
            yield {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
        yield {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}


SPEECH_MODELS = {"tts-1", "tts-1-hd", "gpt-4o-mini-tts", "gpt-4o-mini-tts-2025-12-15"}


def _wav(text: str, speed: float, rate: int = 24000) -> bytes:
    """A 16-bit mono WAV as the speech endpoint returns: a wobbling tone, 60 ms a character at speed 1."""
    import wave

    import numpy as np

    seconds = max(0.3, 0.06 * len(text) / speed)
    t = np.arange(int(seconds * rate)) / rate
    pitch = 180 + 40 * np.sin(2 * np.pi * 2 * t)  # a voice-like wobble
    samples = (0.3 * np.sin(2 * np.pi * pitch * t) * 32767).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes(samples.tobytes())
    return out.getvalue()


def _logprobs(text: str) -> list[dict]:
    """The text cut into word-sized tokens as the API lists them; a long token is a less sure one."""
    tokens = re.findall(r"\s*\S+|\s+", text)
    return [
        {"token": t, "logprob": -0.3 * len(t.strip()) / 4, "bytes": list(t.encode()), "top_logprobs": []}
        for t in tokens
    ]


def _png(seed_text: str, width: int, height: int) -> bytes:
    """A real PNG: a flat colour picked from the text, with a lighter square in the middle."""
    r, g, b = hashlib.sha256(seed_text.encode()).digest()[:3]
    image = Image.new("RGB", (width, height), (r, g, b))
    ImageDraw.Draw(image).rectangle(
        (width // 4, height // 4, 3 * width // 4, 3 * height // 4), fill=(255 - r, 255 - g, 255 - b)
    )
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()

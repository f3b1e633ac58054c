"""A local stand-in for the OpenAI HTTP API, for tests: the real `openai` SDK talks to it over HTTP.

It answers like the documented API: chat completions (plain JSON or server-sent-event chunks),
and error bodies of the documented shape. Tests script its behaviour through attributes and
read back the requests it received.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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


class FakeOpenAI:
    """`with FakeOpenAI() as api:` serves on 127.0.0.1 at `api.base_url` until the block ends."""

    def __init__(self, api_key: str = "sk-test-key"):
        self.api_key = api_key
        self.reply = "A scripted answer [1]."
        # Answers to give in order before falling back to `reply`: a string, or
        # {"tool_calls": [(name, arguments_json_text), ...]} for a turn that calls tools.
        self.script: list = []
        self.fail_with: int | None = None  # HTTP status to answer every request with
        self.requests: list[dict] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
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

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                fake.requests.append(
                    {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
                )
                if self.headers.get("Authorization") != f"Bearer {fake.api_key}":
                    return self._error(401)
                if fake.fail_with:
                    return self._error(fake.fail_with)
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

        return Handler

    def _next(self):
        return self.script.pop(0) if self.script else self.reply

    def completion(self, body: dict) -> dict:
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": self._next(), "refusal": None},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
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

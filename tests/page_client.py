"""A bare HTTP client for the page's own event endpoints, as any program on the network could call
them (Gradio's queue: POST /gradio_api/queue/join with an fn_index, then the event stream). Used to
show that nothing a client sends gets it someone else's data, and to load a real server."""

from __future__ import annotations

import json
import uuid

import httpx


class PageClient:
    def __init__(self, base_url: str, token: str | None = None, timeout: float = 120.0):
        self.base = base_url.rstrip("/")
        self.http = httpx.Client(timeout=timeout)
        self.session = uuid.uuid4().hex  # Gradio's page session
        self.token = uuid.uuid4().hex if token is None else token  # what the browser keeps locally
        config = self.http.get(f"{self.base}/config").raise_for_status().json()
        by_elem = {c["props"].get("elem_id"): c["id"] for c in config["components"] if "props" in c}
        self.fns = {}  # (elem_id, event) -> fn_index, for the page's own events
        for dep in config["dependencies"]:
            for target, event in dep.get("targets", []):
                for elem, cid in by_elem.items():
                    if cid == target and elem:
                        self.fns.setdefault((elem, event), dep["id"])
        self.ids = by_elem

    def call(self, elem: str, event: str, data: list, event_data=None, on_message=None) -> str:
        """Run one event to completion; the raw event stream's text (its messages, one per line).
        `on_message`, if given, sees each decoded message as it arrives."""
        body = {
            "data": data,
            "fn_index": self.fns[(elem, event)],
            "session_hash": self.session,
            "event_data": event_data,
            "trigger_id": self.ids[elem],
        }
        self.http.post(f"{self.base}/gradio_api/queue/join", json=body).raise_for_status()
        lines = []
        with self.http.stream(
            "GET", f"{self.base}/gradio_api/queue/data", params={"session_hash": self.session}
        ) as r:
            for line in r.iter_lines():
                if line.startswith("data:"):
                    lines.append(line[5:].strip())
                    message = json.loads(lines[-1])
                    if on_message is not None:
                        on_message(message)
                    if message.get("msg") == "process_completed":
                        break
        return "\n".join(lines)

    def say(self, name: str, message: str, on_message=None) -> str:
        """A chat message, exactly as the page sends it: text box, chat, name, state, browser id, and
        the *Guide me* switch (off)."""
        return self.call("message", "submit", [message, [], name, None, self.token, False], None, on_message)

    def progress(self, name: str, token: str | None = "mine") -> str:
        return self.call("learner", "submit", [name, self.token if token == "mine" else token])

    def close(self) -> None:
        self.http.close()


def completed(stream: str) -> dict:
    """The final message of an event stream."""
    return json.loads(stream.splitlines()[-1])

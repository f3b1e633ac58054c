"""Composition root: settings -> tutor -> Gradio page. `build_app` builds without launching."""

from __future__ import annotations

import functools
import os

import gradio as gr

from tutor.chat import Tutor, build_tutor
from tutor.settings import Settings
from tutor.ui import EXAMPLES, respond

INTRO = (
    "# genai-tutor\n"
    "Ask how generative AI works. Answers come from the tutor's own lessons, "
    "and every answer lists the lesson sections it used."
)


def build_app(settings: Settings | None = None, tutor: Tutor | None = None) -> gr.Blocks:
    settings = settings or Settings.from_env()
    tutor = tutor or build_tutor(settings)
    with gr.Blocks(title="genai-tutor", analytics_enabled=False) as demo:
        gr.Markdown(INTRO)
        gr.Markdown(
            f"Model: **{settings.describe_backend()}** · device: **{settings.torch_device()}**",
            elem_id="backend-info",
        )
        chat = gr.Chatbot(label="Tutor", height=560, elem_id="chat", buttons=["copy"])
        with gr.Row():
            box = gr.Textbox(
                placeholder="Ask about tokens, transformers, diffusion, GANs, DALL-E…",
                show_label=False,
                scale=8,
                elem_id="message",
                autofocus=True,
            )
            send = gr.Button("Send", variant="primary", scale=1, elem_id="send")
        gr.Examples(EXAMPLES, inputs=box, label="Try asking")
        clear = gr.Button("Clear chat", elem_id="clear")

        turn = functools.partial(respond, tutor)
        box.submit(turn, [box, chat], [box, chat], api_name="chat")
        send.click(turn, [box, chat], [box, chat], api_name=False)
        clear.click(lambda: ("", []), None, [box, chat], api_name=False)
    return demo


def main(settings: Settings | None = None, host: str = "127.0.0.1", port: int = 7860) -> None:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    settings = settings or Settings.from_env()
    tutor = build_tutor(settings)
    print("genai-tutor: syncing lessons…", tutor.store.ingest(), flush=True)
    tutor.store.embedder.warm()
    warm = getattr(tutor.chat_model, "warm", None)
    if warm:  # load the embedded model now, not on the first question
        warm()
    build_app(settings, tutor).queue(default_concurrency_limit=4).launch(server_name=host, server_port=port)


if __name__ == "__main__":
    from tutor.cli import main as cli_main

    raise SystemExit(cli_main(["serve"]))

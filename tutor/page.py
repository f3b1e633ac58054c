"""The Gradio page: settings -> tutor -> page. `build_app` builds without launching; `main` serves."""

from __future__ import annotations

import functools
import os
import uuid
from pathlib import Path

import gradio as gr

from tutor import explore
from tutor.chat import Tutor, build_tutor
from tutor.conversation import Conversation
from tutor.runner import SessionRuns
from tutor.settings import Settings
from tutor.ui import (
    EXAMPLES,
    choose_option,
    export_progress,
    map_view,
    no_progress,
    progress_view,
    reset_progress,
    respond,
)

INTRO = (
    "# genai-tutor\n"
    "Ask how generative AI works, watch real models run (`/demo text ...`), or type **quiz me**. "
    "Answers come from the tutor's own lessons and list the sections they used."
)


def build_app(settings: Settings | None = None, tutor: Tutor | None = None) -> gr.Blocks:
    settings = settings or Settings.from_env()
    tutor = tutor or build_tutor(settings)
    # Gradio keeps copies of what it shows (and uploads) in its own cache: inside the artifacts folder,
    # so the page serves one folder, bounded by the same retention.
    os.environ["GRADIO_TEMP_DIR"] = str(settings.artifacts_dir / "gradio")
    with gr.Blocks(title="genai-tutor", analytics_enabled=False) as demo:
        gr.Markdown(INTRO)
        gr.Markdown(
            f"Model: **{tutor.backend.description}** · device: **{settings.torch_device()}**",
            elem_id="backend-info",
        )
        tour = _tour()
        page = _chat_layout()
        page.update(_progress_layout())
        # The browser's own random id, kept in its local storage: with the name it identifies the learner,
        # so typing someone else's name in another browser never shows their progress.
        page["browser"] = gr.BrowserState(None, storage_key="genai-tutor-learner")
        demo.load(lambda token: token or uuid.uuid4().hex, page["browser"], page["browser"], api_name=False)
        toured = gr.BrowserState(False, storage_key="genai-tutor-toured")
        demo.load(lambda seen: gr.update(open=not seen), toured, tour["box"], api_name=False)
        tour["done"].click(lambda: (True, gr.update(open=False)), None, [toured, tour["box"]], api_name=False)
        _wire_chat(demo, tutor, page)
        _wire_explorer(tutor, page)
        _wire_progress(tutor, page)
    return demo


TOUR = [
    (
        "1. Ask",
        "Type a question in the box under the chat, for example *What does temperature do?* Under each "
        "answer: **Simpler**, **An example**, **Deeper**, **Quiz me on this** and, when a live demo fits, "
        "**Show me (demo)**. Tick **Guide me** under the box and I ask you a question before I explain.",
    ),
    (
        "2. Watch a model",
        "Type `/demo text The capital of France is` (or click **Show me (demo)**): a real model runs and "
        "every step is drawn, each picture with a line saying what to look at. Then ask about the run: "
        "*why did it pick that word?*",
    ),
    (
        "3. Change one thing",
        "The explorer beside the chat (below it on a phone) runs your last demo again with one setting "
        "changed (temperature, guidance, seed...) and shows both runs side by side; under it, look inside "
        "the run (any layer's and head's attention). **Predict, then reveal** asks you first.",
    ),
    (
        "4. Keep your progress",
        "Type your name at the top, then *quiz me*. Your mastery per concept and your concept map are at "
        "the bottom of the page; reviews come back when they are due.",
    ),
]


def _tour() -> dict:
    """A four-step tour of the page, open on a first visit (the browser remembers it was taken)."""
    with (
        gr.Accordion("👋 First time here? A one-minute tour", open=False, elem_id="tour") as box,
        gr.Walkthrough(selected=0, elem_id="tour-steps") as steps,
    ):
        for i, (title, text) in enumerate(TOUR):
            with gr.Step(title, id=i):
                gr.Markdown(text)
                last = i == len(TOUR) - 1
                button = gr.Button("Start" if last else "Next", size="sm", elem_id=f"tour-next-{i}")
                if not last:
                    button.click(lambda n=i + 1: gr.Walkthrough(selected=n), None, steps, api_name=False)
    return {"box": box, "done": button}


def _chat_layout() -> dict:
    name = gr.Textbox(
        label="Name (keeps your quiz progress; no password)", max_lines=1, elem_id="learner", scale=1
    )
    session = gr.State(None)  # the page session's Conversation (dialogue and quiz), made on its first turn
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=360):
            chat = gr.Chatbot(label="Tutor", height=620, elem_id="chat", buttons=["copy"])
            with gr.Row():
                box = gr.Textbox(
                    placeholder="Ask about tokens, transformers, diffusion, GANs, DALL-E… or type: quiz me",
                    show_label=False,
                    scale=8,
                    elem_id="message",
                    autofocus=True,
                )
                send = gr.Button("Send", variant="primary", scale=1, min_width=80, elem_id="send")
            with gr.Row():
                guided = gr.Checkbox(
                    label="Guide me: ask me a question before explaining",
                    value=False,
                    elem_id="guide-me",
                    scale=3,
                )
                stop = gr.Button("Stop training", variant="stop", scale=1, elem_id="stop")
                clear = gr.Button("Clear chat", elem_id="clear", scale=1)
            gr.Examples(EXAMPLES, inputs=box, label="Try asking")
        with gr.Column(scale=2, min_width=340, elem_id="side"):
            explorer = _explorer_layout()
    return {
        "name": name,
        "session": session,
        "chat": chat,
        "box": box,
        "send": send,
        "stop": stop,
        "clear": clear,
        "guided": guided,
        **explorer,
    }


def _explorer_layout() -> dict:
    """Beside the chat: change one setting of the last demo and re-run (the two runs are shown side by
    side in the chat), scrub through its pictures, and look inside it (e.g. any layer's and head's
    attention)."""
    with gr.Accordion("🔁 Change one setting of your last demo, and compare", open=True, elem_id="explorer"):
        info = gr.Markdown(explore.NO_RUN, elem_id="explorer-info")
        with gr.Row():
            knob = gr.Dropdown(choices=[], label="Setting", elem_id="knob", interactive=True, scale=2)
            value = gr.Textbox(label="New value", max_lines=1, elem_id="knob-value", scale=2)
            rerun = gr.Button("Re-run and compare", elem_id="rerun", scale=1)
        scrub = gr.Slider(
            1, 2, value=1, step=1, label="Scrub through the run", visible=False, elem_id="scrub"
        )
        frame = gr.Image(type="filepath", interactive=False, visible=False, elem_id="frame", height=280)
    with gr.Accordion("🔍 Look inside the last run", open=True, visible=False, elem_id="inside") as inside:
        with gr.Row():
            pick_a = gr.Dropdown(choices=[], label="Layer", elem_id="inside-a", interactive=True)
            pick_b = gr.Dropdown(choices=[], label="Head", elem_id="inside-b", interactive=True)
        plot = gr.Plot(show_label=False, elem_id="inside-plot")
        caption = gr.Markdown(elem_id="inside-caption")
    return {
        "explorer_info": info,
        "knob": knob,
        "knob_value": value,
        "rerun": rerun,
        "scrub": scrub,
        "frame": frame,
        "inside": inside,
        "pick_a": pick_a,
        "pick_b": pick_b,
        "plot": plot,
        "caption": caption,
    }


def _progress_layout() -> dict:
    with gr.Accordion("📈 Your progress", open=True, elem_id="progress"):
        mastery = gr.BarPlot(
            no_progress(),
            x="concept",
            y="mastery",
            y_lim=[0, 100],
            x_label_angle=-30,
            y_title="mastery (%)",
            label="Mastery per concept",
            elem_id="mastery-chart",
        )
        summary = gr.Markdown("Type your name and **quiz me** to start.", elem_id="progress-summary")
        concept_map = gr.Image(
            label="Your concept map",
            show_label=False,  # the picture's own title says how to read it
            type="filepath",
            interactive=False,
            elem_id="concept-map",
            buttons=["fullscreen"],
        )
        with gr.Row():
            refresh = gr.Button("Refresh", size="sm", elem_id="refresh")
            export = gr.Button("Export my progress", size="sm", elem_id="export")
            sure = gr.Checkbox(label="Yes, erase my progress", value=False, elem_id="reset-sure")
            reset = gr.Button("Reset my progress", size="sm", variant="stop", elem_id="reset")
        exported = gr.File(label="Your progress (JSON)", interactive=False, elem_id="export-file")
    return {
        "mastery": mastery,
        "summary": summary,
        "map": concept_map,
        "refresh": refresh,
        "export": export,
        "sure": sure,
        "reset": reset,
        "exported": exported,
    }


def _wire_chat(demo: gr.Blocks, tutor: Tutor, page: dict) -> None:
    """Messages, quiz choices and the Stop button; each page session runs one demo at a time."""
    runs: dict[str, SessionRuns] = {}  # per page session: its one demo at a time and its Stop button
    chat, box, session, browser, name = (page[k] for k in ("chat", "box", "session", "browser", "name"))

    def mine(
        request: gr.Request, guided: bool, conv: Conversation | None
    ) -> tuple[SessionRuns, Conversation]:
        session_runs = runs.setdefault(request.session_hash or "", SessionRuns())
        session_runs.new_turn()
        conv = conv if conv is not None else Conversation()
        conv.guide_mode = bool(guided)
        return session_runs, conv

    def turn(message, messages, learner, conv: Conversation | None, token, guided, request: gr.Request):
        session_runs, conv = mine(request, guided, conv)
        yield from respond(tutor, message, messages, learner, conv, session_runs, token)

    def stop_training(request: gr.Request) -> None:
        if request.session_hash in runs:
            runs[request.session_hash].cancel.set()

    def closed(request: gr.Request) -> None:  # the tab is gone: stop its demo, forget its state
        gone = runs.pop(request.session_hash or "", None)
        if gone is not None:
            gone.cancel.set()

    def option(
        messages, learner, conv: Conversation | None, token, guided, evt: gr.SelectData, request: gr.Request
    ):
        session_runs, conv = mine(request, guided, conv)
        yield from choose_option(tutor, messages, learner, conv, token, evt, session_runs)

    def rerun(knob, value, messages, learner, conv: Conversation | None, token, guided, request: gr.Request):
        session_runs, conv = mine(request, guided, conv)
        said = f"Re-run with {knob} = {value}"
        said_turn = respond(
            tutor, f"/rerun {knob} {value}", messages, learner, conv, session_runs, token, said
        )
        for _, shown, state in said_turn:
            yield shown, state

    guided = page["guided"]
    for trigger in (box.submit, page["send"].click):
        done = trigger(
            turn, [box, chat, name, session, browser, guided], [box, chat, session], api_name=False
        )
        _after_turn(done, tutor, page)
    done = chat.option_select(option, [chat, name, session, browser, guided], [chat, session], api_name=False)
    _after_turn(done, tutor, page)
    inputs = [page["knob"], page["knob_value"], chat, name, session, browser, guided]
    done = page["rerun"].click(rerun, inputs, [chat, session], api_name=False)
    _after_turn(done, tutor, page)
    page["clear"].click(lambda: ("", []), None, [box, chat], api_name=False)
    page["stop"].click(stop_training, None, None, api_name=False, queue=False)
    demo.unload(closed)


def _after_turn(done, tutor: Tutor, page: dict) -> None:
    """After a turn: the progress summary, the explorer's settings, what to look inside the last run,
    then the concept map (slowest)."""
    who, session = [page["name"], page["browser"]], page["session"]
    done.then(
        functools.partial(progress_view, tutor), who, [page["mastery"], page["summary"]], api_name=False
    ).then(
        functools.partial(explore.panel, tutor),
        session,
        [page["knob"], page["explorer_info"], page["scrub"], page["frame"]],
        api_name=False,
    ).then(
        functools.partial(explore.inside_panel, tutor),
        session,
        [page[k] for k in ("inside", "pick_a", "pick_b", "plot", "caption")],
        api_name=False,
    ).then(functools.partial(map_view, tutor), who, page["map"], api_name=False)


def _wire_explorer(tutor: Tutor, page: dict) -> None:
    """The explorer's own controls: the layer and head picks redraw the figure; the slider a frame."""
    session = page["session"]
    for pick in ("pick_a", "pick_b"):
        page[pick].input(
            functools.partial(explore.inside_view, tutor),
            [session, page["pick_a"], page["pick_b"]],
            [page["plot"], page["caption"]],
            api_name=False,
        )
    page["scrub"].change(
        functools.partial(explore.frame, tutor), [session, page["scrub"]], page["frame"], api_name=False
    )


def _wire_progress(tutor: Tutor, page: dict) -> None:
    """The progress panel: refresh, export and reset, each for this browser's learner only."""
    who, panel = [page["name"], page["browser"]], [page["mastery"], page["summary"]]
    show_progress = functools.partial(progress_view, tutor)
    show_map = functools.partial(map_view, tutor)
    for trigger in (page["refresh"].click, page["name"].submit):
        trigger(show_progress, who, panel, api_name=False).then(show_map, who, page["map"], api_name=False)
    export = functools.partial(export_progress, tutor)
    page["export"].click(export, who, [page["exported"], page["summary"]], api_name=False)
    page["reset"].click(
        lambda learner, token, yes: reset_progress(tutor, learner, yes, token),
        [*who, page["sure"]],
        page["summary"],
        api_name=False,
    ).then(show_progress, who, panel, api_name=False).then(show_map, who, page["map"], api_name=False)


def main(settings: Settings | None = None, host: str = "127.0.0.1", port: int = 7860) -> None:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    settings = settings or Settings.from_env()
    tutor = build_tutor(settings)
    print("genai-tutor: syncing lessons…", tutor.store.ingest(), flush=True)
    tutor.store.embedder.warm()
    build_app(settings, tutor).queue(default_concurrency_limit=4).launch(
        server_name=host, server_port=port, **launch_options(settings)
    )


def launch_options(settings: Settings) -> dict:
    """`launch` arguments: the artifacts folder is served; everything else in the data directory
    (the learner store, the vector store, the model cache) is blocked. The page takes no uploads, so
    Gradio's upload route is held to a small size."""
    home, artifacts = Path(settings.home).resolve(), settings.artifacts_dir.resolve()
    artifacts.mkdir(parents=True, exist_ok=True)
    private = {
        home / name for name in ("learners.db", "learners.db-wal", "learners.db-shm", "chroma", "models")
    }
    private |= {p for p in home.iterdir() if p != artifacts}
    return {
        "allowed_paths": [str(artifacts)],
        "blocked_paths": sorted(str(p) for p in private),
        "max_file_size": "1mb",
    }

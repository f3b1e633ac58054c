"""`genai-tutor`: serve the page, ingest lessons, search them, ask one question.

With `--json` every command prints exactly one JSON object on stdout (one per line for `search -`);
logs and progress go to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys

from tutor.settings import ConfigError, Settings


def bounded(kind: type, low: float, high: float):
    """An argparse type: a number of `kind` within [low, high], else argparse's one-line error."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            what = "an integer" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is out of range: use {low:g} to {high:g}")
        return value

    return parse


def _tool_parser(tools, name: str, cls) -> None:
    """`genai-tutor demo COMMAND PROMPT` with one flag per field of the tool's Args (values are
    validated by the tool itself, so an out-of-range value gets the demo knobs' message)."""
    import typing

    names = [cls.command, name] if cls.command else [name]
    p = tools.add_parser(names[0], aliases=names[1:], help=cls.description.split(". ")[0])
    p.add_argument("prompt")
    p.add_argument("--out", help="also write the trace (trace.json) and its pictures into this folder")
    p.add_argument("--json", action="store_true", help="print one JSON object, nothing else")
    for field, info in cls.Args.model_fields.items():
        if field == "prompt":
            continue
        kinds = [a for a in typing.get_args(info.annotation) if a is not type(None)] or [info.annotation]
        literal = typing.get_origin(kinds[0]) is typing.Literal
        default = "" if info.default_factory or info.default is None else f" (default {info.default})"
        p.add_argument(
            "--" + field.replace("_", "-"),
            dest=f"tool_{field}",
            choices=typing.get_args(kinds[0]) if literal else None,
            metavar=None if literal else field.upper(),
            help=(info.description or "") + default,
        )


def _parser(tool_classes: dict | None = None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="genai-tutor", description="A tutor that teaches generative AI.")
    sub = p.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the chat page")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=bounded(int, 1, 65535), default=7860)
    server = sub.add_parser(
        "model-server", help="serve the embedded chat model (OpenAI-compatible) for several app processes"
    )
    server.add_argument("--host", default="127.0.0.1")
    server.add_argument("--port", type=bounded(int, 1, 65535), default=8081)
    server.add_argument("--threads", type=bounded(int, 1, 256), default=min(4, os.cpu_count() or 1))
    server.add_argument("--slots", type=bounded(int, 1, 64), default=4, help="requests decoded at once")
    server.add_argument("--context", type=bounded(int, 512, 32768), default=8192, help="tokens per request")
    ingest = sub.add_parser("ingest", help="sync the lessons into the vector store")
    ingest.add_argument("--rebuild", action="store_true", help="drop the store and embed everything again")
    search = sub.add_parser("search", help="search the lessons ('-' reads one query per line from stdin)")
    search.add_argument("query")
    search.add_argument("-k", type=bounded(int, 1, 20), default=3, help="results per query (1-20)")
    ask = sub.add_parser("ask", help="one chat turn through the same agent as the page")
    ask.add_argument("question")
    chat = sub.add_parser(
        "chat", help="one conversation: a learner message per line on stdin, answered in turn"
    )
    chat.add_argument("--learner", default="", help="whose progress guided answers count towards")
    demo = sub.add_parser("demo", help="run one demo tool and print its pipeline trace")
    tools = demo.add_subparsers(dest="tool", required=True, metavar="TOOL")
    for name, cls in sorted((tool_classes or {}).items()):
        _tool_parser(tools, name, cls)
    quiz = sub.add_parser("quiz", help="the adaptive quiz in the terminal (type a letter; 'stop' ends)")
    quiz.add_argument(
        "--learner", default=os.environ.get("USER") or "me", help="whose progress (default: $USER)"
    )
    quiz.add_argument("--topic", default="", help="e.g. diffusion, attention, gans")
    quiz.add_argument(
        "-n", type=bounded(int, 1, 200), default=10, help="questions to ask (1-200, default 10)"
    )
    action = quiz.add_mutually_exclusive_group()
    action.add_argument("--progress", action="store_true", help="print mastery per concept and stop")
    action.add_argument("--export", action="store_true", help="print everything stored about the learner")
    action.add_argument("--reset", action="store_true", help="erase the learner's progress")
    for cmd in (serve, ingest, search, ask, chat, quiz):
        cmd.add_argument("--json", action="store_true", help="print one JSON object, nothing else")
    return p


def _emit(obj: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(obj, ensure_ascii=False), flush=True)
    elif "answer" in obj:
        print(obj["answer"])
        for c in obj["citations"]:
            where = f"{c['title']} — {c['section']}" if c["kind"] == "lesson" else _run_source(c)
            print(f"  [source] {where}")
        for o in obj.get("options", []):
            print(f"  [next] {o['label']}: {o['say']}")
    elif "results" in obj:
        for r in obj["results"]:
            print(f"{r['score']:.3f}  {r['title']} — {r['section']}  ({', '.join(r['concepts'])})")
    else:
        print(" ".join(f"{k}={v}" for k, v in obj.items()))


def _run_source(citation: dict) -> str:
    at = next((f"{k} {citation[k]}" for k in ("step", "layer") if k in citation), "")
    return f"your {citation['tool']} run — {citation['stage']}" + (f", {at}" if at else "")


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    argv = sys.argv[1:] if argv is None else argv
    from tools.registry import discover

    tool_classes = discover() if argv[:1] == ["demo"] else None  # the demo flags come from each tool
    args = _parser(tool_classes).parse_args(argv)
    try:
        return _run(Settings.from_env(), args, tool_classes)
    except ConfigError as e:  # a setting that cannot work, or a store it names that cannot be reached
        print(f"genai-tutor: {e}", file=sys.stderr)
        return 2


def _run(settings: Settings, args, tool_classes) -> int:
    from tutor.chat import open_store

    if args.command == "serve":
        from tutor import page

        page.main(settings, host=args.host, port=args.port)
        return 0
    if args.command == "model-server":
        return _model_server(args, settings.model_key)
    if args.command == "ingest":
        _emit(open_store(settings).ingest(rebuild=args.rebuild), args.json)
        return 0
    if args.command == "search":
        store = open_store(settings)
        if store.count() == 0:
            store.ingest()
        queries = [line.strip() for line in sys.stdin] if args.query == "-" else [args.query]
        queries = [q for q in queries if q]
        for hits in store.search_many(queries, k=args.k) if queries else []:
            _emit({"results": [h.to_dict() for h in hits]}, args.json)
        return 0
    if args.command in ("ask", "chat"):
        from tutor.chat import build_tutor
        from tutor.conversation import Conversation

        tutor = build_tutor(settings)
        tutor.store.ingest()  # nothing to do when the store is current
        if args.command == "ask":
            _emit(tutor.ask(args.question), args.json)
            return 0
        conv = Conversation(learner=args.learner)  # one conversation, as one page session
        for line in sys.stdin:
            if line.strip():
                _emit(tutor.reply(line.rstrip("\n"), conv), args.json)
        return 0
    if args.command == "demo":
        return _demo(settings, args, tool_classes)
    if args.command == "quiz":
        return _quiz(settings, args)
    return 2


def _model_server(args, key: str | None) -> int:
    """The embedded GGUF on llama.cpp's OpenAI-compatible server until stopped (Ctrl-C or SIGTERM); app
    processes use it with TUTOR_MODEL_URL=http://HOST:PORT/v1."""
    import signal

    from tools.embedded_model import gguf_file
    from tutor.llm.local import MODEL_ID, start_server

    server = start_server(
        str(gguf_file()), args.threads, args.host, args.port, args.slots, tools=True, context=args.context,
        key=key,
    )  # fmt: skip
    if key is None and args.host not in ("127.0.0.1", "localhost", "::1"):
        print("genai-tutor: no TUTOR_MODEL_KEY: anyone who can reach this port can use the model", flush=True)
    print(f"genai-tutor: {MODEL_ID} at {server.listening_address}/v1 (TUTOR_MODEL_URL)", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with contextlib.suppress(KeyboardInterrupt):
        signal.pause()
    return 0


def _quiz(settings: Settings, args) -> int:
    """The page's quiz, question by question on stdin/stdout; --progress, --export, --reset manage it."""
    from knowledge.embedder import Embedder
    from tutor.conversation import Conversation
    from tutor.events import Notice, QuizAsk, QuizResult, TextDelta
    from tutor.learner_store import LearnerError
    from tutor.llm import make_backend
    from tutor.quiz import open_engine
    from tutor.quiz_turn import QuizTurns

    engine = open_engine(settings, Embedder(settings.torch_device()), make_backend(settings).grader)
    try:
        if args.progress:
            p = engine.progress(args.learner)
            _emit({"concepts": p.concepts, "due": p.due, "attempts": p.attempts, "correct": p.correct}, True)
            return 0
        if args.export or args.reset:
            learner = engine.store.learner(args.learner, create=False)
            result = engine.store.export(learner) if args.export else {"removed": engine.store.reset(learner)}
            _emit(result, True)
            return 0
    except LearnerError as e:
        print(f"genai-tutor: {e}", file=sys.stderr)
        return 1
    out = sys.stderr if args.json else sys.stdout  # with --json, stdout holds only the result
    turns, session = QuizTurns(engine), Conversation(learner=args.learner)
    events = turns.request(session, f"quiz me {args.topic}".strip())
    for _ in range(args.n + 1):
        asked = None
        for event in events:
            if isinstance(event, QuizAsk):
                asked = event.question
            elif isinstance(event, QuizResult):
                print(event.markdown() + "\n", file=out)
            elif isinstance(event, TextDelta | Notice):
                print(event.text, file=out)
        if asked is None or session.asked >= args.n:
            break
        print(
            asked.markdown().replace("*Click a choice, or type its letter.*", "Your answer (a letter):"),
            file=out,
        )
        events = _answers(turns, session, out)
    if args.json:
        print(json.dumps({"learner": args.learner, "asked": session.asked, "right": session.right}))
    return 0


def _answers(turns, session, out):
    """Events for the next usable line of input; 'stop' or the end of input ends the quiz."""
    from tutor.events import Notice

    while True:
        line = sys.stdin.readline()
        if not line or line.strip().casefold() in ("stop", "quit", "q"):
            session.active = False
            return iter(())
        events = list(turns.answer(session, line.strip()))
        if events and isinstance(events[0], Notice):  # not an answer: say why, ask again
            print(events[0].text, file=out)
            continue
        return iter(events)


def _demo(settings: Settings, args, tool_classes: dict) -> int:
    from pathlib import Path

    from tools.base import RunContext, ToolError
    from tools.registry import Registry

    arguments = {"prompt": args.prompt}
    given = {k.removeprefix("tool_"): v for k, v in vars(args).items() if k.startswith("tool_")}
    arguments.update({k: v for k, v in given.items() if v is not None})
    try:
        registry = Registry(settings, tool_classes)
        tool = registry.get(registry.resolve(args.tool) or args.tool)
        trace = tool(arguments, RunContext(progress=lambda line: print(f"… {line}", file=sys.stderr)))
    except ToolError as e:
        print(f"genai-tutor: {e}", file=sys.stderr)
        return 1
    if args.out:  # the trace, and every image it shows (final image, previews, sample grids)
        import shutil

        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "trace.json").write_text(trace.model_dump_json(indent=2))
        for artifact in [a for stage in trace.stages for a in stage.artifacts]:
            source = Path(artifact.path)
            if source.is_file():
                shutil.copy2(source, out / f"{source.parent.name}-{source.name}")
    if args.json:
        print(trace.model_dump_json())
    else:
        for stage in trace.stages:
            print(f"{stage.name:20} {stage.duration_ms:9.1f} ms  {stage.note}")
        print(f"\n{trace.output}\n\nKey insight: {trace.key_insight}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

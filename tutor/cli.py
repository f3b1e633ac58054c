"""`genai-tutor`: serve the page, ingest lessons, search them, ask one question (DESIGN.md's contract).

With `--json` every command prints exactly one JSON object on stdout (one per line for `search -`);
logs and progress go to stderr.
"""

from __future__ import annotations

import argparse
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


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="genai-tutor", description="A tutor that teaches generative AI.")
    sub = p.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the chat page")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=bounded(int, 1, 65535), default=7860)
    ingest = sub.add_parser("ingest", help="sync the lessons into the vector store")
    ingest.add_argument("--rebuild", action="store_true", help="drop the store and embed everything again")
    search = sub.add_parser("search", help="search the lessons ('-' reads one query per line from stdin)")
    search.add_argument("query")
    search.add_argument("-k", type=bounded(int, 1, 20), default=3, help="results per query (1-20)")
    ask = sub.add_parser("ask", help="one chat turn through the same agent as the page")
    ask.add_argument("question")
    demo = sub.add_parser("demo", help="run one demo tool and print its pipeline trace")
    demo.add_argument("tool", help="text, image, train, dalle, or a tool name")
    demo.add_argument("prompt")
    demo.add_argument("--out", help="also write the trace (trace.json) into this folder")
    demo.add_argument("--max-new-tokens", type=int)
    demo.add_argument("--temperature", type=float)
    demo.add_argument("--top-k", type=int)
    demo.add_argument("--top-p", type=float)
    demo.add_argument("--seed", type=int)
    demo.add_argument(
        "--model", help="a transformers model id or local path; for train: gan, char_gpt, diffusion"
    )
    demo.add_argument("--steps", type=int, help="image: denoising steps")
    demo.add_argument("--guidance-scale", type=float, help="image: classifier-free guidance scale")
    demo.add_argument("--scheduler", help="image: ddim, ddpm, euler or euler_ancestral")
    demo.add_argument("--epochs", type=int, help="train: epochs")
    demo.add_argument("--width", type=int, help="train: model width")
    demo.add_argument("--batch-size", type=int, help="train: batch size")
    demo.add_argument("--learning-rate", type=float, help="train: learning rate")
    demo.add_argument("--time-budget", dest="time_budget_s", type=float, help="train: seconds of training")
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
    for cmd in (serve, ingest, search, ask, demo, quiz):
        cmd.add_argument("--json", action="store_true", help="print one JSON object, nothing else")
    return p


def _emit(obj: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(obj, ensure_ascii=False), flush=True)
    elif "answer" in obj:
        print(obj["answer"])
        for c in obj["citations"]:
            print(f"  [source] {c['title']} — {c['section']}")
    elif "results" in obj:
        for r in obj["results"]:
            print(f"{r['score']:.3f}  {r['title']} — {r['section']}  ({', '.join(r['concepts'])})")
    else:
        print(" ".join(f"{k}={v}" for k, v in obj.items()))


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as e:
        print(f"genai-tutor: {e}", file=sys.stderr)
        return 2

    from tutor.chat import open_store

    if args.command == "serve":
        import app

        app.main(settings, host=args.host, port=args.port)
        return 0
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
    if args.command == "ask":
        from tutor.chat import build_tutor

        tutor = build_tutor(settings)
        if tutor.store.count() == 0:
            tutor.store.ingest()
        _emit(tutor.ask(args.question), args.json)
        return 0
    if args.command == "demo":
        return _demo(settings, args)
    if args.command == "quiz":
        return _quiz(settings, args)
    return 2


def _quiz(settings: Settings, args) -> int:
    """The page's quiz, question by question on stdin/stdout; --progress, --export, --reset manage it."""
    from knowledge.embedder import Embedder
    from tutor.events import Notice, QuizAsk, QuizResult, TextDelta
    from tutor.learner_store import LearnerError
    from tutor.quiz import open_engine
    from tutor.quiz_turn import QuizSession, QuizTurns

    grader = None
    if settings.llm != "local":
        from tutor.llm import make_chat_model

        grader = make_chat_model(settings)
    engine = open_engine(settings, Embedder(settings.torch_device()), grader)
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
    turns, session = QuizTurns(engine), QuizSession(learner=args.learner)
    events = turns.request(session, f"quiz me {args.topic}".strip())
    for _ in range(args.n + 1):
        asked = None
        for event in events:
            if isinstance(event, QuizAsk):
                asked = event.question
            elif isinstance(event, QuizResult):
                print(event.feedback.text + f"\n\n{event.score}\n", file=out)
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


DEMO_OPTIONS = (
    *("max_new_tokens", "temperature", "top_k", "top_p", "seed", "model"),
    *("epochs", "width", "batch_size", "learning_rate", "time_budget_s"),
    *("steps", "guidance_scale", "scheduler"),
)


def _demo(settings: Settings, args) -> int:
    from pathlib import Path

    from tools.base import RunContext, ToolError
    from tools.registry import Registry
    from tutor.router import DEMO_ALIASES

    arguments = {"prompt": args.prompt}
    arguments.update({k: getattr(args, k) for k in DEMO_OPTIONS if getattr(args, k) is not None})
    try:
        tool = Registry(settings).get(DEMO_ALIASES.get(args.tool, args.tool))
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

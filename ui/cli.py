"""The ``advisor-bot`` command line: ingest, ask, serve, eval, feedback export."""

from __future__ import annotations

import gc
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from pydantic import ValidationError

from advisor_bot.config import Settings, enforce_offline
from advisor_bot.errors import AdvisorError

if TYPE_CHECKING:
    from advisor_bot.advisor import Advisor

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Cited advice on outsourcing chemical development.")


def _fail(exc: AdvisorError) -> None:
    typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


def _settings(**overrides: object) -> Settings:
    """Settings from the environment, or exit with what is wrong; values are never echoed
    (one may be a password)."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]  # Settings validates the values itself
    except ValidationError as exc:
        for error in exc.errors():
            name = f"ADVISOR_{str(error['loc'][0]).upper()}" if error["loc"] else "settings"
            message = error["msg"].removeprefix("Value error, ")
            typer.secho(f"error: {message if name in message else f'{name}: {message}'}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=2) from exc


def _advisor(settings: Settings) -> Advisor:
    from advisor_bot.advisor import Advisor  # imported here to keep --help fast

    return Advisor(settings=settings)


@app.command()
def ingest(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Your own documents (.md, .txt, .pdf, .html) or folders, indexed beside the framework; they stay until `forget`."),
    ] = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Build the index afresh (e.g. after it was damaged) and switch to it; with a Chroma server the collections are recreated.")] = False,
) -> None:
    """Index the corpus folder (plus PATHs). Idempotent: only changed sections are re-embedded; a bad PATH file is skipped."""
    enforce_offline()
    settings = _settings()
    try:
        report = _advisor(settings).ingest(paths or [], progress=sys.stderr.isatty(), rebuild=rebuild)
    except AdvisorError as exc:
        _fail(exc)
    for skipped in report.skipped:
        typer.secho(f"skipped: {skipped.reason}", fg=typer.colors.YELLOW, err=True)
    typer.echo(
        f"{len(report.documents)} document(s): {report.added} added, {report.updated} updated, "
        f"{report.removed} removed, {report.unchanged} unchanged "
        f"(corpus {report.corpus_version}, {report.seconds:.2f} s)"
    )


@app.command()
def sources() -> None:
    """List the indexed documents: framework and your own, with their units and versions."""
    enforce_offline()
    try:
        version, found = _advisor(_settings()).index.sources()
    except AdvisorError as exc:
        _fail(exc)
    typer.echo(f"corpus {version}")
    for s in found:
        typer.echo(f"{s.origin:<9}  {s.format:<8}  {s.units:>5} units  {s.version}  {s.document}  ({s.title})")


@app.command()
def forget(document: Annotated[str, typer.Argument(help="A document name as `sources` lists it.")]) -> None:
    """Remove one of your documents from the index."""
    enforce_offline()
    try:
        version = _advisor(_settings()).index.forget(document)
    except AdvisorError as exc:
        _fail(exc)
    typer.echo(f"{document} forgotten (corpus {version})")


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="Your question, in quotes.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the Answer as JSON.")] = False,
    engine: Annotated[
        Literal["offline", "llm"] | None,
        typer.Option(help="Engine that answers (default: ADVISOR_ENGINE, else offline). llm needs ADVISOR_LLM."),
    ] = None,
) -> None:
    """Answer one question from the framework, with verbatim citations."""
    enforce_offline()
    try:
        answer = _advisor(_settings(engine=engine) if engine else _settings()).ask(question)
    except AdvisorError as exc:
        _fail(exc)
    typer.echo(answer.model_dump_json(indent=2) if as_json else answer.answer_markdown)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 7860).")] = None,
) -> None:
    """Serve the chat page, /embed, the JSON API (/docs) and the MCP tools on one port."""
    # Start-up creates ~480,000 tracked objects that live as long as the server; the cyclic collector
    # walked them again and again (10-13% of the start's CPU). It is back on, with them frozen, in launch().
    gc.disable()
    enforce_offline()
    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = _settings(**overrides)
    from ui.server import launch

    try:
        launch(advisor=_advisor(settings), settings=settings)
    except AdvisorError as exc:
        _fail(exc)


@app.command("eval")
def eval_(
    files: Annotated[list[Path], typer.Argument(help="Question-set JSONL files (format: evals/README.md).")],
    engine: Annotated[Literal["offline", "llm"], typer.Option(help="Engine that answers the questions.")] = "offline",
    out: Annotated[Path, typer.Option(help="Folder for results.jsonl, metrics.json, report.md and the chart.")] = Path("evals/out"),
    baseline: Annotated[bool, typer.Option("--baseline", help="Also run a naive LangChain RAG and compare.")] = False,
    fail_under: Annotated[
        list[str] | None, typer.Option("--fail-under", metavar="METRIC=VALUE", help="Exit 1 if METRIC < VALUE (repeatable).")
    ] = None,
    fail_over: Annotated[
        list[str] | None,
        typer.Option("--fail-over", metavar="METRIC=VALUE", help="Exit 1 if a lower-is-better METRIC > VALUE (repeatable)."),
    ] = None,
) -> None:
    """Score answers on question sets: recommendations, retrieval, citations, figures, refusals, latency."""
    enforce_offline()
    from advisor_bot.advisor import Advisor
    from advisor_bot.evals.evalset import load_question_sets
    from advisor_bot.errors import EvalError
    from advisor_bot.evals.evaluate import evaluate
    from advisor_bot.evals.report import parse_gate, summary_lines, write_report, write_results

    try:
        gates = [parse_gate(s, direction="under") for s in fail_under or []]
        gates += [parse_gate(s, direction="over") for s in fail_over or []]
        questions = load_question_sets(files)
        settings = _settings(engine=engine)
        if engine == "llm" and not settings.llm:
            # Unconfigured, every answer would fall back to the offline engine: a long run that measures nothing.
            raise EvalError("--engine llm needs a model: set ADVISOR_LLM to provider:model, e.g. openai:gpt-4o-mini.")
        advisor = Advisor(settings=settings)
        run = evaluate(advisor, questions, files=files, baseline=baseline, progress=sys.stderr.isatty())
        gates = [g.checked(run.metrics) for g in gates]
        write_results(run, out, gates=gates)
        report = write_report(run, out, gates=gates)
    except AdvisorError as exc:
        _fail(exc)
    for line in summary_lines(run, gates=gates):
        typer.echo(line)
    typer.echo(f"Report: {report}")
    if not all(g.passed for g in gates):
        raise typer.Exit(code=1)


feedback_app = typer.Typer(no_args_is_help=True, help="The feedback log users leave from the chat page.")
app.add_typer(feedback_app, name="feedback")


@feedback_app.command("export")
def feedback_export(
    as_eval: Annotated[Path, typer.Option("--as-eval", help="Write complaints as question-set lines to this JSONL file.")],
    db: Annotated[
        Path | None, typer.Option(help="A SQLite feedback log (default: ADVISOR_FEEDBACK_URL, else DATA_DIR/feedback.sqlite3).")
    ] = None,
) -> None:
    """Turn thumbs-down and 'wrong evidence' feedback into eval questions to fill in and keep."""
    from advisor_bot.evals.evalset import question_from_feedback, write_questions
    from advisor_bot.errors import FeedbackError
    from advisor_bot.feedback import SQLITE_NAME, FeedbackStore

    settings = _settings()
    target: str | Path = db or settings.feedback_url or settings.data_dir / SQLITE_NAME
    try:
        if isinstance(target, Path) and not target.is_file():
            raise FeedbackError(f"No feedback log at {target}; pass --db with the file the chat page writes.")
        questions = [question_from_feedback(r) for r in FeedbackStore(target).records(complaints_only=True)]
        write_questions(questions, as_eval)
    except AdvisorError as exc:
        _fail(exc)
    typer.echo(f"{len(questions)} complaint(s) written to {as_eval}; review each, fill in its expected fields and remove 'unverified', then add them to your question set.")

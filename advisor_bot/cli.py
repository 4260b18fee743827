"""The ``advisor-bot`` command line: ingest, ask, serve, eval."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from advisor_bot.config import Settings, enforce_offline
from advisor_bot.errors import AdvisorError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Cited advice on outsourcing chemical development.")


def _fail(exc: AdvisorError) -> None:
    typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


def _advisor(settings: Settings):  # noqa: ANN202 - imported lazily to keep --help fast
    from advisor_bot.advisor import Advisor

    return Advisor(settings=settings)


@app.command()
def ingest(
    paths: Annotated[list[Path] | None, typer.Argument(help="Extra .md/.txt files or folders, indexed with the corpus folder.")] = None,
) -> None:
    """Index the corpus folder (plus PATHs). Idempotent: only changed sections are re-embedded."""
    enforce_offline()
    settings = Settings()
    try:
        report = _advisor(settings).ingest(paths or [], progress=sys.stderr.isatty())
    except AdvisorError as exc:
        _fail(exc)
    typer.echo(
        f"{len(report.documents)} document(s): {report.added} added, {report.updated} updated, "
        f"{report.removed} removed, {report.unchanged} unchanged "
        f"(corpus {report.corpus_version}, {report.seconds:.2f} s)"
    )


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="Your question, in quotes.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the Answer as JSON.")] = False,
) -> None:
    """Answer one question from the framework, with verbatim citations."""
    enforce_offline()
    try:
        answer = _advisor(Settings()).ask(question)
    except AdvisorError as exc:
        _fail(exc)
    typer.echo(answer.model_dump_json(indent=2) if as_json else answer.answer_markdown)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 7860).")] = None,
) -> None:
    """Serve the chat page."""
    enforce_offline()
    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = Settings(**overrides)
    from ui.app import launch

    try:
        launch(advisor=_advisor(settings), settings=settings)
    except AdvisorError as exc:
        _fail(exc)



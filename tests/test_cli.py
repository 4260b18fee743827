"""The command line, end to end, on private corpus and data folders.

Each invocation builds a real Embedder; the session ``embedder`` fixture is requested
so the heavy imports are paid once and each invocation only re-opens the weights.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from advisor_bot.answer import Answer
from ui.cli import app

CRO_PRICING = "Cost Structures: How CROs and CDMOs Price Their Services > CRO Pricing Models"


@pytest.fixture()
def cli_env(monkeypatch: pytest.MonkeyPatch, corpus_copy: Path, tmp_path: Path, embedder) -> Path:
    data = tmp_path / "data"
    monkeypatch.setenv("ADVISOR_CORPUS_DIR", str(corpus_copy))
    monkeypatch.setenv("ADVISOR_DATA_DIR", str(data))
    return data


def test_ask_before_ingest_exits_2_and_says_to_ingest(cli_env: Path):
    result = CliRunner().invoke(app, ["ask", "Should we use a CRO or a CDMO?"])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "error:" in result.stderr
    assert "advisor-bot ingest" in result.stderr
    assert str(cli_env) in result.stderr
    assert result.stdout == ""


def test_ingest_then_ask_json_prints_an_answer(cli_env: Path):
    runner = CliRunner()
    ingested = runner.invoke(app, ["ingest"])
    assert ingested.exit_code == 0, ingested.output
    assert ingested.stdout.startswith("1 document(s): ")
    assert " 0 updated, 0 removed, 0 unchanged" in ingested.stdout
    assert any(cli_env.glob("*.manifest.json"))

    asked = runner.invoke(app, ["ask", "--json", "What do CROs charge per FTE?"])
    assert asked.exit_code == 0, asked.output
    answer = Answer.model_validate_json(asked.stdout)
    assert json.loads(asked.stdout)["engine"] == "offline"
    assert answer.question == "What do CROs charge per FTE?"
    assert not answer.refused
    assert any(c.section == CRO_PRICING for c in answer.citations)
    assert answer.corpus_version in ingested.stdout


def test_ask_empty_question_exits_2_with_the_empty_question_message(cli_env: Path):
    result = CliRunner().invoke(app, ["ask", ""])
    assert result.exit_code == 2, result.output
    assert "error: The question is empty." in result.stderr
    assert result.stdout == ""

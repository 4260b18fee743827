"""Inputs that used to escape as non-AdvisorError exceptions, or to stall the server."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ui.cli import app
from advisor_bot.errors import AdvisorError, InvalidQuestionError
from advisor_bot.errors import FeedbackError, PromptError
from advisor_bot.feedback import FeedbackStore
from advisor_bot.situation import Quantity, Situation


@pytest.mark.parametrize(
    "question",
    [
        "What would 5000 chemists cost us for a year?",
        "What would 0 chemists cost for a year?",
        "What would two chemists cost for 700 months?",
        "What would a med chem campaign of 200000 analogs cost?",
    ],
)
def test_out_of_range_cost_figures_get_an_actionable_message(advisor, question: str) -> None:
    with pytest.raises(InvalidQuestionError, match="realistic figure"):
        advisor.ask(question)


def test_an_absurd_pinned_quantity_is_refused_not_crashed(advisor) -> None:
    with pytest.raises(InvalidQuestionError, match="price"):
        advisor.ask("What would it cost?", situation=Situation(quantity=Quantity(value=1e9, unit="t")))


@pytest.mark.parametrize("stage", ["a", "zzz", "optimization"])
def test_an_unknown_or_ambiguous_stage_is_refused_before_any_answer(advisor, stage: str) -> None:
    with pytest.raises(InvalidQuestionError, match="Unknown stage"):
        advisor.stream("Which model?", situation=Situation(stage=stage))


def test_a_stage_prefix_names_its_own_row(advisor) -> None:
    answer = advisor.ask("Which model?", situation=Situation(stage="lead"))
    assert answer.recommendation is not None and answer.recommendation.stage == "Lead optimization"


def test_long_history_is_bounded_and_fast(advisor) -> None:
    with pytest.raises(InvalidQuestionError, match="limit"):
        advisor.ask("And the cost?", history=[{"role": "user", "content": "We are in lead op, " * 12000}])
    # A 540 KB answer in the history is cut to a bound; the clause scan is linear (it was
    # quadratic: a 52 KB turn took 11 s, 208 KB did not finish).
    answer = advisor.ask("And the cost?", history=[{"role": "assistant", "content": "Lead op: " * 60000}])
    assert answer.question == "And the cost?"


def test_a_feedback_log_that_is_not_sqlite_is_a_feedback_error(tmp_path: Path) -> None:
    bogus = tmp_path / "feedback.sqlite3"
    bogus.write_bytes(b"this is not a database" * 100)
    with pytest.raises(FeedbackError, match="feedback log"):
        FeedbackStore(bogus).records()


def test_prompt_errors_are_advisor_errors() -> None:
    assert issubclass(PromptError, AdvisorError)


def test_a_bad_setting_is_reported_without_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADVISOR_PORT", "abc")
    result = CliRunner().invoke(app, ["ask", "What does a CRO do?"])
    assert result.exit_code == 2
    assert "ADVISOR_PORT" in result.output and "Traceback" not in result.output

"""The hostile-input suite: careless and hostile inputs (API, CLI, page), injections, backend faults.

Every case is a line of data in tests/data/hostile/; each gets its expected status and message, and
none may crash, leak a traceback, or render remote markup. The summary table is written to
test-output/hostile-summary.md (and pasted in docs/security.md).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator

import gradio as gr
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from advisor_bot.config import PROJECT_ROOT, Settings
from advisor_bot.situation import Situation
from hostile import INPUTS, Outcome, api_outcome, cli_outcome, load, remote_markup, verdict
from ui.app import ChatView
from ui.cli import app
from ui.server import create_app

CASES = load(INPUTS)
RESULTS: dict[str, list[tuple[str, bool]]] = {}  # surface -> (case id, passed)
RECORD = os.environ.get("HOSTILE_RECORD")


def _check(case: dict, outcome: Outcome) -> None:
    problems = list(outcome.problems)
    problems += [f"remote markup rendered: {m}" for m in remote_markup(outcome.markdown)]
    expect = case.get("expect")
    if RECORD:
        with open(RECORD, "a", encoding="utf-8") as f:
            f.write(json.dumps({"id": case["id"], "status": outcome.status, "says": outcome.says[:300]}, ensure_ascii=False) + "\n")
    elif expect is None:
        problems.append("the line has no expectation")
    else:
        if outcome.status != expect["status"]:
            problems.append(f"status {outcome.status}, expected {expect['status']}")
        if expect["says"].lower() not in outcome.says.lower():
            problems.append(f"says {outcome.says[:200]!r}, expected it to contain {expect['says']!r}")
    RESULTS.setdefault(case["surface"], []).append((case["id"], not problems))
    assert not problems, problems


@pytest.fixture(scope="module")
def client(advisor, settings: Settings) -> Iterator[TestClient]:
    limited = settings.model_copy(update={"rate_limit": "100000/minute"})
    with TestClient(create_app(advisor, limited), base_url="http://127.0.0.1", raise_server_exceptions=False) as c:
        yield c


@pytest.mark.parametrize("case", [c for c in CASES if c["surface"] == "api"], ids=lambda c: c["id"])
def test_api(client: TestClient, case: dict) -> None:
    outcome = api_outcome(client, case)
    assert outcome.status != 500, outcome.says
    _check(case, outcome)


@pytest.fixture(scope="module")
def cli_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("hostile-cli")
    (root / "binary.md").write_bytes(b"\x00\x01\x02\xff\xfe" * 100)
    (root / "empty.md").write_text("")
    (root / "doc.pdf").write_bytes(b"%PDF-1.4\n")
    (root / "set.jsonl").write_text(json.dumps({"id": "a", "question": "CRO or CDMO?"}) + "\n")
    (root / "bad.jsonl").write_text("{not json\n")
    return {
        "@BINARY@": str(root / "binary.md"), "@EMPTY@": str(root / "empty.md"), "@PDF@": str(root / "doc.pdf"),
        "@EVALSET@": str(root / "set.jsonl"), "@BADJSONL@": str(root / "bad.jsonl"), "@OUT@": str(root / "out.jsonl"),
    }  # fmt: skip


@pytest.mark.parametrize("case", [c for c in CASES if c["surface"] == "cli"], ids=lambda c: c["id"])
def test_cli(advisor, settings: Settings, cli_files: dict[str, str], monkeypatch: pytest.MonkeyPatch, case: dict) -> None:
    monkeypatch.setenv("ADVISOR_CORPUS_DIR", str(settings.corpus_dir))
    monkeypatch.setenv("ADVISOR_DATA_DIR", str(settings.data_dir))
    args = [cli_files.get(a, a) for a in case["args"]]
    outcome = cli_outcome(CliRunner().invoke(app, args))
    assert outcome.status in (0, 1, 2), outcome.says
    _check(case, outcome)


@pytest.mark.parametrize("case", [c for c in CASES if c["surface"] == "page"], ids=lambda c: c["id"])
def test_page(view: ChatView, monkeypatch: pytest.MonkeyPatch, case: dict) -> None:
    warned: list[str] = []
    monkeypatch.setattr(gr, "Warning", lambda message, *a, **k: warned.append(str(message)))
    updates = list(view.respond(case["message"], [], [], [], Situation(), None))
    # An update the page skips (gr.skip(), e.g. for an empty question) leaves the component as it was.
    chat = next((u[view.chat] for u in reversed(updates) if isinstance(u.get(view.chat), list)), [])
    answers = next((u[view.answers] for u in reversed(updates) if isinstance(u.get(view.answers), list)), [])
    said = [verdict(answers[-1].model_dump(mode="json"))] if answers else []
    outcome = Outcome(0, " ".join([*warned, *said]), markdown=str(chat[-1]["content"]) if chat else "")
    _check(case, outcome)


def test_summary_has_enough_cases_and_no_failures() -> None:
    """Runs last in this module: the table of what ran (also written for docs/security.md)."""
    counts = Counter(c["surface"] for c in CASES)
    assert len(CASES) >= 150 and set(counts) == {"api", "cli", "page"}
    lines = ["| Surface | Cases | Passed | Failed |", "|---|---|---|---|"]
    for surface in ("api", "cli", "page"):
        ran = RESULTS.get(surface, [])
        lines.append(f"| {surface} | {len(ran)} | {sum(ok for _, ok in ran)} | {sum(not ok for _, ok in ran)} |")
    out = PROJECT_ROOT / "test-output"
    out.mkdir(exist_ok=True)
    (out / "hostile-inputs.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert all(ok for ran in RESULTS.values() for _, ok in ran)

"""Runs the hostile and careless inputs of tests/data/hostile/inputs.jsonl against each surface.

Used by tests/test_hostile.py. To add lines: run it with HOSTILE_RECORD=FILE, which writes every
outcome there; review them and copy the expectations in.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data" / "hostile"
INPUTS = DATA / "inputs.jsonl"
INJECTIONS = DATA / "injections.jsonl"
FAULTS = DATA / "faults.jsonl"

# What an answer must never carry, whatever was asked: markup that loads or runs something remote.
REMOTE = re.compile(r"!\[[^\]]*\]\(\s*(?:https?:)?//|<\s*(?:img|script|iframe|object|embed|form)\b|\]\(\s*javascript:|\]\(\s*https?://(?!127\.0\.0\.1)", re.I)


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@dataclass
class Outcome:
    """What one surface did with one input: a status (HTTP status, exit code, or 0 for the page) and its words."""

    status: int
    says: str
    markdown: str = ""
    problems: list[str] = field(default_factory=list)


def verdict(answer: dict[str, Any]) -> str:
    """An answer in the words expectations are written in (independent of how it is rendered)."""
    rec = answer.get("recommendation") or {}
    parts = [f"rec={rec.get('model', 'none')}"]
    if answer.get("refused"):
        parts.append(f"refused={answer.get('refusal_reason')}")
    if answer.get("clarifying_question"):
        parts.append("asks")
    return " ".join([*parts, *answer.get("notices", [])])


def remote_markup(text: str) -> list[str]:
    return REMOTE.findall(text)


def api_outcome(client: Any, case: dict[str, Any]) -> Outcome:
    if "raw" in case:
        headers = {"content-type": case.get("content_type", "application/json")}
        response = client.post("/api/ask", content=case["raw"].encode("utf-8", "surrogatepass"), headers=headers)
    else:
        response = client.post("/api/ask", json=case["body"])
    try:
        body = response.json()
    except ValueError:
        return Outcome(response.status_code, response.text[:200], problems=["the response is not JSON"])
    if response.status_code == 200:
        return Outcome(200, verdict(body), markdown=body.get("answer_markdown", ""))
    detail = body.get("detail")
    problems = [] if isinstance(detail, str) and "\n" not in detail and detail else [f"detail is not one line of text: {detail!r}"[:200]]
    return Outcome(response.status_code, str(detail), problems=problems)


def cli_outcome(result: Any) -> Outcome:
    problems = []
    if "Traceback" in result.output or (result.exception is not None and not isinstance(result.exception, SystemExit)):
        problems.append(f"crashed: {result.exception!r}")
    if result.exit_code == 0 and result.stdout.lstrip().startswith("{"):
        answer = json.loads(result.stdout)  # --json: judged like the API's answers
        return Outcome(0, verdict(answer), markdown=answer["answer_markdown"], problems=problems)
    # A success may still warn on stderr (an ingest names each file it skipped): both are what the user reads.
    text = result.stderr.strip() if result.exit_code else f"{result.stdout} {result.stderr}"
    return Outcome(result.exit_code, " ".join(text.split())[:400], markdown=result.stdout if result.exit_code == 0 else "", problems=problems)


"""Durable user feedback: a SQLite log in the data directory."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from advisor_bot.citations import Citation
from advisor_bot.errors import FeedbackError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    wrong_evidence INTEGER NOT NULL DEFAULT 0,
    comment TEXT NOT NULL DEFAULT '',
    question TEXT NOT NULL,
    answer_markdown TEXT NOT NULL,
    citations_json TEXT NOT NULL,
    engine TEXT NOT NULL,
    corpus_version TEXT NOT NULL
)
"""


COMMENT_CHARS = 2000


class Feedback(BaseModel):
    rating: Literal["up", "down"]
    wrong_evidence: bool = False
    comment: str = Field(default="", max_length=COMMENT_CHARS)
    question: str = Field(min_length=1, max_length=20000)
    answer_markdown: str
    citations: list[Citation] = Field(default_factory=list)
    engine: str
    corpus_version: str


class FeedbackRecord(Feedback):
    id: int
    created_at: str


class FeedbackStore:
    """Append-only; one short-lived connection per call, so threads never share one."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with closing(self._connect()) as db, db:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise FeedbackError(f"Cannot open the feedback log {path}: {exc}. Check the path and its permissions.") from exc

    def _connect(self) -> sqlite3.Connection:
        try:
            return sqlite3.connect(self.path, timeout=10)
        except sqlite3.Error as exc:
            # Shown on the page: the message names no server path.
            raise FeedbackError(f"Cannot open the feedback log: {exc}.") from exc

    def record(self, feedback: Feedback) -> int:
        row = (
            datetime.now(UTC).isoformat(timespec="seconds"),
            feedback.rating,
            int(feedback.wrong_evidence),
            feedback.comment,
            feedback.question,
            feedback.answer_markdown,
            "[" + ",".join(c.model_dump_json() for c in feedback.citations) + "]",
            feedback.engine,
            feedback.corpus_version,
        )
        try:
            with closing(self._connect()) as db, db:
                cur = db.execute(
                    "INSERT INTO feedback (created_at, rating, wrong_evidence, comment, question, answer_markdown,"
                    " citations_json, engine, corpus_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    row,
                )
                return int(cur.lastrowid or 0)
        except sqlite3.Error as exc:
            raise FeedbackError(f"Could not save feedback: {exc}.") from exc

    def records(self, *, complaints_only: bool = False) -> list[FeedbackRecord]:
        """All feedback, oldest first; complaints are thumbs-down or 'wrong evidence'."""
        where = " WHERE rating = 'down' OR wrong_evidence = 1" if complaints_only else ""
        try:
            with closing(self._connect()) as db:
                rows = db.execute(
                    "SELECT id, created_at, rating, wrong_evidence, comment, question, answer_markdown, citations_json,"
                    f" engine, corpus_version FROM feedback{where} ORDER BY id"
                ).fetchall()
        except sqlite3.Error as exc:
            raise FeedbackError(f"Cannot read the feedback log {self.path}: {exc}.") from exc
        return [
            FeedbackRecord(
                id=r[0], created_at=r[1], rating=r[2], wrong_evidence=bool(r[3]), comment=r[4], question=r[5],
                answer_markdown=r[6], citations=[Citation.model_validate(c) for c in json.loads(r[7])],
                engine=r[8], corpus_version=r[9],
            )
            for r in rows
        ]

"""Durable user feedback, through SQLAlchemy: SQLite in the data directory by default,
PostgreSQL (``ADVISOR_FEEDBACK_URL``) when several replicas share one store."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import Boolean, Column, Integer, MetaData, String, Table, Text, create_engine, event, insert, or_, select
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from advisor_bot.citations import Citation
from advisor_bot.config import Settings
from advisor_bot.errors import FeedbackError

SQLITE_NAME = "feedback.sqlite3"

_metadata = MetaData()
_feedback = Table(
    "feedback",
    _metadata,
    # Autoincrement ids come from the database (a sequence in PostgreSQL), so concurrent
    # writers on many replicas never collide.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", String(32), nullable=False),
    Column("rating", String(4), nullable=False),
    Column("wrong_evidence", Boolean, nullable=False, default=False),
    Column("comment", Text, nullable=False, default=""),
    Column("question", Text, nullable=False),
    Column("answer_markdown", Text, nullable=False),
    Column("citations_json", Text, nullable=False),
    Column("engine", String(32), nullable=False),
    Column("corpus_version", String(64), nullable=False),
)


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


def feedback_url(settings: Settings) -> str:
    return settings.feedback_url or f"sqlite:///{settings.data_dir / SQLITE_NAME}"


def _shown(url: str) -> str:
    """The URL without its password: it goes into messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "the configured ADVISOR_FEEDBACK_URL"


class FeedbackStore:
    """Append-only; SQLAlchemy's pool hands each call its own connection."""

    def __init__(self, target: str | Path) -> None:
        # A path is a SQLite file (the default, and `feedback export --db`).
        url = f"sqlite:///{target}" if isinstance(target, Path) else target
        self.url = _shown(url)
        try:
            parsed = make_url(url)
            if parsed.get_backend_name() == "sqlite" and parsed.database:
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() in ("", "psycopg2"):
                parsed = parsed.set(drivername="postgresql+psycopg")  # the driver this package installs
            if parsed.get_backend_name() == "sqlite":
                # A local file: a connection per call, as cheap as a pooled one, and none held open
                # on a file another process may be writing or a disk that has filled up.
                self._engine: Engine = create_engine(parsed, poolclass=NullPool)
                event.listen(self._engine, "connect", _sqlite_pragmas)
            else:
                self._engine = create_engine(parsed, pool_pre_ping=True)
            _metadata.create_all(self._engine)
        except (ArgumentError, ImportError, ValueError) as exc:
            raise FeedbackError(f"ADVISOR_FEEDBACK_URL is not a usable database URL ({exc}); e.g. postgresql://user:pw@host/db.") from exc
        except (OSError, SQLAlchemyError) as exc:
            raise FeedbackError(f"Cannot open the feedback log {self.url}: {_reason(exc)}. Check the URL, the server and permissions.") from exc

    def record(self, feedback: Feedback) -> int:
        row = {
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "rating": feedback.rating,
            "wrong_evidence": feedback.wrong_evidence,
            "comment": feedback.comment,
            "question": feedback.question,
            "answer_markdown": feedback.answer_markdown,
            "citations_json": "[" + ",".join(c.model_dump_json() for c in feedback.citations) + "]",
            "engine": feedback.engine,
            "corpus_version": feedback.corpus_version,
        }
        try:
            with self._engine.begin() as db:
                return int(db.execute(insert(_feedback).values(**row).returning(_feedback.c.id)).scalar_one())
        except SQLAlchemyError as exc:
            # Shown on the page: the message names no server path or URL.
            raise FeedbackError(f"Could not save feedback: {_reason(exc)}.") from exc

    def records(self, *, complaints_only: bool = False) -> list[FeedbackRecord]:
        """All feedback, oldest first; complaints are thumbs-down or 'wrong evidence'."""
        query = select(_feedback).order_by(_feedback.c.id)
        if complaints_only:
            query = query.where(or_(_feedback.c.rating == "down", _feedback.c.wrong_evidence.is_(True)))
        try:
            with self._engine.connect() as db:
                rows = db.execute(query).mappings().all()
        except SQLAlchemyError as exc:
            raise FeedbackError(f"Cannot read the feedback log {self.url}: {_reason(exc)}.") from exc
        return [
            FeedbackRecord(
                id=r["id"], created_at=r["created_at"], rating=r["rating"], wrong_evidence=bool(r["wrong_evidence"]),
                comment=r["comment"], question=r["question"], answer_markdown=r["answer_markdown"],
                citations=[Citation.model_validate(c) for c in json.loads(r["citations_json"])],
                engine=r["engine"], corpus_version=r["corpus_version"],
            )
            for r in rows
        ]


def _reason(exc: Exception) -> str:
    """The driver's first line, without SQLAlchemy's statement dump and links."""
    original = getattr(exc, "orig", None) or exc
    return f"{original.__class__.__name__}: {str(original).strip().splitlines()[0] if str(original).strip() else ''}"


def _sqlite_pragmas(connection, _record) -> None:  # noqa: ANN001 - DB-API connection
    # WAL and a busy timeout: two local processes writing at once wait instead of failing.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()

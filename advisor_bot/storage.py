"""What a broken data directory means to the user.

Chroma reports a damaged ``chroma.sqlite3`` as ``chromadb.errors.InternalError``
("database disk image is malformed", "file is not a database"), sqlite and the OS
report read-only or full disks as their own errors. At the index's boundary each
becomes an ``AdvisorError`` that names the folder and the command that recovers,
instead of a traceback from deep inside Chroma.
"""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from advisor_bot.errors import AdvisorError, DataDirError, IndexDamagedError

_UNWRITABLE = {errno.EACCES, errno.EPERM, errno.EROFS}
_FULL = {errno.ENOSPC, errno.EDQUOT}
_READONLY_WORDS = ("readonly", "read-only", "read only", "permission denied", "operation not permitted")
_FULL_WORDS = ("disk is full", "no space left", "database or disk is full")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]


def translate(exc: BaseException, data_dir: Path) -> AdvisorError | None:
    """The user's error for a storage failure, or None when ``exc`` is not one."""
    from chromadb.errors import ChromaError

    if isinstance(exc, AdvisorError):
        return exc
    text = str(exc).lower()
    if isinstance(exc, OSError) and exc.errno in _FULL or any(w in text for w in _FULL_WORDS):
        return DataDirError(f"The disk holding {data_dir} is full; free some space and try again.")
    if isinstance(exc, OSError) and exc.errno in _UNWRITABLE or any(w in text for w in _READONLY_WORDS):
        return DataDirError(
            f"The data directory {data_dir} cannot be written ({_first_line(exc)}); make it writable "
            "or set ADVISOR_DATA_DIR to a folder that is."
        )
    if isinstance(exc, (NotADirectoryError, FileExistsError)):
        return DataDirError(f"{data_dir} is not a folder; set ADVISOR_DATA_DIR to a folder for the index.")
    if isinstance(exc, (ChromaError, sqlite3.Error)):
        return IndexDamagedError(
            f"The index in {data_dir} is damaged ({_first_line(exc)}); run `advisor-bot ingest --rebuild` "
            "to build it afresh from the corpus."
        )
    return None


@contextmanager
def guarded(data_dir: Path) -> Iterator[None]:
    """Run a storage operation; storage failures leave as ``AdvisorError``s, anything else as it was."""
    try:
        yield
    except Exception as exc:
        mine = translate(exc, data_dir)
        if mine is None or mine is exc:
            raise
        raise mine from exc

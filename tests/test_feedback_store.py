"""The feedback store through SQLAlchemy: SQLite by default, and a real PostgreSQL server that the
test starts itself (Debian's postgresql package; `make test` installs it) shared by two writers."""

from __future__ import annotations

import glob
import multiprocessing
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from advisor_bot.config import Settings
from advisor_bot.errors import FeedbackError
from advisor_bot.feedback import Feedback, FeedbackStore, feedback_url
from tests.services import free_port

ROWS_EACH = 40


def _pg_bin(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if found is None:
        raise RuntimeError(f"PostgreSQL's {name} is missing; `make test` installs Debian's postgresql package (make postgres).")
    return found


def _as_postgres(argv: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; as root, run it as the package's own system user.
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    root = Path(tempfile.mkdtemp(prefix="advisor-pg-"))
    data, sockets = root / "data", root / "sockets"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
    port = free_port()

    def run(argv: list[str]) -> None:
        done = subprocess.run(_as_postgres(argv), capture_output=True, text=True, check=False, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr

    run([_pg_bin("initdb"), "-D", str(data), "-U", "advisor", "--auth=trust", "-E", "UTF8"])
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1"
    # -w: pg_ctl returns once the server accepts connections.
    run([_pg_bin("pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start"])
    try:
        run([_pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "advisor", "feedback"])
        yield f"postgresql://advisor@127.0.0.1:{port}/feedback"
    finally:
        run([_pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"])
        shutil.rmtree(root, ignore_errors=True)


def _entry(writer: int, n: int) -> Feedback:
    return Feedback(
        rating="down" if n % 3 == 0 else "up", wrong_evidence=n % 5 == 0, comment=f"writer {writer} row {n}",
        question=f"Question {n} from replica {writer}?", answer_markdown="An answer.", engine="offline", corpus_version="v1",
    )


def _write(url: str, writer: int, start) -> list[int]:  # noqa: ANN001 - a multiprocessing Event
    store = FeedbackStore(url)
    start.wait()
    return [store.record(_entry(writer, n)) for n in range(ROWS_EACH)]


def _two_writers(url: str) -> None:
    FeedbackStore(url)  # the table exists before the race starts
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager, ctx.Pool(2) as pool:
        start = manager.Event()
        pending = [pool.apply_async(_write, (url, w, start)) for w in (1, 2)]
        start.set()
        ids = [i for p in pending for i in p.get(timeout=300)]
    records = FeedbackStore(url).records()
    assert len(ids) == len(set(ids)) == 2 * ROWS_EACH
    assert sorted(r.id for r in records) == sorted(ids)
    assert {r.comment for r in records} == {f"writer {w} row {n}" for w in (1, 2) for n in range(ROWS_EACH)}
    complaints = FeedbackStore(url).records(complaints_only=True)
    assert {r.comment for r in complaints} == {
        f"writer {w} row {n}" for w in (1, 2) for n in range(ROWS_EACH) if n % 3 == 0 or n % 5 == 0
    }


def test_two_processes_writing_to_postgresql_lose_no_row(postgres_url: str) -> None:
    _two_writers(postgres_url)


def test_two_processes_writing_to_the_default_sqlite_log_lose_no_row(tmp_path: Path) -> None:
    url = feedback_url(Settings(data_dir=tmp_path / "data"))
    assert url.startswith("sqlite:///") and url.endswith("feedback.sqlite3")
    _two_writers(url)


def test_postgresql_url_from_settings_and_a_down_server_is_a_clear_error(postgres_url: str) -> None:
    assert feedback_url(Settings(feedback_url=postgres_url)) == postgres_url
    dead = f"postgresql://advisor:secret@127.0.0.1:{free_port()}/feedback"
    with pytest.raises(FeedbackError, match="Cannot open the feedback log") as info:
        FeedbackStore(dead)
    assert "secret" not in str(info.value) and "127.0.0.1" in str(info.value)


def test_a_url_that_is_not_a_database_is_a_clear_error() -> None:
    with pytest.raises(FeedbackError, match="ADVISOR_FEEDBACK_URL"):
        FeedbackStore("not a url")

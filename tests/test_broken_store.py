"""A damaged, deleted or read-only data directory: a message that says what to do, never a traceback.

Damage is real: ``chroma.sqlite3`` truncated to half or overwritten, as a crash or a bad copy
leaves it. ``advisor-bot ingest --rebuild`` must then recover.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from advisor_bot.advisor import Advisor
from advisor_bot.config import Settings
from advisor_bot.errors import DataDirError, IndexDamagedError
from advisor_bot.index import Index
from advisor_bot.testing import FakeEmbedder
from ui.cli import app

QUESTION = "Should we use a CRO or a CDMO for IND-enabling studies?"


def truncate(path: Path) -> None:
    with path.open("r+b") as f:
        f.truncate(path.stat().st_size // 2)


def overwrite(path: Path) -> None:
    path.write_bytes(b"not a database\n" * 4096)


DAMAGE = {"truncated": truncate, "overwritten": overwrite}


@pytest.fixture()
def data(corpus_copy: Path, tmp_path: Path) -> Iterator[Path]:
    data = tmp_path / "data"
    Index(settings=Settings(corpus_dir=corpus_copy, data_dir=data), embedder=FakeEmbedder()).ingest()
    yield data


def fresh_index(corpus: Path, data: Path) -> Index:
    return Index(settings=Settings(corpus_dir=corpus, data_dir=data), embedder=FakeEmbedder())


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_store_names_the_folder_and_the_rebuild_which_recovers(corpus_copy: Path, data: Path, damage: str):
    DAMAGE[damage](data / "chroma" / "chroma.sqlite3")
    for action in (lambda i: i.load(), lambda i: i.ingest()):
        with pytest.raises(IndexDamagedError) as caught:
            action(fresh_index(corpus_copy, data))
        message = str(caught.value)
        assert str(data) in message and "advisor-bot ingest --rebuild" in message and "\n" not in message
    # In the same process, as a server that saw the damage would do it.
    index = fresh_index(corpus_copy, data)
    report = index.ingest(rebuild=True)
    assert report.added == len(index.chunk(index.read_documents()))
    snapshot = fresh_index(corpus_copy, data).load()
    assert sorted(c.id for c in snapshot.chunks) == snapshot.manifest.chunk_ids
    assert not (data / "chroma.rebuild").exists() and not (data / "chroma.retired").exists()
    assert fresh_index(corpus_copy, data).ingest().unchanged == report.added  # and plain ingests work again


def test_a_rebuild_of_a_healthy_store_keeps_serving_the_same_corpus(corpus_copy: Path, data: Path):
    before = fresh_index(corpus_copy, data).load().manifest.corpus_version
    fresh_index(corpus_copy, data).ingest(rebuild=True)
    assert fresh_index(corpus_copy, data).load().manifest.corpus_version == before


@pytest.fixture()
def read_only(data: Path) -> Iterator[Path]:
    """The data directory made read-only: immutable for root (which ignores modes), mode 0555 otherwise."""
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-R", "+i", str(data)], check=True)
        yield data
        subprocess.run(["chattr", "-R", "-i", str(data)], check=True)
    else:
        modes = {p: p.stat().st_mode for p in [data, *data.rglob("*")]}
        for p in modes:
            p.chmod(0o555 if p.is_dir() else 0o444)
        yield data
        for p, mode in modes.items():
            p.chmod(mode)


def test_a_read_only_data_directory_still_answers_and_ingest_says_what_to_do(corpus_copy: Path, read_only: Path):
    assert fresh_index(corpus_copy, read_only).load().chunks  # reading needs no write
    with pytest.raises(DataDirError) as caught:
        fresh_index(corpus_copy, read_only).ingest()
    message = str(caught.value)
    assert str(read_only) in message and "ADVISOR_DATA_DIR" in message and "writable" in message


def test_a_data_directory_that_is_a_file_is_named(corpus_copy: Path, tmp_path: Path):
    data = tmp_path / "data"
    data.write_text("oops")
    with pytest.raises(DataDirError, match="is not a folder"):
        fresh_index(corpus_copy, data).ingest()


# ---- the shells ----------------------------------------------------------------------------


@pytest.fixture()
def cli_data(monkeypatch: pytest.MonkeyPatch, corpus_copy: Path, tmp_path: Path, embedder) -> Path:
    data = tmp_path / "data"
    monkeypatch.setenv("ADVISOR_CORPUS_DIR", str(corpus_copy))
    monkeypatch.setenv("ADVISOR_DATA_DIR", str(data))
    assert CliRunner().invoke(app, ["ingest"]).exit_code == 0
    return data


def test_cli_ask_ingest_and_serve_on_a_damaged_store_say_rebuild_then_rebuild_recovers(cli_data: Path):
    truncate(cli_data / "chroma" / "chroma.sqlite3")
    runner = CliRunner()
    for args in (["ask", QUESTION], ["ingest"], ["serve", "--port", "9"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert "advisor-bot ingest --rebuild" in result.stderr and str(cli_data) in result.stderr
        assert "Traceback" not in result.output and len(result.stderr.strip().splitlines()) == 1
    assert runner.invoke(app, ["ingest", "--rebuild"]).exit_code == 0
    result = runner.invoke(app, ["ask", QUESTION])
    assert result.exit_code == 0 and "CDMO" in result.stdout


def test_health_is_degraded_once_the_data_directory_is_deleted(corpus_copy: Path, tmp_path: Path, embedder):
    from ui.server import create_app

    settings = Settings(corpus_dir=corpus_copy, data_dir=tmp_path / "data")
    adv = Advisor(settings=settings, embedder=embedder)
    adv.ingest()
    with TestClient(create_app(adv, settings), base_url="http://127.0.0.1") as client:
        assert client.get("/api/health").json()["status"] == "ok"
        shutil.rmtree(settings.data_dir)
        health = client.get("/api/health")
        assert health.status_code == 503
        body = health.json()
        assert body["status"] == "degraded" and str(settings.data_dir) in body["detail"] and "advisor-bot ingest" in body["detail"]

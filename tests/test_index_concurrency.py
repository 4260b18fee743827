"""Several processes ingesting one store: the lock serialises them and nothing is lost."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from advisor_bot.config import Settings
from advisor_bot.index import Index
from advisor_bot.testing import FakeEmbedder


def _ingest(corpus: str, data: str) -> int:
    report = Index(settings=Settings(corpus_dir=Path(corpus), data_dir=Path(data)), embedder=FakeEmbedder()).ingest()
    return report.added + report.updated + report.unchanged


def test_four_concurrent_writers_leave_a_complete_index(corpus_copy: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        totals = pool.starmap(_ingest, [(str(corpus_copy), str(data))] * 4)
    snapshot = Index(settings=Settings(corpus_dir=corpus_copy, data_dir=data), embedder=FakeEmbedder()).load()
    # Every writer saw the same full set of chunks, and the store holds exactly that set.
    assert len(set(totals)) == 1
    assert len(snapshot.chunks) == totals[0] == len(snapshot.manifest.chunk_ids)

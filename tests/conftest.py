"""Shared fixtures: the real embedding model is loaded once per session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from advisor_bot.config import PROJECT_ROOT, Settings, enforce_offline

enforce_offline()

CORPUS = PROJECT_ROOT / "corpus"
SEED = PROJECT_ROOT.parent / "shared" / "seeds" / "000_d8e90ed96cb45ebb.txt"


@pytest.fixture(scope="session")
def embedder(tmp_path_factory: pytest.TempPathFactory):
    from advisor_bot.embeddings import Embedder

    return Embedder(cache_dir=tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def session_dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("advisor")
    corpus = root / "corpus"
    shutil.copytree(CORPUS, corpus)
    return corpus, root / "data"


@pytest.fixture(scope="session")
def settings(session_dirs: tuple[Path, Path]) -> Settings:
    corpus, data = session_dirs
    return Settings(corpus_dir=corpus, data_dir=data)


@pytest.fixture(scope="session")
def advisor(settings: Settings, embedder):
    """An Advisor over a real index of the framework, built once per session."""
    from advisor_bot.advisor import Advisor

    adv = Advisor(settings=settings, embedder=embedder)
    adv.ingest()
    return adv


@pytest.fixture()
def corpus_copy(tmp_path: Path) -> Path:
    """A private, editable copy of the corpus folder."""
    target = tmp_path / "corpus"
    shutil.copytree(CORPUS, target)
    return target

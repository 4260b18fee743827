"""Shared fixtures: the real embedding model is loaded once per session."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from advisor_bot.config import PROJECT_ROOT, Settings, enforce_offline

enforce_offline()

CORPUS = PROJECT_ROOT / "corpus"


@pytest.fixture(autouse=True)
def no_developer_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ADVISOR_* (or OPENAI_API_KEY) variable of the developer's shell leaks into a test's Settings."""
    import os

    for name in list(os.environ):
        if name.startswith("ADVISOR_") or name == "OPENAI_API_KEY":
            monkeypatch.delenv(name)


@pytest.fixture()
def pin_schemas(snapshot) -> Callable[[str, object], None]:  # noqa: ANN001 - pytest-snapshot's fixture
    """Compare generated tool schemas with the pinned JSON in tests/data/tool_schemas/; after an
    intended change, ``pytest --snapshot-update`` rewrites the file, and the diff shows in review."""
    snapshot.snapshot_dir = Path(__file__).parent / "data" / "tool_schemas"

    def pin(name: str, schemas: object) -> None:
        snapshot.assert_match(json.dumps(schemas, indent=2, sort_keys=True, ensure_ascii=False) + "\n", name)

    return pin


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the session's embedder keeps its exported ONNX graph (a server process can share it)."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def embedder(models_dir: Path):
    from advisor_bot.embeddings import Embedder

    return Embedder(cache_dir=models_dir)


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


@pytest.fixture(scope="module")
def serve():
    """Start ASGI apps with uvicorn on free 127.0.0.1 ports; they stop when the module's tests end."""
    import threading

    import uvicorn

    class Server(uvicorn.Server):
        def __init__(self, config: uvicorn.Config) -> None:
            super().__init__(config)
            self.ready = threading.Event()

        async def startup(self, sockets=None) -> None:  # noqa: ANN001 - uvicorn's signature
            try:
                await super().startup(sockets)
            finally:
                self.ready.set()

    running: list[tuple[Server, threading.Thread]] = []

    def start(app) -> str:  # noqa: ANN001 - any ASGI app
        # Browsers and Gradio clients hold event streams open; do not wait on them at teardown.
        # log_config=None: server logs go to pytest's capture instead of uvicorn's own handlers.
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, timeout_graceful_shutdown=2)
        server = Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        running.append((server, thread))
        if not server.ready.wait(timeout=120) or not server.started:
            raise RuntimeError("The test server did not start; see the log above.")
        return f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"

    yield start
    for server, thread in running:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(scope="module")
def view(advisor, settings: Settings):
    """The chat page's view over the session's Advisor, built outside a running server."""
    import gradio as gr

    from ui.app import ChatView, make_shell

    with gr.Blocks():
        chat_view = ChatView(make_shell(advisor, settings), compact=False)
        chat_view.side_panels()
    return chat_view

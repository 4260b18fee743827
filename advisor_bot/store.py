"""Where the index is kept: Chroma embedded in the data folder, or a Chroma server every replica shares.

With ``ADVISOR_CHROMA_URL`` the index is on the server at that URL and nothing else changes;
a server that stops answering becomes an error naming the URL, and the same handles work
again once it is back (the HTTP client keeps no connection state worth rebuilding).
Embedded, a damaged, full or read-only data folder becomes the error ``storage.guarded`` words.
"""

from __future__ import annotations

from collections.abc import Sequence, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from advisor_bot.config import Settings
from advisor_bot.errors import AdvisorError, IndexMissingError, IndexUnavailableError
from advisor_bot.storage import guarded

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection
    from chromadb.api.types import PyEmbeddings


class ChromaStore:
    """The chunks' collection and, beside it, the documents' text (and, on a server, the manifest)."""

    def __init__(self, *, settings: Settings, collection: str, model: str) -> None:
        self.url = settings.chroma_url
        self.data_dir = settings.data_dir
        self.collection = collection
        self.model = model
        # Embedded: the folder Chroma keeps the store in (a rebuild points it at a fresh one for a while).
        self.path = self.data_dir / "chroma"
        self._handles: tuple[Collection, Collection] | None = None

    @contextmanager
    def guard(self) -> Iterator[None]:
        """A Chroma server that stops answering is the user's to restart: say which one. Embedded,
        a storage failure names the data folder and the command that recovers."""
        if self.url is None:
            with guarded(self.data_dir):
                yield
            return
        import httpx
        from chromadb.errors import ChromaError, NotFoundError

        try:
            yield
        except AdvisorError:
            raise
        except NotFoundError as exc:
            # Another process rebuilt the index (`ingest --rebuild` recreates the collections): the
            # handles held here are gone; the next call fetches the new ones by name.
            self._handles = None
            raise IndexMissingError(
                f"The index on the Chroma server at {self.url} was recreated or removed; it is back once "
                "`advisor-bot ingest` finishes."
            ) from exc
        # ValueError: chromadb's client raises it when the server cannot be reached at start.
        except (httpx.HTTPError, ChromaError, ValueError, ConnectionError) as exc:
            raise IndexUnavailableError(
                f"The Chroma server at {self.url} is not answering ({exc.__class__.__name__}: {str(exc)[:160]}); "
                "start it (`chroma run`) or fix ADVISOR_CHROMA_URL. Service resumes when it is back."
            ) from exc

    def _client(self) -> ClientAPI:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        if self.url is not None:
            from urllib.parse import urlsplit

            url = urlsplit(self.url)
            ssl = url.scheme == "https"
            return chromadb.HttpClient(host=url.hostname or "", port=url.port or (443 if ssl else 80), ssl=ssl, settings=chroma_settings)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(self.path), settings=chroma_settings)

    def close(self, *paths: Path) -> None:
        """Forget open stores: Chroma keeps one client per path per process, which would go on
        reading a store that was moved away."""
        from chromadb.api.shared_system_client import SharedSystemClient

        self._handles = None
        for path in paths:
            system = SharedSystemClient._identifier_to_system.pop(str(path), None)
            SharedSystemClient._identifier_to_refcount.pop(str(path), None)
            if system is not None:
                system.stop()

    def drop(self) -> None:
        """On a server: delete both collections, so the next write starts from nothing."""
        from chromadb.errors import NotFoundError

        with self.guard():
            client = self._client()
            for name in (self.collection, f"{self.collection}-documents"):
                try:
                    client.delete_collection(name)
                except NotFoundError:
                    pass  # never created, or another rebuild got there first
        self._handles = None

    def collections(self) -> tuple[Collection, Collection]:
        """The chunks, and the documents' records (looked up by id only)."""
        if self._handles is None:
            with self.guard():
                client = self._client()
                # No embedding function: we always pass vectors, so Chroma's default
                # (which downloads a model) is never used.
                chunks = client.get_or_create_collection(
                    self.collection,
                    embedding_function=None,
                    configuration={"hnsw": {"space": "cosine"}},
                    metadata={"model": self.model},
                )
                documents = client.get_or_create_collection(f"{self.collection}-documents", embedding_function=None)
            self._handles = (chunks, documents)
        return self._handles


def as_vectors(vectors: Sequence[Sequence[float]]) -> PyEmbeddings:
    """Vectors as Chroma's signatures type them."""
    return [list(v) for v in vectors]

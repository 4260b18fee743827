"""The vector index: the corpus's units, embedded, in Chroma (``store.py``: local or a server).

This is the read side the Advisor holds: the published snapshot (manifest, documents, every
unit), nearest-neighbour queries, the list of sources and the health check's reason. Writing it
(ingest, rebuild, forget) is ``ingest.py``; the manifest that ties both is ``manifest.py``.
With ``ADVISOR_CHROMA_URL`` every replica reads one Chroma server; the documents' text and the
manifest live there too, so a replica needs no files and sees another's ingest as a new corpus
version (``current_version``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel

from advisor_bot.chunks import Chunk
from advisor_bot.config import Settings, enforce_offline
from advisor_bot.corpus import Document, Origin, slugify
from advisor_bot.embeddings import EmbeddingModel
from advisor_bot.errors import AdvisorError, IndexMissingError, IndexStaleError
from advisor_bot.ingest import Ingester, IngestReport
from advisor_bot.manifest import Manifest, Manifests, doc_key
from advisor_bot.store import ChromaStore, as_vectors

__all__ = ["EmbeddingModel", "Index", "IngestReport", "Snapshot", "Source"]


class Snapshot(BaseModel):
    """What a reader needs: the manifest, the documents and every chunk."""

    manifest: Manifest
    documents: dict[str, Document]
    chunks: list[Chunk]


class Source(BaseModel):
    """One indexed document, as `advisor-bot sources` lists it."""

    document: str
    title: str
    origin: Origin
    format: str
    units: int
    version: str


class Index:
    def __init__(self, *, settings: Settings, embedder: EmbeddingModel) -> None:
        enforce_offline()
        self.settings = settings
        self.embedder = embedder
        self.collection_name = f"framework-{slugify(embedder.name)}"
        self.data_dir = settings.data_dir
        self.store = ChromaStore(settings=settings, collection=self.collection_name, model=embedder.name)
        self.server_url = settings.chroma_url
        self.manifests = Manifests(store=self.store, path=self.data_dir / f"{self.collection_name}.manifest.json")
        self.writer = Ingester(settings=settings, embedder=embedder, store=self.store, manifests=self.manifests, collection=self.collection_name)

    # -- writing (ingest.py) --------------------------------------------------
    def ingest(self, extra: Sequence[Path] = (), *, progress: bool = False, rebuild: bool = False) -> IngestReport:
        return self.writer.ingest(extra, progress=progress, rebuild=rebuild)

    def forget(self, document: str) -> str:
        """Remove one user document and its units; returns the new corpus version."""
        return self.writer.forget(document)

    def read_documents(self, extra: Sequence[Path] = ()) -> list[Document]:
        return self.writer.read_documents(extra)

    def chunk(self, docs: Sequence[Document]) -> list[Chunk]:
        return self.writer.chunk(docs)

    def current_version(self) -> str | None:
        return self.manifests.current_version()

    # -- reading -----------------------------------------------------------
    def problem(self) -> str | None:
        """Why the index cannot serve right now (the health check's reason), or None."""
        if self.server_url is None and (not self.manifests.path.is_file() or not (self.store.path / "chroma.sqlite3").is_file()):
            return f"The index in {self.data_dir} has gone (was the folder deleted or moved?); run `advisor-bot ingest` and restart the server."
        try:
            if self.server_url is not None and self.current_version() is None:
                return f"The Chroma server at {self.server_url} holds no index; run `advisor-bot ingest`."
            with self.store.guard():
                self.store.collections()[0].count()
        except AdvisorError as exc:
            return str(exc)
        return None

    def _manifest_or_missing(self) -> Manifest:
        manifest = self.manifests.read()
        if manifest is None:
            where = self.server_url or self.data_dir
            raise IndexMissingError(f"No index in {where} yet; run `advisor-bot ingest` (or `make run`) first.")
        return manifest

    def sources(self) -> tuple[str, list[Source]]:
        """The corpus version and every indexed document with its unit count."""
        manifest = self._manifest_or_missing()
        with self.store.guard():
            col, meta = self.store.collections()
            counts: dict[str, int] = {}
            for m in col.get(include=["metadatas"])["metadatas"] or []:
                counts[str(m["document"])] = counts.get(str(m["document"]), 0) + 1
            records = meta.get(ids=[doc_key(d) for d in manifest.documents], include=["documents"])
        docs = [Document.model_validate_json(t) for t in records["documents"] or []]
        return manifest.corpus_version, [
            Source(document=d.id, title=d.title, origin=d.origin, format=d.format, units=counts.get(d.id, 0), version=d.sha256[:12])
            for d in sorted(docs, key=lambda d: (d.origin, d.id))
        ]

    def load(self) -> Snapshot:
        """Everything a retriever needs, checked to be complete and current."""
        manifest = self._manifest_or_missing()
        with self.store.guard():
            col, meta = self.store.collections()
            got = col.get(include=["documents", "metadatas"])
            records = meta.get(ids=[doc_key(d) for d in manifest.documents], include=["documents"])
        if sorted(got["ids"]) != manifest.chunk_ids or len(records["ids"]) != len(manifest.documents):
            raise IndexMissingError(
                "The index is incomplete (an ingest was interrupted or another process wrote to it); "
                "run `advisor-bot ingest` again."
            )
        documents = {d.id: d for d in (Document.model_validate_json(t) for t in records["documents"] or [])}
        if self.server_url is None:
            self._check_current(manifest, documents)
        chunks = [
            Chunk(id=i, text=t, **m)
            for i, t, m in zip(got["ids"], got["documents"] or [], got["metadatas"] or [], strict=True)
        ]
        chunks.sort(key=lambda c: (c.document, c.start, c.kind))
        return Snapshot(manifest=manifest, documents=documents, chunks=chunks)

    def _check_current(self, manifest: Manifest, documents: dict[str, Document]) -> None:
        """Embedded, the framework folder is on this machine: an edit without ingest is caught.
        (A user's document was read once at ingest; its text is stored and served as indexed.)"""
        for doc_id, doc in documents.items():
            if doc.origin != "framework":
                continue
            path = Path(manifest.paths[doc_id])
            try:
                raw = path.read_bytes()
            except OSError as exc:
                raise IndexStaleError(
                    f"Cannot read corpus file {path.name}: {exc.strerror}. The index was built from it; fix it and run `advisor-bot ingest`."
                ) from exc
            if hashlib.sha256(raw).hexdigest() != manifest.documents[doc_id]:
                raise IndexStaleError(f"{doc_id} changed since the last ingest; run `advisor-bot ingest` to re-index it.")

    def query(self, vector: list[float], *, n: int) -> list[tuple[str, float]]:
        """Nearest chunk ids with cosine similarity (1 - Chroma's cosine distance)."""
        with self.store.guard():
            res = self.store.collections()[0].query(query_embeddings=as_vectors([vector]), n_results=n, include=["distances"])
        distances = res["distances"]
        assert distances is not None, "Chroma returns what include asks for"
        return [(i, 1.0 - d) for i, d in zip(res["ids"][0], distances[0], strict=True)]

"""The vector index: chunks of the corpus, embedded, in a local Chroma store.

One writer at a time (a file lock around ingest), content-hash ids so a re-run
only touches what changed, and a manifest written last and atomically: an
interrupted ingest is detected on load instead of serving a half-written index.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from filelock import FileLock, Timeout
from pydantic import BaseModel
from tqdm import tqdm

from advisor_bot.chunks import Chunk, section_chunks
from advisor_bot.config import Settings, enforce_offline
from advisor_bot.corpus import Document, corpus_files, parse_sections, read_document, slugify
from advisor_bot.errors import AdvisorError, CorpusError, IndexBusyError, IndexMissingError, IndexStaleError
from advisor_bot.storage import guarded

BATCH = 32
LOCK_WAIT_S = 120


class EmbeddingModel(Protocol):
    name: str

    def embed_documents(self, texts: list[str]) -> list[list[float]]: ...
    def embed_query(self, text: str) -> list[float]: ...
    def count_tokens(self, text: str) -> int: ...


class IngestReport(BaseModel):
    added: int
    updated: int
    removed: int
    unchanged: int
    documents: list[str]
    corpus_version: str
    seconds: float



class Manifest(BaseModel):
    collection: str
    model: str
    corpus_version: str
    documents: dict[str, str]
    paths: dict[str, str]
    chunk_ids: list[str]


class Snapshot(BaseModel):
    """What a reader needs: the manifest, the documents and every chunk."""

    manifest: Manifest
    documents: dict[str, Document]
    chunks: list[Chunk]


def corpus_version(chunk_ids: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(sorted(chunk_ids)).encode()).hexdigest()[:16]


class Index:
    def __init__(self, *, settings: Settings, embedder: EmbeddingModel) -> None:
        enforce_offline()
        self.settings = settings
        self.embedder = embedder
        self.collection_name = f"framework-{slugify(embedder.name)}"
        self.data_dir = settings.data_dir
        self._manifest_path = self.data_dir / f"{self.collection_name}.manifest.json"
        self._store_path = self.data_dir / "chroma"
        self._collection_handle = None

    # -- storage -----------------------------------------------------------
    def _collection(self):  # noqa: ANN202 - chromadb's Collection type
        if self._collection_handle is None:
            import chromadb
            from chromadb.config import Settings as ChromaSettings

            self.data_dir.mkdir(parents=True, exist_ok=True)
            client = chromadb.PersistentClient(
                path=str(self._store_path),
                settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False),
            )
            # No embedding function: we always pass vectors, so Chroma's default
            # (which downloads a model) is never used.
            self._collection_handle = client.get_or_create_collection(
                self.collection_name,
                embedding_function=None,
                configuration={"hnsw": {"space": "cosine"}},
                metadata={"model": self.embedder.name},
            )
        return self._collection_handle

    def _close(self, *paths: Path) -> None:
        """Forget open stores: Chroma keeps one client per path per process, which would go on
        reading a store that was moved away."""
        from chromadb.api.shared_system_client import SharedSystemClient

        self._collection_handle = None
        for path in paths:
            system = SharedSystemClient._identifier_to_system.pop(str(path), None)
            SharedSystemClient._identifier_to_refcount.pop(str(path), None)
            if system is not None:
                system.stop()

    def _read_manifest(self) -> Manifest | None:
        try:
            return Manifest.model_validate_json(self._manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except ValueError as exc:
            raise IndexMissingError(f"The index manifest is damaged ({exc.__class__.__name__}); run `advisor-bot ingest`.") from exc

    def _write_manifest(self, manifest: Manifest) -> None:
        tmp = self._manifest_path.with_suffix(".tmp")
        tmp.write_text(manifest.model_dump_json(indent=1), encoding="utf-8")
        os.replace(tmp, self._manifest_path)

    # -- writing -----------------------------------------------------------
    def read_documents(self, extra: Sequence[Path] = ()) -> list[Document]:
        """The corpus folder plus any extra files or folders, validated before any write."""
        corpus_dir = self.settings.corpus_dir
        docs = [read_document(p, corpus_dir=corpus_dir) for p in corpus_files([corpus_dir, *extra])]
        seen: dict[str, Path] = {}
        unique: list[Document] = []
        for doc in docs:
            if doc.id in seen:
                if seen[doc.id].resolve() == doc.path.resolve():
                    continue
                raise CorpusError(f"Two corpus files are both named {doc.id}; rename one of them.")
            seen[doc.id] = doc.path
            unique.append(doc)
        if not unique:
            raise CorpusError(f"There is nothing to index: {corpus_dir} holds no .md or .txt files.")
        return unique

    def chunk(self, docs: Sequence[Document]) -> list[Chunk]:
        limit = self.settings.chunk_tokens
        return [
            c
            for doc in docs
            for sec in parse_sections(doc)
            for c in section_chunks(doc, sec, count_tokens=self.embedder.count_tokens, limit=limit)
        ]

    def ingest(self, extra: Sequence[Path] = (), *, progress: bool = False, rebuild: bool = False) -> IngestReport:
        """Bring the index up to date; ``rebuild`` builds it afresh beside the old store (which may be damaged) and switches."""
        began = time.perf_counter()
        docs = self.read_documents(extra)
        chunks = self.chunk(docs)
        try:
            with guarded(self.data_dir):
                self.data_dir.mkdir(parents=True, exist_ok=True)
                with FileLock(str(self.data_dir / "ingest.lock"), timeout=LOCK_WAIT_S):
                    if rebuild:
                        report = self._rebuild(docs, chunks, progress=progress)
                    else:
                        report, manifest = self._sync(docs, chunks, progress=progress)
                        self._write_manifest(manifest)
        except Timeout as exc:
            raise IndexBusyError(
                f"Another ingest has held the index lock in {self.data_dir} for {LOCK_WAIT_S} s; wait for it to finish."
            ) from exc
        return report.model_copy(update={"seconds": round(time.perf_counter() - began, 3)})

    def _rebuild(self, docs: Sequence[Document], chunks: list[Chunk], *, progress: bool) -> IngestReport:
        """Build into a new folder, then swap it in by rename: the old store (perhaps damaged) is never
        read, and readers never see a half-built one: until the manifest is replaced, last, they
        see the old index, or (between the two renames) none, which ``load`` reports."""
        store, fresh, retired = self._store_path, self.data_dir / "chroma.rebuild", self.data_dir / "chroma.retired"
        self._close(store, fresh)
        shutil.rmtree(fresh, ignore_errors=True)
        self._store_path = fresh
        try:
            report, manifest = self._sync(docs, chunks, progress=progress)
        finally:
            self._close(fresh)
            self._store_path = store
        shutil.rmtree(retired, ignore_errors=True)
        if store.exists():
            os.replace(store, retired)
        os.replace(fresh, store)
        self._write_manifest(manifest)
        shutil.rmtree(retired, ignore_errors=True)
        return report.model_copy(update={"added": len(chunks), "updated": 0, "removed": 0, "unchanged": 0})

    def _sync(self, docs: Sequence[Document], chunks: list[Chunk], *, progress: bool) -> tuple[IngestReport, Manifest]:
        """Bring the open store in line with ``chunks``; the caller publishes the manifest, last."""
        col = self._collection()
        existing = col.get(include=["metadatas"])
        old_slots = {
            f"{m['document']}#{m['anchor']}/{m['kind']}/{m['seq']}": i
            for i, m in zip(existing["ids"], existing["metadatas"] or [], strict=True)
        }
        old_meta = dict(zip(existing["ids"], existing["metadatas"] or [], strict=True))
        new_ids = {c.id for c in chunks}
        to_embed = [c for c in chunks if c.id not in old_meta]
        moved = [c for c in chunks if c.id in old_meta and old_meta[c.id] != c.metadata()]
        stale = [i for i in old_meta if i not in new_ids]
        updated = sum(1 for c in to_embed if c.slot in old_slots and old_slots[c.slot] not in new_ids)

        bar = tqdm(total=len(to_embed), desc="embedding", unit="chunk", disable=not progress or len(to_embed) < BATCH)
        for i in range(0, len(to_embed), BATCH):
            batch = to_embed[i : i + BATCH]
            col.upsert(
                ids=[c.id for c in batch],
                embeddings=self.embedder.embed_documents([c.text for c in batch]),
                documents=[c.text for c in batch],
                metadatas=[c.metadata() for c in batch],
            )
            bar.update(len(batch))
        bar.close()
        if moved:
            # Text unchanged, offsets shifted by an edit elsewhere: no re-embedding.
            col.update(ids=[c.id for c in moved], metadatas=[c.metadata() for c in moved])
        if stale:
            col.delete(ids=stale)

        ids = sorted(new_ids)
        version = corpus_version(ids)
        manifest = Manifest(
            collection=self.collection_name,
            model=self.embedder.name,
            corpus_version=version,
            documents={d.id: d.sha256 for d in docs},
            paths={d.id: str(d.path.resolve()) for d in docs},
            chunk_ids=ids,
        )
        report = IngestReport(
            added=len(to_embed) - updated,
            updated=updated,
            removed=len(stale) - updated,
            unchanged=len(chunks) - len(to_embed),
            documents=[d.id for d in docs],
            corpus_version=version,
            seconds=0.0,
        )
        return report, manifest

    # -- reading -----------------------------------------------------------
    def problem(self) -> str | None:
        """Why the index cannot serve right now (the health check's reason), or None."""
        if not self._manifest_path.is_file() or not (self._store_path / "chroma.sqlite3").is_file():
            return f"The index in {self.data_dir} has gone (was the folder deleted or moved?); run `advisor-bot ingest` and restart the server."
        try:
            with guarded(self.data_dir):
                self._collection().count()
        except AdvisorError as exc:
            return str(exc)
        return None

    def load(self) -> Snapshot:
        """Everything a retriever needs, checked to be complete and current."""
        manifest = self._read_manifest()
        if manifest is None:
            raise IndexMissingError(
                f"No index in {self.data_dir} yet; run `advisor-bot ingest` (or `make run`) first."
            )
        with guarded(self.data_dir):
            got = self._collection().get(include=["documents", "metadatas"])
        if sorted(got["ids"]) != manifest.chunk_ids:
            raise IndexMissingError(
                "The index is incomplete (an ingest was interrupted or another process wrote to it); "
                "run `advisor-bot ingest` again."
            )
        documents: dict[str, Document] = {}
        for doc_id, path in manifest.paths.items():
            p = Path(path)
            try:
                doc = read_document(p, corpus_dir=self.settings.corpus_dir)
            except CorpusError as exc:
                raise IndexStaleError(f"{exc} The index was built from it; fix it and run `advisor-bot ingest`.") from exc
            if doc.sha256 != manifest.documents[doc_id]:
                raise IndexStaleError(f"{doc_id} changed since the last ingest; run `advisor-bot ingest` to re-index it.")
            documents[doc_id] = doc.model_copy(update={"id": doc_id})
        chunks = [
            Chunk(id=i, text=t, **m)  # type: ignore[arg-type]
            for i, t, m in zip(got["ids"], got["documents"] or [], got["metadatas"] or [], strict=True)
        ]
        chunks.sort(key=lambda c: (c.document, c.start, c.kind))
        return Snapshot(manifest=manifest, documents=documents, chunks=chunks)

    def query(self, vector: list[float], *, n: int) -> list[tuple[str, float]]:
        """Nearest chunk ids with cosine similarity (1 - Chroma's cosine distance)."""
        with guarded(self.data_dir):
            res = self._collection().query(query_embeddings=[vector], n_results=n, include=["distances"])
        return [(i, 1.0 - d) for i, d in zip(res["ids"][0], res["distances"][0], strict=True)]

"""Ingest: the corpus folder and the user's files, cut into units, embedded and written to the store.

Content-hash ids, so a re-run only embeds what changed; the manifest is published last, so an
interrupted ingest is detected on load instead of serving a half-written index. Embedded, a file
lock around every write keeps one writer per local store. ``rebuild`` recovers a damaged store:
embedded, it is built in a fresh folder and switched in by rename; on a server, the collections
are recreated.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from filelock import FileLock, Timeout
from pydantic import BaseModel
from tqdm import tqdm

if TYPE_CHECKING:
    from chromadb.api.types import GetResult

from advisor_bot.chunks import Chunk, section_chunks
from advisor_bot.config import Settings
from advisor_bot.corpus import USER_SUFFIXES, Document, corpus_files, parse_sections, read_document
from advisor_bot.embeddings import EmbeddingModel
from advisor_bot.errors import CorpusError, IndexBusyError, IndexMissingError
from advisor_bot.manifest import NO_VECTOR, Manifest, Manifests, corpus_version, doc_key
from advisor_bot.storage import guarded
from advisor_bot.store import ChromaStore, as_vectors

# Texts per embedding call: the embedder batches within it; sorted by length, each of
# its batches pads to nearly the same size, which is most of the model's speed.
EMBED_GROUP = 256
LOCK_WAIT_S = 120


class Skipped(BaseModel):
    path: str
    reason: str


class IngestReport(BaseModel):
    added: int
    updated: int
    removed: int
    unchanged: int
    documents: list[str]
    corpus_version: str
    seconds: float
    skipped: list[Skipped] = []
    embedded_units: int = 0
    embed_seconds: float = 0.0


class Ingester:
    """Writes one index: its store and its manifest."""

    def __init__(self, *, settings: Settings, embedder: EmbeddingModel, store: ChromaStore, manifests: Manifests, collection: str) -> None:
        self.settings = settings
        self.embedder = embedder
        self.store = store
        self.manifests = manifests
        self.collection = collection
        self.data_dir = settings.data_dir

    @contextmanager
    def _writing(self) -> Iterator[None]:
        # The lock serialises writers on this machine; replicas leave ingest to one job (docs/deploy.md).
        try:
            with guarded(self.data_dir):
                self.data_dir.mkdir(parents=True, exist_ok=True)
                with FileLock(str(self.data_dir / "ingest.lock"), timeout=LOCK_WAIT_S), self.store.guard():
                    yield
        except Timeout as exc:
            raise IndexBusyError(
                f"Another ingest has held the index lock in {self.data_dir} for {LOCK_WAIT_S} s; wait for it to finish."
            ) from exc

    # -- what to index ------------------------------------------------------
    def read_documents(self, extra: Sequence[Path] = ()) -> list[Document]:
        """The corpus folder plus any extra files or folders; any bad file stops the ingest."""
        docs, _ = self._read(extra, lenient=False)
        return docs

    def _read(self, extra: Sequence[Path], *, lenient: bool) -> tuple[list[Document], list[Skipped]]:
        """The corpus folder, strictly (the framework must be whole), and the user's PATHs,
        where a bad file is skipped with the reason when ``lenient``."""
        corpus_dir = self.settings.corpus_dir
        max_bytes = int(self.settings.max_file_mb * 1_000_000)
        docs = [read_document(p, corpus_dir=corpus_dir) for p in corpus_files([corpus_dir])]
        skipped: list[Skipped] = []
        for path in extra:
            try:
                files = corpus_files([path], suffixes=USER_SUFFIXES)
            except CorpusError as exc:
                if not lenient:
                    raise
                skipped.append(Skipped(path=str(path), reason=str(exc)))
                continue
            for file in files:
                try:
                    docs.append(read_document(file, corpus_dir=corpus_dir, max_bytes=max_bytes))
                except CorpusError as exc:
                    if not lenient:
                        raise
                    skipped.append(Skipped(path=str(file), reason=str(exc)))
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
        return unique, skipped

    def _chunk_one(self, doc: Document) -> list[Chunk]:
        limit = self.settings.chunk_tokens
        return [
            c for sec in parse_sections(doc) for c in section_chunks(doc, sec, count_tokens=self.embedder.count_tokens, limit=limit)
        ]

    def chunk(self, docs: Sequence[Document]) -> list[Chunk]:
        return [c for doc in docs for c in self._chunk_one(doc)]

    def _reread_user_documents(self, *, exclude: set[str]) -> tuple[list[Document], list[Skipped]]:
        """The user's documents of the last ingest, read again from their paths: a rebuild never reads the old store."""
        try:
            old = self.manifests.read()
        except IndexMissingError:
            old = None  # a damaged manifest: the user's documents must be added again
        docs: list[Document] = []
        missed: list[Skipped] = []
        max_bytes = int(self.settings.max_file_mb * 1_000_000)
        for doc_id in old.user_documents if old is not None else []:
            if doc_id in exclude or old is None:
                continue
            path = Path(old.paths[doc_id])
            try:
                docs.append(read_document(path, corpus_dir=self.settings.corpus_dir, max_bytes=max_bytes))
            except (CorpusError, OSError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) else str(exc)
                missed.append(Skipped(path=str(path), reason=f"{doc_id} could not be read again for the rebuild ({reason}); add it with `advisor-bot ingest PATH`."))
        return docs, missed

    # -- writing ------------------------------------------------------------
    def ingest(self, extra: Sequence[Path] = (), *, progress: bool = False, rebuild: bool = False) -> IngestReport:
        """Bring the index up to date; ``rebuild`` builds it afresh (the old store may be damaged)
        and re-reads the user's documents from where they were added."""
        began = time.perf_counter()
        docs, skipped = self._read(extra, lenient=True)
        if rebuild:
            again, missed = self._reread_user_documents(exclude={d.id for d in docs})
            docs, skipped = [*docs, *again], [*skipped, *missed]
        kept: list[Document] = []
        chunks: list[Chunk] = []
        for doc in docs:
            units = self._chunk_one(doc)
            if doc.origin == "user" and len(units) > self.settings.max_units_per_file:
                skipped.append(
                    Skipped(
                        path=str(doc.path),
                        reason=f"{doc.path.name} cuts into {len(units)} units, over the limit of "
                        f"{self.settings.max_units_per_file} (ADVISOR_MAX_UNITS_PER_FILE); split it or raise the limit.",
                    )
                )
                continue
            kept.append(doc)
            chunks.extend(units)
        with self._writing():
            if rebuild:
                report = self._rebuild(kept, chunks, progress=progress)
            else:
                report, manifest = self._sync(kept, chunks, progress=progress)
                self.manifests.write(manifest)
        return report.model_copy(update={"seconds": round(time.perf_counter() - began, 3), "skipped": skipped})

    def _rebuild(self, docs: Sequence[Document], chunks: list[Chunk], *, progress: bool) -> IngestReport:
        """Embedded: build into a new folder, then swap it in by rename: the old store (perhaps
        damaged) is never read, and readers never see a half-built one: until the manifest is
        replaced, last, they see the old index, or (between the two renames) none, which ``load``
        reports. On a server: recreate the collections (replicas keep the version they loaded
        until the new manifest lands)."""
        if self.store.url is not None:
            self.store.drop()
            report, manifest = self._sync(docs, chunks, progress=progress, carry=False)
            self.manifests.write(manifest)
            return report
        store, fresh, retired = self.store.path, self.data_dir / "chroma.rebuild", self.data_dir / "chroma.retired"
        self.store.close(store, fresh)
        shutil.rmtree(fresh, ignore_errors=True)
        self.store.path = fresh
        try:
            report, manifest = self._sync(docs, chunks, progress=progress, carry=False)
        finally:
            self.store.close(fresh)
            self.store.path = store
        shutil.rmtree(retired, ignore_errors=True)
        if store.exists():
            os.replace(store, retired)
        os.replace(fresh, store)
        self.manifests.write(manifest)
        shutil.rmtree(retired, ignore_errors=True)
        return report.model_copy(update={"added": len(manifest.chunk_ids), "updated": 0, "removed": 0, "unchanged": 0})

    def _carried(self, docs: Sequence[Document], existing: GetResult) -> tuple[list[Document], list[Chunk]]:
        """User documents indexed before and not given again stay, unchanged, until forgotten."""
        old = self.manifests.read()
        given = {d.id for d in docs}
        carry = [d for d in (old.user_documents if old else []) if d not in given]
        if not carry:
            return [], []
        records = self.store.collections()[1].get(ids=[doc_key(d) for d in carry], include=["documents"])
        kept_docs = [Document.model_validate_json(text) for text in records["documents"] or []]
        ids = {d.id for d in kept_docs}
        kept_chunks = [
            Chunk(id=i, text=t, **m)
            for i, t, m in zip(existing["ids"], existing["documents"] or [], existing["metadatas"] or [], strict=True)
            if m["document"] in ids
        ]
        return kept_docs, kept_chunks

    def _sync(self, docs: Sequence[Document], chunks: list[Chunk], *, progress: bool, carry: bool = True) -> tuple[IngestReport, Manifest]:
        """Bring the open store in line with ``chunks`` (plus, with ``carry``, the user's documents
        indexed before); the caller publishes the manifest, last."""
        col, meta = self.store.collections()
        existing = col.get(include=["metadatas", "documents"])
        carried_docs, carried_chunks = self._carried(docs, existing) if carry else ([], [])
        docs = [*docs, *carried_docs]
        chunks = [*chunks, *carried_chunks]
        old_slots = {
            f"{m['document']}#{m['anchor']}/{m['kind']}/{m['seq']}": i
            for i, m in zip(existing["ids"], existing["metadatas"] or [], strict=True)
        }
        old_meta = dict(zip(existing["ids"], existing["metadatas"] or [], strict=True))
        new_ids = {c.id for c in chunks}
        # Shortest first: each embedding batch pads to its longest text.
        to_embed = sorted((c for c in chunks if c.id not in old_meta), key=lambda c: len(c.text))
        moved = [c for c in chunks if c.id in old_meta and old_meta[c.id] != c.metadata()]
        stale = [i for i in old_meta if i not in new_ids]
        updated = sum(1 for c in to_embed if c.slot in old_slots and old_slots[c.slot] not in new_ids)

        embed_s = 0.0
        bar = tqdm(total=len(to_embed), desc="embedding", unit="unit", disable=not progress or len(to_embed) < EMBED_GROUP)
        # Each group is written while the next one is embedded: the model releases the GIL, so
        # Chroma's write no longer stalls it. One writer thread, one write in flight.
        with ThreadPoolExecutor(max_workers=1) as writer:
            pending: Future[None] | None = None
            for i in range(0, len(to_embed), EMBED_GROUP):
                batch = to_embed[i : i + EMBED_GROUP]
                t0 = time.perf_counter()
                vectors = self.embedder.embed_documents([c.text for c in batch])
                embed_s += time.perf_counter() - t0
                if pending is not None:
                    pending.result()
                pending = writer.submit(
                    col.upsert,
                    ids=[c.id for c in batch],
                    embeddings=as_vectors(vectors),
                    documents=[c.text for c in batch],
                    metadatas=[c.metadata() for c in batch],
                )
                bar.update(len(batch))
            if pending is not None:
                pending.result()
        bar.close()
        if moved:
            # Text unchanged, offsets shifted by an edit elsewhere: no re-embedding.
            col.update(ids=[c.id for c in moved], metadatas=[c.metadata() for c in moved])
        if stale:
            col.delete(ids=stale)
        self._store_documents(docs)

        ids = sorted(new_ids)
        version = corpus_version(ids)
        manifest = Manifest(
            collection=self.collection,
            model=self.embedder.name,
            corpus_version=version,
            documents={d.id: d.sha256 for d in docs},
            paths={d.id: str(d.path.resolve()) for d in docs},
            chunk_ids=ids,
            user_documents=sorted(d.id for d in docs if d.origin == "user"),
        )
        report = IngestReport(
            added=len(to_embed) - updated,
            updated=updated,
            removed=len(stale) - updated,
            unchanged=len(chunks) - len(to_embed),
            documents=[d.id for d in docs],
            corpus_version=version,
            seconds=0.0,
            embedded_units=len(to_embed),
            embed_seconds=round(embed_s, 3),
        )
        return report, manifest

    def _store_documents(self, docs: Sequence[Document]) -> None:
        """Each document's text beside its chunks, so any replica can quote it; stale ones go."""
        meta = self.store.collections()[1]
        have = meta.get(include=["metadatas"])
        stored = {i: (m or {}).get("sha256") for i, m in zip(have["ids"], have["metadatas"] or [], strict=True)}
        wanted = {doc_key(d.id): d for d in docs}
        changed = [d for key, d in wanted.items() if stored.get(key) != d.sha256]
        for i in range(0, len(changed), EMBED_GROUP):
            part = changed[i : i + EMBED_GROUP]
            meta.upsert(
                ids=[doc_key(d.id) for d in part],
                embeddings=as_vectors([NO_VECTOR] * len(part)),
                documents=[d.model_dump_json() for d in part],
                metadatas=[{"sha256": d.sha256} for d in part],
            )
        gone = [key for key in stored if key.startswith("doc:") and key not in wanted]
        if gone:
            meta.delete(ids=gone)

    def forget(self, document: str) -> str:
        """Remove one user document and its units; returns the new corpus version."""
        with self._writing():
            manifest = self.manifests.read()
            if manifest is None or document not in manifest.documents:
                raise CorpusError(f"No indexed document is named {document!r}; `advisor-bot sources` lists them.")
            if document not in manifest.user_documents:
                raise CorpusError(
                    f"{document} is part of the framework folder; remove it from {self.settings.corpus_dir} and run `advisor-bot ingest`."
                )
            col, meta = self.store.collections()
            gone = col.get(where={"document": document}, include=[])["ids"]
            if gone:
                col.delete(ids=gone)
            meta.delete(ids=[doc_key(document)])
            ids = sorted(set(manifest.chunk_ids) - set(gone))
            version = corpus_version(ids)
            self.manifests.write(
                manifest.model_copy(
                    update={
                        "corpus_version": version,
                        "chunk_ids": ids,
                        "documents": {k: v for k, v in manifest.documents.items() if k != document},
                        "paths": {k: v for k, v in manifest.paths.items() if k != document},
                        "user_documents": [d for d in manifest.user_documents if d != document],
                    }
                )
            )
        return version

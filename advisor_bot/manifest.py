"""The manifest: what the last finished ingest published, written last.

Embedded, it is a JSON file beside the store in the data folder; with a Chroma server it is a
record in the documents' collection, so every replica reads the same one and sees another's
ingest as a new corpus version. An ingest that stops part-way leaves the previous manifest, and
readers find the store does not match it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel

from advisor_bot.errors import IndexMissingError
from advisor_bot.store import ChromaStore, as_vectors

_MANIFEST_ID = "manifest"
# Records of the documents' collection are looked up by id only; Chroma still wants a vector.
NO_VECTOR = [1.0]


class Manifest(BaseModel):
    collection: str
    model: str
    corpus_version: str
    documents: dict[str, str]
    paths: dict[str, str]
    chunk_ids: list[str]
    user_documents: list[str] = []


def corpus_version(chunk_ids: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(sorted(chunk_ids)).encode()).hexdigest()[:16]


def doc_key(doc_id: str) -> str:
    """A document's record id in the documents' collection."""
    return f"doc:{doc_id}"


class Manifests:
    """The published manifest of one index, wherever it is kept."""

    def __init__(self, *, store: ChromaStore, path: Path) -> None:
        self.store = store
        self.path = path

    def read(self) -> Manifest | None:
        try:
            if self.store.url is not None:
                with self.store.guard():
                    got = self.store.collections()[1].get(ids=[_MANIFEST_ID], include=["documents"])
                if not got["ids"]:
                    return None
                return Manifest.model_validate_json((got["documents"] or [""])[0])
            return Manifest.model_validate_json(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except ValueError as exc:
            raise IndexMissingError(f"The index manifest is damaged ({exc.__class__.__name__}); run `advisor-bot ingest`.") from exc

    def write(self, manifest: Manifest) -> None:
        if self.store.url is not None:
            with self.store.guard():
                self.store.collections()[1].upsert(
                    ids=[_MANIFEST_ID],
                    embeddings=as_vectors([NO_VECTOR]),
                    documents=[manifest.model_dump_json()],
                    metadatas=[{"corpus_version": manifest.corpus_version}],
                )
            return
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(manifest.model_dump_json(indent=1), encoding="utf-8")
        os.replace(tmp, self.path)

    def current_version(self) -> str | None:
        """The corpus version published now (on a server, another replica may have ingested);
        one small read, so a replica can ask before every turn."""
        if self.store.url is None:
            manifest = self.read()
            return manifest.corpus_version if manifest else None
        try:
            with self.store.guard():
                got = self.store.collections()[1].get(ids=[_MANIFEST_ID], include=["metadatas"])
        except IndexMissingError:
            return None  # recreated by a rebuild: the next read finds the new collections
        return str((got["metadatas"] or [{}])[0].get("corpus_version")) if got["ids"] else None

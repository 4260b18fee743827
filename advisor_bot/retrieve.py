"""Hybrid retrieval: BM25 and dense search over the same chunks, fused by rank."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal

import bm25s
import numpy as np
import Stemmer
from pydantic import BaseModel, Field

from advisor_bot.chunks import Chunk
from advisor_bot.config import Settings
from advisor_bot.corpus import Origin
from advisor_bot.index import EmbeddingModel, Index, Snapshot

Mode = Literal["hybrid", "dense", "bm25"]
_STEMMER = Stemmer.Stemmer("english")
# "CROs"/"CDMOs" would otherwise stem apart from "CRO"/"CDMO".
_ACRONYM_PLURAL = re.compile(r"\b(cro|cdmo|api|fte|dmf|sop)s\b", re.IGNORECASE)
_RECENT_TEXTS = 2048


def _tokenize(texts: list[str]) -> list[list[str]]:
    normalised = [_ACRONYM_PLURAL.sub(r"\1", t) for t in texts]
    return bm25s.tokenize(
        normalised, stopwords="english", stemmer=_STEMMER.stemWords, return_ids=False, show_progress=False
    )


@lru_cache(maxsize=_RECENT_TEXTS)
def _tokens(text: str) -> tuple[str, ...]:
    return tuple(_tokenize([text])[0])


def lexical_tokens(texts: list[str]) -> list[list[str]]:
    """Each text's stemmed BM25 terms. An answer tokenizes the same question, figure labels and
    passage sentences many times over (~13 calls, each building bm25s' progress bars: 3 ms an
    answer), so each text's terms are kept while it is among the most recent."""
    return [list(_tokens(t)) for t in texts]


class Passage(BaseModel):
    """A retrieved chunk, with the verbatim span it quotes and how it ranked."""

    chunk_id: str
    document: str
    section: str
    anchor: str
    kind: Literal["section", "row"]
    start: int
    end: int
    quote: str
    text: str
    promotional: bool
    origin: Origin = "framework"
    score: float
    dense: float | None = None
    lexical: float | None = None


# Function words that say nothing about a question's topic; the coverage signal ignores them.
_FUNCTION_WORDS = frozenset(
    "a about all also am an and any are as at be been but by can could did do does for from get got "
    "had has have how i if in into is it its just let me my need needs of on or our ours should so "
    "than that the their them then there these they this those to us want was we were what whats when "
    "where which who whom why will with would you your yours".split()
)


class Retrieval(BaseModel):
    passages: list[Passage]
    best_dense: float
    coverage: float = Field(description="Share of the question's content terms that occur in the corpus.")


class Retriever:
    def __init__(self, *, snapshot: Snapshot, index: Index, embedder: EmbeddingModel, settings: Settings) -> None:
        self.snapshot = snapshot
        self.index = index
        self.embedder = embedder
        self.settings = settings
        self.chunks = snapshot.chunks
        self._by_id = {c.id: c for c in self.chunks}
        self._bm25 = bm25s.BM25()
        tokens = _tokenize([c.text for c in self.chunks])
        self._bm25.index(tokens, show_progress=False)
        self._vocabulary = frozenset(t for doc in tokens for t in doc)
        self._text_vectors: dict[str, np.ndarray] = {}

    def coverage(self, question: str) -> float:
        terms = [t for t in lexical_tokens([question])[0] if t not in _FUNCTION_WORDS and not t.isdigit()]
        return sum(t in self._vocabulary for t in terms) / len(terms) if terms else 0.0

    def _quote(self, chunk: Chunk) -> str:
        return self.snapshot.documents[chunk.document].text[chunk.start : chunk.end]

    def dense(self, question: str, *, n: int) -> list[tuple[str, float]]:
        hits = self.index.query(self.embedder.embed_query(question), n=min(n, len(self.chunks)))
        # A shared store may already hold units of an ingest this snapshot predates: not ours to quote yet.
        return [(cid, score) for cid, score in hits if cid in self._by_id]

    def lexical(self, question: str, *, n: int) -> list[tuple[str, float]]:
        docs, scores = self._bm25.retrieve(
            lexical_tokens([question]), k=min(n, len(self.chunks)), show_progress=False
        )
        return [(self.chunks[int(d)].id, float(s)) for d, s in zip(docs[0], scores[0], strict=True) if s > 0]

    def _fuse(self, *rankings: list[tuple[str, float]]) -> dict[str, float]:
        """Reciprocal-rank fusion: each ranking adds 1 / (rrf_k + rank) to the ids it ranks."""
        fused: dict[str, float] = {}
        for ranking in rankings:
            for rank, (key, _) in enumerate(ranking):
                fused[key] = fused.get(key, 0.0) + 1.0 / (self.settings.rrf_k + rank + 1)
        return fused

    def rank_texts(self, question: str, texts: list[str], *, prior: list[int] | None = None) -> list[int]:
        """Indices of ``texts`` (e.g. the sentences of retrieved passages), best first, by the same
        hybrid scoring as ``search``: BM25 over these texts and cosine to the question, fused by rank
        with ``prior``, a ranking the caller already has (e.g. by the rank of each text's passage)."""
        if not texts:
            return []
        missing = [t for t in dict.fromkeys(texts) if t not in self._text_vectors]
        if missing:
            # Corpus sentences recur across questions; each is embedded once per process.
            self._text_vectors.update(zip(missing, (np.asarray(v) for v in self.embedder.embed_documents(missing)), strict=True))
        query = np.asarray(self.embedder.embed_query(question))
        vectors = np.stack([self._text_vectors[t] for t in texts])
        cosine = vectors @ query / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(query) + 1e-12)
        dense = sorted(((str(i), float(c)) for i, c in enumerate(cosine)), key=lambda x: -x[1])
        bm25 = bm25s.BM25()
        bm25.index(lexical_tokens(texts), show_progress=False)
        docs, scores = bm25.retrieve(lexical_tokens([question]), k=len(texts), show_progress=False)
        lexical = [(str(int(d)), float(sc)) for d, sc in zip(docs[0], scores[0], strict=True) if sc > 0]
        fused = self._fuse(dense, lexical, [(str(i), 0.0) for i in prior or []])
        return sorted(range(len(texts)), key=lambda i: (-fused.get(str(i), 0.0), i))

    def search(self, question: str, *, k: int | None = None, mode: Mode = "hybrid") -> Retrieval:
        k = k or self.settings.top_k
        n = max(self.settings.candidates, k)
        dense = self.dense(question, n=n) if mode != "bm25" else []
        lexical = self.lexical(question, n=n) if mode != "dense" else []
        fused = self._fuse(dense, lexical)
        dense_of, lexical_of = dict(dense), dict(lexical)
        top = sorted(fused, key=lambda cid: (-fused[cid], cid))[:k]
        passages = []
        for cid in top:
            chunk = self._by_id[cid]
            passages.append(
                Passage(
                    chunk_id=cid,
                    document=chunk.document,
                    section=chunk.section,
                    anchor=chunk.anchor,
                    kind=chunk.kind,
                    start=chunk.start,
                    end=chunk.end,
                    quote=self._quote(chunk),
                    text=chunk.text,
                    promotional=chunk.promotional,
                    origin=self.snapshot.documents[chunk.document].origin,
                    score=round(fused[cid], 6),
                    dense=dense_of.get(cid),
                    lexical=lexical_of.get(cid),
                )
            )
        return Retrieval(
            passages=passages,
            best_dense=max((s for _, s in dense), default=0.0),
            coverage=self.coverage(question),
        )

"""Scripted fakes shared by tests and evals: shipped in the package, like pydantic-ai's."""

from __future__ import annotations

from langchain_core.embeddings import DeterministicFakeEmbedding


class FakeEmbedder:
    """Deterministic embeddings from text hashes; counts whitespace tokens.

    For tests of indexing mechanics that must not depend on the real model.
    """

    name = "fake-embedding"

    def __init__(self, *, size: int = 32) -> None:
        self._fake = DeterministicFakeEmbedding(size=size)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls = getattr(self, "calls", 0) + len(texts)
        return self._fake.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self._fake.embed_query(text)

    def count_tokens(self, text: str) -> int:
        return len(text.split()) + 2

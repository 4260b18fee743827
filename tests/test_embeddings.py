"""The hand-pooled transformers path must give sentence-transformers' own vectors."""

from __future__ import annotations

import numpy as np


def test_vectors_equal_sentence_transformers(embedder) -> None:
    from sentence_transformers import SentenceTransformer

    from advisor_bot.embeddings import model_path

    reference = SentenceTransformer(str(model_path()), device="cpu")
    texts = ["What does a CDMO charge per kilogram?", "FTE rates " * 300, "a"]
    ours = np.array(embedder.embed_documents(texts))
    theirs = reference.encode(texts, normalize_embeddings=True)
    assert ours.shape == (3, 384)
    assert np.abs(ours - theirs).max() < 1e-5
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_long_input_is_truncated_at_the_model_limit(embedder) -> None:
    # Text past 256 word-pieces is dropped by the model: two inputs that differ only
    # after the limit embed identically, which is why chunks are kept under it.
    head = "process chemistry " * 200
    a, b = embedder.embed_documents([head + "tons of API", head + "milligrams of analogs"])
    assert embedder.max_tokens == 256
    assert np.allclose(a, b)


def test_a_text_is_embedded_once_whichever_way_it_is_asked(embedder, monkeypatch) -> None:
    # The reader embeds a question as a sentence, retrieval as a query: one model run between them.
    runs: list[list[str]] = []
    encode = embedder._encode
    monkeypatch.setattr(embedder, "_encode", lambda texts: runs.append(list(texts)) or encode(texts))
    text = "Which partner suits a lead-optimization programme with no chemists of our own?"
    as_sentence = embedder.embed_documents([text, "and a second sentence"])
    as_query = embedder.embed_query(text)
    assert runs == [[text, "and a second sentence"]]
    assert as_query == as_sentence[0] and len(as_query) == 384


def test_a_long_run_gives_the_runtime_memory_back_and_a_short_one_keeps_it(embedder, monkeypatch) -> None:
    # The runtime's arena keeps its largest run's memory: 60 MiB after four texts at the model limit.
    from advisor_bot.embeddings import ARENA_KEEPS

    session = embedder._session
    seen: list[object] = []

    class Recording:
        def run(self, outputs, feed, options=None):  # type: ignore[no-untyped-def]
            seen.append(options)
            return session.run(outputs, feed, options)

    monkeypatch.setattr(embedder, "_session", Recording())
    embedder._encode(["a short question about CRO pricing"])
    embedder._encode(["long history turn " * 100] * 4)
    short, long = seen
    assert short is None and long is embedder._shrink
    assert 4 * 256 > ARENA_KEEPS >= 4 * 16

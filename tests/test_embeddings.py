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



def test_the_runtime_keeps_no_memory_between_runs(embedder) -> None:
    # An arena or a per-shape memory plan keeps the largest run's memory for good: a long pasted
    # page or history turn would stay in the server's memory (docs/security.md, session 9).
    options = embedder._session.get_session_options()
    assert not options.enable_cpu_mem_arena and not options.enable_mem_pattern
    long, short = embedder.embed_documents(["long history turn " * 100, "a short question"])
    assert len(long) == len(short) == 384


def test_short_texts_share_one_run_each_read_as_if_alone(embedder, monkeypatch) -> None:
    # A run costs ~3.5 ms before its first word-piece: a question's clauses and sentences go in one
    # packed row, and no text may see another's words.
    texts = ["We are in lead optimization.", "We have no chemists of our own", "which partner fits?", "a"]
    alone = np.array([embedder._encode([t])[0] for t in texts])
    feeds: list[dict[str, np.ndarray]] = []
    run = embedder._session.run
    monkeypatch.setattr(embedder._session, "run", lambda names, feed: feeds.append(feed) or run(names, feed))
    together = embedder._encode(texts)
    assert [f["input_ids"].shape[0] for f in feeds] == [1]
    assert np.abs(together - alone).max() < 1e-5


def test_texts_are_packed_into_as_few_rows_as_fit() -> None:
    from advisor_bot.embeddings import packed_rows

    lengths = [256, 10, 250, 5, 3]
    rows = packed_rows(lengths, 256)
    assert sorted(k for row in rows for k in row) == [0, 1, 2, 3, 4]
    assert all(sum(lengths[k] for k in row) <= 256 for row in rows)
    assert sorted(sum(lengths[k] for k in row) for row in rows) == [13, 255, 256]


def test_a_text_longer_than_a_row_runs_alone_and_whole() -> None:
    from advisor_bot.embeddings import packed_rows

    assert sorted(packed_rows([200, 100, 20], 128)) == [[0], [1, 2]]


def test_a_new_graph_keeps_the_last_versions_and_deletes_older_ones(tmp_path) -> None:
    # In a rolling upgrade both versions start on one data directory: deleting the other's graph made
    # each export again at every start, and delete the other's.
    import os

    from advisor_bot.embeddings import MODEL_NAME, remove_stale_graphs

    older, last, ours = (tmp_path / f"{MODEL_NAME}-{name}.onnx" for name in ("0a1b2c", "packed-3d4e5f", "packed-6a7b8c"))
    for age, graph in enumerate((older, last, ours)):
        graph.write_bytes(b"graph")
        os.utime(graph, ns=(age * 10**9, age * 10**9))
    writing = tmp_path / f"{MODEL_NAME}-packed-9d0e1f.4242.tmp"  # another server's export in progress
    writing.write_bytes(b"half a graph")
    remove_stale_graphs(ours)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([last.name, ours.name, writing.name])

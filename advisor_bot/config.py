"""Settings: the only reader of the environment.

Built once by a shell (CLI, UI, tests) and passed down; nothing else in the
package looks at ``os.environ``.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Variables that keep every library from reaching the network at run time.
# They are set (not read) here because the libraries read them at import time.
OFFLINE_ENVIRONMENT = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "TOKENIZERS_PARALLELISM": "false",
}


def enforce_offline() -> None:
    """Pin the no-download, no-telemetry switches before heavy imports."""
    for name, value in OFFLINE_ENVIRONMENT.items():
        os.environ[name] = value


class Settings(BaseSettings):
    """Configuration, from ``ADVISOR_*`` variables or keyword arguments."""

    model_config = SettingsConfigDict(env_prefix="ADVISOR_", extra="ignore", frozen=True)

    corpus_dir: Path = Field(default=PROJECT_ROOT / "corpus", description="Folder of .md/.txt corpus files.")
    data_dir: Path = Field(default=PROJECT_ROOT / ".advisor", description="Where the index lives.")
    host: str = "127.0.0.1"
    port: int = Field(default=7860, ge=1, le=65535)

    # Retrieval.
    top_k: int = Field(default=5, ge=1, le=50, description="Passages returned by the retriever.")
    candidates: int = Field(default=30, ge=1, le=200, description="Hits taken from each retriever before fusion.")
    rrf_k: int = Field(default=60, ge=1, description="Reciprocal-rank-fusion constant.")
    chunk_tokens: int = Field(
        default=200,
        ge=32,
        le=256,
        description="Word-pieces per embedded unit; the model truncates after 256.",
    )
    # Calibrated on evals/questions.jsonl (see evals/README.md): cosine similarity of
    # the best dense hit below which a question is treated as out of scope.
    min_relevance: float = Field(default=0.28, ge=-1.0, le=1.0)
    # Lower bar for questions whose every content word occurs in the corpus.
    min_relevance_covered: float = Field(default=0.15, ge=-1.0, le=1.0)

    # Answers.
    quotes: int = Field(default=3, ge=1, le=10, description="Passages quoted in an offline answer.")
    max_question_chars: int = Field(default=4000, ge=16)
    max_history_turns: int = Field(default=20, ge=0)

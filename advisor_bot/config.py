"""Settings: the only reader of the environment.

Built once by a shell (CLI, UI, tests) and passed down; nothing else in the
package looks at ``os.environ``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

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

    # validate_by_name: keyword arguments still work for fields read from other variable names.
    model_config = SettingsConfigDict(env_prefix="ADVISOR_", extra="ignore", frozen=True, hide_input_in_errors=True, validate_by_name=True)

    corpus_dir: Path = Field(default=PROJECT_ROOT / "corpus", description="Folder of .md/.txt corpus files.")
    data_dir: Path = Field(default=PROJECT_ROOT / ".advisor", description="Where the index lives.")
    # Team scale (docs/deploy.md): one Chroma server and one feedback database shared by every replica.
    chroma_url: str | None = Field(
        default=None, description="A Chroma server, e.g. http://127.0.0.1:8000; unset keeps the index embedded in data_dir."
    )
    feedback_url: str | None = Field(
        default=None, description="SQLAlchemy URL of the feedback store; unset is SQLite in data_dir/feedback.sqlite3."
    )
    max_file_mb: float = Field(default=20.0, gt=0, description="Files larger than this are skipped by `ingest PATH`.")
    max_units_per_file: int = Field(default=5000, ge=1, description="A file that cuts into more units is skipped by `ingest PATH`.")

    @field_validator("chroma_url")
    @classmethod
    def _chroma_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        from urllib.parse import urlsplit

        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("ADVISOR_CHROMA_URL must be an http(s) URL with a host, e.g. http://127.0.0.1:8000.")
        return value.strip().rstrip("/")
    host: str = "127.0.0.1"
    port: int = Field(default=7860, ge=1, le=65535)

    # Serving (ui/server.py): safe by default, each switch opt-in.
    auth: SecretStr | None = Field(default=None, description="'user:password' for HTTP basic auth on the page and the API.")
    frame_ancestors: str = Field(default="'self'", description="CSP frame-ancestors: who may show the page in a frame.")
    # NoDecode: a comma-separated list is friendlier in an environment variable than JSON.
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Origins (e.g. https://wiki.example.com) allowed to call the app from their pages."
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["127.0.0.1", "localhost"],
        description="Host header values the server answers (names, no port; '*.example.com' allowed). Others get 400.",
    )
    public_url: str | None = Field(default=None, description="The address users reach the server at; absolute links are built from it, never from request headers.")
    concurrency: int = Field(default=2, ge=1, le=64, description="Questions answered at once; the rest wait.")
    queue_size: int = Field(default=64, ge=1, le=10000, description="Page requests that may wait for a turn.")
    page_sessions: int = Field(
        default=64, ge=1, le=100000, description="Page conversations kept in memory (~0.5 MiB each); past it the longest idle is dropped."
    )
    # Limits (ui/limits.py, docs/security.md): every queue and rate is bounded; the excess gets 429/503 with Retry-After.
    api_queue: int = Field(default=16, ge=0, le=1000, description="API/MCP questions that may wait for a slot; more get 503 at once.")
    queue_wait: float = Field(default=30.0, gt=0, description="Seconds a queued API/MCP question waits for a slot before 503.")
    rate_limit: str = Field(default="120/minute", description="Questions per client address through the API, in the `limits` notation.")
    feedback_rate_limit: str = Field(default="10/minute;200/day", description="Feedback entries per client address.")
    max_request_kib: int = Field(default=256, ge=16, le=16384, description="Largest request body accepted, in KiB.")
    max_history_items: int = Field(default=100, ge=0, le=10000, description="Messages a request's history may hold (the last max_history_turns are read).")

    @field_validator("rate_limit", "feedback_rate_limit")
    @classmethod
    def _rates(cls, value: str) -> str:
        from limits import parse_many

        try:
            parse_many(value)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a rate like '120/minute' or '10/minute;200/day'.") from exc
        return value

    @field_validator("auth")
    @classmethod
    def _auth_pair(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        user, sep, password = value.get_secret_value().partition(":")
        if not (user and sep and password):
            raise ValueError("ADVISOR_AUTH must be 'user:password' with both parts non-empty.")
        return value

    @field_validator("frame_ancestors")
    @classmethod
    def _one_directive(cls, value: str) -> str:
        if not value.strip() or any(c in value for c in ";,\r\n"):
            raise ValueError("ADVISOR_FRAME_ANCESTORS is a space-separated source list, e.g. \"'self' https://wiki.example.com\".")
        return value.strip()

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _hosts(cls, value: object) -> object:
        hosts = [h.strip().lower() for h in value.split(",") if h.strip()] if isinstance(value, str) else value
        if isinstance(hosts, list) and ("*" in hosts or not hosts):
            raise ValueError("ADVISOR_ALLOWED_HOSTS must list host names explicitly; '*' would re-open DNS rebinding.")
        return hosts

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"https?://[A-Za-z0-9.\-\[\]:]+(/[\w.\-/]*)?", value.strip()):
            raise ValueError("ADVISOR_PUBLIC_URL must be an http(s) URL like https://advisor.example.com or https://example.com/advisor.")
        return value.strip().rstrip("/") if value else None

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        origins = [o.strip().rstrip("/") for o in value.split(",") if o.strip()] if isinstance(value, str) else value
        if isinstance(origins, list) and "*" in origins:
            raise ValueError("ADVISOR_CORS_ORIGINS must list origins explicitly; '*' would let any site use the app.")
        return origins

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

    # Reading.
    reading: Literal["combined", "rules", "meaning"] = Field(
        default="combined",
        description="How turns are read: rules and meaning together; rules only; or meaning only (numbers still by rule). "
        "The last two exist to measure each reader alone (bench/reading_modes.py).",
    )

    # Answers.
    quotes: int = Field(default=3, ge=1, le=10, description="Passages quoted in an offline answer.")
    max_question_chars: int = Field(default=4000, ge=16)
    max_history_turns: int = Field(default=20, ge=0)

    # Engines.
    engine: Literal["offline", "llm"] = Field(default="offline", description="Which engine answers; `ask --engine` overrides.")
    llm: str | None = Field(
        default=None,
        description="Chat model as provider:model for LangChain's init_chat_model, e.g. 'openai:gpt-4o-mini', 'ollama:llama3.1'.",
    )
    llm_base_url: str | None = Field(default=None, description="Endpoint of an OpenAI-compatible server, Ollama, or a proxy.")
    llm_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("ADVISOR_LLM_API_KEY", "OPENAI_API_KEY"),
        description="Passed to the provider when set; otherwise the provider's client reads its own variable.",
    )
    llm_temperature: float | None = Field(default=None, ge=0.0, le=2.0, description="None leaves the provider's default.")
    llm_timeout: float = Field(default=30.0, gt=0, description="Seconds per model request.")
    llm_max_retries: int = Field(default=1, ge=0, le=10, description="Client retries on connection errors, 429 and 5xx.")
    llm_max_steps: int = Field(default=6, ge=1, le=50, description="Model turns per answer, tool calls included.")
    llm_max_seconds: float = Field(default=90.0, gt=0, description="Wall-clock budget of one LLM answer.")
    llm_max_prose_chars: int = Field(
        default=400, ge=100, le=20_000, description="Characters of the model's explanation shown after the verdict; the rest is not read."
    )

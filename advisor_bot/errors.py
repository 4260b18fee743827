"""The one exception family of advisor-bot.

Every message here is written for the person at the keyboard: it says what went
wrong and what to do about it, and it is safe to show in a UI or over HTTP.
Anything that is not an ``AdvisorError`` reaching a shell is a bug.
"""

from __future__ import annotations


class AdvisorError(Exception):
    """Base class: an error whose message a user can act on."""


class InvalidQuestionError(AdvisorError, ValueError):
    """The question cannot be answered as given (empty, too long, binary...)."""


class CorpusError(AdvisorError):
    """A corpus file cannot be read or indexed."""


class ArticleMapError(CorpusError):
    """The framework article lacks a heading the article map names; ``key`` and ``heading`` say which."""

    def __init__(self, message: str, *, key: str, heading: str) -> None:
        super().__init__(message)
        self.key = key
        self.heading = heading


class IndexMissingError(AdvisorError):
    """No usable index exists yet for the configured data directory."""


class IndexStaleError(AdvisorError):
    """The corpus on disk no longer matches the index built from it."""


class IndexBusyError(AdvisorError):
    """Another process is writing the index right now."""


class IndexUnavailableError(AdvisorError):
    """The Chroma server holding the index does not answer."""


class CitationError(AdvisorError):
    """A quote could not be verified against the corpus text."""


class ModelError(AdvisorError):
    """The packaged embedding model cannot be loaded or converted."""


class LLMFault(Exception):
    """The model gave no usable answer; the message completes "The language model ...".

    Never reaches a shell: the LLM engine catches it and answers offline with that notice."""


class PromptError(AdvisorError, ValueError):
    """A prompt file is missing or malformed, or was rendered with the wrong variables."""


class EvalSetError(AdvisorError):
    """A question-set file is malformed; the message names the line and field."""


class EvalError(AdvisorError):
    """An eval run cannot be set up or written: a bad gate, an unwritable output folder."""


class FeedbackError(AdvisorError):
    """Feedback could not be stored or read."""


class EngineUnavailableError(AdvisorError):
    """The request named an engine this server does not run."""


class IndexDamagedError(IndexMissingError):
    """The index store exists but cannot be read: a damaged or foreign database file."""


class DataDirError(AdvisorError):
    """The data directory cannot be written (read-only, full, or not a folder)."""


class OverloadedError(AdvisorError):
    """Every answer slot and queue place is taken; ``retry_after`` says when to try again (seconds)."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimitedError(OverloadedError):
    """One client sent more than its share of requests."""

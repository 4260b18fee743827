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


class IndexMissingError(AdvisorError):
    """No usable index exists yet for the configured data directory."""


class IndexStaleError(AdvisorError):
    """The corpus on disk no longer matches the index built from it."""


class IndexBusyError(AdvisorError):
    """Another process is writing the index right now."""


class CitationError(AdvisorError):
    """A quote could not be verified against the corpus text."""


class ModelError(AdvisorError):
    """The packaged embedding model cannot be loaded or converted."""

"""advisor-bot: cited advice on outsourcing chemical development.

The names below are loaded on first use: ``import advisor_bot.config`` (every CLI command does)
must not pay for the whole Advisor stack.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from advisor_bot.advisor import Advisor
    from advisor_bot.answer import Answer
    from advisor_bot.citations import Citation
    from advisor_bot.config import Settings
    from advisor_bot.errors import AdvisorError
    from advisor_bot.turns import Turn

_EXPORTS = {
    "Advisor": "advisor_bot.advisor",
    "Answer": "advisor_bot.answer",
    "Turn": "advisor_bot.turns",
    "Citation": "advisor_bot.citations",
    "Settings": "advisor_bot.config",
    "AdvisorError": "advisor_bot.errors",
}

__all__ = ["Advisor", "AdvisorError", "Answer", "Citation", "Settings", "Turn"]


def __getattr__(name: str) -> object:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'advisor_bot' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)

"""Asking the public ``Advisor`` the way a chat does: a question after earlier user turns."""

from __future__ import annotations

from advisor_bot.advisor import Advisor
from advisor_bot.answer import Answer


def ask(advisor: Advisor, question: str, *turns: str) -> Answer:
    return advisor.ask(question, history=[{"role": "user", "content": t} for t in turns])


def verdict(advisor: Advisor, question: str, *turns: str) -> str | None:
    """The recommended model, or None when the answer gives no verdict."""
    a = ask(advisor, question, *turns)
    return a.recommendation.model if a.recommendation is not None else None

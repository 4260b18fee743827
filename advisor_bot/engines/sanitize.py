"""What a model's prose may not carry to the user, whatever the model was talked into.

An injection that a model obeys shows up in its text: a remote image (a tracking pixel, or data
carried out in its URL), a link to a site of the attacker's choosing, raw HTML, or the system
prompt repeated. The recommendation never comes from this text, but the text is shown; so images
and remote links are cut to their words, HTML tags removed, and a sentence that repeats a run of
the system prompt is withheld.
"""

from __future__ import annotations

import re
from functools import cache

from advisor_bot.prompts import render

_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\(\s*(?!/|#)[^)]*\)")  # same-site links (/framework#...) stay
_BARE = re.compile(r"(?i)\b(?:https?|javascript|data):[^\s)\]>]+")
_TAG = re.compile(r"(?is)<\s*(script|style|iframe|object|embed|form)\b.*?(?:</\s*\1\s*>|$)|<[^>]*>")
_WORD = re.compile(r"[a-z0-9']+")
SHINGLE = 8  # words in a row shared with the system prompt that count as repeating it


def inert(text: str) -> tuple[str, int]:
    """``text`` without images, remote links, bare URLs or HTML tags, and how many were removed."""
    removed = 0
    for pattern, keep in ((_TAG, ""), (_IMAGE, r"\1"), (_LINK, r"\1"), (_BARE, "")):
        text, n = pattern.subn(keep, text)
        removed += n
    return text, removed


@cache
def _prompt_shingles() -> frozenset[tuple[str, ...]]:
    words = _WORD.findall(render("system").lower())
    return frozenset(tuple(words[i : i + SHINGLE]) for i in range(len(words) - SHINGLE + 1))


def repeats_prompt(text: str) -> bool:
    words = _WORD.findall(text.lower())
    shingles = _prompt_shingles()
    return any(tuple(words[i : i + SHINGLE]) in shingles for i in range(len(words) - SHINGLE + 1))

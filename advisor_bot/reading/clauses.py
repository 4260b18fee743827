"""How a user's text is cut and read for what it denies or puts behind it: clauses, negation,
tense, and the words that say a conversation starts again. The other rule readers build on these."""

from __future__ import annotations

import re
from bisect import bisect_right
from functools import cache, lru_cache
from pathlib import Path
from typing import Literal

import yaml

Span = tuple[int, int]


def rx(*alternatives: str) -> re.Pattern[str]:
    # Lookarounds rather than \b so alternatives may start or end with '-', '&' or '/'.
    return re.compile("|".join(rf"(?<!\w)(?:{a})(?!\w)" for a in alternatives), re.IGNORECASE)


# -- Clauses, negation, tense --------------------------------------------------------------
# A clause ends at punctuation or a conjunction: "finished lead op, moving into IND" has the
# past tense in one clause and the current stage in the next.
_CLAUSE_BREAK = re.compile(
    r"(?i)[.;!?,:()\n\u2014\u2013]|\s-\s|\b(?:and|but|while|whereas|now|so|then|though|although|because|however)\b"
)
_NEGATION = rx(
    r"no|not|non|pre|never|without|zero|nor|neither|nothing|none|cannot|can't|don'?t|doesn'?t|didn'?t|won'?t|isn'?t|aren'?t",
    r"skip(?:ping)?|avoid(?:ing)?|forgo",
    # "the CEO refuses to do a tech transfer between two separate companies"
    r"refus(?:e|es|ed|ing) to|unwilling to|will not|reject(?:s|ed|ing)?",
)
# "GMP isn't needed yet", "a single vendor is not required".
_NEGATED_AFTER = re.compile(
    r"(?i)\W*(?:[\w-]+\s+){0,3}?(?:isn't|aren't|is not|are not|not|won't be|no longer)\s+(?:yet\s+)?(?:needed|required)"
)
PAST_BEFORE = rx(
    r"finished|completed|wrapped up|done with|after(?! (?:that|this|which|it))|post|past|beyond|out of|exited|graduated|"
    r"moved on from|from|were in|was in|used to be in"
)
PAST_AFTER = re.compile(
    r"(?i)\s*(?:is|was|are|were|has been|have been)?\s*(?:now\s+|already\s+)?(?:done|complete|finished|over|behind us)\b"
)
_NEGATION_REACH = 35  # characters before a cue: "we don't really need " but not the start of a long clause


_CLAUSE_WINDOW = 400  # characters looked back for a clause break; keeps long texts linear


_AHEAD = re.compile(r"(?i)\b(?:once|when|by the time|if) (?:we|it|they|the \w+|our \w+)(?: [\w']+){0,3}\s*$")


def looks_ahead(text: str, start: int) -> bool:
    """Whether the words at ``start`` are where the program will be later ("once we reach the clinic"),
    not where it is."""
    return bool(_AHEAD.search(text[clause_start(text, start) : start]))


@lru_cache(maxsize=256)
def _breaks(text: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Starts and ends of every clause break in ``text``, found once per text: a long conversation asks
    for the clause around each of thousands of words, and scanning back each time was most of its reading."""
    found = [m.span() for m in _CLAUSE_BREAK.finditer(text)]
    return tuple(a for a, _ in found), tuple(b for _, b in found)


def clause_start(text: str, pos: int) -> int:
    window = max(0, pos - _CLAUSE_WINDOW)
    starts, ends = _breaks(text)
    # The last break that ends at or before ``pos`` and starts inside the window.
    i = bisect_right(ends, pos) - 1
    return ends[i] if i >= 0 and starts[i] >= window else window


def clause_end(text: str, pos: int) -> int:
    found = _CLAUSE_BREAK.search(text, pos)
    return found.start() if found else len(text)


def negated(text: str, start: int, end: int) -> bool:
    before = text[max(clause_start(text, start), start - _NEGATION_REACH) : start]
    after = text[end : clause_end(text, end)]
    return bool(_NEGATION.search(before) or _NEGATED_AFTER.match(after))


_DENIED_BEFORE = rx(r"not|never|no|no longer|isn'?t|aren'?t|wasn'?t|weren'?t|nowhere near|far from|haven'?t|hasn'?t|yet to")
_DENIED_AFTER = rx(r"any ?more|no longer|isn'?t|aren'?t")


def denied(text: str, start: int, end: int) -> bool:
    """A stage the user says they are not at: "not in the clinic", "not doing discovery anymore".
    Narrower than negated: in "skip GMP for the tox batches" the "skip" belongs to GMP."""
    before = text[max(clause_start(text, start), start - 20) : start]
    after = text[end : clause_end(text, end)]
    return bool(_DENIED_BEFORE.search(before) or _DENIED_AFTER.search(after))



@cache
def _restart(kind: Literal["over", "again", "update"]) -> re.Pattern[str]:
    raw = yaml.safe_load((Path(__file__).parent / "data" / "restart.yaml").read_text(encoding="utf-8"))
    return re.compile("|".join(f"(?:{p})" for p in raw[kind]), re.IGNORECASE)


def updates(text: str) -> bool:
    """Whether ``text`` says the program has moved on ("Update: we formally picked our candidate")."""
    return bool(_restart("update").search(text))


@lru_cache(maxsize=1024)  # earlier turns are read again at every new turn (0.5 ms a 1,900-character turn)
def restarts(text: str) -> bool:
    """Whether ``text`` says the program described so far is over and the conversation starts again."""
    return bool(_restart("over").search(text) or _restart("again").search(text))


def restart_end(text: str) -> int:
    """Where the words about the program that is over end: the end of the sentence of the last
    cue that something is over ("the lead failed in Phase II."), 0 without one."""
    cues = list(_restart("over").finditer(text))
    if not cues:
        return 0
    stop = re.search(r"[.?!;\n]", text[cues[-1].end() :])
    return cues[-1].end() + stop.start() if stop else len(text)




def clauses(text: str) -> list[Span]:
    """Spans of the clauses of ``text`` with at least three words: the unit read by meaning,
    so "not in the clinic, still tweaking the series" is two statements, not one."""
    return list(_clauses(text))


@lru_cache(maxsize=1024)  # earlier turns are read again at every new turn
def _clauses(text: str) -> tuple[Span, ...]:
    spans: list[Span] = []
    start = 0
    for m in [*_CLAUSE_BREAK.finditer(text), None]:
        end = m.start() if m else len(text)
        if len(re.findall(r"\w+", text[start:end])) >= 3:
            spans.append((start, end))
        start = m.end() if m else len(text)
    return tuple(spans)


def negated_or_past(clause: str) -> bool:
    """Whether a clause denies something or puts it behind the user ("not yet", "finished", "no longer")."""
    return bool(_NEGATION.search(clause) or _BEHIND.search(clause) or PAST_AFTER.search(clause))


_BEHIND = rx(r"finished|completed|wrapped up|done with|exited|graduated|moved on from|used to be|no longer|any ?more")

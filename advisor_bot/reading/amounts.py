"""Amounts of material, read by rule: what the Volume factor of the Organizational Profile is read from."""

from __future__ import annotations

import re
from typing import Literal

from advisor_bot.reading.clauses import Span, clause_start, rx
from advisor_bot.situation import Quantity

# Vague amounts get a representative value: "a few grams" is 3 g, "several"/"multi-gram" 5 g,
# and a bare unit ("kilograms now, tons later") is 1 of it. Only the order of magnitude
# matters to the Volume row (milligrams-grams vs kilograms-tons).
WORD_VALUES = {
    "half a": 0.5, "half an": 0.5, "a": 1, "an": 1, "one": 1, "a couple of": 2, "a couple": 2, "couple of": 2,
    "two": 2, "three": 3, "a few": 3, "few": 3, "four": 4, "five": 5, "several": 5, "multi": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "twelve": 12, "a dozen": 12, "dozens of": 12, "tens of": 10, "twenty": 20,
    "fifty": 50, "hundreds of": 100, "thousands of": 1000,
}  # fmt: skip
_MULTIPLIERS = {"hundred": 100, "thousand": 1000}
_Unit = Literal["mg", "g", "kg", "t"]
_UNIT_STARTS: tuple[tuple[_Unit, tuple[str, ...]], ...] = (("mg", ("mg", "milli", "mili")), ("kg", ("kg", "kilo")), ("g", ("g",)))
_UNIT = r"milligrams?|mill?igrams?|mgs?|grams?|gms?|g(?!-)|kilograms?|kilos?|kgs?|metric (?:tons?|tonnes?)|tonnes?|tons?|mt|t(?!-)"
NUMBER_WORDS = "|".join(sorted((re.escape(w) for w in WORD_VALUES), key=len, reverse=True))
_AMOUNT = re.compile(
    rf"(?<![\w.,])(?:(?P<digits>\d{{1,3}}(?:,\d{{3}})+|\d+(?:\.\d+)?|\.\d+)|(?P<words>{NUMBER_WORDS}))"
    rf"(?:[\s-]+(?P<mult>hundred|thousand)s?)?[\s-]*(?P<unit>{_UNIT})(?!\w)"
    r"(?!\s*/\s*(?:kg|g|mg|day|d|l|ml)\b)",  # a dose or concentration, "10 mg/kg", is not an amount
    re.IGNORECASE,
)
_COLLOQUIAL = re.compile(r"(?i)an? tons? of\b")
_BARE = re.compile(
    r"(?<![\w/-])(?<!per )(?:(?P<plural>milligrams|grams|kilograms|kilos|kgs|tonnes|metric tons|tons(?!\s+of))"
    r"|(?P<single>milligram|mg|gram|kilogram|kilo|kg)(?=[\s-](?:scale|quantit|amount|lab)))(?!\w)",
    re.IGNORECASE,
)


def _unit(word: str) -> _Unit:
    word = word.lower()
    return next((unit for unit, starts in _UNIT_STARTS if word.startswith(starts)), "t")  # anything else is a ton


def _amounts(text: str) -> list[tuple[Quantity, Span]]:
    """Every amount of material mentioned, with its span."""
    found: list[tuple[Quantity, Span]] = []
    spans: list[tuple[int, int]] = []
    for m in _AMOUNT.finditer(text):
        # Not amounts: "a t-Bu", "a g" (spelled-out numbers need a spelled-out unit), "a ton of work".
        if m["words"] and (len(m["unit"]) < 2 or m["unit"].lower() == "mt") or _COLLOQUIAL.match(text, m.start()):
            continue
        # "-40 kg" is no amount anyone needs (a range "2-5 kg" has a number before the dash): not stated.
        if re.search(r"(?:^|\s)-\s*$", text[: m.start()]):
            continue
        value = float(m["digits"].replace(",", "")) if m["digits"] else WORD_VALUES[m["words"].lower()]
        value *= _MULTIPLIERS[m["mult"].lower()] if m["mult"] else 1
        if value > 0:
            found.append((Quantity(value=value, unit=_unit(m["unit"])), m.span()))
            spans.append(m.span())
    for m in _BARE.finditer(text):
        if not any(start <= m.start() < end for start, end in spans):
            found.append((Quantity(value=1, unit=_unit(m["plural"] or m["single"])), m.span()))
    return found


# A unit said without a number ("milligram until few gram", "multi-gram lots").
_UNIT_WORD = re.compile(r"(?i)\b(?:multi-?)?(?:milligrams?|mill?igrams?|grams?|kilograms?|kilos?|kgs?|mg|tonnes?|tons)\b")


def without_amounts(text: str) -> str:
    """``text`` with every amount of material replaced by a neutral word: amounts are read by rule
    (the Volume factor), so what a sentence means about the program is read from the rest."""
    for _, (start, end) in sorted(_amounts(text), key=lambda a: -a[1][0]):
        text = f"{text[:start]}some{text[end:]}"
    return _UNIT_WORD.sub("some", text)


_NOT_NEEDED = rx(r"(?:don'?t|do not|doesn'?t|does not|won'?t|will not|never) (?:really |even )?need|no need for|not (?:need|needing)")


def needed_quantity(text: str) -> tuple[Quantity | None, Span | None]:
    """The largest amount needed: the biggest need decides whether a CRO can supply it ("we
    don't need kilos" states none)."""
    needed = [(q, span) for q, span in _amounts(text) if not _NOT_NEEDED.search(text[clause_start(text, span[0]) : span[0]])]
    best = max(needed, key=lambda q: q[0].kg, default=None)
    return (best[0], best[1]) if best else (None, None)


_NEED = r"(?:need|needs|require|requires|want|wants)"
# "grams for some, kilos for others", "some of our compounds need grams, one needs kilograms"
_SOME_OTHERS = rx(
    r"for (?:some|one|the first|a few|a couple|two|three|our)\b[^.?!]{0,60}\bfor (?:the )?(?:others?|another|the rest|one|the one)\b|for the other(?: one)?|for others",
    # "a few grams each for two early projects and several kilos for the late one"
    r"for (?:the |our )?(?:\w+ ){0,2}(?:projects?|programs?|programmes?|compounds?|molecules?|assets?)\b[^.?!]{0,60}\bfor (?:the |our )?(?:\w+ ){0,2}(?:one|projects?|programs?|programmes?|compounds?|molecules?|assets?|lead|candidate)\b",
    rf"\b(?:some|a few|a couple|most|many|several|one|two|three)\b(?: [\w-]+){{0,4}}? {_NEED}\b[^.?!]{{0,60}}"
    rf"\b(?:one|others?|the rest|another|a few|some|two|three)\b(?: [\w-]+){{0,3}}? {_NEED}\b",
)


def mixed_volume_span(text: str) -> Span | None:
    """"Grams for some, kilograms for others": amounts on both sides of a kilogram, said of different compounds."""
    sides = {q.kg >= 1 for q, _ in _amounts(text)}
    cue = _SOME_OTHERS.search(text)
    return cue.span() if cue and sides == {True, False} else None

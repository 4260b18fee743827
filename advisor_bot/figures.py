"""Figures in text: money amounts, percentages, durations and quantities.

One reader, used twice: the LLM engine's numeric guard (does evidence support
each number?) and the eval's fabricated-figure metric (is each typed figure in
the corpus or a tool result?).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_MULT = r"(?:[kK]|MM|M|bn|B|(?i:thousand|million|billion|mn))(?![A-Za-z])"
_UNIT = (
    r"%|(?i:percent|per cent"
    r"|(?:calendar |business |working )?(?:days?|weeks?|months?|years?|yrs?|quarters?|hours?|hrs?)"
    r"|milligrams?|grams?|kilograms?|kilos?|kgs?|mg|g|tons?|tonnes?|mt|t|liters?|litres?|ml|l"
    r"|FTEs?|analog(?:ue)?s?|compounds?|molecules?|batch(?:es)?|steps?|chemists?|scientists?)"
)
FIGURE = re.compile(
    rf"(?<![\w.,])(?P<cur>[$€£])?(?P<a>{_NUM})(?:\s?(?P<am>{_MULT}))?"
    rf"(?:(?:\s*[-\u2013\u2014]\s*|\s+to\s+)(?P<cur2>[$€£])?(?P<b>{_NUM})(?:\s?(?P<bm>{_MULT}))?)?"
    rf"(?:[\s-]?(?P<unit>{_UNIT})(?![A-Za-z]))?"
)
_NUMBER = re.compile(_NUM)
_MULTIPLIERS = {"k": 1e3, "thousand": 1e3, "m": 1e6, "mm": 1e6, "mn": 1e6, "million": 1e6, "b": 1e9, "bn": 1e9, "billion": 1e9}
_WORD_MULTIPLIER = re.compile(r"(?i)thousand|million|billion|mn")


def _value(number: str, mult: str | None) -> float:
    return float(number.replace(",", "")) * (_MULTIPLIERS[mult.lower()] if mult else 1.0)


# A figure's unit as a dimension and the factor to that dimension's base unit:
# masses compare in kg, so "2 t" equals "2,000 kg".
_DIMENSIONS: tuple[tuple[str, str, float], ...] = (
    (r"%|percent|per cent", "%", 1.0),
    (r"(?:calendar |business |working )?days?", "days", 1.0),
    (r"(?:calendar |business |working )?weeks?", "weeks", 1.0),
    (r"months?", "months", 1.0),
    (r"quarters?", "months", 3.0),
    (r"years?|yrs?", "years", 1.0),
    (r"hours?|hrs?", "hours", 1.0),
    (r"milligrams?|mg", "kg", 1e-6),
    (r"grams?|g", "kg", 1e-3),
    (r"kilograms?|kilos?|kgs?", "kg", 1.0),
    (r"tons?|tonnes?|mt|t", "kg", 1e3),
    (r"ml", "L", 1e-3),
    (r"liters?|litres?|l", "L", 1.0),
    (r"ftes?", "FTE", 1.0),
)
_CURRENCIES = {"$": "USD", "€": "EUR", "£": "GBP"}
# Dimensions whose figures are checked as facts; counts of analogs, steps or chemists are not.
MEASURES = frozenset({*_CURRENCIES.values(), *(d for _, d, _ in _DIMENSIONS)})


def _dimension(unit: str | None, currency: str | None) -> tuple[str | None, float]:
    if currency:
        return _CURRENCIES[currency], 1.0
    if unit:
        for pattern, dimension, factor in _DIMENSIONS:
            if re.fullmatch(pattern, unit, re.IGNORECASE):
                return dimension, factor
        return unit.lower().rstrip("s"), 1.0  # counted things: analogs, steps, batches...
    return None, 1.0


@dataclass(frozen=True)
class Figure:
    """A money amount, percentage, duration or quantity; each number with the values it may mean."""

    text: str
    numbers: tuple[frozenset[float], ...]  # as written; the numeric guard matches these
    dimension: str | None = None  # "USD", "%", "months", "kg"...
    factor: float = 1.0  # to the dimension's base unit: 1e-3 for grams (base kg)

    def typed(self) -> set[tuple[str, float]]:
        """(dimension, value in its base unit) for every value this figure may mean."""
        if self.dimension not in MEASURES:
            return set()
        # Money renders to whole units, so compare at that precision.
        digits = 0 if self.dimension in _CURRENCIES.values() else 6
        return {(self.dimension, round(v * self.factor, digits)) for options in self.numbers for v in options}

    def accounted_by(self, known: set[tuple[str, float]]) -> bool:
        """True when every number of the figure has some reading among ``known``."""
        if self.dimension not in MEASURES:
            return True
        digits = 0 if self.dimension in _CURRENCIES.values() else 6
        return all(any((self.dimension, round(v * self.factor, digits)) in known for v in options) for options in self.numbers)


def figures(text: str) -> list[Figure]:
    """Figures stated in ``text``: numbers with a currency, a unit or a multiplier word; bare numbers are not."""
    found = []
    for m in FIGURE.finditer(text):
        cur, am, bm, unit = m["cur"] or m["cur2"], m["am"], m["bm"], m["unit"]
        words = any(x and _WORD_MULTIPLIER.fullmatch(x) for x in (am, bm))
        if not (cur or unit or words):
            continue
        # "$1.5-2 million": the trailing multiplier applies to both ends; either may be meant.
        first = {_value(m["a"], am)} if am else {_value(m["a"], None), *([_value(m["a"], bm)] if bm else [])}
        numbers = [frozenset(first)]
        if m["b"]:
            numbers.append(frozenset({_value(m["b"], bm)} if bm else {_value(m["b"], None), *([_value(m["b"], am)] if am else [])}))
        dimension, factor = _dimension(unit, cur)
        found.append(Figure(text=m.group().strip(), numbers=tuple(numbers), dimension=dimension, factor=factor))
    return found


def evidence_numbers(text: str) -> list[float]:
    """Every number in ``text``, also scaled by a multiplier it carries ("$1.5 million" gives 1.5 and 1,500,000)."""
    values = [_value(n, None) for n in _NUMBER.findall(text)]
    for f in figures(text):
        for options in f.numbers:
            values.extend(options)
    return values



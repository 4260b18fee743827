"""What the bot will not answer, decided before any retrieval or model call.

Two kinds of request are declined whatever their wording scores against the
corpus: synthesis instructions (the bot advises on outsourcing, it does not
hand out procedures) and attempts to extract its instructions. Everything
else is judged by relevance to the corpus, with a calibrated threshold.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel

RefusalKind = Literal["out_of_scope", "synthesis_request", "prompt_extraction"]

# Controlled substances and chemical weapons: asking how to make one is never in scope.
_HARMFUL = (
    r"\b(fentanyl|carfentanil|methamphetamine|meth|amphetamine|mdma|heroin|cocaine|lsd|ghb|"
    r"sarin|soman|tabun|vx|novichok|nerve agents?|mustard gas|sulfur mustard|ricin|phosgene|"
    r"explosives?|tatp|rdx|nitroglycerin)\b"
)
_MAKE = r"\b(synthes\w*|make|making|prepare|cook|produce|manufactur\w*|route|recipe|procedure)\b"
_PROCEDURE = re.compile(
    r"\b(give|provide|write|show|send|list|outline|detail|share)\b[^.?!]{0,40}"
    r"\b(synthetic route|synthesis (route|procedure|steps)|full route|route to|procedure for|recipe)\b"
    r"|\bhow (do|can|would|should) (i|we|you|one) (synthesi[sz]e|cook)\b"
    r"|\bstep[- ]by[- ]step\b[^.?!]{0,40}\b(synthes\w*|reagents?)\b",
    re.IGNORECASE,
)
_HARMFUL_REQUEST = re.compile(rf"({_MAKE})[^.?!]{{0,60}}({_HARMFUL})|({_HARMFUL})[^.?!]{{0,60}}({_MAKE})", re.IGNORECASE)
_EXTRACTION = re.compile(
    r"\b(system|hidden|initial|original) (prompt|instructions?|configuration|config|message)\b"
    r"|\b(print|reveal|show|dump|repeat|output|display|leak)\b[^.?!]{0,50}"
    r"\b(your (prompt|instructions|rules|configuration)|everything above|the text above|above this message)\b"
    r"|\bdeveloper mode\b",
    re.IGNORECASE,
)

# Topics the framework says nothing about, however close their wording comes to
# outsourcing (a "CRO" in a tax question, "outsource" in a software question).
_OFF_TOPIC = re.compile(
    r"\b(weather|forecast for|football|soccer|champions league|world cup|recipe for"
    r"|share price|stock price|stocks? to buy|invest(?:ing|ment advice)|valuation|venture debt|series [a-d] (?:round|now)"
    r"|raise (?:a|our|the) (?:series|round|seed)|tax (?:relief|credit|deduction|rate)s?|vat\b"
    r"|cover letter|r[ée]sum[ée]|\bcv\b|job interview|salary|pay rise|raise at my review|my manager"
    r"|(?:fda|ema|pmda|agency|regulator'?s?) (?:user |filing |application )?fees?|user fees?|pdufa"
    r"|boiling point|melting point|mechanism of action|side effects?|dosage|dose for"
    r"|python|javascript(?!:)|sql query|write (?:me )?(?:a |some )?(?:code|function|script|program)"
    r"|app development|web ?site development|software (?:development|agency|outsourcing))\b",
    re.IGNORECASE,
)

MESSAGES: dict[RefusalKind, str] = {
    "out_of_scope": (
        "I can only answer questions about outsourcing chemical development (CROs, CDMOs, hybrid "
        "models and integrated partners) from the framework I was given, and this question is "
        "outside it. Try, for example: *Which model fits IND-enabling studies?*"
    ),
    "synthesis_request": (
        "I don't provide synthesis routes or procedures. I can help you decide who should do the "
        "chemistry: for example, *Should route scouting go to a CRO, and on what pricing model?*"
    ),
    "prompt_extraction": (
        "I can't share my instructions or configuration. Ask me about choosing a CRO, a CDMO, a "
        "hybrid model or an integrated partner, and I will answer from the framework with citations."
    ),
}


class Refusal(BaseModel):
    kind: RefusalKind
    message: str


def refusal(kind: RefusalKind) -> Refusal:
    return Refusal(kind=kind, message=MESSAGES[kind])


def screen(question: str) -> Refusal | None:
    """A refusal for requests declined regardless of relevance, else None."""
    if _HARMFUL_REQUEST.search(question) or _PROCEDURE.search(question):
        return refusal("synthesis_request")
    if _EXTRACTION.search(question):
        return refusal("prompt_extraction")
    if _OFF_TOPIC.search(question):
        return refusal("out_of_scope")
    return None


def relevant(*, best_dense: float, coverage: float, min_relevance: float, min_relevance_covered: float) -> bool:
    """In scope if close to some passage, or if every content word is the corpus's own
    vocabulary (short questions like 'what about tox batches?' embed weakly)."""
    return best_dense >= min_relevance or (coverage >= 1.0 and best_dense >= min_relevance_covered)

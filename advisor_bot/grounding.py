"""Checks that keep an LLM's prose grounded: citations, figures, quotations, verdicts, injected text.

Everything here is deterministic and model-agnostic. The LLM engine feeds the
model's text through ``ProseGuard`` one sentence at a time, so what is streamed
to the user has already been checked.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from advisor_bot.citations import Citation, verify_citation
from advisor_bot.corpus import Document
from advisor_bot.errors import CitationError
from advisor_bot.figures import Figure, evidence_numbers, figures
from advisor_bot.prompts import render
from advisor_bot.framework import ModelName

def _close(value: float, ordered: list[float]) -> bool:
    # Whole-currency rounding is tolerated on large amounts ($443,333 for 443,333.33).
    tol = max(1e-6 * max(1.0, abs(value)), 0.5 if abs(value) >= 100 else 0.0)
    i = bisect.bisect_left(ordered, value - tol)
    return i < len(ordered) and ordered[i] <= value + tol


# -- evidence ------------------------------------------------------------------


class Evidence:
    """What the model was shown: passages by id, and every number in the passages and tool results."""

    def __init__(self) -> None:
        self.passages: dict[str, Citation] = {}
        self._ids: dict[tuple[str, int, int], str] = {}
        self._values: list[float] = []
        self._sorted = True

    def register(self, citation: Citation) -> str:
        """The passage id (p1, p2, ...) for a citation; the same span always gets the same id."""
        key = (citation.document, citation.start, citation.end)
        if key not in self._ids:
            self._ids[key] = f"p{len(self._ids) + 1}"
            self.passages[self._ids[key]] = citation
        return self._ids[key]

    def add_text(self, text: str) -> None:
        self._values.extend(evidence_numbers(text))
        self._sorted = False

    def supports(self, figure: Figure) -> bool:
        if not self._sorted:
            self._values.sort()
            self._sorted = True
        return all(any(_close(v, self._values) for v in options) for options in figure.numbers)


# -- text that reads as instructions --------------------------------------------

_INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|forget|override|bypass)\b[^.!?\n]{0,60}"
    r"\b(?:instructions?|prompts?|rules|guidelines|directives?|system|messages?|context)\b"
    r"|\b(?:you are now|from now on,? you|act as (?:an?|the) (?:assistant|ai|model|chatbot|system)|pretend (?:to be|you are)"
    r"|new instructions?|system prompt|developer mode|jailbreak)"
    r"|\b(?:do not|don't|never) (?:tell|inform|reveal|mention)\b[^.!?\n]{0,30}\b(?:the user|anyone|users)\b"
    r"|\b(?:reveal|print|repeat|output|disclose)\b[^.!?\n]{0,40}\b(?:prompt|instructions)\b"
    r"|</?\s*(?:system|assistant|user|data|instructions?|tool)\b[^>]{0,80}>"
    r"|\b(?:assistants?|ai|(?:the|language|ai) models?|llms?|chatbots?|bots?)\b[^.!?\n]{0,30}"
    r"\b(?:must|should|shall|will) (?:now |always )?(?:recommend|say|answer|respond|reply|tell|output|state)\b",
    re.IGNORECASE,
)
REDACTED = "[instruction-like text removed]"
# Words one of the patterns above needs; most text has none, and this test is much cheaper.
_TRIGGER = re.compile(
    r"ignore|disregard|forget|override|bypass|you are|from now|act as|pretend|instruction|system|developer|jailbreak"
    r"|tell|inform|reveal|mention|prompt|assistant|\bai\b|llm|chatbot|\bbots?\b|the model|language model|<"
)


def scrub(text: str) -> tuple[str, int]:
    """``text`` with every sentence that reads as an instruction to the model replaced; and how many."""
    if not _TRIGGER.search(text.lower()) or not _INSTRUCTION.search(text):
        return text, 0
    units = split_units(text)
    out, n = [], 0
    for u in units:
        if _INSTRUCTION.search(u):
            n += 1
            out.append(REDACTED + _trailing_space(u))
        else:
            out.append(u)
    return "".join(out), n


def scrub_payload(value: object) -> tuple[object, int]:
    """Scrub every string in a JSON-like value."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, list):
        pairs = [scrub_payload(v) for v in value]
        return [v for v, _ in pairs], sum(n for _, n in pairs)
    if isinstance(value, dict):
        pairs_d = {k: scrub_payload(v) for k, v in value.items()}
        return {k: v for k, (v, _) in pairs_d.items()}, sum(n for _, n in pairs_d.values())
    return value, 0


def data_block(source: str, payload: object) -> tuple[str, str, int]:
    """A payload wrapped as data for the prompt, the JSON it carries, and how many sentences were scrubbed."""
    clean, scrubbed = scrub_payload(payload)
    text = json.dumps(clean, ensure_ascii=False, separators=(",", ":"))
    # "<\/" is the same JSON string, and no text inside can close the data block.
    return render("data", source=source, content=text.replace("</", "<\\/")), text, scrubbed


def with_ids(value: object, evidence: Evidence) -> object:
    """A dumped tool result with every citation replaced by its passage id."""
    if isinstance(value, dict):
        if {"document", "start", "end", "quote"} <= value.keys():
            return evidence.register(Citation.model_validate(value))
        return {k: with_ids(v, evidence) for k, v in value.items()}
    if isinstance(value, list):
        return [with_ids(v, evidence) for v in value]
    return value


# -- sentences -------------------------------------------------------------------

_BOUNDARY = re.compile(r"[.!?]+[\"'\u201d\u2019)\]*_]*[ \t]+|\n+")
_ABBREVIATIONS = frozenset("e.g i.e vs etc approx incl no nos dr mr ms fig cf al inc ltd co eg ie est".split())


def _is_boundary(text: str, m: re.Match[str]) -> bool:
    if m.group().startswith("\n"):
        return True
    word = re.search(r"([\w.]+)$", text[: m.start()])
    return not (word and (word.group(1).lower().rstrip(".") in _ABBREVIATIONS or len(word.group(1)) == 1))


def split_units(text: str) -> list[str]:
    """Sentences and lines, each with its trailing whitespace: ``"".join(split_units(t)) == t``."""
    units, start = [], 0
    for m in _BOUNDARY.finditer(text):
        if _is_boundary(text, m):
            units.append(text[start : m.end()])
            start = m.end()
    if start < len(text):
        units.append(text[start:])
    return units


def _trailing_space(unit: str) -> str:
    stripped = unit.rstrip()
    return unit[len(stripped) :] if "\n" in unit[len(stripped) :] else (" " if unit != stripped else "")


class SentenceBuffer:
    """Collects streamed text and releases it a complete sentence or line at a time."""

    def __init__(self) -> None:
        self._buf = ""

    def feed(self, text: str) -> list[str]:
        self._buf += text
        units, start = [], 0
        for m in _BOUNDARY.finditer(self._buf):
            # A whitespace run at the very end may continue in the next chunk.
            if m.end() == len(self._buf) or not _is_boundary(self._buf, m):
                continue
            units.append(self._buf[start : m.end()])
            start = m.end()
        self._buf = self._buf[start:]
        return units

    def flush(self) -> list[str]:
        rest, self._buf = self._buf, ""
        return split_units(rest) if rest else []


# -- verdicts named in prose ------------------------------------------------------

_MODEL_MENTION = re.compile(r"\b(integrated partners?|hybrid|CDMOs?|CROs?)\b", re.IGNORECASE)
_VERDICT_CUE = re.compile(
    r"\b(?:recommend\w*|suggest\w*|advis(?:e|ing)|best (?:fit|choice|option|suited|bet)|right (?:choice|fit|model|partner|option)"
    r"|go(?:ing)? with|should (?:use|choose|engage|pick|work with|hire|partner with|go with)|opt for|(?:fits|suits) (?:you|your)"
    r"|(?:is|would be) (?:the )?(?:way to go|better (?:fit|choice|option)))",
    re.IGNORECASE,
)
_PERSONAL = re.compile(r"\b(?:i|i'd|i'm|we|we'd|you|your|you're|you'd)\b", re.IGNORECASE)
_NEGATION = re.compile(r"\b(?:not|never|rather than|instead of|avoid\w*|against|no)\b|n't\b", re.IGNORECASE)


def _model_name(word: str) -> ModelName:
    w = word.lower()
    return "Integrated partner" if w.startswith("integrated") else "Hybrid" if w == "hybrid" else "CDMO" if w.startswith("cdmo") else "CRO"


def prose_verdicts(text: str) -> list[ModelName]:
    """Models the prose recommends to the user ("I'd go with a CDMO", "a CRO is your best fit")."""
    verdicts: list[ModelName] = []
    for sentence in split_units(text):
        if not _PERSONAL.search(sentence):
            continue
        for cue in _VERDICT_CUE.finditer(sentence):
            if _NEGATION.search(sentence[max(0, cue.start() - 25) : cue.start()]):
                continue
            after = _MODEL_MENTION.search(sentence, cue.end())
            before = [m for m in _MODEL_MENTION.finditer(sentence, 0, cue.start())]
            if after and not _NEGATION.search(sentence[cue.end() : after.start()]):
                verdicts.append(_model_name(after.group(1)))
                break
            # "A CDMO is your best fit."
            if before and not after and not _NEGATION.search(sentence[before[-1].end() : cue.start()]):
                verdicts.append(_model_name(before[-1].group(1)))
                break
    return verdicts


# -- the guard ---------------------------------------------------------------------

_MARKER = re.compile(r"[ \t]?\[\s*([pP]\d+(?:\s*[,;]\s*[pP]\d+)*)\s*\]")
_QUOTE = re.compile(r"[\u201c\"]([^\u201d\"\n]{12,600})[\u201d\"]")
_WS = re.compile(r"\s+")


def _normal(text: str) -> str:
    return _WS.sub(" ", text.replace("\u2019", "'").replace("\u2018", "'")).strip().lower()


def normal_corpus(documents: dict[str, Document]) -> str:
    """The corpus text as quotations are matched against it: whitespace and apostrophes normalised, lower case."""
    return "\n".join(_normal(d.text) for d in documents.values())


@dataclass
class ProseGuard:
    """Checks the model's prose one unit (sentence or line) at a time. Cited passages are numbered in
    order of first citation, or by ``number`` when the answer numbers other sources too."""

    evidence: Evidence
    documents: dict[str, Document]
    corpus_text: str = ""
    number: Callable[[Citation], int | None] | None = None
    cited: list[Citation] = field(default_factory=list)
    links: dict[str, str] = field(default_factory=dict)
    unknown: set[str] = field(default_factory=set)
    unverified: set[str] = field(default_factory=set)
    unlisted: set[str] = field(default_factory=set)
    promotion_withheld: int = 0
    _unlisted_promotion: bool = False
    unsupported_figures: int = 0
    removed_sentences: int = 0
    unquoted: int = 0
    verdicts: list[ModelName] = field(default_factory=list)
    _verified: dict[str, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.corpus_text:
            self.corpus_text = normal_corpus(self.documents)

    def check(self, unit: str) -> str:
        """The unit as shown to the user: removed if it states an unsupported figure, else with
        citations resolved to links and unverifiable quotation marks dropped."""
        plain = _MARKER.sub("", unit)
        bad = [f for f in figures(plain) if not self.evidence.supports(f)]
        if bad:
            self.unsupported_figures += len(bad)
            self.removed_sentences += 1
            return _trailing_space(unit) if "\n" in unit else ""
        unit = _QUOTE.sub(self._quote, unit)
        self._unlisted_promotion = False
        unit = _MARKER.sub(self._cite, unit)
        if self._unlisted_promotion:
            self.promotion_withheld += 1
            return _trailing_space(unit) if "\n" in unit else ""
        self.verdicts.extend(prose_verdicts(_MARKER.sub("", plain)))
        return unit

    def _quote(self, m: re.Match[str]) -> str:
        inner = m.group(1)
        if len(inner.split()) < 5 or _normal(inner) in self.corpus_text:
            return m.group()
        self.unquoted += 1
        return inner

    def _cite(self, m: re.Match[str]) -> str:
        links = []
        for pid in re.split(r"\s*[,;]\s*", m.group(1).strip()):
            pid = pid.lower()
            citation = self.evidence.passages.get(pid)
            if citation is None:
                self.unknown.add(pid)
                continue
            if pid not in self._verified:
                try:
                    verify_citation(citation, self.documents)
                    self._verified[pid] = True
                except CitationError:
                    self._verified[pid] = False
            if not self._verified[pid]:
                self.unverified.add(pid)
                continue
            if pid not in self.links and pid not in self.unlisted:
                self.cited.append(citation)
                n = self.number(citation) if self.number else len(self.cited)
                if n is None:
                    self.unlisted.add(pid)  # not among the answer's sources: the sentence stands, unnumbered
                else:
                    self.links[pid] = f"[[{n}]](/framework#{citation.anchor})"
            if pid in self.links:
                links.append(self.links[pid])
            elif citation.promotional:
                self._unlisted_promotion = True  # the publisher's own claims are never shown unlabelled
        return (" " if m.group().startswith((" ", "\t")) else "") + " ".join(links) if links else ""

    def notices(self) -> list[str]:
        out = []
        if self.removed_sentences:
            out.append(
                f"{self.removed_sentences} sentence(s) were removed: they stated {self.unsupported_figures} figure(s) "
                "found in no passage, tool result or message of yours."
            )
        if self.unknown:
            out.append(f"{len(self.unknown)} citation(s) to passages that were never retrieved were dropped.")
        if self.unverified:
            out.append(f"{len(self.unverified)} citation(s) whose quote no longer matches the framework were dropped.")
        if self.promotion_withheld:
            out.append(
                f"{self.promotion_withheld} sentence(s) citing the publisher's promotion were left out: it is a source only "
                "when the question is about the publisher or an integrated partner."
            )
        if self.unquoted:
            out.append(f"{self.unquoted} quotation(s) not found word for word in the framework are shown without quotation marks.")
        return out


def conflicting(verdicts: Iterable[ModelName], allowed: Iterable[ModelName]) -> list[ModelName]:
    """Verdicts from prose that the tools' recommendation does not allow, in order, once each."""
    ok = set(allowed)
    return list(dict.fromkeys(v for v in verdicts if v not in ok))

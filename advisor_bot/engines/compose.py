"""The answer a reader sees, composed the same way for both engines: the answer first (the verdict,
or the framework's own sentences that answer the question), then the recommendation's key lines
once, then numbered references. Full quotes live in ``Answer.citations`` and the Sources panel,
never again in the chat text."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from advisor_bot.citations import Citation, verify_citation
from advisor_bot.corpus import Document
from advisor_bot.engines.base import EngineContext
from advisor_bot.engines.passages import passage_citation
from advisor_bot.errors import CitationError
from advisor_bot.figures import figures
from advisor_bot.card import Card, card
from advisor_bot.reading.model import Reading
from advisor_bot.recommendation import CostEstimate, Recommendation
from advisor_bot.retrieve import Retrieval
from advisor_bot.render import PROMO_LABEL, Cite, cost_markdown, said_markdown, user_label

# A reader of a wiki sidebar takes in one short paragraph: at most this many sentences and characters.
LEAD_SENTENCES = 3
LEAD_CHARS = 420
MAX_SOURCES = 5
# Sentence ends: a stop, then space and something that starts a sentence ("e.g. the" does not).
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z$“\"(*])")
_LIST_MARK = re.compile(r"^(?:[-*+]|\d+\.)\s+")
_MIN_WORDS = 6


@dataclass
class References:
    """Verified citations, and a number for each cited section in order of first use, for the whole
    answer (the LLM engine's prose is numbered through ``number`` too), at most ``MAX_SOURCES``
    sections: both engines' sources lists are this one. Identical passages (the
    same span, or the same text elsewhere) are kept once, as is a span inside one already kept;
    adjacent rows of one table join into one citation, so a matrix row set is one passage, not six."""

    documents: dict[str, Document]
    # The publisher sells integrated partnering: its promotion is a source (one section, labelled)
    # only when the question is about the publisher or an integrated partner is in question.
    promotion: bool = False
    citations: list[Citation] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    _numbers: dict[str, int] = field(default_factory=dict)

    def _kept(self, c: Citation) -> Citation:
        for i, known in enumerate(self.citations):
            inside = known.document == c.document and known.start <= c.start and c.end <= known.end
            if inside or known.quote.strip() == c.quote.strip():
                return known
            if known.document == c.document and c.start <= known.start and known.end <= c.end:
                # The new passage holds one already cited: it takes that one's place (and number), and
                # any other it holds goes.
                self.citations[i] = c
                self.citations = [k for k in self.citations if k is c or not (k.document == c.document and c.start <= k.start and k.end <= c.end)]
                return c
            rows = known.quote.startswith("|") and c.quote.startswith("|") and known.section == c.section
            if rows and known.document == c.document and (0 <= c.start - known.end <= 1 or 0 <= known.start - c.end <= 1):
                start, end = min(known.start, c.start), max(known.end, c.end)
                self.citations[i] = known.model_copy(update={"start": start, "end": end, "quote": self.documents[c.document].text[start:end]})
                return self.citations[i]
        self.citations.append(c)
        return c

    def number(self, c: Citation) -> int | None:
        """The number of the citation's section, or None: when the quote does not match the corpus (a
        notice says so), when it is the publisher's promotion and that is not wanted (or a second
        section of it), or when it would be a sixth section (what is cited first is kept: the
        opening's sources come before the model's prose and the passages that only back the answer)."""
        try:
            verify_citation(c, self.documents)
        except CitationError as exc:
            self.notices.append(str(exc))
            return None
        if c.promotional and not (self.promotion and self._promotion_fits(c)):
            return None
        before = list(self.citations)
        kept = self._kept(c)
        if kept.anchor not in self._numbers and len(self._numbers) >= MAX_SOURCES:
            self.citations = before
            return None
        return self._numbers.setdefault(kept.anchor, len(self._numbers) + 1)

    def _promotion_fits(self, c: Citation) -> bool:
        return all(k.anchor == c.anchor for k in self.citations if k.promotional)

    @property
    def sections(self) -> int:
        return len(self._numbers)

    def ordered(self) -> list[Citation]:
        """The citations in the order of their numbers: what ``Answer.citations`` holds."""
        return sorted(self.citations, key=lambda c: self._numbers[c.anchor])

    def mark(self, c: Citation) -> str:
        """``[[n]](/framework#anchor)``: the number, linked to the cited section ("" if withheld or past the cap)."""
        n = self.number(c)
        return f"[[{n}]](/framework#{c.anchor})" if n else ""

    def footer(self) -> str:
        """One line per source, so a promotional or user-document label sits on its own source's line only."""
        firsts = {self._numbers[c.anchor]: c for c in reversed(self.ordered())}
        if not firsts:
            return ""
        # Titles only: each number in the text links to its section already.
        lines = [f"{n}. {c.section.split(' > ')[-1]}{_label(c)}" for n, c in sorted(firsts.items())]
        return "**Sources**\n\n" + "\n".join(lines)


def _label(c: Citation) -> str:
    """The publisher's promotion and a user's own document are never read as the framework."""
    return f" — *{PROMO_LABEL}*" if c.promotional else f" — *{user_label(c)}*" if c.origin == "user" else ""


@dataclass(frozen=True)
class Sentence:
    text: str
    source: Citation
    position: int  # offset in its document, to keep the framework's order


def sentences(source: Citation) -> list[Sentence]:
    """The whole prose sentences of a cited passage, list markers stripped; table rows, headings and
    a sentence cut off at the passage's end are not sentences."""
    out = []
    lines = source.quote.split("\n")
    for n, line in enumerate(lines):
        line = _LIST_MARK.sub("", line.strip())
        if not line or line.startswith(("|", "#", ">")):
            continue
        parts = [p.strip() for p in _SENTENCE_END.split(line)]
        for k, s in enumerate(parts):
            # A list item's last sentence may go without a stop; the quote's last line may be cut off.
            ends_line = k + 1 == len(parts) and n + 1 < len(lines)
            if len(s.split()) >= _MIN_WORDS and (s.endswith((".", "!", "?")) or ends_line):
                text = s if s.endswith((".", "!", "?")) else s + "."
                out.append(Sentence(text=text, source=source, position=source.start + source.quote.find(s)))
    return out


def lead_sentences(question: str, sources: Sequence[Citation], context: EngineContext) -> list[Sentence]:
    """The one to three sentences of ``sources`` (best first) that best answer the question, by the
    retriever's hybrid scoring (each sentence read under its heading, its source's rank counted as
    a third ranking), within a short paragraph."""
    candidates = [s for c in _unique(sources) for s in sentences(c)]
    headed = [f"{s.source.section.split(' > ')[-1]}: {s.text}" for s in candidates]
    order = context.retriever.rank_texts(question, headed, prior=list(range(len(candidates))))
    chosen: list[Sentence] = []
    if order and candidates[order[0]].text.endswith("?"):
        # A question the framework asks is answered by the sentence after it: that one comes too.
        first = candidates[order[0]]
        after = [c for c in candidates if c.source.section == first.source.section and c.position > first.position]
        if after:
            order = [order[0], candidates.index(min(after, key=lambda c: c.position)), *order[1:]]
    # Only the best few compete for the paragraph: a weak sentence never joins for want of better.
    # After the best one, a sentence stating a figure goes before context: the paragraph is short,
    # and "how big are CDMO reactors?" is answered by the figure, not by more about the lab.
    best = order[: LEAD_SENTENCES + 2]
    for i in best[:1] + sorted(best[1:], key=lambda i: not figures(candidates[i].text)):
        s = candidates[i]
        # After the best sentence: more of its section (one thought), or a sentence stating a figure.
        if chosen and (any(c.text == s.text for c in chosen) or (s.source.section != chosen[0].source.section and not figures(s.text))):
            continue
        if chosen and sum(len(c.text) for c in chosen) + len(s.text) > LEAD_CHARS:
            break
        chosen.append(s)
        if len(chosen) == LEAD_SENTENCES:
            break
    # The best sentence's passage first; within a passage, the framework's own order reads best.
    firsts = list(dict.fromkeys(s.source.section for s in chosen))
    return sorted(chosen, key=lambda s: (firsts.index(s.source.section), s.position))


def _unique(sources: Sequence[Citation]) -> list[Citation]:
    seen: dict[tuple[str, int, int], Citation] = {}
    for c in sources:
        seen.setdefault((c.document, c.start, c.end), c)
    return list(seen.values())


def lead_sources(quoted: Sequence[Citation], retrieval: Retrieval, *, about_publisher: bool) -> list[Citation]:
    """What an opening's sentences are picked from, best first: the passages the tools quoted, then
    the retrieved ones (the publisher's promotion only when the question is about the publisher)."""
    return [*quoted, *(passage_citation(p) for p in retrieval.passages if about_publisher or not p.promotional)]


def lead_markdown(chosen: Sequence[Sentence], refs: References) -> str:
    """The chosen sentences as one paragraph, each section's numbered reference after its last sentence."""
    out = []
    for i, s in enumerate(chosen):
        last = i + 1 == len(chosen) or chosen[i + 1].source.section != s.source.section
        # A sentence from a user's document says so where it is read, not only in the sources.
        mine = f" (*{user_label(s.source)}*)" if last and s.source.origin == "user" else ""
        out.append(f"{s.text} {refs.mark(s.source)}{mine}" if last else s.text)
    return " ".join(out)


def risk_line(text: str, source: Citation | None, cite: Cite) -> str:
    """A risk as its title and the framework's telling sentence about it, with its reference."""
    if source is None:
        return f"- {risk_title(text)}"
    # The sentence that states a figure (the cost or time at stake) says the most; else the first.
    said = [s for s in sentences(source) if s.text not in text]
    best = next((s for s in said if figures(s.text)), said[0] if said else None)
    detail = f": {best.text}" if best else ""
    return f"- **{risk_title(text)}**{detail} {cite(source)}"


def verdict_markdown(card: Card, refs: References, *, risks_asked: bool = False) -> str:
    """The recommendation card's key lines, once: the verdict sentence, why, and what each factor was
    read from; cost, risks and steps compactly (the risks in full when asked about: those that fit
    this situation). The card shows the rest."""
    stage_ref = refs.mark(card.source) if card.source else ""
    alt = f" (also fits: {', '.join(card.alternatives)})" if card.alternatives else ""
    out = [f"## Recommendation: **{card.model}**{alt} {stage_ref}".rstrip(), f"*{card.confidence.capitalize()} confidence:* {card.confidence_reason}"]
    lines = []
    if card.stage and not card.stage_is_a_factor:
        lines.append(f"- **Stage:** {card.stage}")
    for f in card.factors:
        why = f" — {f.stands}" if f.stands else ""
        lines.append(f"- **{f.factor}:** {said_markdown(f)} → {f.favours} {refs.mark(f.citation)}{why}")
    if lines:
        out.append("\n".join(lines))
    if card.cost:
        out.append(cost_markdown(card.cost, cite=refs.mark))
    if card.risks and risks_asked:
        out.append("**What could go wrong here**\n" + "\n".join(risk_line(r.text, r.citation, refs.mark) for r in card.risks))
    elif card.risks:
        out.append("**Watch out for:** " + "; ".join(f"{risk_title(r.text)} {refs.mark(r.citation) if r.citation else ''}".rstrip() for r in card.risks[:2]))
    if card.next_steps:
        out.append(f"**Next step:** {card.next_steps[0]}")
    if card.missing_information:
        out.append("**To be surer, tell me:** " + "; ".join(m[0].lower() + m[1:] for m in card.missing_information[:3]) + ".")
    return "\n\n".join(out)


def promotion_relevant(reading: Reading, rec: Recommendation | None) -> bool:
    """Whether the publisher's promotion may be a source: the question is about the publisher, the
    user wants one partner for everything, or an integrated partner is in the verdict."""
    return "publisher" in reading.intents or bool(reading.situation.single_partner) or (
        rec is not None and "Integrated partner" in [rec.model, *rec.alternatives]
    )


def asks_only_which_model(reading: Reading) -> bool:
    """The only question is which model: without a verdict, asking for the stage is the answer, and
    no sentences of the framework open it (both engines)."""
    return "recommend" in reading.intents and set(reading.intents) <= {"recommend"}


def opening(
    reading: Reading,
    rec: Recommendation | None,
    cost: CostEstimate | None,
    refs: References,
    context: EngineContext,
    *,
    query: str,
    sources: Sequence[Citation],
) -> str:
    """What an answer opens with, before any explanation: the verdict with the recommendation's key
    lines; else the framework's sentences from ``sources`` that answer ``query`` (none when the only
    question is which model and the stage is not known: asking for it comes first), then the cost
    estimate. The offline engine's answer opens the same way."""
    if rec is not None:
        return verdict_markdown(card(rec, reading.evidence), refs, risks_asked="mistakes" in reading.intents)
    blocks = []
    if not asks_only_which_model(reading):
        blocks.append(lead_markdown(lead_sentences(query, sources, context), refs))
    if cost is not None:
        blocks.append("**Cost estimate**\n\n" + cost_markdown(cost, cite=refs.mark))
    return "\n\n".join(b for b in blocks if b)


_MISTAKE = re.compile(r"^Mistake \d+:\s*")


def risk_title(text: str) -> str:
    """'Mistake 4: Neglecting Quality Agreement Alignment: ...' -> 'Neglecting quality agreement alignment'."""
    title = _MISTAKE.sub("", text).split(":")[0].strip()
    return title[:1] + " ".join(w if w.isupper() else w.lower() for w in title[1:].split(" "))


def compose(blocks: Sequence[str], refs: References) -> str:
    return "\n\n".join([*(b for b in blocks if b), refs.footer()]).strip()


def without_repeats(section: str, said: Sequence[str]) -> str:
    """A tool's section without the bullets that repeat a sentence the opening already quotes (the
    issue-10 rule: a quote is shown once); a section left with only its heading is dropped."""
    opened = {_bare(t) for t in said}
    lines = section.split("\n")
    bullets = [line for line in lines if line.startswith("- ")]
    repeats = {line for line in bullets if _bare(_REF_MARK.sub("", line[2:])) in opened}
    if not repeats:
        return section
    return "" if len(repeats) == len(set(bullets)) else "\n".join(line for line in lines if line not in repeats)


# A numbered reference as ``References.mark`` writes it, and what follows it on the line.
_REF_MARK = re.compile(r"\s*\[\[\d+\]\]\(.*$")


def _bare(text: str) -> str:
    return re.sub(r"\W+", " ", text).strip().lower()

"""Markdown for an answer's recommendation card and tool results, shared by the engines and the memo."""

from __future__ import annotations

from collections.abc import Callable

from advisor_bot.citations import Citation
from advisor_bot.framework import Fact
from advisor_bot.card import Card, FactorLine
from advisor_bot.recommendation import CostEstimate
from advisor_bot.tools import PricingResult, ProvisionsResult, TransitionResult, money

PROMO_LABEL = "publisher's promotion"
Cite = Callable[[Citation], str]


def user_label(c: Citation) -> str:
    """A passage from a user's own document names it: it is material beside the framework, not the framework."""
    return f"from your document {c.document}, not the framework"


def ref(c: Citation) -> str:
    """A short, linked reference to a cited section, labelled when promotional or a user's document."""
    promo = f", *{PROMO_LABEL}*" if c.promotional else f", *{user_label(c)}*" if c.origin == "user" else ""
    return f"[{c.section.split(' > ')[-1]}](/framework#{c.anchor}){promo}"


def linked_ref(c: Citation) -> str:
    return f"({ref(c)})"


def cost_markdown(cost: CostEstimate, *, cite: Cite = linked_ref) -> str:
    """The itemised estimate; ``cite`` renders each item's source (default: a link named after its section)."""
    lines = ["| Item | Low | High | Basis |", "|---|---|---|---|"]
    lines += [f"| {i.label} | {money(i.low)} | {money(i.high)} | {i.basis} {cite(i.citation)} |" for i in cost.items]
    lines.append(f"| **Total** | **{money(cost.low)}** | **{money(cost.high)}** | |")
    notes = "".join(f"\n- {n}" for n in cost.notes)
    return "\n".join(lines) + (f"\n\nAssumptions and limits:{notes}" if notes else "")


def said_markdown(line: FactorLine) -> str:
    """The "You said" cell: the user's words quoted, else where the value came from."""
    return "; ".join(f"“{w}”" for w in line.said) if line.quoted else "; ".join(line.said)


def card_markdown(card: Card) -> str:
    """The whole recommendation card as Markdown (the decision memo's): the page's card, line for line."""
    alt = f" (also fits: {', '.join(card.alternatives)})" if card.alternatives else ""
    out = [f"## Recommendation: **{card.model}**{alt}", f"Confidence: **{card.confidence}** — {card.confidence_reason}"]
    if card.stage:
        out.append(f"Stage: {card.stage}")
    if card.factors:
        rows = ["| Factor | You said | Favours | Matrix cell |", "|---|---|---|---|"]
        rows += [
            f"| {f.factor} | {said_markdown(f)} | {f.favours} | {f.cell} ({ref(f.citation)}){f' {f.stands}' if f.stands else ''} |"
            for f in card.factors
        ]
        out.append("\n".join(rows))
    if card.cost:
        out.append("**Cost estimate**\n\n" + cost_markdown(card.cost))
    if card.risks:
        out.append("**Risks**\n" + "\n".join(f"- {r.text}" + (f" ({ref(r.citation)})" if r.citation else "") for r in card.risks))
    if card.next_steps:
        out.append("**Next steps**\n" + "\n".join(f"- {s}" for s in card.next_steps))
    if card.missing_information:
        out.append("**To be surer I would need**\n" + "\n".join(f"- {m}" for m in card.missing_information))
    if card.caveats:
        out.append("**Caveats**\n" + "\n".join(f"- {c}" for c in card.caveats))
    return "\n\n".join(out)


def _sentence_case(cell: str) -> str:
    """A table cell continuing a sentence: 'Client bears...' -> 'client bears...', but 'CRO bears...' stays."""
    return cell if cell[:2].isupper() else cell[:1].lower() + cell[1:]


def pricing_markdown(result: PricingResult, *, limit: int = 3, cite: Cite = linked_ref) -> str:
    """The pricing models that fit the question best: how each is priced (the figures), what it suits, who bears the risk."""
    lines = [
        f"- **{m.name}** ({m.provider}): {m.structure}. Best for: {_sentence_case(m.best_for)}. Risk: {_sentence_case(m.risk)} {cite(m.citation)}"
        for m in result.models[:limit]
    ]
    return "**Pricing models**\n" + "\n".join(lines)


def provisions_markdown(result: ProvisionsResult, *, limit: int = 8, cite: Cite = linked_ref) -> str:
    return f"**{result.title}**\n" + "\n".join(f"- {p.text} {cite(p.citation)}" for p in result.items[:limit])


def transition_markdown(result: TransitionResult) -> str:
    out = ["**Ways to move from research to manufacturing**"]
    for o in result.options:
        out.append(f"- **{o.name}**: {o.timeline}; transfer: {o.transfer}.")
    return "\n".join(out)


def facts_markdown(facts: list[Fact], *, cite: Cite = linked_ref) -> str:
    lines = []
    for f in facts:
        low, high = f.span
        fmt = money if f.unit.startswith("USD") else (lambda x: f"{x:g}")
        value = fmt(low) + (f"-{fmt(high)}" if high != low else "")
        lines.append(f"- {f.label}: **{value}** {f.unit.removeprefix('USD').strip()} {cite(f.citation)}")
    return "**Figures from the framework**\n" + "\n".join(lines)


def publisher_markdown(publisher: str | None, promotional: list[Citation], *, cite: Cite = linked_ref) -> str:
    who = f"The framework is published by **{publisher}**" if publisher else "The framework's publisher"
    parts = ", ".join(f"*{c.section.split(' > ')[-1]}* {cite(c)}" for c in promotional) or "none"
    return (
        f"{who}. These sections are the publisher's own promotion, labelled wherever they are quoted: {parts}. "
        "Recommendations here come from the decision matrices only, never from those sections."
    )

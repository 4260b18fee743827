"""Passages to quote and cite, shared by both engines: which to pick, how to show them, and
which citations survive verification against the corpus."""

from __future__ import annotations

from advisor_bot.citations import Citation, verify_citation
from advisor_bot.engines.base import EngineContext
from advisor_bot.errors import CitationError
from advisor_bot.render import PROMO_LABEL, user_label
from advisor_bot.retrieve import Passage, Retrieval


def passage_citation(p: Passage) -> Citation:
    return Citation(
        document=p.document, section=p.section, anchor=p.anchor, quote=p.quote, start=p.start, end=p.end, promotional=p.promotional,
        origin=p.origin,
    )


def pick_passages(retrieval: Retrieval, *, limit: int, about_publisher: bool = False) -> list[Passage]:
    """Best-ranked passages whose spans do not overlap one already picked. The publisher's
    promotion comes at most once, and never first unless the question is about the publisher."""
    picked: list[Passage] = []
    for p in retrieval.passages:
        if any(p.document == q.document and p.start < q.end and q.start < p.end for q in picked):
            continue
        if p.promotional and any(q.promotional for q in picked):
            continue
        picked.append(p)
        if len(picked) == limit:
            break
    if not about_publisher:
        picked.sort(key=lambda p: p.promotional)  # stable: the rest keep their rank
    return picked


def render_quote(c: Citation, context: EngineContext) -> str:
    """A citation as Markdown: table rows keep their header so they read as a table."""
    label = f" — *{PROMO_LABEL}*" if c.promotional else f" — *{user_label(c)}*" if c.origin == "user" else ""
    if c.quote.startswith("|") and "\n" not in c.quote:
        text = context.documents[c.document].text
        table_start = text.rfind("\n\n", 0, c.start) + 2
        header = text[table_start : text.index("\n", table_start)]
        body = f"{header}\n|{'---|' * header.count('|', 1)}\n{c.quote}"
    else:
        # Tables stay tables (a '>' before each row would break them); prose is blockquoted.
        blocks = c.quote.split("\n\n")
        body = "\n\n".join(
            b if b.lstrip().startswith("|") else "\n".join(f"> {line}" if line else ">" for line in b.split("\n"))
            for b in blocks
        )
    return f"**{c.section}**{label} ([open](/framework#{c.anchor}))\n\n{body}"


def verified(citations: list[Citation], context: EngineContext) -> tuple[list[Citation], list[str]]:
    """Unique citations that match the corpus verbatim, and a notice per dropped one."""
    kept: dict[tuple[str, int, int], Citation] = {}
    notices = []
    for c in citations:
        try:
            kept.setdefault((c.document, c.start, c.end), verify_citation(c, context.documents))
        except CitationError as exc:
            notices.append(str(exc))
    return list(kept.values()), notices

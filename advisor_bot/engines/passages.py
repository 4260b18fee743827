"""Passages to quote and cite, shared by both engines: which to pick, and each as a citation."""

from __future__ import annotations

from advisor_bot.citations import Citation
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

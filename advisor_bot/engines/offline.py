"""The offline engine: deterministic, no network, answers in verbatim quotes."""

from __future__ import annotations

import re
import time

from advisor_bot.answer import Answer, Turn, refused_answer, retrieval_query
from advisor_bot.citations import Citation, verify_citation
from advisor_bot.engines.base import EngineContext
from advisor_bot.errors import CitationError
from advisor_bot.retrieve import Passage, Retrieval, lexical_tokens
from advisor_bot.scope import refusal, relevant

_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|$)")
PROMO_LABEL = "publisher's promotion"


def _citation(p: Passage) -> Citation:
    return Citation(
        document=p.document,
        section=p.section,
        anchor=p.anchor,
        quote=p.quote,
        start=p.start,
        end=p.end,
        promotional=p.promotional,
    )


def pick_passages(retrieval: Retrieval, *, limit: int) -> list[Passage]:
    """Best-ranked passages whose spans do not overlap one already picked."""
    picked: list[Passage] = []
    for p in retrieval.passages:
        if any(p.document == q.document and p.start < q.end and q.start < p.end for q in picked):
            continue
        picked.append(p)
        if len(picked) == limit:
            break
    return picked


def best_sentence(question: str, text: str) -> str:
    """The sentence of ``text`` sharing the most stemmed terms with the question."""
    wanted = set(lexical_tokens([question])[0])
    sentences = [s.strip() for s in _SENTENCE.findall(text) if len(s.split()) >= 4 and not s.lstrip().startswith("|")]
    if not sentences:
        return ""
    return max(sentences, key=lambda s: (len(wanted & set(lexical_tokens([s])[0])), -sentences.index(s)))


def render_quote(c: Citation, context: EngineContext) -> str:
    """A citation as Markdown: table rows keep their header so they read as a table."""
    label = f" — *{PROMO_LABEL}*" if c.promotional else ""
    body = c.quote
    if c.quote.startswith("|") and "\n" not in c.quote:
        text = context.documents[c.document].text
        table_start = text.rfind("\n\n", 0, c.start) + 2
        header = text[table_start : text.index("\n", table_start)]
        body = f"{header}\n|{'---|' * header.count('|', 1)}\n{c.quote}"
        quoted = body
    else:
        quoted = "\n".join(f"> {line}" if line else ">" for line in body.split("\n"))
    return f"**{c.section}**{label} ([open](/framework#{c.anchor}))\n\n{quoted}"


def verified(citations: list[Citation], context: EngineContext) -> tuple[list[Citation], list[str]]:
    kept, notices = [], []
    for c in citations:
        try:
            kept.append(verify_citation(c, context.documents))
        except CitationError as exc:
            notices.append(str(exc))
    return kept, notices


class OfflineEngine:
    name = "offline"

    def answer(self, question: str, *, history: list[Turn], context: EngineContext) -> Answer:
        timings: dict[str, float] = {}
        began = time.perf_counter()
        retrieval = context.retriever.search(retrieval_query(question, history))
        timings["retrieve"] = round((time.perf_counter() - began) * 1000, 2)
        if not relevant(
            best_dense=retrieval.best_dense,
            coverage=retrieval.coverage,
            min_relevance=context.settings.min_relevance,
            min_relevance_covered=context.settings.min_relevance_covered,
        ):
            return refused_answer(
                question, refusal("out_of_scope"), engine=self.name, corpus_version=context.corpus_version
            )
        began = time.perf_counter()
        passages = pick_passages(retrieval, limit=context.settings.quotes)
        citations, notices = verified([_citation(p) for p in passages], context)
        parts = []
        if citations:
            lead = best_sentence(question, citations[0].quote)
            sections = ", ".join(dict.fromkeys(f"*{c.section.split(' > ')[-1]}*" for c in citations))
            parts.append(f"The framework addresses this in {sections}.")
            if lead:
                parts.append(f"Most relevant: “{lead}”")
            parts.append("### Sources")
            parts.extend(render_quote(c, context) for c in citations)
        timings["compose"] = round((time.perf_counter() - began) * 1000, 2)
        return Answer(
            question=question,
            answer_markdown="\n\n".join(parts),
            citations=citations,
            engine=self.name,
            corpus_version=context.corpus_version,
            notices=notices,
            timings_ms=timings,
        )

"""The offline engine: deterministic, no network; tools decide, quotes explain."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass

from advisor_bot.answer import Answer
from advisor_bot.turns import Turn, retrieval_query
from advisor_bot.citations import Citation
from advisor_bot.decisions import decide
from advisor_bot.engines.base import EngineContext
from advisor_bot.engines.passages import passage_citation, pick_passages, render_quote, verified
from advisor_bot.recommendation import CostEstimate, Recommendation
from advisor_bot.render import (
    PROMO_LABEL,
    cost_markdown,
    facts_markdown,
    pricing_markdown,
    provisions_markdown,
    publisher_markdown,
    recommendation_markdown,
    transition_markdown,
    user_label,
)
from advisor_bot.reading.model import Reading
from advisor_bot.retrieve import Retrieval, lexical_tokens

_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|$)")


def best_sentence(question: str, text: str) -> str:
    """The sentence of ``text`` sharing the most stemmed terms with the question."""
    wanted = set(lexical_tokens([question])[0])
    sentences = [
        s.strip().removeprefix("- ") for s in _SENTENCE.findall(text) if len(s.split()) >= 4 and not s.lstrip().startswith("|")
    ]
    if not sentences:
        return ""
    return max(sentences, key=lambda s: (len(wanted & set(lexical_tokens([s])[0])), -sentences.index(s)))


def clarifying_question(reading: Reading, context: EngineContext) -> tuple[str, list[Citation]]:
    """One question about the stage: between the likely rows when the reading has them, else every row."""
    stages = context.toolbox.framework.stages
    rows = {r.stage: r for r in stages}
    likely = [rows[o.stage] for o in reading.stage_options if o.stage in rows]
    if len(likely) >= 2:
        a, b = likely[:2]
        text = (
            f"**Is your program at {a.stage.lower()} or at {b.stage.lower()}?** The framework recommends "
            f"**{' or '.join(a.models)}** for {a.stage} ({a.primary_need.lower()}) and **{' or '.join(b.models)}** for "
            f"{b.stage} ({b.primary_need.lower()}); tell me which, or set the stage in the panel."
        )
        return text, [a.citation, b.citation]
    read = rows.get(reading.situation.stage or "")
    if read is not None and reading.stage_source == "meaning":
        # The stage was read from a description and something else the user said points elsewhere.
        text = (
            f"**Is your program at {read.stage.lower()}?** That is how I read your description, and the framework "
            f"recommends **{' or '.join(read.models)}** there ({read.primary_need.lower()}), but other things you said "
            "point to a different model. Tell me your stage, or set it in the panel, and I will give a verdict."
        )
        return text, [read.citation]
    lines = [f"- {r.stage}: **{' or '.join(r.models)}**" for r in stages]
    text = (
        "**Which development stage is your program at?** The right model depends on it most. "
        "For each stage, the framework recommends:\n" + "\n".join(lines)
    )
    return text, [r.citation for r in stages]


@dataclass(frozen=True)
class ToolOutput:
    """What the tools contributed: Markdown blocks, their citations, the typed results,
    and passages worth quoting in full under Sources."""

    sections: list[str]
    citations: list[Citation]
    recommendation: Recommendation | None
    cost: CostEstimate | None
    quotes: list[Citation]
    clarifying: str | None = None


class OfflineEngine:
    name = "offline"

    def answer(self, reading: Reading, *, history: list[Turn], context: EngineContext, retrieval: Retrieval | None = None) -> Answer:
        timings: dict[str, float] = {}
        question = reading.query
        began = time.perf_counter()
        retrieval = retrieval or context.retriever.search(retrieval_query(question, history))
        timings["retrieve"] = round((time.perf_counter() - began) * 1000, 2)

        began = time.perf_counter()
        tools = self.run_tools(reading, context)
        timings["tools"] = round((time.perf_counter() - began) * 1000, 2)

        began = time.perf_counter()
        passages = pick_passages(retrieval, limit=context.settings.quotes, about_publisher="publisher" in reading.intents)
        # What the tools chose to quote (the publisher's own sections, when asked about) comes first.
        spans = [(c.document, c.start, c.end) for c in tools.quotes] + [(p.document, p.start, p.end) for p in passages]
        citations, notices = verified([*tools.citations, *(passage_citation(p) for p in passages)], context)
        quoted = sorted(
            (c for c in citations if (c.document, c.start, c.end) in spans),
            key=lambda c: spans.index((c.document, c.start, c.end)),
        )
        if "publisher" not in reading.intents:
            promo = [c for c in quoted if c.promotional][:1]
            quoted = [c for c in quoted if not c.promotional] + promo
        parts = list(tools.sections)
        if quoted:
            for origin, lead_in in (("framework", "The framework addresses this in"), ("user", "Your own documents mention it in")):
                if names := ", ".join(dict.fromkeys(f"*{c.section.split(' > ')[-1]}*" for c in quoted if c.origin == origin)):
                    parts.append(f"{lead_in} {names}.")
            first = next((c for c in quoted if not c.promotional), quoted[0])
            if lead := best_sentence(question, first.quote):
                label = f" (*{PROMO_LABEL}*)" if first.promotional else f" (*{user_label(first)}*)" if first.origin == "user" else ""
                parts.append(f"Most relevant{label}: “{lead}”")
            parts.append("### Sources")
            parts.extend(render_quote(c, context) for c in quoted)
        timings["compose"] = round((time.perf_counter() - began) * 1000, 2)
        return Answer(
            question=reading.question,
            answer_markdown="\n\n".join(parts),
            citations=citations,
            recommendation=tools.recommendation,
            cost_estimate=tools.cost if tools.recommendation is None else None,
            clarifying_question=tools.clarifying,
            situation=reading.situation,
            evidence=reading.evidence,
            engine=self.name,
            corpus_version=context.corpus_version,
            notices=notices,
            timings_ms=timings,
        )

    def stream(
        self, reading: Reading, *, history: list[Turn], context: EngineContext, retrieval: Retrieval | None = None
    ) -> Iterator[str | Answer]:
        """The whole answer is ready at once; it is yielded a block at a time for the typing effect."""
        answer = self.answer(reading, history=history, context=context, retrieval=retrieval)
        for block in answer.answer_markdown.split("\n\n"):
            yield block + "\n\n"
        yield answer

    @staticmethod
    def run_tools(reading: Reading, context: EngineContext) -> ToolOutput:
        """Markdown sections and citations from the tools the reading's intents call for."""
        tb = context.toolbox
        question, intents, provider = reading.query, reading.intents, reading.provider
        sections: list[str] = []
        cites: list[Citation] = []
        quotes: list[Citation] = []
        clarifying = None
        recommendation, cost = decide(reading, toolbox=tb)
        if "recommend" in intents:
            if recommendation is None:
                text, stage_cites = clarifying_question(reading, context)
                clarifying = text
                sections.append(text)
                cites.extend(stage_cites)
            else:
                sections.append(recommendation_markdown(recommendation))
                cites.extend(recommendation.citations)
        if cost is not None and recommendation is None:
            sections.append("**Cost estimate**\n\n" + cost_markdown(cost))
            cites.extend(i.citation for i in cost.items)
        if "cost" in intents and cost is None:
            # Nothing to multiply out: show the framework's own figures that the question is about.
            facts = tb.relevant_facts(question)
            if facts:
                sections.append(facts_markdown(facts))
                cites.extend(f.citation for f in facts)
        if "publisher" in intents:
            promo = tb.promotional_sections()
            sections.append(publisher_markdown(tb.framework.doc.publisher, promo))
            cites.extend(promo)
            quotes.extend(promo)
        if "pricing" in intents:
            result = tb.pricing_models(provider, question)
            sections.append(pricing_markdown(result))
            cites.extend(m.citation for m in result.models[:4])
        for intent, call in (
            ("ip", lambda: tb.ip_checklist(provider, focus=question)),
            ("regulatory", lambda: tb.regulatory_roles(provider, focus=question)),
            ("mistakes", lambda: tb.common_mistakes(question)),
        ):
            if intent in intents:
                result = call()
                sections.append(provisions_markdown(result, limit=5))
                cites.extend(p.citation for p in result.items[:5])
        if "transition" in intents or "transfer" in intents:
            result = tb.transition_options()
            sections.append(transition_markdown(result))
            cites.extend(p.citation for o in result.options for p in o.points[:1])
        return ToolOutput(
            sections=sections, citations=cites, recommendation=recommendation, cost=cost, quotes=quotes, clarifying=clarifying
        )

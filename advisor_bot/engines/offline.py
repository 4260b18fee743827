"""The offline engine: deterministic, no network; tools decide, quotes explain."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial

from advisor_bot.answer import Answer
from advisor_bot.turns import Turn, retrieval_query
from advisor_bot.card import card
from advisor_bot.citations import Citation
from advisor_bot.decisions import decide
from advisor_bot.framework import StageRow
from advisor_bot.engines.base import EngineContext
from advisor_bot.engines.compose import References, asks_only_which_model, lead_sources, promotion_relevant, compose, lead_markdown, lead_sentences, risk_line, verdict_markdown, without_repeats
from advisor_bot.engines.passages import passage_citation, pick_passages
from advisor_bot.recommendation import CostEstimate, Recommendation
from advisor_bot.render import (
    Cite,
    cost_markdown,
    facts_markdown,
    pricing_markdown,
    provisions_markdown,
    publisher_markdown,
    transition_markdown,
)
from advisor_bot.reading.model import Reading
from advisor_bot.retrieve import Retrieval
from advisor_bot.tools import ProvisionsResult

# Provisions (IP terms, regulatory duties, mistakes) shown in the chat: the ones that fit best; the rest are a click away.
PROVISIONS = 3

def _in_sentence(label: str) -> str:
    """A matrix label inside a sentence: "Lead optimization" -> "lead optimization", but
    "IND-enabling studies" and "GMP material for tox studies, CMC documentation" keep their acronyms."""
    return label[:1].lower() + label[1:] if label[1:2].islower() else label


def clarifying_question(reading: Reading, context: EngineContext) -> tuple[str, list[Citation]]:
    """One question about the stage: between the likely rows when the reading has them, else every row."""
    stages = context.toolbox.framework.stages
    rows = {r.stage: r for r in stages}
    likely = [rows[o.stage] for o in reading.stage_options if o.stage in rows]
    if len(likely) >= 2:
        a, b = likely[:2]
        text = (
            f"**Is your program at {_in_sentence(a.stage)} or at {_in_sentence(b.stage)}?** The framework recommends "
            f"**{' or '.join(a.models)}** for {a.stage} ({_in_sentence(a.primary_need)}) and **{' or '.join(b.models)}** for "
            f"{b.stage} ({_in_sentence(b.primary_need)}); tell me which, or set the stage in the panel."
        )
        return text, [a.citation, b.citation]
    read = rows.get(reading.situation.stage or "")
    if read is not None and reading.stage_source == "meaning":
        # The stage was read from a description and something else the user said points elsewhere.
        text = (
            f"**Is your program at {_in_sentence(read.stage)}?** That is how I read your description, and the framework "
            f"recommends **{' or '.join(read.models)}** there ({_in_sentence(read.primary_need)}), but other things you said "
            "point to a different model. Tell me your stage, or set it in the panel, and I will give a verdict."
        )
        return text, [read.citation]
    # One sentence, neighbouring rows with the same verdict said once: the question follows the
    # framework's answer in a chat bubble, where seven bullet lines would bury it.
    runs: list[list[StageRow]] = []
    for r in stages:
        if runs and runs[-1][-1].models == r.models:
            runs[-1].append(r)
        else:
            runs.append([r])
    parts = [f"**{' or '.join(run[0].models)}** for {_and([r.stage for r in run])}" for run in runs]
    text = (
        "**Which development stage is your program at?** The right model depends on it most: the framework "
        f"recommends {'; '.join(parts[:-1])}; and {parts[-1]}."
    )
    return text, [r.citation for r in stages]


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


Section = Callable[[Cite], str]


def _provisions(result: ProvisionsResult, cite: Cite) -> str:
    return provisions_markdown(result, limit=PROVISIONS, cite=cite)


@dataclass(frozen=True)
class ToolOutput:
    """What the tools contributed: Markdown blocks (rendered with the answer's numbered references),
    the typed results, and passages the tools chose to cite."""

    sections: list[Section]
    recommendation: Recommendation | None
    cost: CostEstimate | None
    quotes: list[Citation]
    clarifying: tuple[str, list[Citation]] | None = None
    leads: bool = False  # a tool's section answers the question itself (the risks asked about), so it comes first


class OfflineEngine:
    name = "offline"

    def problem(self) -> None:
        return None  # no backend to fail

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
        about_publisher = "publisher" in reading.intents
        passages = pick_passages(retrieval, limit=context.settings.quotes, about_publisher=about_publisher)
        refs = References(documents=context.documents, promotion=promotion_relevant(reading, tools.recommendation))
        blocks: list[str] = []
        quoted: list[str] = []  # sentences the answer's opening already quotes
        if tools.recommendation is not None:
            blocks.append(verdict_markdown(card(tools.recommendation, reading.evidence), refs, risks_asked="mistakes" in reading.intents))
        else:
            # Answer first, from the framework's own sentences, unless a tool's section is the answer or
            # the only question is which model (then the question about the stage is the answer).
            if not tools.leads and not asks_only_which_model(reading):
                sources = lead_sources(tools.quotes, retrieval, about_publisher=about_publisher)
                lead = lead_sentences(question, sources, context)
                blocks.append(lead_markdown(lead, refs))
                quoted = [s.text for s in lead]
            if tools.clarifying:
                text, stage_rows = tools.clarifying
                marks = "".join(dict.fromkeys(refs.mark(c) for c in stage_rows))
                said = f"{text} {marks}"
                blocks.append(f"**To make this specific to you:** {said}" if blocks else said)
        blocks.extend(b for section in tools.sections if (b := without_repeats(section(refs.mark), quoted)))
        # The best remaining passages back the answer as sources, up to the limit a reader scans
        # (``References`` stops there, and says when the publisher's promotion may be one).
        for p in passages:
            refs.number(passage_citation(p))
        timings["compose"] = round((time.perf_counter() - began) * 1000, 2)
        return Answer(
            question=reading.question,
            answer_markdown=compose(blocks, refs),
            citations=refs.ordered(),
            recommendation=tools.recommendation,
            cost_estimate=tools.cost if tools.recommendation is None else None,
            clarifying_question=tools.clarifying[0] if tools.clarifying else None,
            situation=reading.situation,
            evidence=reading.evidence,
            engine=self.name,
            corpus_version=context.corpus_version,
            notices=refs.notices,
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
        """Markdown sections from the tools the reading's intents call for."""
        tb = context.toolbox
        question, intents, provider = reading.query, reading.intents, reading.provider
        sections: list[Section] = []
        quotes: list[Citation] = []
        clarifying = None
        leads = False
        recommendation, cost = decide(reading, toolbox=tb)
        if "recommend" in intents and recommendation is None:
            clarifying = clarifying_question(reading, context)
        if cost is not None and recommendation is None:
            sections.append(lambda cite: "**Cost estimate**\n\n" + cost_markdown(cost, cite=cite))
            quotes.extend(i.citation for i in cost.items)
        if "cost" in intents and cost is None:
            # Nothing to multiply out: show the framework's own figures that the question is about.
            facts = tb.relevant_facts(question)
            if facts:
                sections.append(lambda cite: facts_markdown(facts, cite=cite))
                quotes.extend(f.citation for f in facts)
        elif {"pricing", "transfer", "transition"} & set(intents) and "pricing" not in intents:
            # The sentences stating the framework's figures on the topic may answer best.
            quotes.extend(f.citation for f in tb.relevant_facts(question))
        if "publisher" in intents:
            promo = tb.promotional_sections()
            sections.append(lambda cite: publisher_markdown(tb.framework.doc.publisher, promo, cite=cite))
            quotes.extend(promo)
        if "pricing" in intents:
            # "What pricing should we expect from them?" after a verdict: them is the provider decided on,
            # and the work the user described says which of its models fits.
            decided = recommendation.model if recommendation is not None and recommendation.model in ("CRO", "CDMO") else None
            side = provider or decided or reading.situation.work
            work = " ".join([question, *(e.text for e in reading.evidence if e.field == "work")])
            pricing = tb.pricing_models(side, work)
            # The figures the framework states on the topic, not those beside the other provider's table
            # ("route scouting runs $15,000 to $50,000" is no answer about a CDMO).
            tables = {m.citation.section for m in pricing.models}
            others = {m.citation.section for m in tb.framework.pricing} - tables
            fees = [f for f in tb.relevant_facts(work) if f.citation.section not in others]
            if recommendation is None:
                quotes.extend(f.citation for f in fees)  # the sentences may lead the answer
                fees = []
            else:
                # The verdict leads: the fee stated beside the provider's own table goes with it.
                fees = [f for f in fees if f.citation.section in tables][:1]
            sections.append(lambda cite: pricing_markdown(pricing, cite=cite) + "".join(f"\n\n{f.citation.quote} {cite(f.citation)}" for f in fees))
            quotes.extend(m.citation for m in pricing.models[:1])
        for intent, call in (
            ("ip", lambda: tb.ip_checklist(provider, focus=question)),
            ("regulatory", lambda: tb.regulatory_roles(provider, focus=question)),
        ):
            if intent in intents:
                result = call()
                sections.append(partial(_provisions, result))
                quotes.extend(p.citation for p in result.items[:PROVISIONS])
        if "mistakes" in intents and recommendation is None:
            # With a verdict, its own risks (those that fit the situation) answer this, in full.
            mistakes = tb.common_mistakes(question).items[:PROVISIONS]
            sections.append(lambda cite: "**What could go wrong**\n" + "\n".join(risk_line(p.text, p.citation, cite) for p in mistakes))
            quotes.extend(p.citation for p in mistakes)
            leads = not clarifying
        if "transition" in intents or "transfer" in intents:
            transition = tb.transition_options()
            sections.append(lambda cite: transition_markdown(transition))
            quotes.extend(p.citation for o in transition.options for p in o.points[:1])
        return ToolOutput(
            sections=sections, recommendation=recommendation, cost=cost, quotes=quotes, clarifying=clarifying, leads=leads
        )

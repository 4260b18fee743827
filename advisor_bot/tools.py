"""Deterministic decision tools over the parsed framework.

Each tool is a typed method registered once with ``@tool`` (``advisor_bot.registry``): its
docstring is the description and each argument's ``Field`` describes it, so the same functions
serve the offline engine directly, an LLM through LangChain tool calling and MCP clients.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from advisor_bot.citations import Citation
from advisor_bot.framework import Column, Fact, Framework, PricingModel, StageRow, sentence_spans, citation_for
from advisor_bot.recommendation import CostEstimate, CostItem, FactorAssessment
from advisor_bot.retrieve import lexical_tokens
from advisor_bot.reading.cost import CostScenario, Provider
from advisor_bot.registry import tool
from advisor_bot.situation import Situation


class StageResult(BaseModel):
    row: StageRow | None
    known_stages: list[str]


class ProfileResult(BaseModel):
    assessments: list[FactorAssessment]
    tally: dict[Column, int]
    lean: Column | None = Field(description="The column most factors favour; None on a tie or no factors.")


class PricingResult(BaseModel):
    models: list[PricingModel]


class Provision(BaseModel):
    text: str
    citation: Citation


class ProvisionsResult(BaseModel):
    title: str
    items: list[Provision]


class TransitionOption(BaseModel):
    name: Literal["Sequential", "Parallel", "Integrated partner"]
    timeline: str
    transfer: str
    points: list[Provision]


class TransitionResult(BaseModel):
    options: list[TransitionOption]


def money(x: float) -> str:
    return f"${x:,.0f}"


def _range(f: Fact) -> str:
    lo, hi = f.span
    return money(lo) if lo == hi else f"{money(lo)}-{money(hi)}"


class Toolbox:
    """The decision tools, bound to one parsed framework."""

    def __init__(self, framework: Framework) -> None:
        self.framework = framework

    def section_items(self, key: str) -> list[Provision]:
        """Each sentence or list line of a section (by its article-map key), cited."""
        doc, section = self.framework.doc, self.framework.section(key)
        return [
            Provision(text=doc.text[s:e].removeprefix("- "), citation=citation_for(doc, section, s, e))
            for s, e in sentence_spans(doc, section)
        ]

    def relevant_facts(self, question: str, *, limit: int = 3) -> list[Fact]:
        """The framework's figures whose label and sentence share the most terms with the question."""
        wanted = set(lexical_tokens([question])[0])
        scored = [(len(wanted & set(lexical_tokens([f"{f.label} {f.citation.quote}"])[0])), f) for f in self.framework.facts.values()]
        best = max((n for n, _ in scored), default=0)
        return [f for n, f in sorted(scored, key=lambda x: -x[0]) if n and n >= best - 1][:limit]

    def promotional_sections(self) -> list[Citation]:
        """Each section the corpus front matter flags as the publisher's promotion, cited whole."""
        doc = self.framework.doc
        return [
            citation_for(doc, s, s.blocks[0].start, s.blocks[-1].end)
            for s in self.framework.sections.values()
            if s.promotional and s.blocks
        ]

    @tool
    def stage_recommendation(
        self,
        stage: Annotated[str, Field(description='A stage label from the matrix (e.g. "IND-enabling studies"), matched case-insensitively; the result lists the known labels.')],
    ) -> StageResult:
        """The Project Stage Decision Matrix row for a development stage: primary need, recommended model(s), selection criteria."""
        wanted = " ".join(stage.lower().split())
        exact = [r for r in self.framework.stages if r.stage.lower() == wanted]
        # A prefix ("IND-enabling", "Phase I/II") names a row only when it names one row.
        prefixed = [r for r in self.framework.stages if len(wanted) >= 3 and r.stage.lower().startswith(wanted)]
        row = exact[0] if exact else prefixed[0] if len(prefixed) == 1 else None
        return StageResult(row=row, known_stages=[r.stage for r in self.framework.stages])

    @tool
    def profile_assessment(
        self, factors: Annotated[Situation, Field(description="The user's situation; only the fields they stated are assessed (omit what is unknown).")]
    ) -> ProfileResult:
        """Which column (CRO, CDMO, Hybrid) of the Organizational Profile Decision Matrix each stated factor matches, with the tally."""
        picks: list[tuple[str, str, Column, tuple[str, ...]]] = []  # row, value, column, fields read
        if factors.multiple_stages:
            picks.append(("stage", Situation.label("multiple_stages"), "Hybrid", ("multiple_stages",)))
        elif factors.stage and (row := self.stage_recommendation(factors.stage).row) is not None:
            # The profile row splits "discovery through lead optimization" from "candidate through
            # commercial": the row the article map names, or the first without a CRO, starts CDMO.
            idx = self.framework.stages.index(row)
            cdmo_from = next(i for i, r in enumerate(self.framework.stages) if "CRO" not in r.models)
            word = self.framework.article.profile_cdmo_from.lower()
            candidate = next((i for i, r in enumerate(self.framework.stages) if word in r.stage.lower()), cdmo_from)
            picks.append(("stage", row.stage, "CRO" if idx < min(cdmo_from, candidate) else "CDMO", ("stage",)))
        for name, key in self.framework.article.column_fields().items():
            if (column := getattr(factors, name)) is not None:
                # The field's own label says what was stated ("Budget structure favours CRO"): the card
                # shows the user's words for it (Answer.evidence), this only where none were kept.
                picks.append((key, f"{Situation.label(name)} {column}", column, (name,)))
        if factors.transitioning:
            picks.append(("regulatory", Situation.label("transitioning"), "Hybrid", ("transitioning",)))
        elif factors.gmp is not None:
            picks.append(("regulatory", Situation.label("gmp") if factors.gmp else "research-grade material", "CDMO" if factors.gmp else "CRO", ("gmp",)))
        if factors.mixed_volume:
            picks.append(("volume", Situation.label("mixed_volume"), "Hybrid", ("mixed_volume",)))
        elif factors.quantity is not None:
            picks.append(("volume", str(factors.quantity), "CDMO" if factors.quantity.kg >= 1 else "CRO", ("quantity",)))
        assessments = []
        for key, value, column, read_from in picks:
            profile_row = self.framework.profile_row(key)
            assessments.append(
                FactorAssessment(
                    factor=profile_row.factor, row=key, value=value, favours=column,
                    reason=profile_row.cells[column].text, citation=profile_row.citation, fields=read_from,
                )
            )
        tally: dict[Column, int] = {"CRO": 0, "CDMO": 0, "Hybrid": 0}
        for a in assessments:
            tally[a.favours] += 1
        best = max(tally.values())
        leaders = [c for c, n in tally.items() if n == best]
        return ProfileResult(assessments=assessments, tally=tally, lean=leaders[0] if best and len(leaders) == 1 else None)

    @tool
    def pricing_models(
        self,
        provider: Annotated[Provider | None, Field(description='"CRO", "CDMO", or null for both.')],
        situation: Annotated[str, Field(description='The user\'s words about the work, used to rank models by their "Best For" cell.')],
    ) -> PricingResult:
        """Pricing models from the framework's CRO and CDMO pricing tables, best fit first."""
        wanted = set(lexical_tokens([situation])[0])
        models = [m for m in self.framework.pricing if provider in (None, m.provider)]

        def fit(m: PricingModel) -> int:
            return len(wanted & set(lexical_tokens([f"{m.name} {m.best_for} {m.structure}"])[0]))

        return PricingResult(models=sorted(models, key=lambda m: -fit(m)))

    @tool
    def estimate_cost(
        self,
        scenario: Annotated[
            CostScenario,
            Field(description="The work to price: FTEs and months, route scouting, analogs, kilograms, process development, technology transfer."),
        ],
    ) -> CostEstimate:
        """Low and high cost of the stated work in USD, itemised, from the framework's own figures, with the arithmetic and citations."""
        fw, items, notes = self.framework, [], []
        if scenario.fte is not None or scenario.months is not None:
            fte, months = scenario.fte or 1, scenario.months or 12
            rate = fw.fact("cro_fte_rate")
            lo, hi = rate.span
            basis = f"{fte:g} FTE x {months:g} months x {_range(rate)} per FTE-year"
            if scenario.fte_at == "CDMO":
                prem = fw.fact("cdmo_development_premium")
                lo, hi = lo * (1 + prem.span[0] / 100), hi * (1 + prem.span[1] / 100)
                basis += f", plus the {prem.low:g}-{prem.span[1]:g}% CDMO development premium"
                notes.append("The framework states the CDMO premium relative to CRO rates, not a CDMO FTE rate.")
            if scenario.fte is None or scenario.months is None:
                notes.append(f"Assumed {'1 FTE' if scenario.fte is None else f'{months:g} months'}: not stated.")
            scale = fte * months / 12
            items.append(
                CostItem(label=f"{scenario.fte_at} scientists (FTE)", low=lo * scale, high=hi * scale, basis=basis, citation=rate.citation)
            )
        if scenario.route_scouting:
            f = fw.fact("route_scouting_fee")
            n = scenario.route_scouting
            items.append(CostItem(label="Route scouting", low=f.span[0] * n, high=f.span[1] * n, basis=f"{n} x {_range(f)} per engagement", citation=f.citation))
        if scenario.analogs:
            f, span = fw.fact("medchem_campaign_fee"), fw.fact("medchem_campaign_analogs")
            items.append(CostItem(label=f"Med-chem campaign ({scenario.analogs} analogs)", low=f.span[0], high=f.span[1], basis=f"a full campaign of {span.low:g}-{span.span[1]:g} analogs: {_range(f)}", citation=f.citation))
            if not span.span[0] <= scenario.analogs <= span.span[1]:
                notes.append(
                    f"{scenario.analogs} analogs is outside the {span.low:g}-{span.span[1]:g} the framework prices; "
                    "the campaign range is shown unscaled, as the framework gives no per-analog price."
                )
        if scenario.kg:
            complexity = scenario.complexity or "complex"
            f = fw.fact(f"cdmo_per_kg_{complexity}")
            items.append(CostItem(label=f"Manufacturing {scenario.kg:g} kg ({complexity})", low=f.span[0] * scenario.kg, high=f.span[1] * scenario.kg, basis=f"{scenario.kg:g} kg x {_range(f)} per kg", citation=f.citation))
            if scenario.complexity is None:
                notes.append("Complexity not stated: priced as a complex multi-step cGMP API (the framework's higher band).")
            if complexity == "complex":
                notes.append("The framework says complex cGMP syntheses 'can exceed' this per-kg range, so the high end is not a ceiling.")
            else:
                notes.append("The simple-process band is stated for multi-hundred-kilogram scale.")
        # The framework prices a CDMO campaign in one passage: per-kg manufacturing and the process
        # development that comes before production, so a campaign is budgeted with both.
        if scenario.process_development or scenario.kg:
            f = fw.fact("process_development_fee")
            items.append(CostItem(label="CDMO process development", low=f.span[0], high=f.span[1], basis=f"{_range(f)} before production begins", citation=f.citation))
            if not scenario.process_development:
                notes.append("Process development is included because production at a CDMO starts with it; leave it out if your process already runs at that CDMO.")
        if scenario.technology_transfer:
            f, d = fw.fact("tech_transfer_cost"), fw.fact("tech_transfer_duration")
            items.append(CostItem(label="Technology transfer", low=f.span[0], high=f.span[1], basis=f"{_range(f)} over {d.low:g}-{d.span[1]:g} months, excluding process modification", citation=f.citation))
        low, high = sum(i.low for i in items), sum(i.high for i in items)
        if scenario.budget and items:
            left = (scenario.budget - high, scenario.budget - low)
            verdict = "leaves" if left[0] >= 0 else "may leave" if left[1] >= 0 else "exceeds it by"
            amounts = (max(left[0], 0), left[1]) if left[1] >= 0 else (-left[1], -left[0])
            notes.append(
                f"Against the {money(scenario.budget)} budget you mention, this {verdict} "
                f"{money(amounts[0])}-{money(amounts[1])}{' for the rest' if left[1] >= 0 else ''}."
            )
        return CostEstimate(items=items, low=low, high=high, notes=notes)

    @tool
    def transition_options(self) -> TransitionResult:
        """Sequential CRO-to-CDMO vs parallel engagement vs an integrated partner: timelines, transfer costs and cited points."""
        fw = self.framework
        cro, tt = fw.fact("phase_cro_duration"), fw.fact("phase_transfer_duration")
        cost = fw.fact("tech_transfer_cost")
        return TransitionResult(
            options=[
                TransitionOption(
                    name="Sequential",
                    timeline=f"CRO phase {cro.low:g}-{cro.span[1]:g} months, then transfer {tt.low:g}-{tt.span[1]:g} months, then the CDMO phase",
                    transfer=f"{_range(cost)} for the transfer activities alone",
                    points=self.section_items("sequential"),
                ),
                TransitionOption(name="Parallel", timeline="CRO and CDMO work at the same time on different activities", transfer="a transfer for each process that moves", points=self.section_items("parallel")),
                TransitionOption(name="Integrated partner", timeline="no formal transfer between organisations", transfer="none between separate organisations", points=self.section_items("integrated")),
            ]
        )

    @tool
    def ip_checklist(
        self,
        engagement: Annotated[Provider | None, Field(description='"CRO", "CDMO", or null for both.')],
        *,
        focus: Annotated[str, Field(description="The user's words; provisions that match them come first.")] = "",
    ) -> ProvisionsResult:
        """IP provisions to negotiate for a CRO or CDMO engagement, plus the general negotiation best practices, cited."""
        return self._provisions("ip", engagement, focus=focus, title="IP checklist")

    @tool
    def regulatory_roles(
        self,
        provider: Annotated[Provider | None, Field(description='"CRO", "CDMO", or null for both.')],
        *,
        focus: Annotated[str, Field(description="The user's words; responsibilities that match them come first.")] = "",
    ) -> ProvisionsResult:
        """Regulatory-filing responsibilities of a CRO or a CDMO, cited."""
        return self._provisions("regulatory", provider, focus=focus, title="Regulatory roles")

    def _provisions(self, kind: Literal["ip", "regulatory"], provider: Provider | None, *, focus: str, title: str) -> ProvisionsResult:
        """The provider's sections of the map's ``kind`` of provisions (both without one), then its
        general section if the map names one, best match to ``focus`` first."""
        where = self.framework.article.provisions[kind]
        keys = [k for p, k in (("CRO", where.CRO), ("CDMO", where.CDMO)) if provider in (None, p)]
        keys += [where.general] if where.general else []
        return ProvisionsResult(title=title, items=_ranked([i for k in keys for i in self.section_items(k)], focus))

    @tool
    def common_mistakes(self, situation: Annotated[str, Field(description="The user's words, used to rank the mistakes.")]) -> ProvisionsResult:
        """The framework's common outsourcing mistakes, most relevant to the situation first, cited."""
        parent = self.framework.section("mistakes").title
        mistakes = [s for s in self.framework.sections.values() if s.heading_path[0] == parent and s.level == 2]
        items = [
            Provision(text=s.title, citation=citation_for(self.framework.doc, s, s.blocks[0].start, s.blocks[-1].end))
            for s in mistakes
            if s.blocks
        ]
        return ProvisionsResult(title="Common mistakes", items=_ranked(items, situation))


def _ranked(items: list[Provision], focus: str) -> list[Provision]:
    """Items sharing the most terms with ``focus`` first (stable otherwise); lead-in lines
    such as 'Key IP provisions include:' say nothing on their own and are dropped."""
    wanted = set(lexical_tokens([focus])[0]) if focus.strip() else set()
    kept = [i for i in items if not i.text.rstrip().endswith(":")]
    return sorted(kept, key=lambda p: -len(wanted & set(lexical_tokens([f"{p.text} {p.citation.quote}"])[0])))

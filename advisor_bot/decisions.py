"""The recommendation, decided from the framework's tools alone: pure, no LLM, no I/O."""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydantic import ValidationError

from advisor_bot.citations import Citation
from advisor_bot.errors import InvalidQuestionError
from advisor_bot.extract import NUMBER_WORDS, WORD_VALUES
from advisor_bot.framework import ModelName
from advisor_bot.recommendation import CostEstimate, Point, Recommendation
from advisor_bot.situation import Situation
from advisor_bot.tools import CostScenario, ProfileResult, Provision, Toolbox

_COMPATIBLE: dict[str, set[ModelName]] = {"CRO": {"CRO"}, "CDMO": {"CDMO"}, "Hybrid": {"Hybrid", "Integrated partner"}}
_MISSING = (
    ("stage", "Development stage (e.g. lead optimization, IND-enabling, Phase 1)"),
    ("quantity", "Quantity of material needed (mg, g, kg or tons)"),
    ("gmp", "Whether the material must be made under cGMP"),
    ("in_house", "Your in-house chemistry capability"),
    ("budget", "Budget structure (operating expense, capital for campaigns, or stage-gated)"),
    ("timeline", "Timeline pressure (research iteration in weeks vs production deadlines)"),
    ("ip_sensitivity", "How IP-sensitive the work is"),
)


def _agreement(profile: ProfileResult, options: list[ModelName]) -> tuple[int, int]:
    # The stage factor restates the stage row; counting it would double-count one signal.
    others = [a for a in profile.assessments if not a.factor.startswith("Stage")]
    agree = sum(1 for a in others if _COMPATIBLE[a.favours] & set(options))
    return agree, len(others) - agree


def _preferred(options: list[ModelName], profile: ProfileResult) -> ModelName:
    """Of the models a stage row allows, the one most profile factors favour (the row's
    first on a tie): lead optimization with a stage-gated budget and a moderate team is Hybrid."""
    others = [a for a in profile.assessments if not a.factor.startswith("Stage")]
    support = {o: sum(1 for a in others if o in _COMPATIBLE[a.favours]) for o in options}
    return max(options, key=lambda o: (support[o], -options.index(o)))


def _factors(n: int) -> str:
    return {1: "the other factor", 2: "both other factors"}.get(n, f"all {n} other factors")


def _phases(toolbox: Toolbox) -> tuple[int, int]:
    """Row indices where the matrix first offers more than a CRO, and first asks for a CDMO only."""
    stages = toolbox.framework.stages
    beyond_cro = next((i for i, r in enumerate(stages) if r.models != ["CRO"]), len(stages))
    cdmo_only = next((i for i, r in enumerate(stages) if r.models == ["CDMO"]), len(stages))
    return beyond_cro, cdmo_only


def _risks(model: ModelName, stage_index: int | None, mistakes: list[Provision], toolbox: Toolbox) -> list[Point]:
    by_number = {int(m.group(1)): p for p in mistakes if (m := re.match(r"Mistake (\d+)", p.text))}
    wanted: list[int] = []
    beyond_cro, cdmo_only = _phases(toolbox)
    early = stage_index is not None and stage_index < cdmo_only
    if model == "CDMO":
        wanted = [1, 4] if early or stage_index is None else [4, 5]
    elif model == "CRO":
        wanted = [2, 3] if stage_index is None or stage_index >= beyond_cro else [2]
    else:
        wanted = [3, 4]
    points = [Point(text=by_number[n].text, citation=by_number[n].citation) for n in wanted if n in by_number]
    if model == "Integrated partner":
        trade_off = next((p for p in toolbox.section_items("Integrated Partners") if p.text.startswith("The trade-off")), None)
        if trade_off:
            points.insert(0, Point(text="Integration may cost best-in-class capability at some stages", citation=trade_off.citation))
    return points


def recommend(situation: Situation, *, toolbox: Toolbox, cost: CostEstimate | None = None, context: str = "") -> Recommendation | None:
    """A cited verdict, or None when the stage is unknown and the other factors give no
    lean (nothing said, or a tie): then the stage is the question to ask."""
    fw = toolbox.framework
    profile = toolbox.profile_assessment(situation)
    row = toolbox.stage_recommendation(situation.stage).row if situation.stage else None
    stage_index = fw.stages.index(row) if row else None
    caveats: list[str] = []
    extra_citations: list[Citation] = []
    if row is not None:
        options = list(row.models)
        agree, disagree = _agreement(profile, options)
        model = _preferred(options, profile)
        if situation.single_partner and ({"Hybrid", "Integrated partner"} & set(options)):
            model = "Integrated partner"
        stated = " or ".join(options)
        if disagree == 0:
            confidence = "high" if len(options) == 1 or agree else "medium"
            why = f"The Project Stage Decision Matrix recommends {stated} for {row.stage}"
            if model != options[0]:
                why += f"; your other factors favour {model}"
            why += f", and {_factors(agree)} you gave {'agree' if agree > 1 else 'agrees'}." if agree else "; no other factor was given to confirm it."
        else:
            confidence = "low" if disagree > agree else "medium"
            why = f"The Project Stage Decision Matrix recommends {stated} for {row.stage}, but {disagree} of {agree + disagree} other factors you gave favour something else."
            if profile.lean and not (_COMPATIBLE[profile.lean] & set(options)):
                caveats.append(f"Your profile factors lean {profile.lean}; the framework treats the decision as one to revisit at each stage.")
    elif situation.single_partner and profile.lean in (None, "Hybrid"):
        # The framework's answer to "one partner, no transfer" is the integrated partner.
        model, options, confidence = "Integrated partner", ["Integrated partner"], "medium"
        why = (
            "You want one partner without a technology transfer; the framework names the integrated "
            "partner as the way to eliminate transfer risk. The development stage is unknown."
        )
        avoid = toolbox.section_items("Avoiding Technology Transfer Altogether")
        extra_citations = [p.citation for p in avoid[:2]]
    elif situation.multiple_stages or profile.lean is not None:
        lean = "Hybrid" if situation.multiple_stages else profile.lean
        model = "Integrated partner" if situation.single_partner and lean == "Hybrid" else lean  # type: ignore[assignment]
        options = [model]
        n = len(profile.assessments)
        top = profile.tally[lean] if lean else 0  # type: ignore[index]
        confidence = "medium" if n >= 3 and top * 2 > n else "low"
        why = f"{top} of {n} Organizational Profile factor(s) favour {lean}; the development stage is unknown."
    else:
        return None

    steps = []
    if row is not None:
        steps.append(f"Screen candidate partners on the framework's key selection criteria for this stage: {row.criteria}.")
    if model in ("Hybrid", "CDMO") and (stage_index is None or stage_index <= _phases(toolbox)[1]):
        fee, months, steps_changed = (fw.fact(k) for k in ("tech_transfer_cost", "tech_transfer_duration", "tech_transfer_steps_modified"))
        steps.append(
            f"If the work moves between separate organisations, budget ${fee.low:,.0f}-${fee.span[1]:,.0f} and "
            f"{months.low:g}-{months.span[1]:g} months for technology transfer, and expect "
            f"{steps_changed.low:g}-{steps_changed.span[1]:g}% of process steps to need modification."
        )
    steps.append("Agree IP ownership, foreground IP assignment and the quality agreement before work begins.")
    steps.append("Revisit the choice at the next stage gate: the framework treats it as a dynamic assessment.")

    mistakes = toolbox.common_mistakes(context or situation.model_dump_json()).items
    risks = _risks(model, stage_index, mistakes, toolbox)
    known = situation.known()
    missing = [label for key, label in _MISSING if key not in known and not (key == "stage" and situation.multiple_stages)]
    if cost is not None:
        caveats.extend(cost.notes)
    if model in ("Integrated partner", "Hybrid") and fw.doc.publisher:
        caveats.append(
            f"The framework is published by {fw.doc.publisher}, which sells integrated CRO-CDMO services; "
            "its promotional sections are labelled and this verdict comes from the decision matrices only."
        )

    citations: list[Citation] = []
    for c in [row.citation] if row else []:
        citations.append(c)
    citations.extend(extra_citations)
    citations.extend(a.citation for a in profile.assessments)
    citations.extend(i.citation for i in (cost.items if cost else []))
    citations.extend(r.citation for r in risks if r.citation)
    unique = list({(c.document, c.start, c.end): c for c in citations}.values())
    return Recommendation(
        model=model,
        alternatives=[o for o in options if o != model],
        confidence=confidence,  # type: ignore[arg-type]
        confidence_reason=why,
        stage=row.stage if row else None,
        factors=profile.assessments,
        cost_estimate=cost,
        risks=risks,
        next_steps=steps,
        missing_information=missing,
        caveats=caveats,
        citations=unique,
    )


_NUM = rf"(\d+(?:\.\d+)?|{NUMBER_WORDS})"


def _num(text: str) -> float:
    return float(text) if text[0].isdigit() else WORD_VALUES[text.lower()]


def cost_scenario(text: str, situation: Situation) -> CostScenario:
    """Read the work to price from the user's words; the situation fills in quantity."""
    fte = months = None
    if m := re.search(rf"\b{_NUM}\s+(?:of (?:their|your|the|our|its) )?(?:full[- ]time\s+|phd[- ]level\s+|med[- ]?chem\s+|dedicated\s+)?(?:ftes?|chemists?|scientists?|people|heads)\b", text, re.I):
        fte = _num(m.group(1))
    if m := re.search(rf"\b{_NUM}\s+(years?|months?|quarters?)\b", text, re.I):
        months = _num(m.group(1)) * {"y": 12, "m": 1, "q": 3}[m.group(2)[0].lower()]
    elif re.search(r"\b(a|per|for the|for a|one|full) year\b|\bannual", text, re.I):
        months = 12
    analogs = int(m.group(1)) if (m := re.search(r"\b(\d+)\s+(?:analog(?:ue)?s|compounds|molecules)\b", text, re.I)) else None
    if analogs is None and re.search(r"med(icinal)?[- ]?chem(istry)? campaign", text, re.I):
        analogs = 100
    scouting = 1 if re.search(r"route[- ]scouting", text, re.I) else None
    kg = situation.quantity.kg if situation.quantity and situation.quantity.kg >= 1 else None
    complexity = "simple" if re.search(r"\bsimple\b|2-3 step|two[- ]step|three[- ]step", text, re.I) else ("complex" if re.search(r"complex|multi[- ]?step|\d+[- ]step", text, re.I) else None)
    transfer = bool(re.search(r"tech(nology)?[- ]transfer|hand(ing)?[- ]?(it )?over|move (it|the process) to|switch(ing)? (to a )?cdmo", text, re.I))
    # CDMO process development is priced when asked for, or implied by scale-up of a stated quantity.
    development = bool(re.search(r"pilot[- ]scale|process development (?:at|there|with)|(?:cdmo|there)[^.?!]{0,40}process development", text, re.I)) or (
        bool(re.search(r"process development|scale[- ]up|pilot", text, re.I)) and kg is not None
    )
    budget = None
    if m := re.search(r"\$\s?(\d[\d,]*(?:\.\d+)?)\s?(k|m|mm|million|thousand)?\b[^.?!]{0,40}\b(?:budget|earmarked|allocated|set aside|to spend|for chemistry)"
                      r"|(?:budget|earmarked|allocated|raised|got|have) (?:of |is |about |around |roughly )?\$\s?(\d[\d,]*(?:\.\d+)?)\s?(k|m|mm|million|thousand)?\b", text, re.I):
        number, scale = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        budget = float(number.replace(",", "")) * {"k": 1e3, "thousand": 1e3, "m": 1e6, "mm": 1e6, "million": 1e6}.get((scale or "").lower(), 1)
    at_cdmo = "CDMO" if fte and re.search(r"\bat (a|the|our) cdmo\b|cdmo (chemists|scientists|ftes?)", text, re.I) else "CRO"
    try:
        return CostScenario(
            fte=fte, months=months, fte_at=at_cdmo, route_scouting=scouting, analogs=analogs, kg=kg,
            complexity=complexity, process_development=development, technology_transfer=transfer, budget=budget,
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else "scenario"
        described = CostScenario.model_fields[field].description if field in CostScenario.model_fields else field
        raise InvalidQuestionError(
            f"I can't price that: {described} {err['msg'].lower()} (you gave {err.get('input')!s}). "
            "Ask again with a realistic figure."
        ) from exc


def decide(
    question: str, state: Situation, *, toolbox: Toolbox, intents: Sequence[str], verdict_wanted: bool = False
) -> tuple[Recommendation | None, CostEstimate | None]:
    """What both engines show for a question: the cost estimate a cost question asks for (None
    when nothing could be priced) and the recommendation a which-model question (or a caller
    that consulted the deciding tools) asks for."""
    cost = None
    if "cost" in intents:
        estimate = toolbox.estimate_cost(cost_scenario(question, state))
        cost = estimate if estimate.items else None
    if "recommend" not in intents and not verdict_wanted:
        return None, cost
    return recommend(state, toolbox=toolbox, cost=cost, context=question), cost

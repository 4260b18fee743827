"""The recommendation, decided from the framework's tools alone: pure, no LLM, no I/O."""

from __future__ import annotations

from typing import get_args

from advisor_bot.article_map import When
from advisor_bot.citations import Citation
from advisor_bot.framework import ModelName, citation_for
from advisor_bot.recommendation import CostEstimate, FactorAssessment, Point, Recommendation
from advisor_bot.situation import Situation
from advisor_bot.reading.model import Reading, StageOption
from advisor_bot.tools import ProfileResult, Provision, Toolbox

_COMPATIBLE: dict[str, set[ModelName]] = {"CRO": {"CRO"}, "CDMO": {"CDMO"}, "Hybrid": {"Hybrid", "Integrated partner"}}
# What each model brings: a hybrid (CRO + CDMO) or an integrated partner does a CDMO's work too.
_PARTS: dict[ModelName, set[str]] = {"CRO": {"CRO"}, "CDMO": {"CDMO"}, "Hybrid": {"CRO", "CDMO"}, "Integrated partner": {"CRO", "CDMO"}}
# The facts a verdict is surer with, in the order they are asked for (the wording: Situation.ask).
_MISSING = ("stage", "quantity", "gmp", "in_house", "budget", "timeline", "ip_sensitivity")


def _agreement(profile: ProfileResult, options: list[ModelName]) -> tuple[int, int]:
    # The stage factor restates the stage row; counting it would double-count one signal.
    others = [a for a in profile.assessments if a.row != "stage"]
    agree = sum(1 for a in others if _COMPATIBLE[a.favours] & set(options))
    return agree, len(others) - agree


def _preferred(options: list[ModelName], profile: ProfileResult) -> ModelName:
    """Of the models a stage row allows, the one most profile factors favour (the row's
    first on a tie): lead optimization with a stage-gated budget and a moderate team is Hybrid."""
    others = [a for a in profile.assessments if a.row != "stage"]
    support = {o: sum(1 for a in others if o in _COMPATIBLE[a.favours]) for o in options}
    return max(options, key=lambda o: (support[o], -options.index(o)))


def _one_side(profile: ProfileResult, options: list[ModelName], reading: Reading | None) -> ModelName | None:
    """The one pure model (CRO or CDMO) every stated factor favours, when each of the row's models
    includes it (a hybrid or an integrated partner does both); else None. Factors read only by
    meaning never take the verdict off the row's models: they choose between them (``_preferred``)."""
    # Grams, research-grade material and a small team fit the transition row too: they never decide here.
    others = {
        a.favours for a in profile.assessments if a.row != "stage" and (a.row, a.favours) not in _WEAK and not _by_meaning(a, reading)
    }
    if len(others) != 1:
        return None
    side = next(iter(others))
    return side if side in ("CRO", "CDMO") and all(side in _PARTS[m] and m != side for m in options) else None


def _factors(n: int) -> str:
    return {1: "the other factor", 2: "both other factors"}.get(n, f"all {n} other factors")


def _phases(toolbox: Toolbox) -> tuple[int, int]:
    """Row indices where the matrix first offers more than a CRO, and first asks for a CDMO only."""
    stages = toolbox.framework.stages
    beyond_cro = next((i for i, r in enumerate(stages) if r.models != ["CRO"]), len(stages))
    cdmo_only = next((i for i, r in enumerate(stages) if r.models == ["CDMO"]), len(stages))
    return beyond_cro, cdmo_only


def _risks(model: ModelName, stage_index: int | None, mistakes: list[Provision], toolbox: Toolbox) -> list[Point]:
    """The mistakes the article map lists as risks for the model, by where the stage sits: before
    the rows that ask for a CDMO alone (a CDMO) or that offer more than a CRO (a CRO)."""
    fw = toolbox.framework
    by_title = {p.text: p for p in mistakes}
    beyond_cro, cdmo_only = _phases(toolbox)
    when: When = "unknown" if stage_index is None else "early" if stage_index < (cdmo_only if model == "CDMO" else beyond_cro) else "later"
    wanted = [by_title[title] for key in fw.article.risks[model][when] if (title := fw.article.heading(key)) in by_title]
    points = [Point(text=p.text, citation=p.citation) for p in wanted]
    if model == "Integrated partner":
        section, start, end = fw.sentence("integrated_trade_off")
        trade_off = citation_for(fw.doc, section, start, end)
        points.insert(0, Point(text="Integration may cost best-in-class capability at some stages", citation=trade_off))
    return points


# Factors that settle the model on their own: cGMP material and kilograms only a CDMO makes.
_DECISIVE = {("regulatory", "CDMO"), ("volume", "CDMO")}
# Grams and research-grade material are what the early rows and the candidate-selection row all need:
# they never contradict a stage.
# Nor does having no chemists of one's own: a virtual biotech at Phase 1 still needs a CDMO.
_WEAK = {("regulatory", "CRO"), ("volume", "CRO"), ("internal", "CRO")}


def _enough_without_stage(profile: ProfileResult, reading: Reading | None) -> bool:
    """A verdict without a stage needs more than one weak factor: two that agree (and outnumber any
    against), one decisive factor (cGMP material, kilograms), or one the question itself states
    (the Organizational Profile matrix answers "which model does that budget favour?"); a lone
    factor left over from earlier turns is not enough."""
    if profile.lean is None:
        return False
    others = [a for a in profile.assessments if a.row != "stage"]
    support = [a for a in others if a.favours == profile.lean]
    if len(support) < len(others):
        return len(support) >= 2 and len(support) * 2 > len(others)
    decisive = any((a.row, a.favours) in _DECISIVE for a in support)
    # ...but a weak one read only by meaning is not ("a small biotech looking for a chemistry partner"
    # reads as having no chemists: too little to decide on).
    stated = [a for a in support if _stated_now(a, reading) and not ((a.row, a.favours) in _WEAK and _by_meaning(a, reading))]
    return len(support) >= 2 or decisive or bool(stated)


def _against_likely(profile: ProfileResult, reading: Reading | None) -> bool:
    """Whether the reading found a stage by meaning with confidence (set aside only because something
    else said points elsewhere) whose row does not offer the model the factors lean to: "we'll pick
    between two candidates; 50-200 g of each" reads as candidate selection, and grams alone must not
    make that a CRO. The stage is the question to ask."""
    if reading is None or profile.lean not in ("CRO", "CDMO"):
        return False  # a lean to the hybrid says "both" (speed and deadlines, research into GMP): no row contradicts it
    likely = [o for o in reading.stage_options if o.confident]
    return bool(likely) and not any(_COMPATIBLE[profile.lean] & set(o.models) for o in likely)


def _stated_now(factor: FactorAssessment, reading: Reading | None) -> bool:
    """Whether the user stated this factor in the turn being answered: the question is about it
    (None: the caller gave the situation explicitly, as good as stated)."""
    if reading is None:
        return True
    return any(e.field in factor.fields and e.turn == reading.turn for e in reading.evidence)


def _by_meaning(factor: FactorAssessment, reading: Reading | None) -> bool:
    """Whether only the reader's reading by meaning set this factor (no rule, panel or model)."""
    found = [e for e in reading.evidence if e.field in factor.fields] if reading is not None else []
    return bool(found) and all(e.source == "meaning" for e in found)


def _contradicted(profile: ProfileResult, models: list[ModelName], situation: Situation, reading: Reading | None = None) -> bool:
    """Whether a factor other than the stage favours a model the row does not offer; grams and
    research-grade material do not count (the candidate-selection row needs multi-gram lots too),
    nor, when something else the user said backs one of the row's models, does a need every model
    of the row covers ("up to a kilo, and one partner, no handover" at candidate selection, where
    the row offers a hybrid (CRO + CDMO) or an integrated partner)."""
    # A factor read by meaning does not overrule a stage read by meaning: two readings of the same
    # words ("3 chemists in house but too busy; making analogs for SAR") are not a contradiction.
    others = [a for a in profile.assessments if a.row != "stage" and not _by_meaning(a, reading)]
    backed = any(_COMPATIBLE[a.favours] & set(models) for a in others) or (
        bool(situation.single_partner) and "Integrated partner" in models
    )
    return any(
        not (_COMPATIBLE[a.favours] & set(models))
        and (a.row, a.favours) not in _WEAK
        and not (backed and all(a.favours in _PARTS[m] for m in models))
        for a in others
    )


# The reading must put at least this much of its probability on the rows that share the model.
_SHARED_MASS = 0.6


def _shared(options: list[StageOption]) -> ModelName | None:
    """The likeliest row's first model when every other likely row offers it too, and the reading is
    torn between rows that together are likely; None otherwise. (A model the likeliest row offers
    only second, "Hybrid" between lead optimization and candidate selection, is a question to ask.)"""
    if len(options) < 2 or sum(o.probability for o in options) < _SHARED_MASS:
        return None
    names: dict[str, ModelName] = {m: m for m in get_args(ModelName)}
    first = options[0].models[0]
    return names.get(first) if all(first in o.models for o in options[1:]) else None


def recommend(
    situation: Situation, *, toolbox: Toolbox, cost: CostEstimate | None = None, reading: Reading | None = None
) -> Recommendation | None:
    """A cited verdict, or None when the stage is unknown and the other factors do not settle
    it (nothing said, a tie, one weak factor): then the stage is the question to ask. ``reading``
    says how sure the reading is; without it the situation counts as stated outright."""
    fw = toolbox.framework
    profile = toolbox.profile_assessment(situation)
    row = toolbox.stage_recommendation(situation.stage).row if situation.stage else None
    stage_index = fw.stages.index(row) if row else None
    caveats: list[str] = []
    extra_citations: list[Citation] = []
    if row is not None and reading is not None and reading.stage_source == "meaning" and _contradicted(profile, row.models, situation, reading):
        # A stage read from a description, contradicted by a factor the user stated: the reading is not
        # sure enough to let it outvote that factor. Decide from the stated factors, or ask.
        unsure = reading.model_copy(update={"situation": situation.model_copy(update={"stage": None}), "stage_source": None})
        return recommend(unsure.situation, toolbox=toolbox, cost=cost, reading=unsure)
    if situation.parallel_work and not situation.single_partner:
        row = None  # the row is the manufacturing program's; the question is about the work beside it
    if row is not None:
        options = list(row.models)
        agree, disagree = _agreement(profile, options)
        model = _preferred(options, profile)
        stated = " or ".join(options)
        ahead = ""
        if situation.single_partner and ({"Hybrid", "Integrated partner"} & set(options)):
            model = "Integrated partner"
        elif agree == 0 and disagree and not situation.single_partner and _one_side(profile, options, reading):
            # The transition row (hybrid or integrated) with every stated factor on one side, e.g. a
            # nominated candidate, a strong process group and capital for campaigns: the
            # Organizational Profile's own column decides; the row's models stay the alternatives.
            model = _one_side(profile, options, reading)  # type: ignore[assignment]
            options = [*options, model]
            ahead = f" Every other factor you gave favours {model}, which both of the row's models include."
        elif situation.single_partner and situation.transitioning:
            # One partner from research into regulated work ("we're in discovery; when we get to
            # manufacturing I'd rather not manage a handover"): the framework's way to avoid the
            # transfer is the integrated partner; the row's model stays the alternative for today.
            model, options = "Integrated partner", [*options, "Integrated partner"]
            ahead = " You want one partner into manufacturing without a technology transfer; the framework names the integrated partner as the way to avoid it."
        if disagree == 0:
            confidence = "high" if len(options) == 1 or agree else "medium"
            why = f"The Project Stage Decision Matrix recommends {stated} for {row.stage}"
            if model != options[0]:
                why += f"; your other factors favour {model}"
            why += f", and {_factors(agree)} you gave {'agree' if agree > 1 else 'agrees'}." if agree else "; no other factor was given to confirm it."
            why += ahead
        else:
            confidence = "low" if disagree > agree else "medium"
            why = f"The Project Stage Decision Matrix recommends {stated} for {row.stage}, but {disagree} of {agree + disagree} other factors you gave favour something else."
            why += ahead
            if profile.lean and not (_COMPATIBLE[profile.lean] & set(options)):
                caveats.append(f"Your profile factors lean {profile.lean}; the framework treats the decision as one to revisit at each stage.")
    elif situation.parallel_work:
        # A CRO for research work while a CDMO manufactures: the framework's parallel engagement.
        model, options, confidence = "Hybrid", ["Hybrid"], "medium"
        why = (
            "The work you describe runs beside a CDMO's manufacturing; the framework's parallel engagement gives "
            "such work (backup routes, impurity investigations, follow-on analogs) to a CRO while the CDMO produces."
        )
        extra_citations = [p.citation for p in toolbox.section_items("parallel")[:3]]
    elif situation.single_partner and (profile.lean in (None, "Hybrid") or situation.transitioning):
        # The framework's answer to "one partner, no transfer" is the integrated partner.
        model, options, confidence = "Integrated partner", ["Integrated partner"], "medium"
        why = (
            "You want one partner without a technology transfer; the framework names the integrated "
            "partner as the way to eliminate transfer risk. The development stage is unknown."
        )
        avoid = toolbox.section_items("avoid_transfer")
        extra_citations = [p.citation for p in avoid[:2]]
    elif situation.single_partner is False and profile.lean in (None, "Hybrid") and reading is not None and "transition" in reading.intents:
        # Weighing an integrated partner against separate specialists, a handover accepted: the
        # framework's hybrid (a CRO, then or beside a CDMO). Alone, "separate vendors" says no stage.
        model, options, confidence = "Hybrid", ["Hybrid"], "medium"
        why = (
            "You would rather use separate specialists and accept a handover between them; the framework's hybrid "
            "model engages a CRO and a CDMO for what each does best. The development stage is unknown."
        )
        extra_citations = [p.citation for p in toolbox.section_items("sequential")[:2]]
    elif (
        situation.work is not None
        and all(_COMPATIBLE[a.favours] & {situation.work} for a in profile.assessments)
        # A likely stage (an even chance or better) is the better question to ask.
        and not (reading is not None and any(o.probability >= 0.5 for o in reading.stage_options))
    ):
        # The kind of work asked for, in the framework's lists of what each provider does.
        model, options, confidence = situation.work, [situation.work], "medium"
        why = f"The framework lists the work you describe among what a {situation.work} does; the development stage is unknown."
        extra_citations = [toolbox.section_items(fw.article.work[situation.work])[0].citation]
    elif situation.multiple_stages or (_enough_without_stage(profile, reading) and not _against_likely(profile, reading)):
        lean = "Hybrid" if situation.multiple_stages else profile.lean
        model = "Integrated partner" if situation.single_partner and lean == "Hybrid" else lean  # type: ignore[assignment]
        options = [model]
        n = len(profile.assessments)
        top = profile.tally[lean] if lean else 0
        confidence = "medium" if n >= 3 and top * 2 > n else "low"
        why = f"{top} of {n} Organizational Profile factor(s) favour {lean}; the development stage is unknown."
    elif reading is not None and (shared := _shared(reading.stage_options)) and not _contradicted(profile, [shared], situation, reading):
        # Unsure between rows that all offer the same model ("designing compounds, nothing made yet":
        # hit identification or lead optimization, CRO either way): the verdict does not hang on
        # which row it is, so there is nothing to ask.
        model, options, confidence = shared, [shared], "medium"
        rows = [r for o in reading.stage_options if (r := toolbox.stage_recommendation(o.stage).row) is not None]
        each = "; ".join(f"{r.stage}: {' or '.join(r.models)}" for r in rows)
        why = (
            f"I could not tell whether you are at {' or '.join(r.stage for r in rows)}; the Project Stage Decision "
            f"Matrix recommends {shared} at each ({each})."
        )
        extra_citations = [r.citation for r in rows]
    else:
        return None

    if row is not None and reading is not None and reading.stage_source == "meaning":
        # The stage was read from a description, not named: never claim more than medium.
        said = reading.evidence_for("stage")
        confidence = "medium" if confidence == "high" else confidence
        why += f" I read the stage as {row.stage} from “{said.text if said else reading.query}”; set it in the panel if that is wrong."
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

    mistakes = toolbox.common_mistakes(situation.model_dump_json()).items
    risks = _risks(model, stage_index, mistakes, toolbox)
    known = situation.known()
    missing = [Situation.ask(key) for key in _MISSING if key not in known and not (key == "stage" and situation.multiple_stages)]
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
        confidence=confidence,
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


def decide(reading: Reading, *, toolbox: Toolbox, verdict_wanted: bool = False) -> tuple[Recommendation | None, CostEstimate | None]:
    """What both engines show for a reading: the cost estimate a cost question asks for (None
    when nothing could be priced) and the recommendation a which-model question (or a caller
    that consulted the deciding tools) asks for."""
    cost = None
    if "cost" in reading.intents and reading.scenario is not None:
        estimate = toolbox.estimate_cost(reading.scenario)
        cost = estimate if estimate.items else None
    if "recommend" not in reading.intents and not verdict_wanted:
        return None, cost
    return recommend(reading.situation, toolbox=toolbox, cost=cost, reading=reading), cost

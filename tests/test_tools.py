"""The deterministic decision tools: cited results, matrix mapping, pricing ranking and cost arithmetic."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from advisor_bot.citations import Citation, verify_citation
from advisor_bot.config import PROJECT_ROOT
from advisor_bot.corpus import load_corpus
from advisor_bot.errors import AdvisorError
from advisor_bot.framework import load_framework
from advisor_bot.situation import Quantity, Situation
from advisor_bot.tools import CostScenario, Toolbox

CORPUS = PROJECT_ROOT / "corpus"
ARTICLE = (CORPUS / "cro-cdmo-framework.md").read_text(encoding="utf-8")
DOCUMENTS = {d.id: d for d in load_corpus(CORPUS)}
TB = Toolbox(load_framework(DOCUMENTS))


def md_table(heading: str) -> list[tuple[str, list[str]]]:
    block = ARTICLE.split(f"## {heading}\n", 1)[1].split("\n#", 1)[0]
    lines = [line for line in block.splitlines() if line.startswith("|")][2:]
    return [(line, [c.strip() for c in line.strip().strip("|").split("|")]) for line in lines]


STAGES = [cells[0] for _, cells in md_table("Project Stage Decision Matrix")]
PROFILE = {cells[0]: (line, dict(zip(("CRO", "CDMO", "Hybrid"), cells[1:]))) for line, cells in md_table("Organizational Profile Decision Matrix")}
CRO_MODELS = [cells[0] for _, cells in md_table("CRO Pricing Models")]
CDMO_MODELS = [cells[0] for _, cells in md_table("CDMO Pricing Models")]


def verified(citations: list[Citation]) -> None:
    assert citations
    for c in citations:
        verify_citation(c, DOCUMENTS)


# -- Every tool cites the corpus verbatim -------------------------------------


def test_stage_recommendation_is_cited():
    verified([TB.stage_recommendation(s).row.citation for s in STAGES])  # type: ignore[union-attr]


def test_profile_assessment_is_cited():
    full = Situation(stage=STAGES[0], quantity=Quantity(value=5, unit="g"), gmp=False, budget="CRO", timeline="CDMO", in_house="Hybrid", ip_sensitivity="CRO")
    result = TB.profile_assessment(full)
    assert len(result.assessments) == 7
    verified([a.citation for a in result.assessments])


def test_pricing_models_are_cited():
    verified([m.citation for m in TB.pricing_models(None, "anything").models])


def test_estimate_cost_is_cited():
    cost = TB.estimate_cost(
        CostScenario(fte=2, months=6, route_scouting=1, analogs=100, kg=10, process_development=True, technology_transfer=True)
    )
    assert len(cost.items) == 6
    verified([i.citation for i in cost.items])


def test_transition_options_are_cited():
    result = TB.transition_options()
    assert [o.name for o in result.options] == ["Sequential", "Parallel", "Integrated partner"]
    for option in result.options:
        verified([p.citation for p in option.points])
        assert all(p.text.strip() for p in option.points)
    sequential = result.options[0]
    assert "6-18 months" in sequential.timeline and "2-6 months" in sequential.timeline
    assert "$50,000-$200,000" in sequential.transfer


@pytest.mark.parametrize(
    ("engagement", "sections"),
    [
        ("CRO", {"CRO IP Considerations", "Negotiation Best Practices"}),
        ("CDMO", {"CDMO IP Considerations", "Negotiation Best Practices"}),
        (None, {"CRO IP Considerations", "CDMO IP Considerations", "Negotiation Best Practices"}),
    ],
)
def test_ip_checklist_is_cited_from_the_right_sections(engagement, sections):
    items = TB.ip_checklist(engagement).items
    verified([p.citation for p in items])
    assert {p.citation.section.split(" > ")[-1] for p in items} == sections
    assert any("foreground IP" in p.text for p in items)


@pytest.mark.parametrize(
    ("provider", "sections"),
    [("CRO", {"CRO Regulatory Role"}), ("CDMO", {"CDMO Regulatory Role"}), (None, {"CRO Regulatory Role", "CDMO Regulatory Role"})],
)
def test_regulatory_roles_are_cited_from_the_right_sections(provider, sections):
    items = TB.regulatory_roles(provider).items
    verified([p.citation for p in items])
    assert {p.citation.section.split(" > ")[-1] for p in items} == sections


def test_list_items_lose_their_bullet_but_keep_their_quote():
    items = TB.regulatory_roles("CDMO").items
    bullet = next(p for p in items if "CTD Module 3.2.S" in p.text)
    assert not bullet.text.startswith("- ")
    assert bullet.citation.quote.startswith("- ")


@pytest.mark.parametrize(
    ("situation", "first"),
    [
        ("we engaged a CDMO too early, before the process was developed", "Mistake 1"),
        ("our CRO route cannot scale up to kilograms", "Mistake 2"),
        ("we underestimated technology transfer time and cost", "Mistake 3"),
        ("the quality agreement is misaligned with GMP", "Mistake 4"),
        ("their culture of formal change control clashes with ours", "Mistake 5"),
    ],
)
def test_common_mistakes_are_cited_and_ranked(situation, first):
    items = TB.common_mistakes(situation).items
    assert len(items) == 5
    verified([p.citation for p in items])
    assert items[0].text.startswith(first), [p.text for p in items]
    assert items[0].citation.section.endswith(items[0].text)


# -- stage_recommendation ---------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_stage_recommendation_matches_labels_case_insensitively(stage: str):
    for spelling in (stage, stage.lower(), stage.upper(), f"  {stage} "):
        result = TB.stage_recommendation(spelling)
        assert result.row is not None and result.row.stage == stage
        assert result.known_stages == STAGES


def test_stage_recommendation_matches_a_fragment_of_a_label():
    assert TB.stage_recommendation("IND-enabling").row.stage == "IND-enabling studies"  # type: ignore[union-attr]


@pytest.mark.parametrize("stage", ["", "   ", "Phase IV", "marketing"])
def test_unknown_stage_returns_no_row_and_lists_the_known_ones(stage: str):
    result = TB.stage_recommendation(stage)
    assert result.row is None
    assert result.known_stages == STAGES


# -- profile_assessment -------------------------------------------------------------

Q = Quantity


def _profile_case(factor: str, column: str, **fields: object):
    return pytest.param(Situation(**fields), factor, column, id=f"{factor}-{column}-{fields}")


PROFILE_CASES = [
    *(_profile_case("Stage of lead compound", "CRO", stage=s) for s in STAGES[:3]),
    *(_profile_case("Stage of lead compound", "CDMO", stage=s) for s in STAGES[3:]),
    _profile_case("Stage of lead compound", "Hybrid", multiple_stages=True),
    *(
        _profile_case(factor, column, **{field: column})
        for factor, field in (
            ("Internal chemistry capability", "in_house"),
            ("Budget structure", "budget"),
            ("Timeline pressure", "timeline"),
            ("IP sensitivity", "ip_sensitivity"),
        )
        for column in ("CRO", "CDMO", "Hybrid")
    ),
    _profile_case("Regulatory requirements", "CRO", gmp=False),
    _profile_case("Regulatory requirements", "CDMO", gmp=True),
    _profile_case("Regulatory requirements", "Hybrid", transitioning=True),
    _profile_case("Regulatory requirements", "Hybrid", transitioning=True, gmp=True),
    *(_profile_case("Volume needed", "CRO", quantity=q) for q in (Q(value=50, unit="mg"), Q(value=500, unit="g"), Q(value=999, unit="g"))),
    *(_profile_case("Volume needed", "CDMO", quantity=q) for q in (Q(value=1, unit="kg"), Q(value=1000, unit="g"), Q(value=40, unit="kg"), Q(value=2, unit="t"))),
]


@pytest.mark.parametrize(("situation", "factor", "column"), PROFILE_CASES)
def test_profile_assessment_maps_each_factor_to_its_column(situation: Situation, factor: str, column: str):
    line, cells = PROFILE[factor]
    result = TB.profile_assessment(situation)
    assert len(result.assessments) == 1
    a = result.assessments[0]
    assert (a.factor, a.favours, a.reason) == (factor, column, cells[column])
    assert a.citation.quote == line
    assert a.value
    assert result.tally == {c: int(c == column) for c in ("CRO", "CDMO", "Hybrid")}
    assert result.lean == column


def test_every_factor_and_column_of_the_matrix_is_reachable():
    reached = {(p.values[1], p.values[2]) for p in PROFILE_CASES}
    expected = {(f, c) for f in PROFILE for c in ("CRO", "CDMO", "Hybrid")} - {("Volume needed", "Hybrid")}
    assert reached == expected


def test_profile_tally_and_lean():
    result = TB.profile_assessment(Situation(in_house="CRO", budget="CRO", timeline="CDMO"))
    assert result.tally == {"CRO": 2, "CDMO": 1, "Hybrid": 0}
    assert result.lean == "CRO"


def test_a_tie_has_no_lean():
    result = TB.profile_assessment(Situation(in_house="CRO", budget="CDMO"))
    assert result.tally == {"CRO": 1, "CDMO": 1, "Hybrid": 0}
    assert result.lean is None


def test_nothing_stated_assesses_nothing():
    result = TB.profile_assessment(Situation())
    assert result.assessments == [] and result.lean is None
    assert result.tally == {"CRO": 0, "CDMO": 0, "Hybrid": 0}


def test_statements_that_do_not_bear_on_the_profile_assess_nothing():
    assert TB.profile_assessment(Situation(single_partner=True, multiple_stages=False)).assessments == []


COLUMNS = st.sampled_from(["CRO", "CDMO", "Hybrid"])
SITUATIONS = st.builds(
    Situation,
    stage=st.none() | st.sampled_from(STAGES),
    quantity=st.none() | st.builds(Quantity, value=st.floats(min_value=1e-3, max_value=1e4), unit=st.sampled_from(["mg", "g", "kg", "t"])),
    gmp=st.none() | st.booleans(),
    budget=st.none() | COLUMNS,
    timeline=st.none() | COLUMNS,
    in_house=st.none() | COLUMNS,
    ip_sensitivity=st.none() | COLUMNS,
    multiple_stages=st.none() | st.booleans(),
    single_partner=st.none() | st.booleans(),
    transitioning=st.none() | st.booleans(),
)


@given(SITUATIONS)
@settings(max_examples=150, deadline=None)
def test_profile_assessment_properties(situation: Situation):
    result = TB.profile_assessment(situation)
    factors = [a.factor for a in result.assessments]
    assert len(factors) == len(set(factors)), "a factor is assessed twice"
    assert sum(result.tally.values()) == len(result.assessments)
    for a in result.assessments:
        line, cells = PROFILE[a.factor]
        assert a.reason == cells[a.favours] and a.citation.quote == line
    if result.lean is not None:
        assert all(result.tally[result.lean] > n for c, n in result.tally.items() if c != result.lean)
    else:
        top = max(result.tally.values())
        assert top == 0 or sum(1 for n in result.tally.values() if n == top) > 1


def test_a_stage_spelled_as_the_stage_tool_accepts_it_is_assessed_not_crashed():
    """BUG: stage_recommendation accepts "ind-enabling studies" / "IND-enabling" (case-insensitive, fragment),
    but profile_assessment does ``[labels].index(factors.stage)`` and raises a bare ValueError for any stage that
    is not the exact label. recommend() calls profile_assessment first, so Advisor.ask(..., situation=
    Situation(stage="IND-enabling")) and the MCP profile_assessment/ask tools crash with a non-AdvisorError."""
    exact = TB.profile_assessment(Situation(stage="IND-enabling studies")).assessments
    for spelling in ("ind-enabling studies", "IND-enabling"):
        try:
            result = TB.profile_assessment(Situation(stage=spelling))
        except AdvisorError:
            continue  # a clear, user-facing rejection would also be acceptable
        assert [(a.factor, a.favours) for a in result.assessments] == [(a.factor, a.favours) for a in exact]


# -- pricing_models ---------------------------------------------------------------


@pytest.mark.parametrize(("provider", "names"), [("CRO", CRO_MODELS), ("CDMO", CDMO_MODELS), (None, CRO_MODELS + CDMO_MODELS)])
def test_pricing_models_filter_by_provider(provider, names):
    models = TB.pricing_models(provider, "zzz qqq").models
    assert all(provider in (None, m.provider) for m in models)
    assert [m.name for m in models] == names, "with nothing to rank on, the table order is kept"


@pytest.mark.parametrize(
    ("provider", "situation", "first"),
    [
        (None, "exploratory troubleshooting with evolving scope", "Time-and-Materials (T&M)"),
        ("CRO", "exploratory troubleshooting with evolving scope", "Time-and-Materials (T&M)"),
        ("CDMO", "commercial supply with predictable demand", "Take-or-Pay"),
        ("CDMO", "clinical trial material supply and process validation campaigns", "Campaign-Based"),
        ("CDMO", "complex process, first-time scale-up, costs hard to predict", "Cost-Plus"),
        ("CRO", "well-defined project with clear milestones and a fixed fee", "Project-Based (Fixed Price)"),
    ],
)
def test_pricing_models_rank_the_best_fit_first(provider, situation, first):
    models = TB.pricing_models(provider, situation).models
    assert models[0].name == first, [m.name for m in models]


# -- estimate_cost ------------------------------------------------------------------


def test_two_ftes_for_nine_months():
    cost = TB.estimate_cost(CostScenario(fte=2, months=9))
    (item,) = cost.items
    assert (item.low, item.high) == (330_000, 570_000)
    assert (cost.low, cost.high) == (330_000, 570_000)
    assert "2 FTE x 9 months" in item.basis and "$220,000-$380,000" in item.basis
    assert "$220,000 to $380,000" in item.citation.quote
    assert cost.notes == [] and cost.currency == "USD"


def test_cdmo_ftes_carry_the_development_premium():
    cro = TB.estimate_cost(CostScenario(fte=1, months=12)).items[0]
    cdmo = TB.estimate_cost(CostScenario(fte=1, months=12, fte_at="CDMO"))
    item = cdmo.items[0]
    assert item.low == pytest.approx(220_000 * 1.30) and item.high == pytest.approx(380_000 * 1.50)
    assert item.low > cro.low and item.high > cro.high
    assert "30-50%" in item.basis
    assert any("premium" in n for n in cdmo.notes)


def test_forty_kg_of_a_complex_api():
    cost = TB.estimate_cost(CostScenario(kg=40, complexity="complex"))
    item, development = cost.items
    assert (item.low, item.high) == (400_000, 2_000_000)
    assert "$10,000-$50,000 per kilogram" in item.citation.quote
    assert any("exceed" in n for n in cost.notes), "the article's 'can exceed' must reach the user"


def test_a_campaign_is_budgeted_with_the_process_development_fee_of_the_same_passage():
    cost = TB.estimate_cost(CostScenario(kg=40, complexity="complex"))
    item, development = cost.items
    assert development.label == "CDMO process development" and (development.low, development.high) == (100_000, 500_000)
    assert development.citation.section == item.citation.section == "Cost Structures: How CROs and CDMOs Price Their Services > CDMO Pricing Models"
    assert (cost.low, cost.high) == (500_000, 2_500_000)
    assert any("Process development is included" in n for n in cost.notes)
    stated = TB.estimate_cost(CostScenario(kg=40, complexity="complex", process_development=True))
    assert len(stated.items) == 2 and not any("Process development is included" in n for n in stated.notes)


def test_kg_without_complexity_is_priced_complex_and_says_so():
    cost = TB.estimate_cost(CostScenario(kg=40))
    assert (cost.low, cost.high) == (500_000, 2_500_000)
    assert any("not stated" in n.lower() for n in cost.notes)


def test_simple_process_per_kg():
    cost = TB.estimate_cost(CostScenario(kg=500, complexity="simple"))
    assert (cost.items[0].low, cost.items[0].high) == (100_000, 500_000)
    assert "$200-$1,000 per kilogram" in cost.items[0].citation.quote


def test_technology_transfer_item():
    cost = TB.estimate_cost(CostScenario(technology_transfer=True))
    (item,) = cost.items
    assert item.label == "Technology transfer"
    assert (item.low, item.high) == (50_000, 200_000)
    assert "2-6 months" in item.basis
    assert "$50,000-$200,000" in item.citation.quote


@pytest.mark.parametrize(
    ("scenario", "low", "high"),
    [
        (CostScenario(route_scouting=2), 30_000, 100_000),
        (CostScenario(process_development=True), 100_000, 500_000),
        (CostScenario(analogs=100), 200_000, 800_000),
    ],
)
def test_fixed_fee_items(scenario, low, high):
    cost = TB.estimate_cost(scenario)
    assert (cost.low, cost.high) == (low, high)


@pytest.mark.parametrize("analogs", [50, 120, 200])
def test_analogs_inside_the_priced_range_need_no_note(analogs: int):
    assert TB.estimate_cost(CostScenario(analogs=analogs)).notes == []


@pytest.mark.parametrize("analogs", [1, 49, 201, 1000])
def test_analogs_outside_the_priced_range_are_noted(analogs: int):
    cost = TB.estimate_cost(CostScenario(analogs=analogs))
    (note,) = cost.notes
    assert f"{analogs} analogs is outside the 50-200" in note
    assert (cost.low, cost.high) == (200_000, 800_000)


def test_missing_months_or_ftes_are_assumed_and_noted():
    no_months = TB.estimate_cost(CostScenario(fte=3))
    assert (no_months.low, no_months.high) == (660_000, 1_140_000)
    assert any("12 months" in n for n in no_months.notes)
    no_fte = TB.estimate_cost(CostScenario(months=6))
    assert (no_fte.low, no_fte.high) == (110_000, 190_000)
    assert any("1 FTE" in n for n in no_fte.notes)


def test_totals_equal_the_item_sums():
    cost = TB.estimate_cost(
        CostScenario(fte=2, months=9, route_scouting=1, analogs=80, kg=40, complexity="complex", process_development=True, technology_transfer=True)
    )
    assert len(cost.items) == 6
    assert cost.low == sum(i.low for i in cost.items) == 330_000 + 15_000 + 200_000 + 400_000 + 100_000 + 50_000
    assert cost.high == sum(i.high for i in cost.items) == 570_000 + 50_000 + 800_000 + 2_000_000 + 500_000 + 200_000


def test_an_empty_scenario_prices_nothing():
    cost = TB.estimate_cost(CostScenario())
    assert cost.items == [] and cost.low == 0 and cost.high == 0 and cost.notes == []


SCENARIOS = st.builds(
    CostScenario,
    fte=st.none() | st.floats(min_value=0.1, max_value=100),
    months=st.none() | st.floats(min_value=0.5, max_value=120),
    fte_at=st.sampled_from(["CRO", "CDMO"]),
    route_scouting=st.none() | st.integers(min_value=1, max_value=100),
    analogs=st.none() | st.integers(min_value=1, max_value=100_000),
    kg=st.none() | st.floats(min_value=0.01, max_value=1e6),
    complexity=st.none() | st.sampled_from(["simple", "complex"]),
    process_development=st.booleans(),
    technology_transfer=st.booleans(),
)


@given(SCENARIOS)
@settings(max_examples=200, deadline=None)
def test_cost_estimate_properties(scenario: CostScenario):
    cost = TB.estimate_cost(scenario)
    for item in cost.items:
        assert 0 < item.low <= item.high
    assert cost.low <= cost.high
    assert cost.low == pytest.approx(sum(i.low for i in cost.items))
    assert cost.high == pytest.approx(sum(i.high for i in cost.items))
    stated = [
        scenario.fte is not None or scenario.months is not None,
        bool(scenario.route_scouting),
        bool(scenario.analogs),
        bool(scenario.kg),
        scenario.process_development or bool(scenario.kg),  # a campaign includes its process development
        scenario.technology_transfer,
    ]
    assert len(cost.items) == sum(stated)


def _item(scenario: CostScenario, prefix: str):
    return next(i for i in TB.estimate_cost(scenario).items if i.label.startswith(prefix))


@given(
    fte=st.floats(min_value=0.1, max_value=50),
    months=st.floats(min_value=0.5, max_value=60),
    k=st.floats(min_value=0.1, max_value=10),
    at=st.sampled_from(["CRO", "CDMO"]),
)
@settings(max_examples=100, deadline=None)
def test_scaling_ftes_scales_the_fte_item(fte: float, months: float, k: float, at: str):
    base = _item(CostScenario(fte=fte, months=months, fte_at=at), at)
    scaled = _item(CostScenario(fte=fte * k, months=months, fte_at=at), at)
    assert scaled.low == pytest.approx(base.low * k) and scaled.high == pytest.approx(base.high * k)


@given(
    kg=st.floats(min_value=0.01, max_value=1e4),
    k=st.floats(min_value=0.1, max_value=100),
    complexity=st.sampled_from(["simple", "complex"]),
)
@settings(max_examples=100, deadline=None)
def test_scaling_kg_scales_the_manufacturing_item(kg: float, k: float, complexity: str):
    base = _item(CostScenario(kg=kg, complexity=complexity), "Manufacturing")
    scaled = _item(CostScenario(kg=kg * k, complexity=complexity), "Manufacturing")
    assert scaled.low == pytest.approx(base.low * k) and scaled.high == pytest.approx(base.high * k)
    assert math.isclose(scaled.high / scaled.low, base.high / base.low)


@pytest.mark.parametrize("bad", [{"fte": 0}, {"fte": -1}, {"months": 0}, {"kg": -5}, {"analogs": 0}, {"complexity": "medium"}, {"fte_at": "Hybrid"}])
def test_invalid_scenarios_are_rejected(bad: dict[str, object]):
    with pytest.raises(ValueError):
        CostScenario(**bad)


def test_the_figures_labels_are_tokenized_once_not_per_question():
    from advisor_bot.retrieve import _tokens

    TB.relevant_facts("What does an FTE cost at a CRO?")
    before = _tokens.cache_info().misses
    TB.relevant_facts("And the FTE cost of a chemist at a CDMO in Europe, roughly?")
    assert _tokens.cache_info().misses - before == 1  # the new question alone

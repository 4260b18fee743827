"""The recommendation card: what it says, decided once from the ``Recommendation`` and the user's
words. The chat's key lines (``engines/compose.py``), the memo (``render.card_markdown``) and the
page's card (``ui/views.py``) are thin renderings of this model, so a fact about the card (what
"You said" shows, which caveats are the cost's own notes, why a dissenting factor does not change
the verdict) is written here only."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, Field

from advisor_bot.answer import Answer, user_words
from advisor_bot.citations import Citation
from advisor_bot.framework import Column, ModelName
from advisor_bot.reading.model import Evidence
from advisor_bot.recommendation import Confidence, CostEstimate, FactorAssessment, Point, Recommendation

# What "You said" shows for a factor the user set in the situation form instead of saying it.
SET_IN_PANEL = "set in the panel"


class FactorLine(BaseModel):
    """One row of the card's factor table."""

    factor: str = Field(description="The Organizational Profile row, as the article names it.")
    said: list[str] = Field(description="What the \"You said\" column shows: the user's own words, each once (quoted when rendered), or that the form set it.")
    quoted: bool = Field(description="Whether ``said`` holds the user's own words (else a note on where the value came from).")
    favours: Column
    cell: str = Field(description="The matrix cell the situation matched.")
    citation: Citation
    stands: str | None = Field(default=None, description="Why the verdict stands though this factor favours another model.")


class Card(BaseModel):
    model: ModelName
    alternatives: list[ModelName]
    confidence: Confidence
    confidence_reason: str
    source: Citation | None = Field(description="What the verdict rests on first (the stage's matrix row, when known).")
    stage: str | None
    stage_is_a_factor: bool = Field(description="The stage is one of the factor rows (so a separate stage line repeats it).")
    factors: list[FactorLine]
    cost: CostEstimate | None = Field(description="The itemised estimate, when there is one with items.")
    risks: list[Point]
    next_steps: list[str]
    missing_information: list[str]
    caveats: list[str] = Field(description="Caveats other than the cost estimate's own notes (those are shown with it).")


def _line(rec: Recommendation, f: FactorAssessment, evidence: Sequence[Evidence]) -> FactorLine:
    spoken = [e for e in evidence if e.source != "panel"]
    words = user_words(f.fields, spoken)
    from_panel = any(e.field in f.fields and e.source == "panel" for e in evidence)
    said = words or ([SET_IN_PANEL] if from_panel else [f.value])
    return FactorLine(
        factor=f.factor, said=said, quoted=bool(words), favours=f.favours, cell=f.reason, citation=f.citation, stands=rec.why_it_stands(f)
    )


def card(rec: Recommendation, evidence: Sequence[Evidence]) -> Card:
    cost = rec.cost_estimate if rec.cost_estimate and rec.cost_estimate.items else None
    return Card(
        model=rec.model,
        alternatives=rec.alternatives,
        confidence=rec.confidence,
        confidence_reason=rec.confidence_reason,
        source=rec.citations[0] if rec.citations else None,
        stage=rec.stage,
        stage_is_a_factor=any(f.row == "stage" for f in rec.factors),
        factors=[_line(rec, f, evidence) for f in rec.factors],
        cost=cost,
        risks=rec.risks,
        next_steps=rec.next_steps,
        missing_information=rec.missing_information,
        caveats=[c for c in rec.caveats if not (rec.cost_estimate and c in rec.cost_estimate.notes)],
    )


def answer_card(answer: Answer | None) -> Card | None:
    """The card for an answer's recommendation, None when it has none."""
    if answer is None or answer.recommendation is None:
        return None
    return card(answer.recommendation, answer.evidence)

"""The structured recommendation: a typed verdict built only from the framework's tools."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from advisor_bot.citations import Citation
from advisor_bot.framework import ModelName

Confidence = Literal["high", "medium", "low"]


class FactorAssessment(BaseModel):
    factor: str = Field(description="Row of the Organizational Profile Decision Matrix.")
    row: str = Field(default="", description="The row's key in the article map (stage, internal, budget, timeline, regulatory, ip, volume).")
    value: str = Field(description="What the user said, in their terms.")
    favours: Literal["CRO", "CDMO", "Hybrid"]
    reason: str = Field(description="The matrix cell the value matched.")
    citation: Citation
    fields: tuple[str, ...] = Field(default=(), description="The situation fields this factor was read from (their words are in Answer.evidence).")


class CostItem(BaseModel):
    label: str
    low: float
    high: float
    basis: str = Field(description="The arithmetic, e.g. '2 FTE x 9 months x $220,000-$380,000 per year'.")
    citation: Citation


class CostEstimate(BaseModel):
    currency: Literal["USD"] = "USD"
    items: list[CostItem]
    low: float
    high: float
    notes: list[str] = Field(default_factory=list, description="Assumptions and limits of the arithmetic.")


class Point(BaseModel):
    text: str
    citation: Citation | None = None


class Recommendation(BaseModel):
    model: ModelName
    alternatives: list[ModelName] = Field(default_factory=list, description="Also acceptable per the framework.")
    confidence: Confidence
    confidence_reason: str
    stage: str | None = None
    factors: list[FactorAssessment] = Field(default_factory=list)
    cost_estimate: CostEstimate | None = None
    risks: list[Point] = Field(default_factory=list)
    next_steps: list[str] = Field(default_factory=list)
    missing_information: list[str] = Field(default_factory=list)
    caveats: list[str] = Field(default_factory=list)
    citations: list[Citation] = Field(default_factory=list)

    def why_it_stands(self, factor: FactorAssessment) -> str | None:
        """For a factor that favours another model than the verdict: why the verdict stands anyway."""
        models = {self.model, *self.alternatives}
        if factor.favours in models or (factor.favours == "Hybrid" and "Integrated partner" in models):
            return None
        if self.stage:
            return f"{self.model} still fits: the development stage ({self.stage}) decides first in the framework's matrix."
        return f"{self.model} still fits: the other factors you gave outweigh this one."

"""The user's situation: what the bot knows about their program, across turns."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Column = Literal["CRO", "CDMO", "Hybrid"]


class Quantity(BaseModel):
    model_config = ConfigDict(frozen=True)

    value: float = Field(gt=0)
    unit: Literal["mg", "g", "kg", "t"]

    @property
    def kg(self) -> float:
        return self.value * {"mg": 1e-6, "g": 1e-3, "kg": 1.0, "t": 1000.0}[self.unit]

    def __str__(self) -> str:
        return f"{self.value:g} {self.unit}"


class Situation(BaseModel):
    """Every field is optional: None means the user has not said."""

    model_config = ConfigDict(frozen=True)

    stage: str | None = Field(default=None, description="A row label of the Project Stage Decision Matrix.")
    quantity: Quantity | None = None
    gmp: bool | None = Field(default=None, description="Whether cGMP material is needed.")
    budget: Column | None = Field(default=None, description="Which column the budget structure matches.")
    timeline: Column | None = None
    in_house: Column | None = Field(default=None, description="Which column the internal chemistry matches.")
    ip_sensitivity: Column | None = None
    multiple_stages: bool | None = Field(default=None, description="Several compounds at different stages.")
    mixed_volume: bool | None = Field(default=None, description="Grams for some compounds, kilograms for others.")
    parallel_work: bool | None = Field(
        default=None, description="Research work (a backup route, impurity work, follow-on analogs) beside a CDMO's manufacturing."
    )
    single_partner: bool | None = Field(
        default=None, description="Wants one partner for everything, e.g. to avoid technology transfer."
    )

    transitioning: bool | None = Field(
        default=None, description="Moving from research-grade to regulated (GMP) material."
    )

    def merged(self, newer: Situation) -> Situation:
        """This situation updated by whatever ``newer`` states."""
        return self.model_copy(update={k: v for k, v in newer if v is not None})

    def known(self) -> dict[str, object]:
        return {k: v for k, v in self if v is not None}

"""The user's situation: what the bot knows about their program, across turns."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Column = Literal["CRO", "CDMO", "Hybrid"]


class Quantity(BaseModel):
    model_config = ConfigDict(frozen=True)

    value: float = Field(gt=0, allow_inf_nan=False)
    unit: Literal["mg", "g", "kg", "t"]

    @property
    def kg(self) -> float:
        return self.value * {"mg": 1e-6, "g": 1e-3, "kg": 1.0, "t": 1000.0}[self.unit]

    def __str__(self) -> str:
        return f"{self.value:g} {self.unit}"


# How a verdict's missing information asks for a field; beside the fields' titles (their labels)
# so that each field's wording lives in this module only.
_ASK = {
    "stage": "Development stage (e.g. lead optimization, IND-enabling, Phase 1)",
    "quantity": "Quantity of material needed (mg, g, kg or tons)",
    "gmp": "Whether the material must be made under cGMP",
    "in_house": "Your in-house chemistry capability",
    "budget": "Budget structure (operating expense, capital for campaigns, or stage-gated)",
    "timeline": "Timeline pressure (research iteration in weeks vs production deadlines)",
    "ip_sensitivity": "How IP-sensitive the work is",
}


class Situation(BaseModel):
    """Every field is optional: None means the user has not said. Each field's title is its label
    wherever it is shown (panel, card, memo, notices)."""

    model_config = ConfigDict(frozen=True)

    stage: str | None = Field(default=None, title="Development stage", description="A row label of the Project Stage Decision Matrix.")
    quantity: Quantity | None = Field(default=None, title="Quantity")
    gmp: bool | None = Field(default=None, title="cGMP material needed", description="Whether cGMP material is needed.")
    budget: Column | None = Field(default=None, title="Budget structure favours", description="Which column the budget structure matches.")
    timeline: Column | None = Field(default=None, title="Timeline pressure favours")
    in_house: Column | None = Field(default=None, title="In-house chemistry favours", description="Which column the internal chemistry matches.")
    ip_sensitivity: Column | None = Field(default=None, title="IP sensitivity favours")
    multiple_stages: bool | None = Field(default=None, title="Several compounds at different stages")
    mixed_volume: bool | None = Field(default=None, title="Grams for some compounds, kilograms for others")
    parallel_work: bool | None = Field(
        default=None,
        title="Research work beside a CDMO's manufacturing",
        description="Research work (a backup route, impurity work, follow-on analogs) beside a CDMO's manufacturing.",
    )
    work: Literal["CRO", "CDMO"] | None = Field(
        default=None,
        title="The work asked for is what this provider does",
        description="The kind of work the user needs (route scouting, salt screens; validation, cGMP batches) and who the framework says does it.",
    )
    single_partner: bool | None = Field(
        default=None, title="Wants a single partner", description="Wants one partner for everything, e.g. to avoid technology transfer."
    )
    transitioning: bool | None = Field(
        default=None, title="Moving from research-grade to GMP material", description="Moving from research-grade to regulated (GMP) material."
    )

    @classmethod
    def label(cls, name: str) -> str:
        field = cls.model_fields.get(name)
        return field.title if field is not None and field.title else name

    @classmethod
    def ask(cls, name: str) -> str:
        """How to ask the user for a field (its label when there is no question for it)."""
        return _ASK.get(name, cls.label(name))

    def merged(self, newer: Situation) -> Situation:
        """This situation updated by whatever ``newer`` states."""
        return self.model_copy(update={k: v for k, v in newer if v is not None})

    def known(self) -> dict[str, object]:
        return {k: v for k, v in self if v is not None}

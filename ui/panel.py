"""The "Your situation" form: ``Situation`` fields to form values and back.

Choice labels come from the framework's own matrices (stage rows, Organizational
Profile cells), so the form speaks the framework's words.
"""

from __future__ import annotations

from typing import get_args

from pydantic import BaseModel

from advisor_bot.article_map import article_map
from advisor_bot.errors import InvalidQuestionError
from advisor_bot.framework import Framework
from advisor_bot.situation import Column, Quantity, Situation

NOT_SAID = ""
UNITS: tuple[str, ...] = get_args(Quantity.model_fields["unit"].annotation)
# The fields that name an Organizational Profile column outright, as the article map lists them.
COLUMN_FIELDS: tuple[str, ...] = tuple(article_map().column_fields())
_COLUMNS: tuple[Column, ...] = get_args(Column)

Choices = list[tuple[str, str]]


class PanelValues(BaseModel):
    """What the form holds; empty strings mean 'not said'."""

    stage: str = NOT_SAID
    quantity_value: float | None = None
    quantity_unit: str = "kg"
    gmp: str = NOT_SAID
    # The profile factors in the article's row order, as COLUMN_FIELDS lists them.
    in_house: str = NOT_SAID
    budget: str = NOT_SAID
    timeline: str = NOT_SAID
    ip_sensitivity: str = NOT_SAID


    def shown(self, name: str) -> str | None:
        """What the form control for ``name`` displays."""
        return quantity_text(self.quantity_value) if name == "quantity_value" else getattr(self, name)


FIELDS: tuple[str, ...] = tuple(PanelValues.model_fields)


def stage_choices(framework: Framework) -> Choices:
    return [("Not said", NOT_SAID)] + [(r.stage, r.stage) for r in framework.stages]


def column_choices(framework: Framework, field: str) -> Choices:
    """'Rapid iteration needed (weeks) → CRO'-style options for one profile factor."""
    row = framework.profile_row(framework.article.column_fields()[field])
    return [("Not said", NOT_SAID)] + [(f"{row.cells[c].text} → {c}", c) for c in _COLUMNS]


GMP_CHOICES: Choices = [("Not said", NOT_SAID), ("Yes, cGMP", "yes"), ("No, research grade", "no")]


def to_panel(situation: Situation) -> PanelValues:
    q = situation.quantity
    return PanelValues(
        stage=situation.stage or NOT_SAID,
        quantity_value=q.value if q else None,
        quantity_unit=q.unit if q else "kg",
        gmp=NOT_SAID if situation.gmp is None else ("yes" if situation.gmp else "no"),
        **{f: getattr(situation, f) or NOT_SAID for f in COLUMN_FIELDS},
    )


def from_panel(values: PanelValues) -> Situation:
    """The situation the form states; a blank or non-positive quantity is 'not said'."""
    quantity = (
        Quantity.model_validate({"value": values.quantity_value, "unit": values.quantity_unit})
        if values.quantity_value and values.quantity_value > 0 and values.quantity_unit in UNITS
        else None
    )
    return Situation.model_validate(
        {
            "stage": values.stage or None,
            "quantity": quantity,
            "gmp": {"yes": True, "no": False}.get(values.gmp),
            **{f: getattr(values, f) or None for f in COLUMN_FIELDS},
        }
    )


def quantity_text(value: float | None) -> str:
    """What the quantity box shows: empty until a quantity is said (a number box would show "0")."""
    return "" if value is None else f"{value:g}"


def read_quantity(text: str | None) -> float | None:
    """The quantity typed in the box; blank is "not said"."""
    text = (text or "").strip().replace(",", "")
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < 1e9:
        raise InvalidQuestionError(f"Quantity {text!r} is not a positive number; type e.g. 2 or 0.5, or leave it empty.")
    return value


def panel_field(name: str) -> str:
    """The Situation field a form control edits (the two quantity inputs edit one)."""
    return "quantity" if name.startswith("quantity") else name

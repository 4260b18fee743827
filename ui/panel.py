"""The "Your situation" form, generated from the decision tools' registry.

Its fields are fields of the situation the ``profile_assessment`` tool takes (its argument model in
``advisor_bot.registry``, the same one the LLM and MCP tools are generated from); each is shown by
the control its type calls for, labelled with the field's title, and offers the framework's own
words (the stage matrix's rows, the Organizational Profile's cells). The page lays the controls out
and the handlers pass their values through here; neither names a field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

from pydantic import BaseModel

from advisor_bot.article_map import article_map
from advisor_bot.errors import InvalidQuestionError
from advisor_bot.framework import Framework
from advisor_bot.registry import REGISTRY
from advisor_bot.situation import Quantity, Situation
from advisor_bot.tools import Toolbox

NOT_SAID = ""
Choices = list[tuple[str, str]]
Values = dict[str, str]


def _argument_model() -> type[BaseModel]:
    """The situation model as the registry's ``profile_assessment`` tool takes it."""
    model = REGISTRY[Toolbox.profile_assessment.__name__].args.model_fields["factors"].annotation
    assert isinstance(model, type) and issubclass(model, BaseModel)
    return model


ARGUMENTS = _argument_model()
# The fields that name an Organizational Profile column outright, as the article map lists them.
COLUMN_FIELDS: tuple[str, ...] = tuple(article_map().column_fields())
# What the form offers: the stage, the amount, whether cGMP is needed, and each column-naming factor.
FORM: tuple[str, ...] = ("stage", "quantity", "gmp", *COLUMN_FIELDS)
UNITS: tuple[str, ...] = get_args(Quantity.model_fields["unit"].annotation)
DEFAULT_UNIT = "kg"
_YES_NO: Choices = [("Not said", NOT_SAID), ("Yes", "yes"), ("No", "no")]


@dataclass(frozen=True)
class Control:
    """One form control: ``name`` is its key in the form's values, ``field`` the situation field it edits."""

    name: str
    field: str
    kind: Literal["choice", "radio", "text"]
    label: str
    choices: tuple[tuple[str, str], ...] = ()
    default: str = NOT_SAID  # what it shows before anything is said

    @property
    def elem_id(self) -> str:
        """The page's id for the control: ``sit-`` and the field (``sit-unit`` for the quantity's unit)."""
        return f"sit-{self.field}" if self.kind == "text" or self.name == self.field else f"sit-{self.name.removeprefix(self.field + '_')}"


def _type(name: str) -> object:
    """The field's type without its None (every situation field may be unsaid)."""
    annotation = ARGUMENTS.model_fields[name].annotation
    return next((a for a in get_args(annotation) if a is not type(None)), annotation)


def stage_choices(framework: Framework) -> Choices:
    return [("Not said", NOT_SAID)] + [(r.stage, r.stage) for r in framework.stages]


def column_choices(framework: Framework, name: str) -> Choices:
    """'Rapid iteration needed (weeks) → CRO'-style options for one profile factor."""
    row = framework.profile_row(framework.article.column_fields()[name])
    return [("Not said", NOT_SAID)] + [(f"{row.cells[c].text} → {c}", c) for c in get_args(_type(name))]


def controls(framework: Framework) -> list[list[Control]]:
    """The form's controls, a row per field, in ``FORM`` order, each chosen by the field's type."""
    rows = []
    for name in FORM:
        kind, label = _type(name), Situation.label(name)
        if kind is Quantity:
            rows.append([Control(f"{name}_value", name, "text", label), Control(f"{name}_unit", name, "choice", "Unit", tuple((u, u) for u in UNITS), DEFAULT_UNIT)])
        elif kind is bool:
            rows.append([Control(name, name, "radio", label, tuple(_YES_NO))])
        elif name in COLUMN_FIELDS:
            rows.append([Control(name, name, "choice", label, tuple(column_choices(framework, name)))])
        elif name == "stage":
            rows.append([Control(name, name, "choice", label, tuple(stage_choices(framework)))])
        else:
            raise TypeError(f"The situation form has no control for {name} ({kind!r}).")
    return rows


# Every control's key, in form order: the order the edit handlers take the values in.
FIELDS: tuple[str, ...] = tuple(n for name in FORM for n in ((f"{name}_value", f"{name}_unit") if _type(name) is Quantity else (name,)))


def panel_field(name: str) -> str:
    """The situation field a control edits (the quantity's two controls edit one)."""
    return next(n for n in FORM if name == n or name.startswith(f"{n}_"))


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


def to_panel(situation: Situation) -> Values:
    """What each control shows for ``situation``."""
    out: Values = {}
    for name in FORM:
        value = getattr(situation, name)
        if _type(name) is Quantity:
            out[f"{name}_value"] = quantity_text(value.value if value else None)
            out[f"{name}_unit"] = value.unit if value else DEFAULT_UNIT
        elif _type(name) is bool:
            out[name] = NOT_SAID if value is None else ("yes" if value else "no")
        else:
            out[name] = value or NOT_SAID
    return out


def from_panel(values: Mapping[str, str | None]) -> Situation:
    """The situation the form states; raises ``InvalidQuestionError`` for a quantity that is not a positive number."""
    stated: dict[str, object] = {}
    for name in FORM:
        if _type(name) is Quantity:
            amount, unit = read_quantity(values.get(f"{name}_value")), values.get(f"{name}_unit") or DEFAULT_UNIT
            stated[name] = Quantity.model_validate({"value": amount, "unit": unit}) if amount is not None and unit in UNITS else None
        elif _type(name) is bool:
            stated[name] = {"yes": True, "no": False}.get(values.get(name) or NOT_SAID)
        else:
            stated[name] = values.get(name) or None
    return Situation.model_validate(stated)


def values_of(shown: Sequence[str | None]) -> dict[str, str | None]:
    """The controls' values as the page hands them over (in ``FIELDS`` order), by control."""
    return dict(zip(FIELDS, shown, strict=True))

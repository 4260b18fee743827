"""The situation as a language model reads it, checked against the user's words and the rule reading.

With a model configured, the model fills the situation through ``record_situation``:
a typed tool whose stage and column fields are enums built from the Decision Matrix,
each value with the words of the user that set it. Nothing it says is taken on trust:

- a value whose evidence is not in the user's own turns is dropped (a hallucinated field);
- a value the rules read differently is shown as a disagreement; the rules keep numbers
  and stages named outright, the model fills what the rules could only guess or missed;
- what the user set in the panel always wins.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from advisor_bot.framework import Framework
from advisor_bot.reading.model import Evidence, Reading
from advisor_bot.situation import Quantity, Situation

TOOL = "record_situation"
TOOL_DESCRIPTION = (
    "Record what the user has said about their program, before answering. Fill only what the user "
    "actually said; for every field give `evidence`: the user's own words, copied exactly, that say it. "
    "Leave a field out when the user did not say it."
)
# Fields the rules read at least as well as a model: a disagreement keeps the rule's value.
_RULES_FIRST = {"quantity", "gmp"}


def situation_schema(framework: Framework) -> type[BaseModel]:
    """The ``record_situation`` arguments: every Situation field, stages and columns as enums from the matrix."""
    stage = Enum("Stage", {f"row_{i}": r.stage for i, r in enumerate(framework.stages)}, type=str)  # type: ignore[misc]
    column = Enum("Column", {c: c for c in ("CRO", "CDMO", "Hybrid")}, type=str)  # type: ignore[misc]

    def field(kind: Any, description: str) -> Any:
        evidence = create_model(
            f"{description.split()[0].title()}Field",
            __config__=ConfigDict(extra="forbid"),
            value=(kind, Field(description=description)),
            evidence=(str, Field(description="The user's own words, copied exactly, that state this.")),
        )
        return (evidence | None, None)

    # Each column field is described by its Organizational Profile row, in the article's words.
    rows = {name: framework.profile_row(key) for name, key in framework.article.column_fields().items()}
    columns = {
        name: f"{row.factor}: " + ", ".join(f"{c} = {cell.text}" for c, cell in row.cells.items()) + "."
        for name, row in rows.items()
    }
    fields: dict[str, Any] = {
        "stage": field(stage, "Stage of the program: the Project Stage Decision Matrix row it is at now."),
        "quantity": field(Quantity, "Amount of material needed, with its unit."),
        "gmp": field(bool, "Whether the material must be made under cGMP."),
        **{name: field(column, text) for name, text in columns.items()},
        "multiple_stages": field(bool, "Several compounds at different stages."),
        "mixed_volume": field(bool, "Grams for some compounds, kilograms for others."),
        "parallel_work": field(bool, "Research work (backup route, impurities, follow-on analogs) beside a CDMO's manufacturing."),
        "single_partner": field(bool, "Wants one partner for everything (no technology transfer): true; wants separate specialists: false."),
        "transitioning": field(bool, "Moving from research-grade to regulated (GMP) material."),
        "work": field(Enum("Provider", {"CRO": "CRO", "CDMO": "CDMO"}, type=str), "The kind of work asked for, by who does it: CRO = research (route scouting, SAR, analytical methods, salt screens), CDMO = development and manufacturing (scale-up, validation, cGMP batches)."),
    }
    return create_model("RecordSituation", __config__=ConfigDict(extra="forbid"), __doc__=TOOL_DESCRIPTION, **fields)


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).replace("\u2019", "'").lower()
    return re.sub(r"\s+", " ", re.sub(r"[^\w%$.'/ -]", " ", text)).strip()


def _found(evidence: str, turns: Sequence[str]) -> tuple[int, int, int] | None:
    """(turn index, start, end) of ``evidence`` in the user's turns, matched loosely (case, spacing, punctuation)."""
    wanted = _norm(evidence)
    if len(wanted) < 2:
        return None
    for i in range(len(turns) - 1, -1, -1):
        normal = _norm(turns[i])
        if wanted in normal:
            # Offsets in the original text, where the words can be located exactly; else the whole turn.
            exact = turns[i].lower().find(evidence.strip().lower())
            return (i, exact, exact + len(evidence.strip())) if exact >= 0 else (i, 0, len(turns[i]))
    return None


class Reconciled(BaseModel):
    reading: Reading
    notices: list[str] = Field(default_factory=list)


def reconcile(reading: Reading, args: dict[str, Any], *, user_turns: Sequence[str]) -> Reconciled:
    """The reading with the model's situation merged in, and a notice for each dropped or disputed field.

    ``args`` are ``record_situation``'s validated arguments (model_dump of the schema), ``user_turns``
    the user's turns oldest first (the question last).
    """
    situation = reading.situation
    evidence = list(reading.evidence)
    notices: list[str] = []
    for name, reported in args.items():
        if reported is None or name not in Situation.model_fields:
            continue
        label = Situation.label(name)
        value = reported["value"]
        value = value.value if isinstance(value, Enum) else value
        value = Quantity.model_validate(value) if name == "quantity" and isinstance(value, dict) else value
        where = _found(str(reported.get("evidence", "")), user_turns)
        if where is None:
            notices.append(f"The language model read “{label}” as {_shown(value)} without words of yours that say so; it was ignored.")
            continue
        ours = getattr(situation, name)
        source = next((e.source for e in reversed(evidence) if e.field == name), None)
        if source == "panel":
            continue  # what the user set in the panel always wins
        if ours is not None and ours != value:
            keep_rule = source == "rule" and (name in _RULES_FIRST or name == "stage")
            kept, other = (ours, value) if keep_rule else (value, ours)
            notices.append(
                f"“{label}”: the rules read {_shown(ours)}, the language model read {_shown(value)}; "
                f"{_shown(kept)} is used. Set it in the panel if that is wrong."
            )
            if keep_rule:
                continue
        turn, start, end = where
        situation = situation.model_copy(update={name: value})
        evidence = [e for e in evidence if e.field != name]
        evidence.append(Evidence(field=name, text=user_turns[turn][start:end], turn=turn, start=start, end=end, source="model"))
    updates: dict[str, Any] = {"situation": situation, "evidence": evidence}
    if situation.stage != reading.situation.stage:
        updates.update(stage_source="model", stage_options=[])
    return Reconciled(reading=reading.model_copy(update=updates), notices=notices)


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


"""The work a cost question asks to price, read from the user's words by rule (numbers, units, money, durations)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from advisor_bot.errors import InvalidQuestionError
from advisor_bot.reading.amounts import NUMBER_WORDS, WORD_VALUES
from advisor_bot.situation import Situation

Provider = Literal["CRO", "CDMO"]


class CostScenario(BaseModel):
    """What to price. Every field is optional; only stated work is priced."""

    fte: float | None = Field(default=None, gt=0, le=1000, description="Full-time scientists.")
    months: float | None = Field(default=None, gt=0, le=600, description="Duration of the FTE engagement.")
    fte_at: Provider = Field(default="CRO", description="Who employs the FTEs; CDMO development rates carry a premium.")
    route_scouting: int | None = Field(default=None, ge=1, le=100, description="Route-scouting engagements.")
    analogs: int | None = Field(default=None, ge=1, le=100000, description="Analogs in a med-chem campaign.")
    kg: float | None = Field(default=None, gt=0, le=1e7, description="Kilograms of material to manufacture.")
    complexity: Literal["simple", "complex"] | None = Field(default=None, description="Process complexity for per-kg pricing.")
    process_development: bool = Field(default=False, description="Include CDMO process development before production.")
    technology_transfer: bool = Field(default=False, description="Include a transfer between separate organisations.")
    budget: float | None = Field(default=None, gt=0, description="The user's stated budget in USD, to compare the total with.")

    def priced(self) -> bool:
        """Whether any work to price is stated (a budget alone prices nothing)."""
        return any((self.fte, self.route_scouting, self.analogs, self.kg, self.process_development, self.technology_transfer))

    def updated(self, by: CostScenario) -> CostScenario:
        """This work, changed only by what ``by`` states; who employs the FTEs goes with their count."""
        changed = {k: v for k, v in by if v is not None and v is not False and k != "fte_at"}
        if by.fte:
            changed["fte_at"] = by.fte_at
        return self.model_copy(update=changed)


_NUM = rf"(\d+(?:\.\d+)?|{NUMBER_WORDS})"


def _num(text: str) -> float:
    return float(text) if text[0].isdigit() else WORD_VALUES[text.lower()]


_DONE = r"(?:developed|made|built|designed|scouted|ran|did|found|worked out|optimi[sz]ed)"
_DONE_AT_CRO = re.compile(rf"(?i)\b(?:our|the|a) CRO\b[^.?!;]{{0,40}}\b{_DONE}\b|\b{_DONE}\b[^.?!;]{{0,40}}\b(?:at|by|with) (?:our|the|a) CRO\b")


def read_scenario(text: str, situation: Situation) -> CostScenario:
    """Read the work to price from the user's words; the situation fills in quantity."""
    fte = months = None
    if m := re.search(rf"\b{_NUM}\s+(?:of (?:their|your|the|our|its) )?(?:[\w-]+\s+){{0,2}}?(?:ftes?|\w*chemists?|scientists?|people|heads)\b", text, re.I):
        fte = _num(m.group(1))
    if m := re.search(rf"\b{_NUM}\s+(years?|months?|quarters?)\b", text, re.I):
        months = _num(m.group(1)) * {"y": 12, "m": 1, "q": 3}[m.group(2)[0].lower()]
    elif re.search(r"\b(a|per|for the|for a|one|full) year\b|\bannual", text, re.I):
        months = 12
    analogs = int(m.group(1)) if (m := re.search(r"\b(\d+)\s+(?:analog(?:ue)?s|compounds|molecules)\b", text, re.I)) else None
    if analogs is None and re.search(r"med(icinal)?[- ]?chem(istry)? campaign", text, re.I):
        analogs = 100
    scouting = 1 if re.search(r"route[- ]scouting|scout(?:s|ing)? (?:the |a |new |alternative |out )?routes?", text, re.I) else None
    kg = situation.quantity.kg if situation.quantity and situation.quantity.kg >= 1 else None
    complexity = "simple" if re.search(r"\bsimple\b|2-3 step|two[- ]step|three[- ]step", text, re.I) else ("complex" if re.search(r"complex|multi[- ]?step|\d+[- ]step", text, re.I) else None)
    transfer = bool(re.search(r"tech(nology)?[- ]transfer|hand(ing)?[- ]?(it )?over|move (it|the process) to|switch(ing)? (to a )?cdmo", text, re.I)) or (
        # "Our CRO developed the route; we now need 40 kg made at a CDMO": the work moves between organisations.
        bool(re.search(r"\bcdmos?\b", text, re.I)) and bool(_DONE_AT_CRO.search(text))
    )
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


def read_follow_up(text: str, situation: Situation, *, previous: str) -> CostScenario:
    """A cost question asked again for other numbers ("and for 3 of them for 6 months?" after "how
    much is one CRO FTE per year?"): the earlier question's work, with what this one changes."""
    before = read_scenario(previous, situation)
    now = read_scenario(text, situation)
    if before.fte and now.fte is None and (m := re.search(rf"\b{_NUM}\s+of (?:them|those|these)\b", text, re.I)):
        now = now.model_copy(update={"fte": _num(m.group(1))})
    return before.updated(by=now)

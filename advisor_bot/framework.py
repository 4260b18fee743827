"""The framework's matrices, pricing tables and figures, parsed from the corpus text.

Nothing here retypes a table or a number: the code knows *where* the framework
states something (which section, which table, which phrase) and reads *what* it
states from the Markdown at load time, with offsets for citing it verbatim.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel

from advisor_bot.citations import Citation
from advisor_bot.corpus import Document, Section, parse_sections
from advisor_bot.errors import CorpusError

Column = Literal["CRO", "CDMO", "Hybrid"]
ModelName = Literal["CRO", "CDMO", "Hybrid", "Integrated partner"]
_MODEL_NAMES: dict[str, ModelName] = {
    "cro": "CRO",
    "cdmo": "CDMO",
    "hybrid": "Hybrid",
    "integrated partner": "Integrated partner",
}


class Cell(BaseModel):
    text: str
    start: int
    end: int


class Row(BaseModel):
    cells: list[Cell]
    citation: Citation


class Table(BaseModel):
    section: str
    header: list[str]
    rows: list[Row]

    def column(self, name: str) -> int:
        for i, h in enumerate(self.header):
            if h.lower() == name.lower():
                return i
        raise CorpusError(f"The table in {self.section!r} has no column {name!r}; the framework's tables changed.")


class StageRow(BaseModel):
    stage: str
    primary_need: str
    models: list[ModelName]
    criteria: str
    citation: Citation


class ProfileRow(BaseModel):
    factor: str
    cells: dict[Column, Cell]
    citation: Citation


class PricingModel(BaseModel):
    provider: Literal["CRO", "CDMO"]
    name: str
    structure: str
    best_for: str
    risk: str
    citation: Citation


class Fact(BaseModel):
    """A figure the framework states, with the sentence that states it."""

    key: str
    label: str
    low: float
    high: float | None
    unit: str
    citation: Citation

    @property
    def span(self) -> tuple[float, float]:
        return self.low, self.high if self.high is not None else self.low


def citation_for(doc: Document, section: Section, start: int, end: int) -> Citation:
    return Citation(
        document=doc.id,
        section=section.path_text,
        anchor=section.anchor,
        quote=doc.text[start:end],
        start=start,
        end=end,
        promotional=section.promotional,
    )


def parse_table(doc: Document, section: Section) -> Table:
    block = next((b for b in section.blocks if b.kind == "table"), None)
    if block is None:
        raise CorpusError(f"The section {section.path_text!r} no longer holds a table.")
    lines, pos = [], block.start
    for line in doc.text[block.start : block.end].split("\n"):
        lines.append((pos, line))
        pos += len(line) + 1

    def cells(start: int, line: str) -> list[Cell]:
        out, i = [], line.index("|") + 1
        for raw in line[i:].split("|")[:-1] if line.rstrip().endswith("|") else line[i:].split("|"):
            lead = len(raw) - len(raw.lstrip())
            text = raw.strip()
            out.append(Cell(text=text, start=start + i + lead, end=start + i + lead + len(text)))
            i += len(raw) + 1
        return out

    header = [c.text for c in cells(*lines[0])]
    rows = [
        Row(cells=cells(start, line), citation=citation_for(doc, section, start, start + len(line)))
        for start, line in lines[2:]
        if line.strip()
    ]
    return Table(section=section.path_text, header=header, rows=rows)


def parse_models(cell: str) -> list[ModelName]:
    """'Hybrid (CRO + CDMO) or Integrated partner' -> ['Hybrid', 'Integrated partner']."""
    options = [re.sub(r"\(.*?\)", "", part).strip().lower() for part in re.split(r"\bor\b", cell)]
    models = [_MODEL_NAMES[o] for o in options if o in _MODEL_NAMES]
    if not models:
        raise CorpusError(f"Cannot read a recommended model from {cell!r}.")
    return models


# Where each figure is stated: (key, label, section title, cue regex, value kind, unit).
# The cue finds the sentence (or table row); the value is the first of its kind after the cue.
_FACTS: tuple[tuple[str, str, str, str, str, str], ...] = (
    ("cro_fte_rate", "CRO FTE rate (PhD-level chemist, US)", "CRO Pricing Models", r"FTE rates", "money", "USD per FTE-year"),
    ("route_scouting_fee", "Route-scouting engagement fee", "CRO Pricing Models", r"route scouting engagement", "money", "USD per engagement"),
    ("medchem_campaign_analogs", "Analogs in a full med-chem campaign", "CRO Pricing Models", r"campaign with", "count", "analogs"),
    ("medchem_campaign_fee", "Full medicinal-chemistry campaign", "CRO Pricing Models", r"medicinal chemistry campaign", "money", "USD per campaign"),
    ("cdmo_per_kg_simple", "CDMO price, simple 2-3 step process at multi-hundred-kg scale", "CDMO Pricing Models", r"Simple", "money", "USD per kg"),
    ("cdmo_per_kg_complex", "CDMO price, complex multi-step cGMP API at kg scale", "CDMO Pricing Models", r"Complex multi-step", "money", "USD per kg"),
    ("process_development_fee", "CDMO process-development fee (pilot-scale demonstration)", "CDMO Pricing Models", r"Process development fees", "money", "USD"),
    ("cost_plus_margin", "Cost-plus margin", "CDMO Pricing Models", r"margin", "percent", "% over CDMO costs"),
    ("cdmo_development_premium", "CDMO development-rate premium over CRO rates", "Mistake 1: Engaging a CDMO Too Early", r"higher than CRO rates|CDMO process development rates", "percent", "% over CRO rates"),
    ("tech_transfer_duration", "Technology-transfer duration", "CRO-to-CDMO Technology Transfer", r"typical timeline", "months", "months"),
    ("tech_transfer_cost", "Technology-transfer cost", "CRO-to-CDMO Technology Transfer", r"costs of", "money", "USD"),
    ("tech_transfer_steps_modified", "Share of process steps modified in transfer", "Mistake 3: Underestimating Technology Transfer Complexity", r"expect that", "percent", "% of steps"),
    ("phase_cro_duration", "Sequential model: CRO phase", "Sequential Engagement", r"CRO Phase", "months", "months"),
    ("phase_transfer_duration", "Sequential model: technology-transfer phase", "Sequential Engagement", r"Technology Transfer \(", "months", "months"),
)
_NUMBER = r"(\d[\d,]*(?:\.\d+)?)"
_VALUE = {
    "money": re.compile(rf"\${_NUMBER}(?:\s*(?:-|–|to)\s*\${_NUMBER})?"),
    "percent": re.compile(rf"{_NUMBER}(?:\s*(?:-|–|to)\s*{_NUMBER})?%"),
    "months": re.compile(rf"{_NUMBER}(?:\s*(?:-|–|to)\s*{_NUMBER})?\s*months"),
    "count": re.compile(rf"{_NUMBER}(?:\s*(?:-|–|to)\s*{_NUMBER})?\s+\w+"),
}
_SENTENCE = re.compile(r"[^\n]*?(?:[.!?](?=\s|$)|$)")


def sentence_spans(doc: Document, section: Section) -> list[tuple[int, int]]:
    """Sentences of prose blocks and lines of tables/lists, as spans."""
    spans = []
    for block in section.blocks:
        text = doc.text[block.start : block.end]
        pattern = re.compile(r"[^\n]+") if block.kind in ("table", "list") else _SENTENCE
        for m in pattern.finditer(text):
            if m.group().strip():
                lead = len(m.group()) - len(m.group().lstrip())
                spans.append((block.start + m.start() + lead, block.start + m.end()))
    return spans


def _number(text: str | None) -> float | None:
    return float(text.replace(",", "")) if text else None


class Framework(BaseModel):
    doc: Document
    stages: list[StageRow]
    profile: list[ProfileRow]
    pricing: list[PricingModel]
    facts: dict[str, Fact]
    sections: dict[str, Section]

    def section(self, title: str) -> Section:
        try:
            return self.sections[title]
        except KeyError:
            raise CorpusError(f"The framework has no section titled {title!r}.") from None

    def fact(self, key: str) -> Fact:
        try:
            return self.facts[key]
        except KeyError:
            raise CorpusError(f"The framework no longer states the figure {key!r}.") from None


def load_framework(documents: dict[str, Document]) -> Framework:
    """Find the document holding the decision matrices and read everything from it."""
    for doc in documents.values():
        sections = {s.title: s for s in parse_sections(doc)}
        if "Project Stage Decision Matrix" in sections:
            return _read(doc, sections)
    raise CorpusError("No corpus document holds a 'Project Stage Decision Matrix'; the decision tools need it.")


def _read(doc: Document, sections: dict[str, Section]) -> Framework:
    def table(title: str) -> Table:
        if title not in sections:
            raise CorpusError(f"The framework has no section titled {title!r}.")
        return parse_table(doc, sections[title])

    stage_t = table("Project Stage Decision Matrix")
    s_stage, s_need, s_model, s_crit = (
        stage_t.column(c) for c in ("Project Stage", "Primary Need", "Recommended Model", "Key Selection Criteria")
    )
    stages = [
        StageRow(
            stage=r.cells[s_stage].text,
            primary_need=r.cells[s_need].text,
            models=parse_models(r.cells[s_model].text),
            criteria=r.cells[s_crit].text,
            citation=r.citation,
        )
        for r in stage_t.rows
    ]
    prof_t = table("Organizational Profile Decision Matrix")
    cols: dict[Column, int] = {c: prof_t.column(f"Favors {c}") for c in ("CRO", "CDMO", "Hybrid")}
    f_col = prof_t.column("Factor")
    profile = [
        ProfileRow(factor=r.cells[f_col].text, cells={c: r.cells[i] for c, i in cols.items()}, citation=r.citation)
        for r in prof_t.rows
    ]
    pricing = []
    for provider in ("CRO", "CDMO"):
        t = table(f"{provider} Pricing Models")
        m, st, bf, rk = (t.column(c) for c in ("Model", "Structure", "Best For", "Risk Allocation"))
        pricing.extend(
            PricingModel(
                provider=provider,  # type: ignore[arg-type]
                name=r.cells[m].text,
                structure=r.cells[st].text,
                best_for=r.cells[bf].text,
                risk=r.cells[rk].text,
                citation=r.citation,
            )
            for r in t.rows
        )
    facts: dict[str, Fact] = {}
    for key, label, title, cue, kind, unit in _FACTS:
        section = sections.get(title)
        if section is None:
            continue
        for start, end in sentence_spans(doc, section):
            unit_text = doc.text[start:end]
            hit = re.search(cue, unit_text)
            value = _VALUE[kind].search(unit_text, hit.end()) if hit else None
            if value is None:
                continue
            facts[key] = Fact(
                key=key,
                label=label,
                low=_number(value.group(1)) or 0.0,
                high=_number(value.group(2)),
                unit=unit,
                citation=citation_for(doc, section, start, end),
            )
            break
    return Framework(doc=doc, stages=stages, profile=profile, pricing=pricing, facts=facts, sections=sections)

"""The framework's matrices, pricing tables and figures, parsed from the corpus text.

Nothing here retypes a table or a number: the article map (``advisor_bot/data/article_map.yaml``)
says *where* the framework states something (which section, which table column, which phrase)
and this module reads *what* it states from the Markdown at load time, with offsets for citing
it verbatim.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel

from advisor_bot.article_map import ArticleMap, article_map
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
    article: ArticleMap

    def section(self, key: str) -> Section:
        """The section the article map names ``key`` (checked to exist at load)."""
        title = self.article.heading(key)
        try:
            return self.sections[title]
        except KeyError:
            raise CorpusError(f"The framework has no section titled {title!r} (article map key {key!r}).") from None

    def fact(self, key: str) -> Fact:
        try:
            return self.facts[key]
        except KeyError:
            raise CorpusError(f"The framework no longer states the figure {key!r}.") from None

    def profile_row(self, key: str) -> ProfileRow:
        """The Organizational Profile row the article map names ``key`` (by its factor's first word)."""
        word = self.article.profile_rows[key].starts.lower()
        row = next((r for r in self.profile if r.factor.split()[0].lower() == word), None)
        if row is None:
            raise CorpusError(f"The Organizational Profile Decision Matrix has no row starting {word!r} (article map key {key!r}).")
        return row

    def sentence(self, key: str) -> tuple[Section, int, int]:
        """The sentence the article map names ``key``: its section and offsets."""
        spec = self.article.sentences[key]
        section = self.section(spec.section)
        for start, end in sentence_spans(self.doc, section):
            if self.doc.text[start:end].removeprefix("- ").startswith(spec.starts):
                return section, start, end
        raise CorpusError(f"The section {section.title!r} no longer has a sentence starting {spec.starts!r} (article map key {key!r}).")


def load_framework(documents: dict[str, Document]) -> Framework:
    """Find the document holding the decision matrices and read everything from it."""
    amap = article_map()
    marker = amap.heading(amap.framework_marker)
    for doc in documents.values():
        sections = {s.title: s for s in parse_sections(doc)}
        if marker in sections:
            amap.check(set(sections))
            return _read(doc, sections, amap)
    raise CorpusError(f"No corpus document holds a {marker!r} section; the decision tools need it.")


def _read(doc: Document, sections: dict[str, Section], amap: ArticleMap) -> Framework:
    def table(key: str) -> tuple[Table, dict[str, int]]:
        spec = amap.tables[key]
        t = parse_table(doc, sections[amap.heading(spec.section)])
        return t, {name: t.column(header) for name, header in spec.columns.items()}

    stage_t, c = table("stages")
    stages = [
        StageRow(
            stage=r.cells[c["stage"]].text,
            primary_need=r.cells[c["primary_need"]].text,
            models=parse_models(r.cells[c["models"]].text),
            criteria=r.cells[c["criteria"]].text,
            citation=r.citation,
        )
        for r in stage_t.rows
    ]
    prof_t, c = table("profile")
    columns: tuple[Column, ...] = ("CRO", "CDMO", "Hybrid")
    profile = [
        ProfileRow(factor=r.cells[c["factor"]].text, cells={col: r.cells[c[col]] for col in columns}, citation=r.citation)
        for r in prof_t.rows
    ]
    pricing: list[PricingModel] = []
    providers: tuple[Literal["CRO", "CDMO"], ...] = ("CRO", "CDMO")
    for provider in providers:
        t, c = table(f"{provider.lower()}_pricing")
        pricing.extend(
            PricingModel(
                provider=provider,
                name=r.cells[c["name"]].text,
                structure=r.cells[c["structure"]].text,
                best_for=r.cells[c["best_for"]].text,
                risk=r.cells[c["risk"]].text,
                citation=r.citation,
            )
            for r in t.rows
        )
    facts: dict[str, Fact] = {}
    for key, figure in amap.figures.items():
        section = sections[amap.heading(figure.section)]
        for start, end in sentence_spans(doc, section):
            unit_text = doc.text[start:end]
            hit = re.search(figure.cue, unit_text)
            value = _VALUE[figure.kind].search(unit_text, hit.end()) if hit else None
            if value is None:
                continue
            facts[key] = Fact(
                key=key,
                label=figure.label,
                low=_number(value.group(1)) or 0.0,
                high=_number(value.group(2)),
                unit=figure.unit,
                citation=citation_for(doc, section, start, end),
            )
            break
    return Framework(doc=doc, stages=stages, profile=profile, pricing=pricing, facts=facts, sections=sections, article=amap)

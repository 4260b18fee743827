"""The map of the article: where each fact lives in the corpus, by key (``data/article_map.yaml``).

Code asks for a section, table column, figure or sentence by key; this module knows the heading
text. ``check`` runs when the framework is loaded and names the first heading, column or sentence
the article no longer has, so an edited article fails at start-up, not in the middle of an answer.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from advisor_bot.errors import ArticleMapError, CorpusError
from advisor_bot.situation import Column

MAP_FILE = Path(__file__).parent / "data" / "article_map.yaml"

Provider = Literal["CRO", "CDMO"]
Model = Literal["CRO", "CDMO", "Hybrid", "Integrated partner"]
When = Literal["early", "unknown", "later"]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TableSpec(_Strict):
    section: str
    columns: dict[str, str]


class FigureSpec(_Strict):
    label: str
    section: str
    cue: str
    kind: Literal["money", "percent", "months", "count"]
    unit: str


class SentenceSpec(_Strict):
    section: str
    starts: str


class ProfileRowSpec(_Strict):
    starts: str
    column_field: str | None = None
    # A row without a column field is stated through yes/no fields, cell by cell ("cGMP material
    # needed": yes is the CDMO cell, no the CRO cell): what the reader sets when it reads that cell.
    cells: dict[Column, dict[str, bool]] = {}


class ProvisionSpec(_Strict):
    CRO: str
    CDMO: str
    general: str | None = None


class ArticleMap(_Strict):
    sections: dict[str, str]
    framework_marker: str
    work: dict[Provider, str]
    tables: dict[str, TableSpec]
    profile_rows: dict[str, ProfileRowSpec]
    profile_cdmo_from: str
    provisions: dict[Literal["ip", "regulatory"], ProvisionSpec]
    figures: dict[str, FigureSpec]
    sentences: dict[str, SentenceSpec]
    mistakes: dict[str, str]
    risks: dict[Model, dict[When, list[str]]]

    @model_validator(mode="after")
    def _keys_resolve(self) -> ArticleMap:
        """Every key the map uses is one it defines: a typo fails here, not when a tool runs."""
        headings = self.sections.keys() | self.mistakes.keys()
        used = [
            self.framework_marker,
            *self.work.values(),
            *(t.section for t in self.tables.values()),
            *(f.section for f in self.figures.values()),
            *(s.section for s in self.sentences.values()),
            *(k for p in self.provisions.values() for k in (p.CRO, p.CDMO, p.general) if k),
        ]
        unknown = sorted({k for k in used if k not in headings} | {k for w in self.risks.values() for ks in w.values() for k in ks if k not in self.mistakes})
        if unknown:
            raise ValueError(f"keys used but not defined: {', '.join(unknown)}")
        for figure in self.figures.values():
            re.compile(figure.cue)  # a bad cue is an error in the map, found at load
        return self

    def cell_fields(self, key: str, column: Column) -> dict[str, object]:
        """The Situation fields that state a profile cell (empty when none does: an amount is read by rule)."""
        spec = self.profile_rows[key]
        return {spec.column_field: column} if spec.column_field else dict(spec.cells.get(column, {}))

    def column_fields(self) -> dict[str, str]:
        """Situation field -> the key of the profile row whose column it names."""
        return {spec.column_field: key for key, spec in self.profile_rows.items() if spec.column_field}

    def heading(self, key: str) -> str:
        """The heading text of a section or mistake key."""
        if key in self.sections:
            return self.sections[key]
        if key in self.mistakes:
            return self.mistakes[key]
        raise CorpusError(f"The article map has no section {key!r}.")

    def check(self, titles: set[str]) -> None:
        """Raise an ``ArticleMapError`` naming the first heading of the map the article does not have."""
        for key in [*self.sections, *self.mistakes]:
            if (heading := self.heading(key)) not in titles:
                raise ArticleMapError(
                    f"The framework article has no heading {heading!r} (article map key {key!r}); "
                    f"restore the heading or update {MAP_FILE.name}.",
                    key=key,
                    heading=heading,
                )


@cache
def article_map(path: Path = MAP_FILE) -> ArticleMap:
    """The map, parsed and checked for internal consistency (against the article: ``check``)."""
    try:
        return ArticleMap.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise CorpusError(f"The article map {path} cannot be used: {exc}") from exc

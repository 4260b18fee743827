"""Citations: verbatim spans of the corpus, checked before they are shown."""

from __future__ import annotations

from pydantic import BaseModel, Field

from advisor_bot.corpus import Document, Origin
from advisor_bot.errors import CitationError


class Citation(BaseModel):
    document: str
    section: str = Field(description="Heading path, e.g. 'The Decision Matrix > Project Stage Decision Matrix'.")
    anchor: str = Field(description="Deep-link anchor of the section.")
    quote: str = Field(description="Verbatim text of the corpus at [start, end).")
    start: int
    end: int
    promotional: bool = Field(description="True when the passage is the publisher's own promotion.")
    origin: Origin = Field(default="framework", description="'user' when the passage is from a document a user added, not the framework.")


def verify_citation(citation: Citation, documents: dict[str, Document]) -> Citation:
    """Return the citation if its quote is the corpus text at its offsets; raise otherwise."""
    doc = documents.get(citation.document)
    if doc is None or doc.text[citation.start : citation.end] != citation.quote or not citation.quote:
        raise CitationError(f"A quote from {citation.section!r} does not match the corpus and was withheld.")
    return citation



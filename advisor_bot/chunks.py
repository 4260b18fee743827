"""Embedding units cut along the corpus's own structure.

A unit never crosses a section boundary and never cuts a table. Each unit is
small enough for the embedding model (which silently truncates), and each table
row is also a unit of its own, indexed with its header row so a question about
one row lands on it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict

from advisor_bot.corpus import Block, Document, Section
from advisor_bot.errors import CorpusError

ChunkKind = Literal["section", "row"]
TokenCounter = Callable[[str], int]


class Chunk(BaseModel):
    """One indexed unit. ``start``/``end`` delimit the verbatim span it quotes."""

    model_config = ConfigDict(frozen=True)

    id: str
    document: str
    anchor: str
    section: str
    kind: ChunkKind
    seq: int
    start: int
    end: int
    text: str
    promotional: bool

    @property
    def slot(self) -> str:
        """Where the unit sits, independent of its content: edits keep the slot."""
        return f"{self.document}#{self.anchor}/{self.kind}/{self.seq}"

    def metadata(self) -> dict[str, str | int | bool]:
        return {
            "document": self.document,
            "anchor": self.anchor,
            "section": self.section,
            "kind": self.kind,
            "seq": self.seq,
            "start": self.start,
            "end": self.end,
            "promotional": self.promotional,
        }


def _chunk_id(document: str, anchor: str, kind: str, text: str) -> str:
    return hashlib.sha256("\x1f".join((document, anchor, kind, text)).encode()).hexdigest()[:32]


def _make(doc: Document, sec: Section, kind: ChunkKind, seq: int, start: int, end: int, text: str) -> Chunk:
    return Chunk(
        id=_chunk_id(doc.id, sec.anchor, kind, text),
        document=doc.id,
        anchor=sec.anchor,
        section=sec.path_text,
        kind=kind,
        seq=seq,
        start=start,
        end=end,
        text=text,
        promotional=sec.promotional,
    )


def _spans(doc: Document, block: Block, *, fits: TokenCounter, limit: int) -> list[tuple[int, int]]:
    """The block itself, or (if too long and not a table) sentence-aligned pieces of it."""
    text = doc.text[block.start : block.end]
    if block.kind == "table" or fits(text) <= limit:
        return [(block.start, block.end)]
    # Imported here: only ingest cuts blocks; serving reads cut units, and this pulls in langchain_core.
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(
        chunk_size=limit,
        chunk_overlap=0,
        length_function=fits,
        separators=["\n", ". ", "; ", ", ", " "],
        keep_separator="end",
        add_start_index=True,
        strip_whitespace=True,
    )
    pieces = splitter.create_documents([text])
    return [(block.start + p.metadata["start_index"], block.start + p.metadata["start_index"] + len(p.page_content)) for p in pieces]


def section_chunks(doc: Document, sec: Section, *, count_tokens: TokenCounter, limit: int) -> list[Chunk]:
    """Group a section's blocks into units that fit, then add one unit per table row."""
    prefix = sec.path_text + "\n"
    if count_tokens(prefix) > limit // 2:
        # A very deep or long heading path would crowd out the text it labels.
        prefix = sec.title + "\n"
    budget = limit - count_tokens(prefix)
    if budget < 8:
        raise CorpusError(
            f"The heading {sec.title[:80]!r} in {doc.id} is longer than the embedding model's input; shorten it."
        )
    spans = [s for b in sec.blocks for s in _spans(doc, b, fits=count_tokens, limit=budget)]
    groups: list[tuple[int, int]] = []
    for start, end in spans:
        if groups and count_tokens(doc.text[groups[-1][0] : end]) <= budget:
            groups[-1] = (groups[-1][0], end)
        else:
            groups.append((start, end))
    chunks = [_make(doc, sec, "section", i, s, e, prefix + doc.text[s:e]) for i, (s, e) in enumerate(groups)]

    seq = 0
    for block in sec.blocks:
        if block.kind != "table":
            continue
        lines = doc.text[block.start : block.end].split("\n")
        header = lines[0]
        offset = block.start + len(lines[0]) + 1 + len(lines[1]) + 1
        for row in lines[2:]:
            start, end = offset, offset + len(row)
            offset = end + 1
            if row.strip():
                chunks.append(_make(doc, sec, "row", seq, start, end, f"{prefix}{header}\n{row}"))
                seq += 1
    return chunks

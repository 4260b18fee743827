"""The corpus: Markdown/text documents, their front matter and their sections.

Sections and blocks carry character offsets into the file as it is on disk, so
every quote the bot shows can be checked against the exact text it came from.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml
from markdown_it import MarkdownIt
from pydantic import BaseModel, ConfigDict, Field

from advisor_bot.errors import CorpusError
from advisor_bot.formats import HTML_SUFFIXES, PDF_SUFFIXES, html_markdown, pdf_markdown

CORPUS_SUFFIXES = (".md", ".txt")
# What `ingest PATH` reads besides: a user's own documents, through maintained parsers.
USER_SUFFIXES = (*CORPUS_SUFFIXES, *PDF_SUFFIXES, *HTML_SUFFIXES)
Origin = Literal["framework", "user"]
Format = Literal["markdown", "pdf", "html"]
PREAMBLE_HEADING = "Introduction"
_FRONT_MATTER = re.compile(r"\A---\r?\n(.*?)\r?\n---\r?\n", re.DOTALL)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

BlockKind = Literal["paragraph", "list", "table", "quote", "code", "other"]
_BLOCK_KINDS: dict[str, BlockKind] = {
    "paragraph_open": "paragraph",
    "bullet_list_open": "list",
    "ordered_list_open": "list",
    "table_open": "table",
    "blockquote_open": "quote",
    "fence": "code",
    "code_block": "code",
    "html_block": "other",
}


class Document(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str = Field(description="Path relative to the corpus folder, e.g. 'cro-cdmo-framework.md'.")
    path: Path
    title: str
    publisher: str | None = None
    promotional_sections: tuple[str, ...] = ()
    text: str = Field(repr=False)
    body_start: int
    sha256: str
    origin: Origin = Field(
        default="framework",
        description="'framework' for files of the corpus folder (the decision tools read only those); "
        "'user' for documents added with `ingest PATH`, retrieved and cited but never deciding.",
    )
    format: Format = "markdown"


class Block(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: BlockKind
    start: int
    end: int


class Section(BaseModel):
    model_config = ConfigDict(frozen=True)

    document: str
    heading_path: tuple[str, ...]
    level: int
    anchor: str
    start: int
    end: int
    blocks: tuple[Block, ...]
    promotional: bool

    @property
    def title(self) -> str:
        return self.heading_path[-1]

    @property
    def path_text(self) -> str:
        return " > ".join(self.heading_path)


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"


def read_document(path: Path, *, corpus_dir: Path, max_bytes: int | None = None) -> Document:
    """Read and validate one corpus file; raise ``CorpusError`` saying how to fix it."""
    shown = path.name
    try:
        size = path.stat().st_size
        if max_bytes is not None and size > max_bytes:
            raise CorpusError(
                f"{shown} is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:g} MB limit (ADVISOR_MAX_FILE_MB); split it or raise the limit."
            )
        raw = path.read_bytes()
    except OSError as exc:
        raise CorpusError(f"Cannot read corpus file {shown}: {exc.strerror}.") from exc
    inside = path.is_relative_to(corpus_dir)
    rel = path.relative_to(corpus_dir).as_posix() if inside else path.name
    origin: Origin = "framework" if inside else "user"
    suffix = path.suffix.lower()
    if suffix in PDF_SUFFIXES or suffix in HTML_SUFFIXES:
        convert, fmt = (pdf_markdown, "pdf") if suffix in PDF_SUFFIXES else (html_markdown, "html")
        text, title = convert(raw, name=shown)
        return Document(
            id=rel, path=path, title=title or path.stem, text=text, body_start=0,
            sha256=hashlib.sha256(raw).hexdigest(), origin=origin, format=fmt,
        )
    if b"\x00" in raw:
        raise CorpusError(f"Corpus file {shown} looks binary (it contains NUL bytes); only UTF-8 text is indexed.")
    try:
        # Offsets are into the text with Windows line endings normalised, so every
        # table row and quote is the same whatever editor saved the file.
        text = raw.decode("utf-8").replace("\r\n", "\n")
    except UnicodeDecodeError as exc:
        raise CorpusError(
            f"Corpus file {shown} is not valid UTF-8 (bad byte at offset {exc.start}); re-save it as UTF-8."
        ) from exc
    meta: dict[str, object] = {}
    body_start = 0
    match = _FRONT_MATTER.match(text)
    if match:
        try:
            loaded = yaml.safe_load(match.group(1)) or {}
        except yaml.YAMLError as exc:
            raise CorpusError(f"The front matter of {shown} is not valid YAML: {exc}.") from exc
        if not isinstance(loaded, dict):
            raise CorpusError(f"The front matter of {shown} must be a YAML mapping (key: value lines).")
        meta = loaded
        body_start = match.end()
    if not text[body_start:].strip():
        raise CorpusError(f"Corpus file {shown} has no text to index; add content or remove the file.")
    promo = meta.get("promotional_sections") or []
    if not isinstance(promo, list) or not all(isinstance(p, str) for p in promo):
        raise CorpusError(f"'promotional_sections' in {shown} must be a list of heading texts.")
    return Document(
        id=rel,
        path=path,
        title=str(meta.get("title") or path.stem),
        publisher=str(meta["publisher"]) if meta.get("publisher") else None,
        promotional_sections=tuple(promo),
        text=text,
        body_start=body_start,
        sha256=hashlib.sha256(raw).hexdigest(),
        origin=origin,
    )


def corpus_files(paths: list[Path], *, suffixes: tuple[str, ...] = CORPUS_SUFFIXES) -> list[Path]:
    """Expand folders into their corpus files, in a stable order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(p for p in sorted(path.rglob("*")) if p.suffix.lower() in suffixes and p.is_file())
        elif path.is_file():
            if path.suffix.lower() not in suffixes:
                raise CorpusError(f"{path.name} is not a file ingest reads; use {', '.join(suffixes)}.")
            found.append(path)
        else:
            raise CorpusError(f"{path} does not exist.")
    return found


def load_corpus(corpus_dir: Path) -> list[Document]:
    if not corpus_dir.is_dir():
        raise CorpusError(f"The corpus folder {corpus_dir} does not exist.")
    docs = [read_document(p, corpus_dir=corpus_dir) for p in corpus_files([corpus_dir])]
    if not docs:
        raise CorpusError(f"The corpus folder {corpus_dir} holds no .md or .txt files.")
    return docs


def _line_starts(text: str) -> list[int]:
    starts = [0]
    starts.extend(m.end() for m in re.finditer("\n", text))
    return starts


_PARSER = MarkdownIt("commonmark").enable("table")


@dataclass
class _OpenSection:
    path: tuple[str, ...]
    level: int
    anchor: str
    heading: tuple[int, int] | None
    blocks: list[Block] = field(default_factory=list)


def parse_sections(doc: Document) -> list[Section]:
    """Split a document along its headings; each section holds its own blocks."""
    body = doc.text[doc.body_start :]
    starts = _line_starts(body)
    anchors: set[str] = set()

    def span(lines: list[int]) -> tuple[int, int]:
        start = starts[lines[0]]
        end = starts[lines[1]] if lines[1] < len(starts) else len(body)
        return doc.body_start + start, doc.body_start + start + len(body[start:end].rstrip())

    # A user's document gets its own anchor namespace: its headings may repeat the framework's.
    namespace = f"{slugify(doc.id)}--" if doc.origin == "user" else ""

    def open_section(path: tuple[str, ...], level: int, heading: tuple[int, int] | None) -> _OpenSection:
        anchor = base = namespace + "--".join(slugify(h) for h in path)
        n = 2
        while anchor in anchors:
            anchor, n = f"{base}-{n}", n + 1
        anchors.add(anchor)
        return _OpenSection(path=path, level=level, anchor=anchor, heading=heading)

    def close(sec: _OpenSection) -> Section:
        start = sec.heading[0] if sec.heading else sec.blocks[0].start
        end = sec.blocks[-1].end if sec.blocks else sec.heading[1]  # type: ignore[index]
        return Section(
            document=doc.id,
            heading_path=sec.path,
            level=sec.level,
            anchor=sec.anchor,
            start=start,
            end=end,
            blocks=tuple(sec.blocks),
            promotional=any(h in doc.promotional_sections for h in sec.path),
        )

    sections: list[Section] = []
    stack: list[tuple[int, str]] = []
    current: _OpenSection | None = None
    tokens = _PARSER.parse(body)
    for i, tok in enumerate(tokens):
        if tok.level != 0 or tok.map is None:
            continue
        if tok.type == "heading_open":
            if current is not None:
                sections.append(close(current))
            level = int(tok.tag[1])
            title = _CONTROL.sub("", tokens[i + 1].content).strip()
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, title))
            current = open_section(tuple(h for _, h in stack), level, span(tok.map))
        elif tok.type in _BLOCK_KINDS:
            if current is None:
                current = open_section((PREAMBLE_HEADING,), 1, None)
            start, end = span(tok.map)
            current.blocks.append(Block(kind=_BLOCK_KINDS[tok.type], start=start, end=end))
    if current is not None:
        sections.append(close(current))
    return sections

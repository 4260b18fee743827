"""The corpus as one HTML page, each section under its citation anchor.

Citations link to ``/framework#<anchor>``; the ids here are ``Section.anchor``
from ``parse_sections``, so every link lands on the section it names.
Raw HTML in a document is escaped (``html=False``), never rendered.
"""

from __future__ import annotations

import html
from pathlib import Path

from markdown_it import MarkdownIt

from advisor_bot.corpus import Document, parse_sections
from advisor_bot.render import PROMO_LABEL

_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")
_CSS = (Path(__file__).parent / "static" / "framework.css").read_text(encoding="utf-8")


def _document_html(doc: Document) -> str:
    sections = parse_sections(doc)
    bounds = [s.start for s in sections[1:]] + [len(doc.text)]
    parts = [f'<header class="doc-head"><h1 class="doc-title">{html.escape(doc.title)}</h1>']
    if doc.publisher:
        parts.append(f'<p class="publisher">Published by {html.escape(doc.publisher)}</p>')
    parts.append("</header>")
    for section, end in zip(sections, bounds, strict=True):
        # Slices end where the next heading starts, so no Markdown block is cut in two.
        body = _MARKDOWN.render(doc.text[section.start : end])
        label = (
            f'<p class="promo-label">{html.escape(PROMO_LABEL.capitalize())}: '
            "the publisher describing its own services, not neutral guidance.</p>"
            if section.promotional
            else ""
        )
        css = "section promotional" if section.promotional else "section"
        parts.append(
            f'<section id="{html.escape(section.anchor)}" class="{css}" data-level="{section.level}">{label}{body}</section>'
        )
    return f'<article class="document" id="doc-{html.escape(doc.id)}">{"".join(parts)}</article>'


def framework_html(documents: dict[str, Document]) -> str:
    """A standalone page: inline style only, no script."""
    body = "".join(_document_html(documents[d]) for d in sorted(documents))
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>The framework · advisor-bot</title><style>{_CSS}</style></head>"
        f'<body><nav class="top"><a href="/">← Back to the advisor</a></nav><main>{body}</main></body></html>'
    )

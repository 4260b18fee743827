"""Bring-your-own documents: PDF and HTML read by maintained parsers into Markdown text.

The corpus parser then cuts that text along its headings like any Markdown file, so
provenance comes for free: an HTML page keeps its own heading path, and a PDF becomes
one ``# Page N`` section per page, which is what its citations name. Quotes are
offsets into this extracted text, the text the index stores and the bot shows.
"""

from __future__ import annotations

import io
import logging
import re

from advisor_bot.errors import CorpusError

PDF_SUFFIXES = (".pdf",)
HTML_SUFFIXES = (".html", ".htm")
# Lines the Markdown parser would read as structure (a heading, a setext underline)
# though in extracted text they are prose; escaped so pages stay the only headings.
_STRUCTURE = re.compile(r"^(\s{0,3})(#|=+\s*$|-{3,}\s*$)", re.MULTILINE)
_INVISIBLE = ("script", "style", "noscript", "template", "iframe", "svg", "canvas", "object", "embed", "head")


def _escape(text: str) -> str:
    return _STRUCTURE.sub(lambda m: m.group(1) + "\\" + m.group(2), text)


def pdf_markdown(raw: bytes, *, name: str) -> tuple[str, str | None]:
    """One ``# Page N`` section per page with text, and the PDF's title if it states one."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    if not raw.startswith(b"%PDF-"):
        kind = "a zip archive" if raw.startswith(b"PK\x03\x04") else "not a PDF"
        raise CorpusError(f"{name} is {kind} (it lacks the %PDF- header); rename it or export it as PDF again.")
    # pypdf logs recoverable damage as warnings; a file we cannot read is reported once, below.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted:
            raise CorpusError(f"{name} is encrypted; save an unprotected copy to index it.")
        pages = [(n, page.extract_text() or "") for n, page in enumerate(reader.pages, start=1)]
        title = reader.metadata.title if reader.metadata else None
    except CorpusError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError, RecursionError) as exc:
        raise CorpusError(f"{name} is not a readable PDF ({exc.__class__.__name__}: {str(exc)[:120]}); it may be truncated or damaged.") from exc
    parts = [f"# Page {n}\n\n{_escape(text.replace(chr(0), '').strip())}" for n, text in pages if text.strip()]
    if not parts:
        raise CorpusError(f"{name} has no extractable text (a scanned PDF needs OCR first).")
    return "\n\n".join(parts) + "\n", str(title).strip() if title and str(title).strip() else None


def html_markdown(raw: bytes, *, name: str) -> tuple[str, str | None]:
    """The visible text of a page as Markdown with its headings, and its <title>."""
    from bs4 import BeautifulSoup
    from markdownify import markdownify

    soup = BeautifulSoup(raw, "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else None
    for tag in soup.find_all(_INVISIBLE):
        tag.decompose()
    text = markdownify(str(soup), heading_style="ATX", strip=["a", "img"], escape_misc=False)
    text = re.sub(r"\n{3,}", "\n\n", text.replace("\r\n", "\n")).strip()
    if not text:
        raise CorpusError(f"{name} has no visible text (only scripts, styles or markup); nothing to index.")
    return text + "\n", title or None

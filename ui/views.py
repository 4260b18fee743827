"""HTML and Markdown renderings of an ``Answer``: what the page shows, never what it decides.

Every value that comes from a question, an answer or the corpus passes through
``html.escape`` (or ``inert`` for Markdown) before it reaches the browser, so
markup typed by a user or written in a document is shown as text.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from datetime import date

from advisor_bot.answer import Answer
from advisor_bot.card import Card, FactorLine, answer_card
from advisor_bot.citations import Citation
from advisor_bot.corpus import Document
from advisor_bot.situation import Situation
from advisor_bot.render import PROMO_LABEL, card_markdown, money, user_label

# Characters of context shown on either side of a quoted span in the sources panel.
_CONTEXT_CHARS = 240
def field_label(name: str) -> str:
    return Situation.label(name)


def inert(markdown: str) -> str:
    """Markdown whose HTML is shown as text.

    Gradio's chat sanitizer keeps remote ``<img>`` and ``<form>``; escaping ``&`` and
    ``<`` leaves no tag to sanitize while Markdown syntax (tables, ``>`` quotes) still works.
    """
    return markdown.replace("&", "&amp;").replace("<", "&lt;")


def linked(markdown: str, *, base_url: str) -> str:
    """Answer Markdown with its framework links pointing at ``base_url`` ("" keeps them relative)."""
    return markdown.replace("](/framework#", f"]({base_url}/framework#")


def chat_markdown(markdown: str, *, base_url: str = "") -> str:
    return unbroken(linked(inert(markdown), base_url=base_url))


# A hyphen inside a range of figures ("$50,000-$200,000", "15-30%"): a line must not break there.
_RANGE_HYPHEN = re.compile(r"(?<=\d)-(?=\$?\d)")
_WORD_JOINER = "\u2060"


def unbroken(text: str) -> str:
    """Figures and ranges of figures kept on one line: word joiners either side of a range's hyphen."""
    return _RANGE_HYPHEN.sub(f"{_WORD_JOINER}-{_WORD_JOINER}", text)


def _e(value: object) -> str:
    # Line breaks become <br>: a blank line would end the HTML block in the Markdown panel.
    return unbroken(html.escape(str(value), quote=True).replace("\n", "<br>"))


def framework_link(c: Citation, *, base_url: str) -> str:
    label = _e(c.section.split(" > ")[-1])
    promo = (
        f' <span class="promo-tag">{_e(PROMO_LABEL)}</span>' if c.promotional
        else f' <span class="user-tag">{_e(user_label(c))}</span>' if c.origin == "user" else ""
    )
    return f'<a href="{_e(base_url)}/framework#{_e(c.anchor)}" target="_blank" rel="noopener">{label}</a>{promo}'


def _source_link(c: Citation, text: str, *, base_url: str) -> str:
    """A link to the cited section, named "source" when the text already says the section's title."""
    if c.section.split(" > ")[-1] not in text:
        return framework_link(c, base_url=base_url)
    return f'<a href="{_e(base_url)}/framework#{_e(c.anchor)}" target="_blank" rel="noopener">source</a>'


_ANSWERED_BY = {"offline": "Answered offline from the framework", "llm": "Answered by a language model from the framework"}


def engine_badge(answer: Answer | None) -> str:
    """What answered, in plain words, and which version of the framework it read."""
    if answer is None:
        return '<div class="engine-badge idle">No answer yet</div>'
    said = _ANSWERED_BY.get(answer.engine, f"Answered by the {answer.engine} engine from the framework")
    return f'<div class="engine-badge" data-engine="{_e(answer.engine)}">{_e(said)} (version {_e(answer.corpus_version[:12])})</div>'



def _list(items: Iterable[str], *, ordered: bool = False) -> str:
    tag = "ol" if ordered else "ul"
    return f"<{tag}>" + "".join(f"<li>{i}</li>" for i in items) + f"</{tag}>"


def recommendation_card(answer: Answer | None, *, base_url: str = "") -> str:
    """The recommendation card (``advisor_bot.card``) as HTML, or a hint saying how to get one."""
    shown = answer_card(answer)
    if shown is None:
        hint = "Ask which model fits your program, e.g. <em>Should we use a CRO or a CDMO for IND-enabling studies?</em>"
        return f'<div class="rec-card empty">{hint}</div>'
    return f'<div class="rec-card">{_card_body(shown, base_url)}</div>'


def _said(line: FactorLine) -> str:
    return "<br>".join(f"“{_e(w)}”" if line.quoted else _e(w) for w in line.said)


def _card_body(card: Card, base_url: str) -> str:
    parts = [
        '<div class="rec-head"><span class="rec-kicker">Recommended model</span>'
        f'<span class="rec-model">{_e(card.model)}</span>'
        f'<span class="confidence conf-{_e(card.confidence)}">{_e(card.confidence)} confidence</span></div>',
        f'<p class="rec-why">{_e(card.confidence_reason)}</p>',
    ]
    facts = []
    if card.stage:
        facts.append(f"<strong>Stage:</strong> {_e(card.stage)}")
    if card.alternatives:
        facts.append(f"<strong>Also fits:</strong> {_e(', '.join(card.alternatives))}")
    if facts:
        parts.append(f'<p class="rec-facts">{" · ".join(facts)}</p>')
    if card.factors:
        rows = "".join(
            f"<tr><td>{_e(f.factor)}</td><td class='said'>{_said(f)}</td><td class='favours'>{_e(f.favours)}</td>"
            f"<td>{_e(f.cell)} ({framework_link(f.citation, base_url=base_url)})"
            + (f"<p class='stands'>{_e(f.stands)}</p>" if f.stands else "")
            + "</td></tr>"
            for f in card.factors
        )
        parts.append(
            "<h4>Factors</h4><table class='factors'><thead><tr><th>Factor</th><th>You said</th>"
            f"<th>Favours</th><th>Matrix cell (source)</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    cost = card.cost
    if cost:
        rows = "".join(
            f"<tr><td>{_e(i.label)}</td><td class='num'>{_e(money(i.low))}</td><td class='num'>{_e(money(i.high))}</td>"
            f"<td>{_e(i.basis)} ({framework_link(i.citation, base_url=base_url)})</td></tr>"
            for i in cost.items
        )
        total = f"<tr class='total'><td>Total</td><td class='num'>{_e(money(cost.low))}</td><td class='num'>{_e(money(cost.high))}</td><td></td></tr>"
        parts.append(
            f"<h4>Cost range ({_e(cost.currency)})</h4><table class='costs'><thead><tr><th>Item</th><th>Low</th><th>High</th>"
            f"<th>Basis (source)</th></tr></thead><tbody>{rows}{total}</tbody></table>"
        )
        if cost.notes:
            parts.append(_list(_e(n) for n in cost.notes))
    if card.risks:
        parts.append("<h4>Risks</h4>" + _list(_e(r.text) + (f" ({_source_link(r.citation, r.text, base_url=base_url)})" if r.citation else "") for r in card.risks))
    if card.next_steps:
        parts.append("<h4>Next steps</h4>" + _list((_e(s) for s in card.next_steps), ordered=True))
    if card.missing_information:
        parts.append("<h4>Missing information</h4>" + _list(_e(m) for m in card.missing_information))
    if card.caveats:
        parts.append("<h4>Caveats</h4>" + _list(_e(c) for c in card.caveats))
    return "".join(parts)


_SEPARATOR = re.compile(r"\|?[\s:|-]*-[\s:|-]*")


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _quoted_table(doc: Document | None, c: Citation) -> str | None:
    """Quoted table rows as a small table under their header, the quoted rows marked."""
    if doc is None or not c.quote.startswith("|"):
        return None
    rows = [line for line in c.quote.split("\n") if line.strip() and not _SEPARATOR.fullmatch(line.strip())]
    table_start = doc.text.rfind("\n\n", 0, c.start) + 2
    header_end = doc.text.find("\n", table_start)
    header = doc.text[table_start:header_end] if table_start >= 2 and header_end > 0 else ""
    if c.start <= table_start or not header.startswith("|"):
        header, rows = (rows[0], rows[1:]) if rows else ("", rows)
    head = "".join(f"<th>{_e(h)}</th>" for h in _cells(header))
    body = "".join("<tr>" + "".join(f"<td><mark>{_e(v)}</mark></td>" for v in _cells(r)) + "</tr>" for r in rows)
    return f'<table class="quoted-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _context(doc: Document | None, c: Citation) -> tuple[str, str]:
    """Up to a paragraph of text before and after the quoted span, for reading it in place."""
    if doc is None:
        return "", ""
    text = doc.text
    para_start = text.rfind("\n\n", 0, c.start)
    para_end = text.find("\n\n", c.end)
    before = text[max(para_start + 2 if para_start >= 0 else 0, c.start - _CONTEXT_CHARS) : c.start]
    after = text[c.end : min(para_end if para_end >= 0 else len(text), c.end + _CONTEXT_CHARS)]
    return before, after


def sources_panel(answer: Answer | None, documents: dict[str, Document], *, base_url: str = "") -> str:
    """Each cited section once, numbered as the answer's references [n] number it: its path, a deep
    link, and each quoted passage highlighted in its context."""
    if answer is None or not answer.citations:
        note = "Cited passages appear here." if answer is None else "This answer cites no passage."
        return f'<div class="sources empty">{note}</div>'
    sections: dict[str, list[Citation]] = {}
    for c in answer.citations:
        sections.setdefault(c.anchor, []).append(c)
    items = []
    for n, cited in enumerate(sections.values(), 1):
        head = cited[0]
        texts = []
        for c in cited:
            doc = documents.get(c.document)
            before, after = _context(doc, c)
            table = _quoted_table(doc, c)
            texts.append(table or f'{"…" if before else ""}{_e(before)}<mark>{_e(c.quote)}</mark>{_e(after)}{"…" if after else ""}')
        promo = (
            f'<span class="promo-label">{_e(PROMO_LABEL.capitalize())}: the publisher describing its own services</span>'
            if head.promotional
            else f'<span class="user-label">{_e(user_label(head)[:1].upper() + user_label(head)[1:])}</span>'
            if head.origin == "user"
            else ""
        )
        items.append(
            f'<li class="source{" promotional" if head.promotional else ""}" data-anchor="{_e(head.anchor)}">'
            f'<div class="source-head"><span class="source-n">[{n}]</span> '
            f'<a class="section-path" href="{_e(base_url)}/framework#{_e(head.anchor)}" target="_blank" rel="noopener">{_e(head.section)}</a>'
            f"{promo}</div>"
            + "".join(f'<div class="source-text">{t}</div>' for t in texts)
            + "</li>"
        )
    return f'<ol class="sources">{"".join(items)}</ol>'


def notices(answer: Answer | None) -> str:
    if answer is None or not answer.notices:
        return ""
    return '<div class="notices">' + _list(_e(n) for n in answer.notices) + "</div>"


def memo_markdown(answers: Sequence[Answer], *, pinned: Situation | None = None, today: date, base_url: str) -> str:
    """The decision memo: what the screen shows for the latest answer (its question, the situation as
    finally set with the panel's edits marked, the answer, the verdict and its citations), then the
    earlier questions."""
    last = answers[-1]
    set_in_panel = set((pinned or Situation()).known())
    out = [
        "# Decision memo: outsourcing model for chemical development",
        f"- Date: {today.isoformat()}",
        f"- Engine: {last.engine}; corpus version {last.corpus_version}",
        "- Source: the framework's text, quoted verbatim; check each citation before relying on it.",
        "## Question",
        last.question,
    ]
    known = last.situation.known()
    if known:
        lines = [f"- {field_label(k)}: {v}" + (" *(set in the panel)*" if k in set_in_panel else "") for k, v in known.items()]
        out += ["## Situation as finally set", "\n".join(lines)]
    out += ["## Answer", last.answer_markdown]
    if (shown := answer_card(last)) is not None:
        out.append(card_markdown(shown))  # opens with its own "## Recommendation" heading
    else:
        out += ["## Recommendation", "No recommendation was made for this question."]
    if last.citations:
        out.append("## Citations")
        numbers: dict[str, int] = {}
        for c in last.citations:
            # Numbered as the answer's [n] and the sources panel number them: one number per section.
            n = numbers.setdefault(c.anchor, len(numbers) + 1)
            promo = f" ({PROMO_LABEL})" if c.promotional else f" ({user_label(c)})" if c.origin == "user" else ""
            quote = "\n".join(f"> {line}" for line in c.quote.split("\n"))
            out += [f"[{n}] **{c.section}**{promo}, {c.document} characters {c.start}-{c.end}: {base_url}/framework#{c.anchor}", quote]
    if len(answers) > 1:
        out += ["## Earlier in the conversation", "\n".join(f"- {a.question}" for a in answers[:-1])]
    # The memo leaves the app, so its links must name the server.
    return linked("\n\n".join(out), base_url=base_url) + "\n"

"""The page and /embed in a real browser: Debian's headless Chromium driven by Playwright."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect, sync_playwright
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from advisor_bot.config import PROJECT_ROOT, Settings
from advisor_bot.feedback import FeedbackStore
from ui.app import EXAMPLES
from ui.server import create_app

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
OUTPUT = PROJECT_ROOT / "test-output"
WHICH_MODEL = "Should we use a CRO or a CDMO for IND-enabling studies? We need 2 kg of cGMP material."

expect.set_options(timeout=30_000)


@pytest.fixture(scope="module")
def url(advisor, settings: Settings, serve) -> str:
    return serve(create_app(advisor, settings))


@pytest.fixture(scope="module")
def wiki(advisor, settings: Settings, serve) -> tuple[str, str]:
    """A page on another origin made of docs/embedding.md's HTML snippets, and an app configured to allow it."""
    snippets = re.findall(r"```html\n(.*?)```", (PROJECT_ROOT / "docs" / "embedding.md").read_text(), re.DOTALL)
    assert len(snippets) == 2, "the iframe and the web component"
    app: dict[str, str] = {}

    def page(_: Request) -> HTMLResponse:
        body = "".join(f"<section>{s}</section>" for s in snippets).replace("https://advisor.example.com", app["url"])
        return HTMLResponse(f"<!doctype html><html><head><meta charset='utf-8'><link rel='icon' href='data:,'><title>Wiki</title></head><body>{body}</body></html>")

    wiki_url = serve(Starlette(routes=[Route("/", page)]))
    allowed = settings.model_copy(update={"cors_origins": [wiki_url], "frame_ancestors": f"'self' {wiki_url}"})
    app["url"] = serve(create_app(advisor, allowed))
    return wiki_url, app["url"]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    assert shutil.which(CHROMIUM), "Debian's chromium is missing: run `make browser` (apt-get install chromium)"
    OUTPUT.mkdir(exist_ok=True)
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            tmp_path_factory.mktemp("chromium-profile"),  # a fresh profile: no cache, no cookies
            executable_path=CHROMIUM,
            args=ARGS,
            headless=True,
            accept_downloads=True,
            viewport={"width": 1400, "height": 1000},
        )
        yield context
        context.close()


@pytest.fixture()
def page(browser: BrowserContext) -> Iterator[Page]:
    """A tab, closed after the test so its event streams end before the servers stop."""
    tab = browser.new_page()
    yield tab
    tab.close()


def _watch(page: Page) -> list[str]:
    """Console errors and every request that leaves 127.0.0.1, collected while the page lives."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("request", lambda r: None if r.url.startswith(("http://127.0.0.1", "data:", "blob:")) else problems.append(r.url))
    return problems


# Records each new length of the last assistant message, to see the answer arrive in pieces.
_RECORD_GROWTH = """() => {
    window.answerLengths = [];
    const chat = document.querySelector('#chat');
    new MutationObserver(() => {
        const bots = chat.querySelectorAll('.bot');
        const n = bots.length ? bots[bots.length - 1].textContent.length : 0;
        if (window.answerLengths.at(-1) !== n) window.answerLengths.push(n);
    }).observe(chat, {subtree: true, childList: true, characterData: true});
}"""


def _ask(page: Page, question: str) -> None:
    page.locator("#question textarea").fill(question)
    page.locator("#ask").click()


def test_page_chat_sources_recommendation_situation_feedback_memo(page: Page, url: str, settings: Settings) -> None:
    problems = _watch(page)
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(url)
    expect(page.locator("#engine-badge")).to_contain_text("No answer yet")
    expect(page.locator("#sit-quantity input")).to_have_value("")  # empty, not "0", before anything is said
    page.evaluate(_RECORD_GROWTH)
    _ask(page, WHICH_MODEL)

    bot = page.locator("#chat .bot").last
    expect(bot).to_contain_text("Recommendation: CDMO")
    expect(page.locator("#recommendation .rec-model")).to_have_text("CDMO")
    growth = [n for n in page.evaluate("window.answerLengths") if n > 0]
    assert len(growth) >= 3 and growth == sorted(growth), f"the answer should stream in pieces: {growth}"
    expect(page.locator("#engine-badge")).to_contain_text("Answered offline from the framework (version ")
    expect(page.locator("#question textarea")).to_have_value("")

    card = page.locator("#recommendation .rec-card")
    expect(card.locator(".rec-model")).to_have_text("CDMO")
    expect(card.locator(".confidence")).to_contain_text("confidence")
    expect(card.locator("table.factors tbody tr")).to_have_count(3)
    for heading in ("Factors", "Risks", "Next steps", "Missing information"):
        expect(card.locator("h4", has_text=heading)).to_be_visible()

    sources = page.locator("#sources .source")
    expect(sources.first).to_be_visible()
    first_link = sources.first.locator("a.section-path")
    expect(first_link).to_contain_text(">")  # a section path, e.g. "The Decision Matrix > ..."
    anchor = (first_link.get_attribute("href") or "").removeprefix("/framework#")
    assert anchor
    expect(sources.first.locator("mark").first).to_be_visible()
    # The publisher's promotion is no source for a question about IND-enabling material.
    expect(page.locator("#sources .source.promotional")).to_have_count(0)
    page.screenshot(path=OUTPUT / "page-answer.png", full_page=True)

    stage = page.locator("#sit-stage input")
    expect(stage).to_have_value("IND-enabling studies")
    expect(page.locator("#sit-quantity input")).to_have_value("2")
    said = card.locator("table.factors td.said")
    expect(said.first).to_contain_text("“")  # the user's own words, quoted
    assert "“2 kg”" in " ".join(said.all_text_contents())
    stage.click()
    page.get_by_role("option", name="Hit identification / lead discovery", exact=True).click()
    expect(card.locator(".rec-facts")).to_contain_text("Hit identification / lead discovery")
    expect(card.locator(".rec-model")).to_have_text("CRO")
    expect(page.locator("#pinned-note")).to_contain_text("Development stage")
    expect(bot).to_contain_text("Recommendation: CRO")

    page.locator("#wrong-evidence input").check()
    page.locator("#feedback-comment textarea").fill("The stage row was right.")
    page.locator("#thumbs-down").click()
    expect(page.locator("#feedback-status")).to_contain_text("saved")
    last = FeedbackStore(settings.data_dir / "feedback.sqlite3").records()[-1]
    assert (last.rating, last.wrong_evidence, last.comment) == ("down", True, "The stage row was right.")
    assert last.question == WHICH_MODEL and last.citations and "CRO" in last.answer_markdown

    with page.expect_download() as download:
        page.locator("#memo").click()
    memo = Path(download.value.path()).read_text(encoding="utf-8")
    assert download.value.suggested_filename == f"decision-memo-{date.today().isoformat()}.md"
    assert date.today().isoformat() in memo and "## Recommendation: **CRO**" in memo and "## Citations" in memo
    # The memo is what the screen shows: the question, the situation as finally set (the panel's edit
    # marked), the verdict, and the same sources in the same order.
    assert f"## Question\n\n{WHICH_MODEL}" in memo
    assert "- Development stage: Hit identification / lead discovery *(set in the panel)*" in memo
    assert "- Quantity: 2 kg\n" in memo or "- Quantity: 2 kg" in memo.splitlines()
    shown = [(h or "").split("#")[1] for h in page.locator("#sources .source a.section-path").evaluate_all("els => els.map(e => e.getAttribute('href'))")]
    in_memo = list(dict.fromkeys(re.findall(r"/framework#([\w-]+)\n", memo)))
    assert in_memo == shown

    page.screenshot(path=OUTPUT / "page-situation-changed.png", full_page=True)

    page.goto(f"{url}/framework#{anchor}")
    expect(page.locator(f"section[id='{anchor}']")).to_be_visible()
    assert page.evaluate("document.querySelector(':target').id") == anchor
    expect(page.locator("section.promotional .promo-label").first).to_contain_text("Publisher")
    assert problems == [], problems


def test_embed_is_compact_and_shows_markup_as_text(page: Page, url: str) -> None:
    page.set_viewport_size({"width": 400, "height": 760})
    problems = _watch(page)
    page.goto(f"{url}/embed")  # as typed into a wiki: without the slash
    assert page.url == f"{url}/embed/"
    _ask(page, WHICH_MODEL)
    expect(page.locator("#chat .bot").last).to_contain_text("Recommendation: CDMO")
    assert page.locator("footer, .page-head").count() == 0, "no header or footer in the frame"
    assert page.evaluate("document.documentElement.scrollWidth") <= 400, "fits a 400 px frame"
    page.locator("#recommendation-panel").get_by_text("Recommendation").click()
    expect(page.locator("#recommendation .rec-model")).to_have_text("CDMO")
    page.screenshot(path=OUTPUT / "embed.png", full_page=True)

    hostile = (
        '<img src="http://evil.example/pixel.png"><form action="http://evil.example/steal"><button>Go</button></form>'
        "<script>window.pwned = 1</script> What does a PhD-level CRO chemist cost per year?"
    )
    _ask(page, hostile)
    user = page.locator("#chat .user").last
    expect(user).to_contain_text('<img src="http://evil.example/pixel.png">')
    expect(user).to_contain_text("<script>window.pwned = 1</script>")
    expect(page.locator("#chat .bot").last).to_contain_text("$220,000")
    assert page.locator("#chat img, #chat form, #chat script").count() == 0
    assert page.evaluate("window.pwned") is None
    assert page.evaluate("document.documentElement.scrollWidth") <= 400, "long answers scroll inside the frame"
    assert problems == [], problems


def test_readme_snippets_embed_the_app_in_another_site(page: Page, wiki: tuple[str, str]) -> None:
    wiki_url, app_url = wiki
    problems = _watch(page)
    page.goto(wiki_url)
    frame = page.frame_locator("iframe")
    expect(frame.locator("#question textarea")).to_be_visible()
    component = page.locator("gradio-app")
    component.locator("#question textarea").fill(WHICH_MODEL)
    component.locator("#ask").click()
    expect(component.locator("#chat .bot").last).to_contain_text("Recommendation: CDMO")
    expect(component.locator(f"#chat a[href^='{app_url}/framework#']").first).to_be_attached()
    expect(component.locator(f"#full-link a[href='{app_url}/']")).to_be_attached()
    page.screenshot(path=OUTPUT / "wiki.png", full_page=True)
    assert problems == [], problems


# -- the answer view -----------------------------------------------------------------------------

# Where the newest answer's first line is, against the window and the chat box that scrolls it.
_VERDICT_BOX = """() => {
    const bots = document.querySelectorAll('#chat .bot');
    const first = bots[bots.length - 1].querySelector('h2, p, li');
    const r = first.getBoundingClientRect();
    let box = first.parentElement;
    while (box && !/(auto|scroll)/.test(getComputedStyle(box).overflowY)) box = box.parentElement;
    const b = (box || document.documentElement).getBoundingClientRect();
    return {text: first.textContent, top: r.top, bottom: r.bottom, boxTop: b.top, boxBottom: b.bottom, height: innerHeight};
}"""

# Table cells whose content overflows them (a clipped column or a word that cannot fit).
_OVERFLOWING_CELLS = """(root) => [...root.querySelectorAll('td, th')]
    .filter(c => c.getClientRects().length && c.scrollWidth > c.clientWidth + 1).map(c => c.textContent)"""

# Figures and ranges of figures rendered on more than one line.
_WRAPPED_MONEY = """(root) => {
    const wrapped = [];
    const walk = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node = walk.nextNode(); node; node = walk.nextNode()) {
        for (const m of node.textContent.matchAll(/\\$[\\d,]+(?:\\u2060?-\\u2060?\\$[\\d,]+)?/g)) {
            const range = document.createRange();
            range.setStart(node, m.index);
            range.setEnd(node, m.index + m[0].length);
            const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
            if (lines.size > 1) wrapped.push(m[0]);
        }
    }
    return wrapped;
}"""


def _verdict_in_view(page: Page, first_line: str) -> None:
    box = page.evaluate(_VERDICT_BOX)
    assert first_line in box["text"], box
    assert box["boxTop"] - 1 <= box["top"] and box["bottom"] <= min(box["boxBottom"], box["height"]) + 1, box


def test_the_page_shows_the_start_of_each_new_answer(page: Page, url: str) -> None:
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(url)
    _ask(page, "When should we move to a CDMO?")
    bot = page.locator("#chat .bot")
    expect(bot.last).to_contain_text("The transition typically occurs when your compound advances from lead optimization")
    expect(page.locator("#engine-badge")).to_contain_text("Answered offline")
    _verdict_in_view(page, "The transition typically occurs")
    _ask(page, WHICH_MODEL)  # the chat now holds more than its box shows: the view must move to the new answer
    expect(bot).to_have_count(2)
    expect(bot.last).to_contain_text("Recommendation: CDMO")
    expect(page.locator("#recommendation .rec-model")).to_have_text("CDMO")
    _verdict_in_view(page, "Recommendation: CDMO")
    page.screenshot(path=OUTPUT / "page-verdict.png")


def test_the_embed_reads_at_400_px(page: Page, url: str) -> None:
    page.set_viewport_size({"width": 400, "height": 700})
    page.goto(f"{url}/embed/")
    chips = page.locator("#examples .example-chip")
    for chip in chips.all():
        text = chip.text_content() or ""
        assert text.strip() in EXAMPLES and chip.evaluate("c => c.scrollWidth <= c.clientWidth"), text
    chips.first.click()
    expect(page.locator("#question textarea")).to_have_value(EXAMPLES[0])
    _ask(page, "What would two CRO chemists cost for nine months, and what does technology transfer cost?")
    bot = page.locator("#chat .bot")
    expect(bot.last).to_contain_text("$50,000")
    _ask(page, "We need 40 kg of GMP API for IND-enabling studies. Which partner, and what would it cost?")
    expect(bot).to_have_count(2)
    expect(bot.last).to_contain_text("Recommendation: CDMO")
    _verdict_in_view(page, "Recommendation: CDMO")
    page.locator("#recommendation-panel").get_by_text("Recommendation").click()
    page.locator("#sources-panel").get_by_text("Sources").click()
    expect(page.locator("#recommendation table.costs")).to_be_visible()
    expect(page.locator("#sources .source").first).to_be_visible()
    for root in ("#chat", "#recommendation", "#sources"):
        assert page.locator(root).evaluate(_OVERFLOWING_CELLS) == [], root
        assert page.locator(root).evaluate(_WRAPPED_MONEY) == [], root
    assert page.locator("#chat table").count() >= 1, "the cost table is in the answer"
    assert page.evaluate("document.documentElement.scrollWidth") <= 400
    page.screenshot(path=OUTPUT / "embed-400.png", full_page=True)


def _panels(page: Page) -> dict[str, object]:
    return {
        "card": page.locator("#recommendation .rec-card").inner_html(),
        "sources": page.locator("#sources .sources").inner_html(),
        "situation": [page.locator(f"#sit-{f} :is(input, textarea)").first.input_value() for f in ("stage", "quantity", "timeline", "budget")],
        "labels": [page.locator(f"#{b}").text_content() for b in ("thumbs-up", "thumbs-down", "memo")],
        "enabled": [page.locator(f"#{b}").is_enabled() for b in ("thumbs-up", "thumbs-down", "memo")],
        "chat": page.locator("#chat .user, #chat .bot").all_inner_texts(),
    }


def test_an_empty_question_changes_nothing_and_a_refusal_cannot_be_rated(page: Page, url: str) -> None:
    page.goto(url)
    _ask(page, WHICH_MODEL)
    expect(page.locator("#recommendation .rec-model")).to_have_text("CDMO")
    expect(page.locator("#memo")).to_be_enabled()
    before = _panels(page)
    _ask(page, "   ")
    # The warning is the handler's own output, and no component is still marked as being generated:
    # the empty submit is done. (Waiting for the queue's event stream to close raced with the stream
    # of the question before, which a session may keep open.)
    expect(page.get_by_text("The question is empty.")).to_be_visible()
    expect(page.locator(".generating, .pending")).to_have_count(0)
    after = _panels(page)
    assert {k: v for k, v in after.items() if v != before[k]} == {}

    _ask(page, "what's the weather in Paris tomorrow?")
    expect(page.locator("#chat .bot").last).to_contain_text("outsourcing chemical development")
    for button in ("thumbs-up", "thumbs-down", "memo"):
        expect(page.locator(f"#{button}")).to_be_disabled()

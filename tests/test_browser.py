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
    page.goto(url)
    expect(page.locator("#engine-badge")).to_contain_text("No answer yet")
    page.evaluate(_RECORD_GROWTH)
    _ask(page, WHICH_MODEL)

    bot = page.locator("#chat .bot").last
    expect(bot).to_contain_text("Recommendation: CDMO")
    expect(page.locator("#recommendation .rec-model")).to_have_text("CDMO")
    growth = [n for n in page.evaluate("window.answerLengths") if n > 0]
    assert len(growth) >= 3 and growth == sorted(growth), f"the answer should stream in pieces: {growth}"
    expect(page.locator("#engine-badge")).to_contain_text("offline engine")
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
    expect(page.locator("#sources .source.promotional .promo-label").first).to_contain_text("Publisher")
    page.screenshot(path=OUTPUT / "page-answer.png", full_page=True)

    stage = page.locator("#sit-stage input")
    expect(stage).to_have_value("IND-enabling studies")
    expect(page.locator("#sit-quantity input")).to_have_value("2")
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

    page.screenshot(path=OUTPUT / "page-situation-changed.png", full_page=True)

    page.goto(f"{url}/framework#{anchor}")
    expect(page.locator(f"section[id='{anchor}']")).to_be_visible()
    assert page.evaluate("document.querySelector(':target').id") == anchor
    expect(page.locator("section.promotional .promo-label").first).to_contain_text("Publisher")
    assert problems == [], problems


def test_embed_is_compact_and_shows_markup_as_text(page: Page, url: str) -> None:
    page.set_viewport_size({"width": 400, "height": 760})
    problems = _watch(page)
    page.goto(f"{url}/embed/")
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

"""The chat page and its compact ``/embed`` twin: Gradio Blocks over one ``Advisor``.

Handlers call the Advisor and hand its ``Answer`` to ``ui.views`` for rendering;
nothing here decides anything about outsourcing.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import gradio as gr

from advisor_bot.advisor import Advisor
from advisor_bot.answer import Answer
from advisor_bot.config import Settings
from advisor_bot.errors import AdvisorError
from advisor_bot.feedback import COMMENT_CHARS, Feedback, FeedbackStore, feedback_url
from advisor_bot.situation import Situation
from ui import panel, views
from ui.idle_trim import IdleTrim
from ui.limits import Rates

logger = logging.getLogger(__name__)

TITLE = "advisor-bot"
EXAMPLES = [
    "Should we use a CRO or a CDMO for IND-enabling studies? We need 2 kg of cGMP material.",
    "We are in lead optimization with limited in-house chemistry. Which model fits?",
    "What would two CRO chemists cost for nine months?",
    "How long does technology transfer take and what does it cost?",
]
GENERIC_FAILURE = "Something went wrong on our side; the error has been logged. Please try again."

Turns = list[dict[str, str]]
Update = dict[gr.components.Component, object]
Control = gr.Dropdown | gr.Textbox | gr.Radio


def _control(c: panel.Control) -> Control:
    """A form control as ``ui.panel`` describes it. The quantity is a text box: Gradio's number box shows "0" for a quantity nobody has said."""
    if c.kind == "text":
        return gr.Textbox(label=c.label, placeholder="not said", max_lines=1, max_length=20, elem_id=c.elem_id)
    if c.kind == "radio":
        return gr.Radio(list(c.choices), value=c.default, label=c.label, elem_id=c.elem_id)
    return gr.Dropdown(list(c.choices), value=c.default, label=c.label, elem_id=c.elem_id)


def failure_message(exc: Exception) -> str:
    """What a user is told: an AdvisorError's own message, otherwise a generic one (and a log entry)."""
    if isinstance(exc, AdvisorError):
        return str(exc)
    logger.exception("Unexpected error while answering", exc_info=exc)
    return GENERIC_FAILURE


# Memos are kept per session for the answers still on screen; older ones are deleted so that a
# long session does not fill the disk one file per answer.
MEMOS_KEPT = 8

_HOST = re.compile(r"[A-Za-z0-9.:\[\]-]+")


def _keep_newest(session: Path, count: int) -> None:
    def age(folder: Path) -> int:
        try:
            return folder.stat().st_mtime_ns
        except FileNotFoundError:  # deleted by a render of the same session in flight
            return 0

    for old in sorted(session.iterdir(), key=age, reverse=True)[count:]:
        shutil.rmtree(old, ignore_errors=True)


def _base_url(request: gr.Request | None, public_url: str | None) -> str:
    """This server's address for absolute links: ADVISOR_PUBLIC_URL, else the Host the browser used (only
    ADVISOR_ALLOWED_HOSTS get this far: ui/routes.py); "" (relative links) if that is odd."""
    if public_url:
        return public_url
    host = request.headers.get("host", "") if request is not None else ""
    if not _HOST.fullmatch(host):
        return ""
    scheme = urlsplit(str(request.url)).scheme if request is not None else ""
    return f"{scheme if scheme in ('http', 'https') else 'http'}://{host}"


@dataclass
class Shell:
    """What every handler needs: the one Advisor and the stores around it."""

    advisor: Advisor
    settings: Settings
    feedback: FeedbackStore
    feedback_rates: Rates
    # Memos are written here for Gradio to copy into its cache; removed when the process ends.
    memos: tempfile.TemporaryDirectory[str]
    # Shared with the API's admission: the heap is given back once neither has answered for a while.
    idle: IdleTrim


def rendered(value: str = "", *, elem_id: str | None = None) -> gr.Markdown:
    """A panel for HTML made by ``ui.views``.

    gr.Markdown rather than gr.HTML: Gradio 6's HTML component evaluates its
    template with ``new Function``, which the page's CSP (no 'unsafe-eval') forbids.
    The HTML is escaped already and Gradio's sanitizer runs on it too.
    """
    return gr.Markdown(value, elem_id=elem_id, latex_delimiters=[], sanitize_html=True)


class ChatView:
    """The components of one page and their events; ``compact`` drops the side panels."""

    def __init__(self, shell: Shell, *, compact: bool) -> None:
        self.shell = shell
        self.compact = compact
        self.turns = gr.State([])
        self.answers = gr.State([])
        self.pinned = gr.State(Situation())
        self.badge = rendered(views.engine_badge(None), elem_id="engine-badge")
        self.chat = gr.Chatbot(
            elem_id="chat",
            show_label=False,
            height=340 if compact else 520,
            latex_delimiters=[],  # answers are full of dollar amounts, never LaTeX
            autoscroll=False,  # ui/static/answer-view.html shows the start of a new answer instead of its end
            sanitize_html=True,
            allow_tags=False,
            buttons=["copy"],
            feedback_options=None,
            group_consecutive_messages=False,
            placeholder="Ask about outsourcing chemical development: CRO, CDMO, hybrid or integrated partner.",
        )
        with gr.Row(equal_height=True):
            self.question = gr.Textbox(
                elem_id="question",
                show_label=False,
                placeholder="Your question",
                max_length=shell.settings.max_question_chars,
                scale=5,
                autofocus=not compact,
            )
            self.ask = gr.Button("Ask", variant="primary", elem_id="ask", scale=1, min_width=80)
        # Buttons, not gr.Examples: Gradio cuts an example's text short, and a chip must read in full.
        with gr.Row(elem_id="examples", equal_height=False):
            self.examples = [
                gr.Button(text, size="sm", variant="secondary", elem_classes="example-chip", min_width=160)
                for text in (EXAMPLES[:2] if compact else EXAMPLES)
            ]
        self.notices = rendered(elem_id="notices")
        if compact:
            with gr.Accordion("Recommendation", open=False, elem_id="recommendation-panel"):
                self.card = rendered(views.recommendation_card(None), elem_id="recommendation")
            with gr.Accordion("Sources", open=False, elem_id="sources-panel"):
                self.sources = rendered(views.sources_panel(None, {}), elem_id="sources")
            self.full_link = rendered(elem_id="full-link")
            self.controls: dict[str, Control] = {}
            return
        with gr.Row(equal_height=True, elem_id="feedback"):
            self.up = gr.Button("Helpful", size="sm", elem_id="thumbs-up", interactive=False, min_width=100)
            self.down = gr.Button("Not helpful", size="sm", elem_id="thumbs-down", interactive=False, min_width=120)
            self.wrong = gr.Checkbox(label="Wrong evidence", elem_id="wrong-evidence", min_width=150, container=False)
            self.memo = gr.DownloadButton("Decision memo (.md)", interactive=False, elem_id="memo", size="sm", min_width=160)
        self.comment = gr.Textbox(
            show_label=False, placeholder="Comment on this answer (optional), then rate it", max_length=2000, elem_id="feedback-comment"
        )
        self.feedback_status = gr.Markdown(elem_id="feedback-status")
        with gr.Accordion("Sources", open=True, elem_id="sources-panel"):
            self.sources = rendered(views.sources_panel(None, {}), elem_id="sources")

    def side_panels(self) -> None:
        """The page's second column: the recommendation card above the situation form."""
        framework = self.shell.advisor.context.toolbox.framework
        with gr.Accordion("Recommendation", open=True, elem_id="recommendation-panel"):
            self.card = rendered(views.recommendation_card(None), elem_id="recommendation")
        with gr.Accordion("Your situation", open=True, elem_id="situation-panel"):
            gr.Markdown("Filled in from the chat. Change a field to re-run the last question with it.", elem_classes="hint")
            # The form is generated (ui/panel.py: the fields of the registry's profile_assessment argument model).
            controls: dict[str, Control] = {}
            for row in panel.controls(framework):
                with gr.Row():
                    for c in row:
                        controls[c.name] = _control(c)
            self.controls = controls
            with gr.Row(equal_height=True):
                self.pinned_note = gr.Markdown(elem_id="pinned-note")
                self.follow_chat = gr.Button("Use only what the chat says", size="sm", elem_id="follow-chat", min_width=120)

    # ---- rendering -------------------------------------------------------------------

    def _outputs(self) -> list[gr.components.Component]:
        base: list[gr.components.Component] = [
            self.chat, self.question, self.turns, self.answers, self.pinned, self.badge, self.card, self.sources, self.notices
        ]
        if not self.compact:
            base += [self.memo, self.up, self.down, self.feedback_status, self.pinned_note, *self.controls.values()]
        return base

    def unchanged(self) -> Update:
        """An update that leaves every output as it is (an empty dict is not one to Gradio)."""
        return {self.chat: gr.skip()}

    def links(self, request: gr.Request | None) -> str:
        """Where framework links point: relative on the page; absolute in /embed, which a
        ``<gradio-app>`` web component renders inside another site's page."""
        return _base_url(request, self.shell.settings.public_url) if self.compact else ""

    def full_link_html(self, request: gr.Request) -> str:
        return f'<a class="full-link" href="{_base_url(request, self.shell.settings.public_url)}/" target="_blank" rel="noopener">Open the full advisor ↗</a>'

    def _render(self, answers: list[Answer], pinned: Situation, request: gr.Request | None) -> Update:
        """Every panel for the latest answer."""
        answer = answers[-1]
        base = self.links(request)
        out: Update = {
            self.badge: views.engine_badge(answer),
            self.card: views.recommendation_card(answer, base_url=base),
            self.sources: views.sources_panel(answer, self.shell.advisor.context.documents, base_url=base),
            self.notices: views.notices(answer),
        }
        if self.compact:
            return out
        out.update({self.controls[name]: shown for name, shown in panel.to_panel(answer.situation).items()})
        # A refusal has nothing to rate or to record as a decision.
        usable = not answer.refused
        out[self.memo] = gr.DownloadButton(value=self._memo(answers, pinned, request) if usable else None, interactive=usable)
        out[self.up] = out[self.down] = gr.Button(interactive=usable)
        out[self.feedback_status] = ""
        out[self.pinned_note] = self._pins(pinned)
        return out

    @staticmethod
    def _pins(pinned: Situation) -> str:
        pins = ", ".join(views.field_label(k) for k in pinned.known())
        return f"Set by you, overriding the chat: **{pins}**" if pins else ""

    def _memo(self, answers: list[Answer], pinned: Situation, request: gr.Request | None) -> str:
        """The memo's file, named by its content and never rewritten. Gradio hashes a file and then
        copies it into a cache keyed by that hash; two renders rewriting one path (a panel change
        and a feedback click in flight together) once cached an empty memo under a full one's hash."""
        today = date.today()
        text = views.memo_markdown(answers, pinned=pinned, today=today, base_url=_base_url(request, self.shell.settings.public_url))
        session = Path(self.shell.memos.name) / ((request.session_hash if request else None) or "anonymous")
        folder = session / hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
        path = folder / f"decision-memo-{today.isoformat()}.md"
        folder.mkdir(parents=True, exist_ok=True)
        if path.exists():
            os.utime(folder)  # shown again: among the newest
        else:
            with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=folder, delete=False) as part:
                part.write(text)
            os.replace(part.name, path)
        _keep_newest(session, MEMOS_KEPT)
        return str(path)

    # ---- events ----------------------------------------------------------------------

    def respond(
        self,
        message: str,
        chat: list[dict[str, object]],
        turns: Turns,
        answers: list[Answer],
        pinned: Situation,
        request: gr.Request,
    ) -> Iterator[Update]:
        """Stream the answer into the chat, then render every panel from the final Answer."""
        with self.shell.idle.busy():
            try:
                stream = self.shell.advisor.stream(message, history=turns, situation=pinned if pinned.known() else None)
            except Exception as exc:  # noqa: BLE001 - shown to the user, logged unless actionable
                gr.Warning(failure_message(exc))
                # An update that changes nothing: every panel keeps what it shows (a bare return blanks them).
                yield self.unchanged()
                return
            base = self.links(request)
            chat = [*chat, {"role": "user", "content": views.inert(message)}, {"role": "assistant", "content": ""}]
            yield {self.chat: chat, self.question: ""}
            text = ""
            answer: Answer | None = None
            try:
                for item in stream:
                    if isinstance(item, Answer):
                        answer = item
                    else:
                        text += item
                        chat[-1] = {"role": "assistant", "content": views.chat_markdown(text, base_url=base)}
                        yield {self.chat: chat}
            except Exception as exc:  # noqa: BLE001 - same as above
                chat[-1] = {"role": "assistant", "content": "⚠️ " + views.inert(failure_message(exc))}
                yield {self.chat: chat}
                return
            if answer is None:
                return
            chat[-1] = {"role": "assistant", "content": views.chat_markdown(answer.answer_markdown, base_url=base)}
            turns = [*turns, {"role": "user", "content": answer.question}, {"role": "assistant", "content": answer.answer_markdown}]
            answers = [*answers, answer]
            yield {self.chat: chat, self.turns: turns, self.answers: answers, **self._render(answers, pinned, request)}

    def reset(self) -> Update:
        """Everything back to a fresh conversation (the chat's clear button)."""
        out: Update = {
            self.turns: [],
            self.answers: [],
            self.pinned: Situation(),
            self.badge: views.engine_badge(None),
            self.card: views.recommendation_card(None),
            self.sources: views.sources_panel(None, {}),
            self.notices: "",
        }
        if not self.compact:
            out.update({self.controls[name]: shown for name, shown in panel.to_panel(Situation()).items()})
            out.update({self.memo: gr.DownloadButton(value=None, interactive=False), self.feedback_status: "", self.pinned_note: ""})
            out[self.up] = out[self.down] = gr.Button(interactive=False)
        return out

    def _reanswer(
        self, chat: list[dict[str, object]], turns: Turns, answers: list[Answer], pinned: Situation, request: gr.Request | None
    ) -> Update:
        """Ask the last question again with the pinned situation; replace the last answer."""
        if not answers:
            note = self._pins(pinned)
            return {self.pinned: pinned, self.pinned_note: f"{note} (used for your next question)" if note else ""}
        try:
            with self.shell.idle.busy():
                answer = self.shell.advisor.ask(
                    answers[-1].question, history=turns[:-2], situation=pinned if pinned.known() else None
                )
        except Exception as exc:  # noqa: BLE001 - shown to the user, logged unless actionable
            gr.Warning(failure_message(exc))
            return {self.pinned: pinned}
        chat = [*chat[:-1], {"role": "assistant", "content": views.chat_markdown(answer.answer_markdown)}]
        turns = [*turns[:-1], {"role": "assistant", "content": answer.answer_markdown}]
        answers = [*answers[:-1], answer]
        return {self.chat: chat, self.turns: turns, self.answers: answers, self.pinned: pinned, **self._render(answers, pinned, request)}

    def edit_handler(self, name: str) -> Callable[..., Update]:
        """A handler for one form control: pin its field, then re-answer. It takes the conversation's
        state, then every control's value in ``panel.FIELDS`` order, then the request."""
        field = panel.panel_field(name)

        def on_edit(chat: list[dict[str, object]], turns: Turns, answers: list[Answer], pinned: Situation, *rest: object) -> Update:
            *shown, request = rest
            try:
                stated = panel.from_panel(panel.values_of([str(v) if v is not None else None for v in shown]))
            except AdvisorError as exc:
                gr.Warning(str(exc))
                return self.unchanged()
            value = getattr(stated, field)
            previous = getattr(answers[-1].situation, field) if answers else None
            if value == previous and field not in pinned.known():
                return self.unchanged()  # e.g. leaving the quantity box without changing it
            pinned = Situation.model_validate({**pinned.model_dump(), field: value})
            return self._reanswer(chat, turns, answers, pinned, request if isinstance(request, gr.Request) else None)

        # Gradio passes inputs by position and the request by annotation: the signature names them.
        state = ["chat", "turns", "answers", "pinned"]
        positional = inspect.Parameter.POSITIONAL_OR_KEYWORD
        on_edit.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [inspect.Parameter(p, positional) for p in [*state, *panel.FIELDS]] + [inspect.Parameter("request", positional, annotation=gr.Request)]
        )
        on_edit.__annotations__ = {"request": gr.Request, "return": Update}
        return on_edit

    def unpin(
        self, chat: list[dict[str, object]], turns: Turns, answers: list[Answer], request: gr.Request
    ) -> Update:
        return self._reanswer(chat, turns, answers, Situation(), request)

    def record_feedback(self, rating: Literal["up", "down"]) -> Callable[..., Update]:
        def on_click(wrong: bool, comment: str, answers: list[Answer], request: gr.Request) -> Update:
            if not answers:
                return {self.feedback_status: "Ask a question first."}
            if len(comment or "") > COMMENT_CHARS:
                return {self.feedback_status: f"Your comment is {len(comment):,} characters long; keep it under {COMMENT_CHARS:,}."}
            last = answers[-1]
            try:
                self.shell.feedback_rates.hit(request.client.host if request and request.client else "unknown")
                entry = self.shell.feedback.record(
                    Feedback(
                        rating=rating,
                        wrong_evidence=wrong,
                        comment=comment,
                        question=last.question,
                        answer_markdown=last.answer_markdown,
                        citations=last.citations,
                        engine=last.engine,
                        corpus_version=last.corpus_version,
                    )
                )
            except Exception as exc:  # noqa: BLE001 - shown to the user, logged unless actionable
                return {self.feedback_status: views.inert(failure_message(exc))}
            return {
                self.feedback_status: f"Thank you: feedback #{entry} saved.",
                self.wrong: False,
                self.comment: "",
            }

        return on_click

    def wire(self) -> None:
        outputs = self._outputs()
        chat_inputs = [self.question, self.chat, self.turns, self.answers, self.pinned]
        for trigger in (self.question.submit, self.ask.click):
            trigger(self.respond, chat_inputs, outputs, api_visibility="private", show_progress="minimal")
        self.chat.clear(self.reset, None, outputs, api_visibility="private")
        for chip in self.examples:
            chip.click(lambda text=chip.value: text, None, [self.question], api_visibility="private", queue=False)
        if self.compact:
            return
        state = [self.chat, self.turns, self.answers, self.pinned]
        for name, control in self.controls.items():
            # A typed quantity counts once typed (Enter or leaving the box), not at every keystroke.
            triggers = (control.submit, control.blur) if isinstance(control, gr.Textbox) else (control.input,)
            for trigger in triggers:
                trigger(
                    self.edit_handler(name),
                    [*state, *(self.controls[f] for f in panel.FIELDS)],
                    outputs,
                    api_visibility="private",
                    show_progress="minimal",
                )
        self.follow_chat.click(self.unpin, state[:3], outputs, api_visibility="private")
        feedback_outputs = [self.feedback_status, self.wrong, self.comment]
        self.up.click(self.record_feedback("up"), [self.wrong, self.comment, self.answers], feedback_outputs, api_visibility="private")
        self.down.click(self.record_feedback("down"), [self.wrong, self.comment, self.answers], feedback_outputs, api_visibility="private")


def build_page(shell: Shell, *, register_tools: Callable[[], None]) -> gr.Blocks:
    with gr.Blocks(title=TITLE, delete_cache=(3600, 3600), fill_width=True) as page:
        rendered(
            f"<header class='page-head'><h1>{TITLE}</h1><p>CRO, CDMO, hybrid or integrated partner? "
            "Every answer quotes the framework verbatim; <a href='/framework' target='_blank' rel='noopener'>read the framework</a> · "
            "<a href='/docs' target='_blank' rel='noopener'>JSON API</a></p></header>"
        )
        with gr.Row():
            with gr.Column(scale=3, min_width=360):
                view = ChatView(shell, compact=False)
            with gr.Column(scale=2, min_width=320):
                view.side_panels()
        view.wire()
        register_tools()
    return page


def build_embed(shell: Shell) -> gr.Blocks:
    with gr.Blocks(title=TITLE, delete_cache=(3600, 3600)) as embed:
        view = ChatView(shell, compact=True)
        view.wire()
        embed.load(view.full_link_html, None, [view.full_link], api_visibility="private", queue=False)
    return embed


def make_shell(advisor: Advisor, settings: Settings, *, idle: IdleTrim | None = None) -> Shell:
    return Shell(
        idle=idle or IdleTrim(),
        advisor=advisor,
        settings=settings,
        feedback=FeedbackStore(feedback_url(settings)),
        feedback_rates=Rates(settings.feedback_rate_limit, what="feedback entries"),
        memos=tempfile.TemporaryDirectory(prefix="advisor-bot-memos-"),
    )

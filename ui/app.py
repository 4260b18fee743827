"""The Gradio chat page over ``Advisor.ask``."""

from __future__ import annotations

import gradio as gr

from advisor_bot.advisor import Advisor
from advisor_bot.config import Settings
from advisor_bot.errors import AdvisorError


def build(advisor: Advisor) -> gr.Blocks:
    def respond(message: str, history: list[dict[str, object]]) -> str:
        try:
            return advisor.ask(message, history=history).answer_markdown
        except AdvisorError as exc:
            return f"⚠️ {exc}"

    return gr.ChatInterface(
        respond,
        title="advisor-bot",
        description="CRO, CDMO, hybrid or integrated partner? Answers quote the framework verbatim.",
        examples=[
            "Should we use a CRO or a CDMO for IND-enabling studies?",
            "What does a PhD-level CRO chemist cost per year?",
            "How long does technology transfer take and what does it cost?",
        ],
    )


def launch(*, advisor: Advisor, settings: Settings) -> None:
    demo = build(advisor)
    demo.queue(default_concurrency_limit=2, api_open=False)
    demo.launch(server_name=settings.host, server_port=settings.port, share=False, enable_monitoring=False)

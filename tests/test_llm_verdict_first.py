"""The LLM engine answers verdict first: the tools' decision (or the framework's own sentences) opens
the streamed answer, the model's explanation follows, bounded in length, then the sources.

Driven by the scripted chat model and by the scripted OpenAI-protocol server over real HTTP.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Iterator

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from test_llm_engine import DESCRIBED, FTE, IND, context, data_of, run, situation_call  # noqa: F401 - context is a fixture
from test_llm_http import llm_settings, server  # noqa: F401 - server is a fixture

from advisor_bot.answer import Answer
from advisor_bot.engines.compose import MAX_SOURCES
from advisor_bot.engines.llm import LLMEngine
from advisor_bot.testing import ScriptedChatModel, tool_call

IND_STAGE = {"value": "IND-enabling studies", "evidence": "IND-enabling studies"}
_LINK = re.compile(r" ?\[\[(\d+)\]\]\(/framework#[^)]*\)")


def read_stream(stream: Iterator[str | Answer], verdict: str, shown: threading.Event) -> tuple[list[str], Answer]:
    """The streamed texts and the final answer; ``shown`` is set once a text starting with ``verdict`` arrived."""
    texts: list[str] = []
    for item in stream:
        if isinstance(item, Answer):
            return texts, item
        texts.append(item)
        if item.startswith(verdict):
            shown.set()
    raise AssertionError("the stream ended without an answer")


def numbers(markdown: str) -> list[int]:
    """Reference numbers in order of first appearance."""
    return list(dict.fromkeys(int(n) for n in _LINK.findall(markdown)))


def test_the_verdict_opens_the_stream_and_the_models_explanation_follows(context):
    script = [situation_call(stage=IND_STAGE), "For IND-enabling studies a CDMO fits [p1]. It supplies cGMP tox material."]
    texts, answer, _ = run(context, script)
    assert answer.engine == "llm" and answer.recommendation.model == "CDMO"
    assert texts[0].startswith("## Recommendation: **CDMO**")
    explained = next(i for i, t in enumerate(texts) if t.startswith("For IND-enabling studies a CDMO fits"))
    sources = next(i for i, t in enumerate(texts) if "**Sources**" in t)
    assert 0 < explained < sources
    assert "".join(texts).strip() == answer.answer_markdown
    assert answer.answer_markdown.count("## Recommendation") == 1


def test_text_written_before_the_situation_is_recorded_waits_for_the_verdict_that_reading_gives(context):
    # Nothing in these words names a stage for the rules; only the model's reading does. Its text
    # before record_situation is held, so the verdict that opens the answer is the one that reading gives.
    step = AIMessage(content="Let me read your situation.", tool_calls=[tool_call("record_situation", {"stage": {
        "value": "IND-enabling studies", "evidence": "before the agency lets us dose people"}})])  # fmt: skip
    texts, answer, _ = run(context, [step, "A CDMO makes GMP material for tox studies [p1]."], DESCRIBED)
    assert answer.engine == "llm" and answer.recommendation.model == "CDMO"
    assert texts[0].startswith("## Recommendation: **CDMO**")
    verdict_end = answer.answer_markdown.index("Let me read your situation.")
    assert answer.answer_markdown.index("## Recommendation") < verdict_end < answer.answer_markdown.index("A CDMO makes GMP")
    assert "".join(texts).strip() == answer.answer_markdown


def test_the_verdict_is_shown_before_the_model_writes_its_explanation(context):
    # The model's second reply waits until the reader has the verdict: were the verdict composed
    # after the prose, the reader would not have it, and the scripted reply says so.
    seen = threading.Event()

    def explain(messages: list[BaseMessage]) -> str:
        return "A CDMO fits IND-enabling work [p1]." if seen.wait(timeout=30) else "The verdict had not been shown."

    fake = ScriptedChatModel(script=[situation_call(stage=IND_STAGE), explain])
    texts, answer = read_stream(LLMEngine(model=fake).stream(context.reader.read(IND), history=[], context=context), "## Recommendation", seen)
    assert isinstance(answer, Answer) and answer.engine == "llm"
    assert "A CDMO fits IND-enabling work" in answer.answer_markdown and "had not been shown" not in answer.answer_markdown


def test_a_question_without_a_verdict_opens_with_the_frameworks_own_sentences(context):
    texts, answer, _ = run(context, ["CRO work is billed per FTE-year [p1]."], FTE)
    assert answer.engine == "llm" and answer.recommendation is None
    lead, rest = answer.answer_markdown.split("\n\n", 1)
    assert "$220,000 to $380,000" in lead and _LINK.search(lead)  # the framework's rate, cited
    corpus = "\n".join(d.text for d in context.documents.values())
    assert _LINK.sub("", lead).split(". ")[0] in corpus  # a sentence of the framework, as written
    assert rest.startswith("CRO work is billed per FTE-year [[")
    assert texts[0].strip() == lead and "".join(texts).strip() == answer.answer_markdown


def test_a_cost_question_opens_with_the_estimate_before_the_prose(context):
    question = "What would 2 FTEs at a CRO for 12 months cost?"
    _, answer, _ = run(context, ["That is priced per FTE [p1]."], question)
    md = answer.answer_markdown
    assert answer.cost_estimate is not None
    assert md.index("**Cost estimate**") < md.index("That is priced per FTE")


def test_references_number_in_reading_order_and_a_passage_keeps_one_number(context):
    def cite_the_stage_row(messages: list[BaseMessage]) -> str:
        result = next(m for m in messages if isinstance(m, ToolMessage) and m.name == "stage_recommendation")
        row = data_of(result)["row"]["citation"]
        return f"The matrix puts IND-enabling studies with a CDMO [{row}]. Tox batches need cGMP [{row}]."

    step = AIMessage(content="", tool_calls=[tool_call("record_situation", {"stage": IND_STAGE}), tool_call("stage_recommendation", {"stage": "IND-enabling studies"})])
    _, answer, _ = run(context, [step, cite_the_stage_row])
    found = numbers(answer.answer_markdown.split("**Sources**")[0])
    assert found == list(range(1, len(found) + 1))  # 1, 2, 3 ... as a reader meets them
    prose = answer.answer_markdown.split("\n\n")
    explained = next(p for p in prose if p.startswith("The matrix puts"))
    assert numbers(explained) == [1]  # the verdict's own row: one passage, one number, however often cited
    listed = re.findall(r"^\d+\. ", answer.answer_markdown.split("**Sources**")[1], re.M)
    assert len({c.anchor for c in answer.citations}) == len(listed) == len(found)  # a section once, under its number


def test_the_models_prose_is_bounded_by_the_setting_and_the_rest_is_not_read(context):
    bounded = dataclasses.replace(context, settings=context.settings.model_copy(update={"llm_max_prose_chars": 200}))
    sentence = "Tox batches for IND-enabling studies are made under cGMP by a CDMO [p1]. "
    # The reply goes on, and would call a tool after its text: a reply cut short ends the conversation.
    long = AIMessage(content=sentence * 12, tool_calls=[tool_call("search_framework", {"query": "CDMO"})])
    texts, answer, fake = run(bounded, [situation_call(stage=IND_STAGE), long])
    assert answer.engine == "llm" and len(fake.requests) == 2
    shown = answer.answer_markdown.count("Tox batches for IND-enabling studies")
    assert shown == 200 // len(sentence.rstrip())  # whole sentences only, as many as fit
    assert answer.answer_markdown.startswith("## Recommendation: **CDMO**")
    assert "".join(texts).strip() == answer.answer_markdown


def test_the_bound_reaches_the_model_as_an_instruction(context):
    _, _, fake = run(context, ["A CDMO fits IND-enabling work [p1]."])
    assert f"under {context.settings.llm_max_prose_chars} characters" in fake.requests[0][-1].content


def test_a_situation_recorded_after_the_answer_began_does_not_change_the_verdict_shown(context):
    # The model writes first (after a search) and records a stage only afterwards: the opening shown
    # was decided without it, so the answer keeps that decision and says why.
    search = AIMessage(content="", tool_calls=[tool_call("search_framework", {"query": "tox batches"})])
    late = AIMessage(content="Tox material is made under cGMP [p1]. Each batch is documented.", tool_calls=[tool_call("record_situation", {"stage": {
        "value": "IND-enabling studies", "evidence": "before the agency lets us dose people"}})])  # fmt: skip
    # A question the reading finds nothing in, so the opening could only ask.
    vague = "Our compound needs an outside partner soon. Who should we pick?"
    assert not context.reader.read(vague).situation.known()
    texts, answer, _ = run(context, [search, late, "A CDMO makes such batches [p1]."], vague)
    assert answer.engine == "llm" and answer.recommendation is None
    assert "## Recommendation" not in answer.answer_markdown
    assert any("after the answer had begun" in n for n in answer.notices)
    assert "".join(texts).strip() == answer.answer_markdown


def test_over_http_the_verdict_reaches_the_reader_before_the_model_sends_a_word(server, settings, advisor, embedder):  # noqa: F811
    from advisor_bot.advisor import Advisor

    shown = threading.Event()
    server.script = [
        {"tool_calls": [{"name": "record_situation", "arguments": {"stage": IND_STAGE}}]},
        # The server sends the explanation only once the test has read the verdict from the stream.
        {"hold": shown, "content": "For IND-enabling studies a CDMO fits [p1]. Plan the transfer early."},
    ]
    adv = Advisor(settings=llm_settings(settings, server.url), embedder=embedder)
    texts, answer = read_stream(adv.stream(IND), "## Recommendation: **CDMO**", shown)
    assert shown.is_set() and answer.engine == "llm", answer.notices
    assert texts[0].startswith("## Recommendation: **CDMO**")
    assert "".join(texts).strip() == answer.answer_markdown
    assert answer.answer_markdown.index("For IND-enabling studies a CDMO fits") > answer.answer_markdown.index("**Next step:**")


def test_a_first_sentence_longer_than_the_bound_falls_back_and_says_why(context):
    bounded = dataclasses.replace(context, settings=context.settings.model_copy(update={"llm_max_prose_chars": 100}))
    long = "Tox batches for IND-enabling studies are made under cGMP by a CDMO with documented process controls at every step [p1]."
    texts, answer, _ = run(bounded, [long])
    assert answer.engine == "offline" and "longer than the 100-character limit" in answer.notices[0]
    assert "".join(texts).strip() == answer.answer_markdown  # nothing was shown before the fallback


def test_an_answer_lists_at_most_five_sources_however_many_sections_the_model_cites(context):
    # The model searches widely and cites every passage it was shown, each from its own section: the
    # verdict's sources come first and the list stops at five; a citation past them shows no number.
    topics = ["technology transfer cost", "IP ownership of process improvements", "quality agreement", "CRO pricing FTE", "cultural fit"]
    search = AIMessage(content="", tool_calls=[situation_call(stage=IND_STAGE).tool_calls[0], *(tool_call("search_framework", {"query": t}) for t in topics)])

    def cite_everything(messages: list[BaseMessage]) -> str:
        ids = [p["id"] for m in messages if isinstance(m, ToolMessage) and m.name == "search_framework" for p in data_of(m)["passages"]]
        return " ".join(f"See [{pid}]." for pid in dict.fromkeys(ids))

    _, answer, _ = run(context, [search, cite_everything])
    assert answer.engine == "llm" and answer.recommendation is not None
    sections = list(dict.fromkeys(c.anchor for c in answer.citations))
    assert len(sections) == MAX_SOURCES
    listed = re.findall(r"^\d+\. ", answer.answer_markdown.split("**Sources**")[1], re.M)
    assert len(listed) == MAX_SOURCES
    assert numbers(answer.answer_markdown) == list(range(1, MAX_SOURCES + 1))
    assert "None" not in answer.answer_markdown and "[p" not in answer.answer_markdown


def _cite_the_promotion(messages: list[BaseMessage]) -> str:
    shown = [p for m in messages if isinstance(m, ToolMessage) and m.name == "search_framework" for p in data_of(m)["passages"]]
    promo = [p["id"] for p in shown if p.get("promotional")]
    other = next(p["id"] for p in shown if not p.get("promotional"))
    assert promo, "the search found the publisher's promotion"
    return "Some context first [" + other + "]. " + " ".join(f"The publisher spans the whole continuum [{pid}]." for pid in promo)


def test_the_publishers_promotion_is_a_source_only_when_relevant_and_once(context):
    search = AIMessage(content="", tool_calls=[tool_call("search_framework", {"query": "ChemContract integrated CRO CDMO continuum services"})])
    # Not about the publisher: a sentence citing its promotion is left out, and the promotion is no source.
    _, answer, _ = run(context, [search, _cite_the_promotion], FTE)
    assert answer.engine == "llm" and not any(c.promotional for c in answer.citations)
    assert "spans the whole continuum" not in answer.answer_markdown and "Some context first [[" in answer.answer_markdown
    assert any("publisher's promotion were left out" in n for n in answer.notices)
    # About the publisher: it is a source, one section, labelled in the list.
    _, answer, _ = run(context, [search, _cite_the_promotion], "What does the publisher of this framework offer?")
    promo = {c.anchor for c in answer.citations if c.promotional}
    assert len(promo) == 1 and "publisher's promotion" in answer.answer_markdown.split("**Sources**")[1]

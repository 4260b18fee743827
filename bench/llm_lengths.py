"""Answer length and order on the LLM engine's path, with scripted chat models over the eval sets.

No real model can run here, so two scripted ones stand in (advisor_bot.testing): "concise" reads the
situation (record_situation, nothing recorded) and explains in two sentences of the passages it was
shown, citing each; "verbose" does the same with every sentence of every passage (thousands of
characters), the model that the prose bound exists for. Everything after the model is the
production code path, scored by the eval harness: the answer-length metrics per category, and how
far into the answer the verdict starts when there is one (0: it opens the answer), and how many
sources an answer lists.
Usage: python bench/llm_lengths.py [FILE ...] [--models concise verbose] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from advisor_bot.advisor import Advisor
from advisor_bot.config import PROJECT_ROOT, Settings, enforce_offline
from advisor_bot.engines.llm import LLMEngine
from advisor_bot.evals.evalset import load_question_sets
from advisor_bot.evals.evaluate import QuestionResult, evaluate
from advisor_bot.evals.report import length_table, write_report, write_results
from advisor_bot.grounding import split_units
from advisor_bot.testing import ScriptedChatModel, tool_call

SETS = ["questions", "holdout", "probe", *(f"first-contact-{n}" for n in range(1, 7))]
_DATA = re.compile(r'<data source="[^"]+">\n(.*?)\n</data>', re.S)


def _shown(messages: list[BaseMessage]) -> list[tuple[str, str]]:
    """(passage id, text) of every passage the model was shown, in order."""
    out = []
    for m in messages:
        if isinstance(m, (HumanMessage, ToolMessage)) and isinstance(m.content, str):
            for block in _DATA.findall(m.content):
                payload = json.loads(block)
                out += [(p["id"], p["text"]) for p in payload.get("passages", [])] if isinstance(payload, dict) else []
    return out


def _sentences(text: str) -> list[str]:
    """What a model would say from a passage: its sentences and list items, and a table row as one sentence."""
    units = [u.strip().lstrip("-* ").replace("**", "") for u in split_units(text)]
    rows = ["; ".join(c.strip() for c in u.strip("|").split("|")) + "." for u in units if u.startswith("|") and "---" not in u]
    said = [u for u in units if u.endswith(".") and not u.startswith(("|", "#", ">"))]
    return [u for u in [*said, *rows] if len(u.split()) >= 6]


def scripted(per_passage: int, passages: int) -> Callable[[list[BaseMessage]], AIMessage | str]:
    def step(messages: list[BaseMessage]) -> AIMessage | str:
        if not any(isinstance(m, SystemMessage) for m in messages):
            # The follow-up condensation: the latest message, as it stands.
            return messages[-1].text.rsplit("<data source=\"latest message\">\n", 1)[-1].split("\n</data>")[0]
        if not isinstance(messages[-1], ToolMessage):
            return AIMessage(content="", tool_calls=[tool_call("record_situation", {})])
        said = [f"{s[:-1]} [{pid}]." for pid, text in _shown(messages)[:passages] for s in _sentences(text)[:per_passage]]
        return " ".join(said) or "The framework does not cover this."

    return step


MODELS = {"concise": scripted(per_passage=1, passages=2), "verbose": scripted(per_passage=99, passages=99)}


def verdict_offsets(results: list[QuestionResult]) -> list[int]:
    """Where the verdict starts in each LLM answer that has one (0: the answer opens with it)."""
    return [
        r.answer.answer_markdown.find("## Recommendation")
        for r in results
        if r.answer is not None and r.answer.engine == "llm" and r.answer.recommendation is not None
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("files", nargs="*", type=Path, default=[PROJECT_ROOT / "evals" / f"{s}.jsonl" for s in SETS])
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=sorted(MODELS))
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "bench" / "results" / "llm_lengths")
    args = parser.parse_args()
    enforce_offline()
    settings = Settings(data_dir=Path(tempfile.mkdtemp(prefix="advisor-bench-")))
    Advisor(settings=settings).ingest()
    questions = load_question_sets(args.files)
    summary = {}
    for name in args.models:
        advisor = Advisor(settings=settings, engine=LLMEngine(model=ScriptedChatModel(script=[MODELS[name]], repeat_last=True)))
        run = evaluate(advisor, questions, files=args.files)
        out = args.out / name
        write_results(run, out)
        write_report(run, out)
        given = [r for r in run.ours.results if r.answer is not None and not r.answer.refused]
        llm = [r for r in given if r.answer.engine == "llm"]
        offsets = verdict_offsets(given)
        sources = sorted(len({c.anchor for c in r.answer.citations}) for r in llm)
        summary[name] = {
            "verdicts": len(offsets),
            "verdict_first": sum(o == 0 for o in offsets),
            "verdict_offset_max": max(offsets, default=None),
            "sources_max": max(sources, default=None),
            "answers_over_5_sources": sum(n > 5 for n in sources),
            "questions": len(questions),
            "answers": len(given),
            "fell_back": len(given) - len(llm),
            **{k: v for k, v in run.ours.metrics.items() if k.startswith("answer_chars")},
        }
        print(f"## {name} scripted model ({len(llm)} LLM answers, {len(given) - len(llm)} fell back)")
        print(f"verdict opens the answer in {summary[name]['verdict_first']} of {len(offsets)}; latest start: {summary[name]['verdict_offset_max']} chars")
        print(f"sources per answer: max {summary[name]['sources_max']}, more than five in {summary[name]['answers_over_5_sources']}\n")
        print(length_table(run))
        print()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

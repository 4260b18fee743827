"""LLM-engine overhead around the model call: retrieval, tools, checks and composition.

A scripted chat model (advisor_bot.testing) stands in for the LLM, so what is
measured is the engine's own time per answer, excluding the model's.
Usage: python bench/llm_overhead.py [--questions FILE] [--n 20] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage

from advisor_bot.advisor import Advisor
from advisor_bot.config import PROJECT_ROOT, Settings, enforce_offline
from advisor_bot.engines.llm import LLMEngine
from advisor_bot.testing import ScriptedChatModel, tool_call


def search_then_answer(messages: list[BaseMessage]) -> AIMessage | str:
    if isinstance(messages[-1], ToolMessage):
        return "The framework covers this [p1]. See also [p2]."
    return AIMessage(content="", tool_calls=[tool_call("search_framework", {"query": str(messages[-1].content)[:80]})])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=Path, default=PROJECT_ROOT / "evals" / "questions.jsonl")
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "bench" / "results" / "llm_overhead.json")
    args = parser.parse_args()
    enforce_offline()
    advisor = Advisor(settings=Settings(data_dir=Path(tempfile.mkdtemp(prefix="advisor-bench-"))))
    advisor.ingest()
    context = advisor.context
    rows = {}
    for name, script in (("answer only", ["The framework covers this [p1]."]), ("search, then answer", [search_then_answer])):
        engine = LLMEngine(model=ScriptedChatModel(script=script, repeat_last=True))
        engine.answer(context.reader.read("What does a CRO charge per FTE?"), history=[], context=context)  # warm-up
        overhead, model = [], []
        for line in args.questions.read_text(encoding="utf-8").splitlines():
            answer = engine.answer(context.reader.read(json.loads(line)["question"]), history=[], context=context)
            if answer.engine == "llm" and not answer.refused:
                overhead.append(answer.timings_ms["overhead"])
                model.append(answer.timings_ms["model"])
            if len(overhead) == args.n:
                break
        rows[name] = {
            "answers": len(overhead),
            "overhead_p50_ms": round(statistics.median(overhead), 2),
            "overhead_max_ms": round(max(overhead), 2),
            "model_p50_ms": round(statistics.median(model), 2),
        }
    print(f"{'scenario':<22}{'answers':>8}{'overhead p50':>14}{'overhead max':>14}{'model p50':>11}")
    for name, r in rows.items():
        print(f"{name:<22}{r['answers']:>8}{r['overhead_p50_ms']:>12.1f}ms{r['overhead_max_ms']:>12.1f}ms{r['model_p50_ms']:>9.1f}ms")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

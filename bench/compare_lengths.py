"""Answer length before and after, per category, from two eval runs' results.jsonl (what
`advisor-bot eval --out DIR` and bench/llm_lengths.py write): nearest-rank p50/p95 of
`answer_chars` (refusals excluded; n: questions answered in either run), overall and split by
whether the answer recommends.
Usage: python bench/compare_lengths.py BEFORE/results.jsonl AFTER/results.jsonl [--sets FILE ...]
(--sets: only the questions of these question-set files, e.g. to compare runs over different sets).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

from advisor_bot.evals.evalset import load_question_sets
from advisor_bot.evals.evaluate import percentile

Row = tuple[str, int, bool]  # category, answer_chars, recommended


def _rows(path: Path, only: set[str] | None) -> dict[str, Row]:
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        s, q = r["scores"], r["question"]
        if s["answer_chars"] is not None and (only is None or q["id"] in only):
            out[q["id"]] = (q["category"], s["answer_chars"], s["recommended"])
    return out


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def table(before: dict[str, Row], after: dict[str, Row]) -> str:
    groups: dict[str, list[tuple[Row | None, Row | None]]] = defaultdict(list)
    for qid in sorted(before.keys() | after.keys()):
        pair = (before.get(qid), after.get(qid))
        category = (pair[0] or pair[1])[0]  # type: ignore[index]
        groups[category].append(pair)
        groups["**all**"].append(pair)

    def p(pairs: list[tuple[Row | None, Row | None]], side: int, q: int, rec: bool | None = None) -> float | None:
        rows = [pair[side] for pair in pairs]
        return percentile([r[1] for r in rows if r is not None and (rec is None or r[2] == rec)], q)

    lines = [
        "| Category | n | p50 before | p50 after | p95 before | p95 after | p50 no rec. before → after | p50 with rec. before → after |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for category in [*sorted(c for c in groups if c != "**all**"), "**all**"]:
        pairs = groups[category]
        lines.append(
            f"| {category} | {len(pairs)} | {_fmt(p(pairs, 0, 50))} | {_fmt(p(pairs, 1, 50))} | {_fmt(p(pairs, 0, 95))} | "
            f"{_fmt(p(pairs, 1, 95))} | {_fmt(p(pairs, 0, 50, False))} → {_fmt(p(pairs, 1, 50, False))} | "
            f"{_fmt(p(pairs, 0, 50, True))} → {_fmt(p(pairs, 1, 50, True))} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--sets", nargs="*", type=Path, default=None)
    args = parser.parse_args()
    only = {q.id for q in load_question_sets(args.sets)} if args.sets else None
    print(table(_rows(args.before, only), _rows(args.after, only)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Recall@5 and MRR of dense-only, BM25-only and hybrid (RRF) retrieval on question sets.

Usage: python bench/retrieval_modes.py [FILE ...]   (default: the three question sets in evals/)
A question counts when one of its expected sections is among the top 5 passages.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from advisor_bot.advisor import Advisor
from advisor_bot.turns import Turn, retrieval_query
from advisor_bot.config import PROJECT_ROOT, Settings, enforce_offline
from advisor_bot.evals.evalset import load_questions

K = 5


def main(files: list[Path]) -> int:
    enforce_offline()
    advisor = Advisor(settings=Settings(data_dir=Path(tempfile.mkdtemp(prefix="advisor-modes-"))))
    advisor.ingest()
    retriever = advisor.context.retriever
    print(f"{'set':<28}{'questions':>10}  {'dense R@5/MRR':>15}  {'BM25 R@5/MRR':>15}  {'hybrid R@5/MRR':>15}")
    for path in files:
        questions = [q for q in load_questions(path) if q.expected_sections and not q.should_refuse]
        cells = []
        for mode in ("dense", "bm25", "hybrid"):
            recall = mrr = 0.0
            for q in questions:
                query = retrieval_query(q.question, [Turn(role="user", content=t) for t in q.turns])
                passages = retriever.search(query, k=K, mode=mode).passages
                rank = next((i + 1 for i, p in enumerate(passages) if set(p.section.split(" > ")) & set(q.expected_sections)), None)
                recall += rank is not None
                mrr += 1 / rank if rank else 0.0
            cells.append(f"{recall / len(questions):.3f}/{mrr / len(questions):.3f}")
        print(f"{path.name:<28}{len(questions):>10}  {cells[0]:>15}  {cells[1]:>15}  {cells[2]:>15}")
    return 0


if __name__ == "__main__":
    args = [Path(a) for a in sys.argv[1:]] or [PROJECT_ROOT / "evals" / f for f in ("questions.jsonl", "holdout.jsonl", "probe.jsonl")]
    sys.exit(main(args))

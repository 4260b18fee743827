"""Rules only, meaning only, and both: how each reading of a turn scores on question sets.

Usage: python bench/reading_modes.py [FILE ...]   (default: every question set in evals/)
Writes bench/results/reading_modes.json and prints one table per set. Meaning only still
reads numbers, units and money by rule (the cost scenario); everything else the rules
read (stages, factors, intents, scope, small talk) is off in that mode.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from advisor_bot.advisor import Advisor
from advisor_bot.config import PROJECT_ROOT, Settings, enforce_offline
from advisor_bot.evals.evalset import load_questions
from advisor_bot.evals.evaluate import evaluate

MODES = ("rules", "meaning", "combined")
METRICS = (
    "recommendation_accuracy", "wrong_recommendation_rate", "clarifying_question_rate", "refusal_precision",
    "refusal_recall", "partial_decline_rate", "citation_section_hit_rate", "pass_rate",
)  # fmt: skip


def main(files: list[Path]) -> int:
    enforce_offline()
    data = Path(tempfile.mkdtemp(prefix="advisor-reading-"))
    base = Advisor(settings=Settings(data_dir=data))
    base.ingest()
    results: dict[str, dict[str, dict[str, float | None]]] = {}
    for path in files:
        questions = load_questions(path)
        results[path.name] = {}
        for mode in MODES:
            advisor = Advisor(settings=Settings(data_dir=data, reading=mode), embedder=base.embedder)
            results[path.name][mode] = {k: evaluate(advisor, questions, files=[path]).metrics[k] for k in METRICS}
        print(f"\n{path.name} ({len(questions)} questions)")
        print(f"{'metric':<28}" + "".join(f"{m:>10}" for m in MODES))
        for k in METRICS:
            cells = [results[path.name][m][k] for m in MODES]
            print(f"{k:<28}" + "".join(f"{'n/a':>10}" if v is None else f"{v:>10.1%}" for v in cells))
    out = PROJECT_ROOT / "bench" / "results" / "reading_modes.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    args = [Path(a) for a in sys.argv[1:]] or sorted((PROJECT_ROOT / "evals").glob("*.jsonl"))
    sys.exit(main(args))

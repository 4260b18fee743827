"""A synthetic corpus of users' documents for the cost-growth benchmark.

Deterministic (seeded): Markdown files of about 1 KB each, with headings, prose, lists and now
and then a table, in the framework's own vocabulary so retrieval has real competition. 1,000
documents come to about 1 MB. ``python bench/synthetic.py N FOLDER`` writes N of them.
"""

from __future__ import annotations

import random
import re
import sys
from pathlib import Path

from advisor_bot.config import PROJECT_ROOT

KINDS = ("SOP", "Quality agreement", "Proposal", "Audit report", "Meeting notes", "Tech transfer plan")


def vocabulary() -> list[str]:
    text = (PROJECT_ROOT / "corpus" / "cro-cdmo-framework.md").read_text(encoding="utf-8")
    return [w for w in re.findall(r"[A-Za-z][A-Za-z-]{2,}", text) if len(w) < 16]


def _sentence(rng: random.Random, words: list[str]) -> str:
    picked = rng.sample(words, rng.randint(8, 18))
    return " ".join(picked).capitalize() + "."


def document(n: int, rng: random.Random, words: list[str]) -> str:
    kind = rng.choice(KINDS)
    lines = [f"# {kind} {n:04d}: {' '.join(rng.sample(words, 3))}", ""]
    for s in range(rng.randint(2, 3)):
        lines += [f"## {' '.join(rng.sample(words, 2)).capitalize()} {s + 1}", ""]
        lines += [" ".join(_sentence(rng, words) for _ in range(rng.randint(2, 3))), ""]
        if rng.random() < 0.3:
            lines += [f"- {_sentence(rng, words)}" for _ in range(3)] + [""]
        if rng.random() < 0.15:
            lines += ["| Item | Owner | Due |", "|---|---|---|"]
            lines += [f"| {' '.join(rng.sample(words, 2))} | {rng.choice(('Sponsor', 'CRO', 'CDMO'))} | week {rng.randint(1, 52)} |" for _ in range(3)]
            lines += [""]
    return "\n".join(lines)


def write_corpus(count: int, folder: Path, *, seed: int = 12) -> int:
    """Write ``count`` documents into ``folder``; returns the bytes written."""
    rng = random.Random(seed)
    words = vocabulary()
    folder.mkdir(parents=True, exist_ok=True)
    size = 0
    for n in range(count):
        text = document(n, rng, words)
        (folder / f"doc-{n:04d}.md").write_text(text, encoding="utf-8")
        size += len(text.encode())
    return size


if __name__ == "__main__":
    written = write_corpus(int(sys.argv[1]), Path(sys.argv[2]))
    print(f"{sys.argv[1]} documents, {written / 1e6:.2f} MB in {sys.argv[2]}")

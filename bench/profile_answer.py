"""Where the time of one warm offline answer goes: wall and CPU per answer, then cProfile's top entries.

Builds a throw-away index (or uses ``--data DIR``), warms the Advisor on the stress questions, times
``--n`` answers (process CPU counts every thread, onnxruntime's included), then profiles as many.
cProfile inflates pure-Python functions against C calls: read its table for where, the CPU line
for how much. ``.venv/bin/python bench/profile_answer.py [--n 40] [--data DIR]``.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
import time
from pathlib import Path

from advisor_bot.advisor import Advisor
from advisor_bot.config import Settings
from stress import QUESTIONS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--data", type=Path, default=None, help="an ingested data directory; default: a fresh one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="advisor-profile-") as tmp:
        advisor = Advisor(settings=Settings(data_dir=args.data or Path(tmp)))
        if args.data is None:
            advisor.ingest()
        for q in QUESTIONS * 3:
            advisor.ask(q)
        wall, cpu = time.perf_counter(), time.process_time()
        for i in range(args.n):
            advisor.ask(QUESTIONS[i % len(QUESTIONS)])
        print(f"per answer: wall {(time.perf_counter() - wall) / args.n * 1000:.1f} ms, "
              f"process CPU {(time.process_time() - cpu) / args.n * 1000:.1f} ms")  # fmt: skip
        profile = cProfile.Profile()
        profile.enable()
        for i in range(args.n):
            advisor.ask(QUESTIONS[i % len(QUESTIONS)])
        profile.disable()
        pstats.Stats(profile).sort_stats("cumulative").print_stats(30)


if __name__ == "__main__":
    main()

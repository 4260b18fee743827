"""Performance benchmark: ingest, re-ingest, warm ask latency, cold start and peak RSS.

Builds its own index in a temporary data dir, prints an aligned table and writes
JSON (default bench/results/latest.json). Always exits 0: it is a report.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from importlib.metadata import version
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path


from advisor_bot import Advisor, AdvisorError, Settings
from advisor_bot.config import PROJECT_ROOT

COLD_START_CODE = """
import sys
from pathlib import Path

from advisor_bot import Advisor, Settings
answer = Advisor(settings=Settings(data_dir=Path(sys.argv[1]))).ask(sys.argv[2])
print(answer.answer_markdown[:200])
"""


@dataclass
class Metric:
    name: str
    value: float
    unit: str
    target: float | None  # upper bound; None = report only

    @property
    def passed(self) -> bool | None:
        return None if self.target is None else self.value <= self.target


def timed(fn: Callable[[], object]) -> float:
    began = time.perf_counter()
    fn()
    return time.perf_counter() - began


def ask_latencies(advisor: Advisor, questions: list[str]) -> tuple[list[float], list[str], int]:
    """Warm-up pass, then two timed passes; returns ms samples, answerable questions, error count."""
    answerable: list[str] = []
    errors = 0
    for q in questions:
        try:
            advisor.ask(q)
            answerable.append(q)
        except AdvisorError:
            errors += 1
    samples = [timed(lambda q=q: advisor.ask(q)) * 1000 for _ in range(2) for q in answerable]
    return samples, answerable, errors


def cold_start(data_dir: Path, question: str) -> float:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
    began = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", COLD_START_CODE, str(data_dir), question],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    out, err = proc.communicate()
    elapsed = time.perf_counter() - began
    if proc.returncode != 0 or not out.strip():
        raise RuntimeError(f"cold-start subprocess failed (exit {proc.returncode}):\n{err[-2000:]}")
    return elapsed


def render(metrics: list[Metric]) -> str:
    rows = [("metric", "value", "unit", "target", "result")]
    for m in metrics:
        target = "-" if m.target is None else f"<= {m.target:g}"
        result = {None: "info", True: "PASS", False: "FAIL"}[m.passed]
        rows.append((m.name, f"{m.value:.3f}", m.unit, target, result))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.rjust(w) if i == 1 else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "latest.json")
    parser.add_argument("--questions", type=Path, default=PROJECT_ROOT / "evals" / "questions.jsonl")
    args = parser.parse_args()
    lines = args.questions.read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line)["question"] for line in lines if line.strip()]

    load_start = os.getloadavg()[0]
    data_dir = Path(tempfile.mkdtemp(prefix="advisor-bench-"))
    try:
        advisor = Advisor(settings=Settings(corpus_dir=PROJECT_ROOT / "corpus", data_dir=data_dir))
        began = time.perf_counter()
        cold_report = advisor.ingest()
        cold_ingest = time.perf_counter() - began
        noop_first = timed(advisor.ingest)
        noop_median = statistics.median(timed(advisor.ingest) for _ in range(5))
        samples, answerable, errors = ask_latencies(advisor, questions)
        if not answerable:
            raise SystemExit("no question in the file could be answered; cannot measure latency")
        starts = [cold_start(data_dir, answerable[0]) for _ in range(3)]
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)

    metrics = [
        Metric("ingest, cold (full corpus)", cold_ingest, "s", None),
        Metric("re-ingest, no-op (first)", noop_first, "s", 2.0),
        Metric("re-ingest, no-op (median of 5)", noop_median, "s", 2.0),
        Metric("ask p50 (warm)", statistics.median(samples), "ms", None),
        Metric("ask p95 (warm)", statistics.quantiles(samples, n=20)[-1], "ms", 60.0),
        Metric("cold start to first answer (median of 3)", statistics.median(starts), "s", 6.0),
        Metric("peak RSS (benchmark process)", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "MiB", None),
    ]
    details = {
        "chunks_embedded": cold_report.added,
        "questions": len(questions),
        "answered": len(answerable),
        "advisor_errors": errors,
        "ask_samples": len(samples),
        "cold_start_runs_s": [round(s, 3) for s in starts],
        "loadavg_1m_start_end": [round(load_start, 2), round(os.getloadavg()[0], 2)],
    }
    machine = {"nproc": len(os.sched_getaffinity(0)), "python": platform.python_version(), "onnxruntime": version("onnxruntime")}
    print(render(metrics) + "\n\n" + "; ".join(f"{k}: {v}" for k, v in {**machine, **details}.items()))
    failed = [m.name for m in metrics if m.passed is False]
    print("\nFAIL: " + "; ".join(failed) if failed else "\nAll targets met.")
    result = {
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {**machine, "platform": platform.platform()},
        "metrics": {m.name: {**asdict(m), "pass": m.passed} for m in metrics},
        "details": details,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

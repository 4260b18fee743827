"""Serve ready: `advisor-bot serve` process start to the first 200 from /api/health, and what it costs.

Health answers 200 only when the advisor can answer (index loaded, embedder built, both Gradio
apps mounted), so this is the time before a replica can take traffic. Each run is a fresh process
on a free port against an index built here in a temporary data folder. Besides the wall clock,
the server's own CPU time at that moment (user + system, from /proc) is kept: on these shared
2-core machines the wall clock swings with other sessions' load, the CPU time much less.

The floor: the same clocks for fresh processes that do only what no server start can skip
(the interpreter; Gradio, imported as the server imports it; chromadb; the ONNX embedder built
from its cached graph), one process each and then all in one, so the table says how much of the
start is ours.

`python bench/ready.py [--runs 5]` prints a table and writes bench/results/ready.json.
It is a report: it always exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

BENCH = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
GOAL_S = 4.0
TICK = os.sysconf("SC_CLK_TCK")
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False", "GRADIO_ANALYTICS_ENABLED": "False"}

# Each piece of the floor, timed alone in a fresh interpreter (wall and CPU printed by the piece).
_TIMED = "import os, time\n{code}\nc = os.times()\nprint(c.user + c.system)\n"
_EMBEDDER = "import sys\nfrom pathlib import Path\nfrom advisor_bot.embeddings import Embedder\nEmbedder(cache_dir=Path(sys.argv[1]))"
FLOOR = {
    "interpreter": "pass",
    "import gradio (as ui imports it)": "import ui, gradio",
    "import chromadb": "import chromadb",
    "embedder (onnxruntime, cached graph)": _EMBEDDER,
}
FLOOR["all of these in one process"] = "import ui, gradio, chromadb\n" + _EMBEDDER


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_s(pid: int) -> float:
    """User + system seconds of a live process, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def serve_ready(env: dict[str, str]) -> tuple[float, float]:
    """Seconds from process start to the first /api/health 200, and the server's CPU seconds by then.
    Polled every 50 ms: this is a measurement, not a test."""
    port = free_port()
    began = time.perf_counter()
    proc = subprocess.Popen(
        [str(BIN / "advisor-bot"), "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, **OFFLINE, **env},
    )
    try:
        with httpx.Client(timeout=30) as client:
            while proc.poll() is None:
                try:
                    if client.get(f"http://127.0.0.1:{port}/api/health").status_code == 200:
                        return time.perf_counter() - began, cpu_s(proc.pid)
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        raise RuntimeError(f"advisor-bot serve exited with {proc.returncode}")
    finally:
        proc.terminate()
        proc.wait()


def floor_piece(code: str, models: Path) -> tuple[float, float]:
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _TIMED.format(code=code), str(models)],
        capture_output=True, text=True, check=True, env={**os.environ, **OFFLINE},
    )
    return time.perf_counter() - began, float(done.stdout.strip().splitlines()[-1])


def build_index(data: Path) -> Path:
    """An index of the corpus in ``data``; the ONNX graph is exported once into data/models."""
    subprocess.run([str(BIN / "advisor-bot"), "ingest"], check=True, capture_output=True, env={**os.environ, **OFFLINE, "ADVISOR_DATA_DIR": str(data)})
    return data / "models"


def median(values: list[float]) -> float:
    return round(statistics.median(values), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=BENCH / "results" / "ready.json")
    args = parser.parse_args()

    data = Path(tempfile.mkdtemp(prefix="advisor-ready-"))
    models = build_index(data)
    load_start = os.getloadavg()
    runs = [serve_ready({"ADVISOR_DATA_DIR": str(data)}) for _ in range(args.runs)]
    floor = {name: [floor_piece(code, models) for _ in range(3)] for name, code in FLOOR.items()}
    load_end = os.getloadavg()

    ready_wall, ready_cpu = median([w for w, _ in runs]), median([c for _, c in runs])
    floor_rows = {name: (median([w for w, _ in xs]), median([c for _, c in xs])) for name, xs in floor.items()}
    rows = [
        ("serve ready (median)", ready_wall, ready_cpu, f"{'PASS' if ready_wall <= GOAL_S else 'FAIL'} <= {GOAL_S} s"),
        ("  every run", ", ".join(f"{w:.2f}" for w, _ in runs), ", ".join(f"{c:.2f}" for _, c in runs), ""),
        *((f"  floor: {name}", w, c, "") for name, (w, c) in floor_rows.items()),
    ]
    width = max(len(r[0]) for r in rows)
    lines = [f"| {'measure':<{width}} | wall s | CPU s | goal |", f"|{'-' * (width + 2)}|---|---|---|"]
    lines += [f"| {name:<{width}} | {wall} | {cpu} | {goal} |" for name, wall, cpu, goal in rows]
    text = "\n".join(lines) + f"\n\nMachine: {os.cpu_count()} cores, load average {load_start[0]:.2f} at the start, {load_end[0]:.2f} at the end.\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "serve_ready_s": {"value": ready_wall, "unit": "s", "target": GOAL_S, "pass": ready_wall <= GOAL_S, "runs": [round(w, 3) for w, _ in runs]},
                "serve_ready_cpu_s": {"value": ready_cpu, "unit": "s", "runs": [round(c, 3) for _, c in runs]},
                "floor": {name: {"wall_s": w, "cpu_s": c} for name, (w, c) in floor_rows.items()},
                "load_average": {"start": load_start, "end": load_end},
                "cores": os.cpu_count(),
            },
            indent=1,
        ),
        encoding="utf-8",
    )
    (args.out.with_suffix(".md")).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()

"""Bounded load on a real server on 127.0.0.1: throughput, latency, errors, shed requests, RSS.

Starts `advisor-bot serve` on a free loopback port over its own freshly built index, then runs:
16 and 64 clients (2,000 requests each, 60 s cap) on POST /api/ask; an overload burst past the
queue, where every refused request must be answered 429/503 within 1 s; and a large-history flood
(bodies near the size limit, and over it). Prints a table and writes JSON
(bench/results/stress.json). Always exits 0: it is a report, the targets are printed beside it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
QUESTIONS = [
    "We're in hit-to-lead running SAR on two series. CRO or CDMO?",
    "We need 40 kg of GMP API for our Phase 2 trials. Which model?",
    "How long does a CRO-to-CDMO tech transfer take, and what does it cost?",
    "Who owns process improvements a CDMO makes during scale-up?",
]
CAP_S = 60.0


@dataclass
class Phase:
    name: str
    clients: int
    requests: int = 0
    seconds: float = 0.0
    ok: int = 0
    shed: int = 0
    refused: int = 0  # 4xx by design (e.g. 413 for an oversized body)
    errors: int = 0
    latencies_ms: list[float] = field(default_factory=list, repr=False)
    shed_ms: list[float] = field(default_factory=list, repr=False)
    statuses: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict[str, object]:
        lat = sorted(self.latencies_ms) or [0.0]
        q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]  # noqa: E731
        return {
            "phase": self.name, "clients": self.clients, "requests": self.requests, "seconds": round(self.seconds, 1),
            "req_per_s": round(self.requests / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": round(q(0.50)), "p95_ms": round(q(0.95)), "p99_ms": round(q(0.99)),
            "ok": self.ok, "shed_429_503": self.shed, "refused_4xx": self.refused, "errors": self.errors,
            "max_shed_ms": round(max(self.shed_ms, default=0.0)), "statuses": self.statuses,
        }  # fmt: skip


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(phase: Phase, *, total: int, body: callable, url: str) -> Phase:  # type: ignore[valid-type]
    counter = iter(range(total))
    lock = threading.Lock()
    deadline = time.monotonic() + CAP_S
    statuses: Counter[str] = Counter()

    def client() -> None:
        with httpx.Client(timeout=30) as http:
            while time.monotonic() < deadline:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                start = time.perf_counter()
                try:
                    response = http.post(f"{url}/api/ask", content=body(i), headers={"Content-Type": "application/json"})
                    status = response.status_code
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                ms = (time.perf_counter() - start) * 1000
                with lock:
                    phase.requests += 1
                    statuses[str(status)] += 1
                    if status == 200:
                        phase.ok += 1
                        phase.latencies_ms.append(ms)
                    elif status in (429, 503):
                        phase.shed += 1
                        phase.shed_ms.append(ms)
                    elif isinstance(status, int) and 400 <= status < 500:
                        phase.refused += 1
                    else:
                        phase.errors += 1

    began = time.perf_counter()
    with ThreadPoolExecutor(phase.clients) as pool:
        for _ in range(phase.clients):
            pool.submit(client)
    phase.seconds = time.perf_counter() - began
    phase.statuses = dict(statuses)
    return phase


def question(i: int) -> bytes:
    return json.dumps({"question": QUESTIONS[i % len(QUESTIONS)]}).encode()


def big_history(i: int) -> bytes:
    # ~200 KiB: under the 256 KiB default; only the last 20 turns are read.
    turns = [{"role": "assistant" if j % 2 else "user", "content": ("We are in lead optimization. " * 60)[:1900]} for j in range(100)]
    return json.dumps({"question": QUESTIONS[i % len(QUESTIONS)], "history": turns}).encode()


def huge_history(i: int) -> bytes:
    return json.dumps({"question": "Which model?", "history": [{"role": "user", "content": "x"}] * 30000}).encode()


def main() -> None:
    out = ROOT / "bench" / "results" / "stress.json"
    with tempfile.TemporaryDirectory(prefix="advisor-stress-") as tmp:
        env = {**os.environ, "ADVISOR_DATA_DIR": tmp, "ADVISOR_RATE_LIMIT": "1000000/minute", "HF_HUB_OFFLINE": "1"}
        subprocess.run([BIN / "advisor-bot", "ingest"], env=env, check=True, capture_output=True)
        port = free_port()
        server = subprocess.Popen([BIN / "advisor-bot", "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(600):  # the server loads the model and the index first
                try:
                    if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
            run(Phase("warm-up", 2), total=20, body=question, url=url)
            rss_before = rss_kib(server.pid)
            phases = [
                run(Phase("16 clients", 16), total=2000, body=question, url=url),
                run(Phase("64 clients (overload: queue of 16)", 64), total=2000, body=question, url=url),
                run(Phase("large-history flood (~200 KiB bodies)", 64), total=300, body=big_history, url=url),
                run(Phase("oversized-history flood (30,000 turns)", 64), total=300, body=huge_history, url=url),
            ]
            rss_peak = rss_kib(server.pid)
            run(Phase("cool-down", 2), total=50, body=question, url=url)
            rss_after = rss_kib(server.pid)
            health = httpx.get(f"{url}/api/health", timeout=5).json()
        finally:
            server.terminate()
            server.wait(timeout=30)
    rows = [p.summary() for p in phases]
    print(f"{'phase':40} {'cl':>3} {'req':>5} {'s':>5} {'req/s':>6} {'p50':>5} {'p95':>5} {'p99':>5} {'ok':>5} {'shed':>5} {'4xx':>4} {'err':>4} {'max shed ms':>11}")
    for r in rows:
        print(f"{r['phase']:40} {r['clients']:>3} {r['requests']:>5} {r['seconds']:>5} {r['req_per_s']:>6} {r['p50_ms']:>5} {r['p95_ms']:>5} "
              f"{r['p99_ms']:>5} {r['ok']:>5} {r['shed_429_503']:>5} {r['refused_4xx']:>4} {r['errors']:>4} {r['max_shed_ms']:>11}")  # fmt: skip
    print(f"RSS before {rss_before / 1024:.0f} MiB, peak {rss_peak / 1024:.0f} MiB, after {rss_after / 1024:.0f} MiB "
          f"({(rss_after - rss_before) / rss_before * 100:+.1f}%); health after: {health.get('status')}")  # fmt: skip
    print("Targets: 0 errors; p95 <= 300 ms at 16 clients; overload answered 429/503 within 1 s; RSS back within 10%.")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"phases": rows, "rss_kib": {"before": rss_before, "peak": rss_peak, "after": rss_after}, "health": health}, indent=1))
    print(f"JSON: {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

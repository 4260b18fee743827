"""Bounded load on a real server on 127.0.0.1: throughput, latency, errors, shed requests, RSS.

Starts `advisor-bot serve` on a free loopback port over its own freshly built index, warms it
(20 questions, and page sessions up to the number the page keeps, measured as "before"), then runs:
16 clients asking four questions over and over (every cache hits) and 16 and 64 clients asking
distinct questions from the committed question sets (2,000 requests each, 60 s cap) on POST /api/ask; an overload burst past the
queue, where every refused request must be answered 429/503 within 1 s; a large-history flood
(bodies near the size limit, and over it); and a feedback flood through the page, as browsers send
it (each client opens page sessions, asks once, then rates the answer, some comments oversized),
after which every acknowledged entry must be in the store. Each line also gives the server's CPU
per request (load-independent, unlike latency on shared cores) and the load average, since other
processes on the same cores move every latency. Prints a table and writes JSON
(bench/results/stress.json). Always exits 0: it is a report, the targets are printed beside it.
"""

from __future__ import annotations

import functools
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from advisor_bot.config import Settings
from ui.idle_trim import QUIET_SECONDS

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
QUESTIONS = [
    "We're in hit-to-lead running SAR on two series. CRO or CDMO?",
    "We need 40 kg of GMP API for our Phase 2 trials. Which model?",
    "How long does a CRO-to-CDMO tech transfer take, and what does it cost?",
    "Who owns process improvements a CDMO makes during scale-up?",
]
CAP_S = 60.0
FEEDBACK_FLOOD = 300
KEPT_SESSIONS = Settings.model_fields["page_sessions"].default
FEEDBACK_PER_SESSION = 2  # a session asks once, then rates its answer twice: 150 sessions, past the 64 the page keeps


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
    cpu_s: float = 0.0  # the server's CPU time over the phase
    client_cpu_s: float = 0.0  # this bench's own CPU time over the phase: the clients share the server's cores
    load: float = 0.0  # 1-minute load average at the end of the phase
    rss_mib: float = 0.0  # the server's RSS at the end of the phase

    def count(self, status: int | str, ms: float) -> None:
        """One request's outcome: 200 ok, 429/503 shed, other 4xx refused by design, anything else an error."""
        self.requests += 1
        self.statuses[str(status)] = self.statuses.get(str(status), 0) + 1
        if status == 200:
            self.ok += 1
            self.latencies_ms.append(ms)
        elif status in (429, 503):
            self.shed += 1
            self.shed_ms.append(ms)
        elif isinstance(status, int) and 400 <= status < 500:
            self.refused += 1
        else:
            self.errors += 1

    def summary(self) -> dict[str, object]:
        lat = sorted(self.latencies_ms) or [0.0]
        q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]  # noqa: E731
        return {
            "phase": self.name, "clients": self.clients, "requests": self.requests, "seconds": round(self.seconds, 1),
            "req_per_s": round(self.requests / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": round(q(0.50)), "p95_ms": round(q(0.95)), "p99_ms": round(q(0.99)),
            "ok": self.ok, "shed_429_503": self.shed, "refused_4xx": self.refused, "errors": self.errors,
            "p95_shed_ms": round(sorted(self.shed_ms)[int(0.95 * len(self.shed_ms))]) if self.shed_ms else 0,
            "max_shed_ms": round(max(self.shed_ms, default=0.0)), "statuses": self.statuses,
            "cpu_ms_per_request": round(self.cpu_s * 1000 / self.requests, 1) if self.requests else 0.0,
            "client_cpu_ms_per_request": round(self.client_cpu_s * 1000 / self.requests, 1) if self.requests else 0.0, "load": round(self.load, 1),
            "rss_mib": round(self.rss_mib),
        }  # fmt: skip


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(phase: Phase, *, total: int, body: Callable[[int], bytes], url: str, server: int) -> Phase:
    """``total`` POSTs to /api/ask from ``phase.clients`` threads, each a keep-alive connection."""

    def send(http: httpx.Client, i: int) -> list[tuple[int | str, float]]:
        content = body(i)  # built before the clock starts: encoding 200 KiB is the client's work, not the server's
        start = time.perf_counter()
        try:
            status: int | str = http.post(f"{url}/api/ask", content=content, headers={"Content-Type": "application/json"}).status_code
        except httpx.HTTPError as exc:
            status = type(exc).__name__
        return [(status, (time.perf_counter() - start) * 1000)]

    return load(phase, total=total, send=send, server=server)


def load(phase: Phase, *, total: int, send: Callable[[httpx.Client, int], list[tuple[int | str, float]]], server: int) -> Phase:
    counter = iter(range(total))
    lock = threading.Lock()
    deadline = time.monotonic() + CAP_S

    def client() -> None:
        with httpx.Client(timeout=30) as http:
            while time.monotonic() < deadline:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                outcomes = send(http, i)
                with lock:
                    for status, ms in outcomes:
                        phase.count(status, ms)

    began, cpu, own = time.perf_counter(), cpu_seconds(server), time.process_time()
    with ThreadPoolExecutor(phase.clients) as pool:
        for _ in range(phase.clients):
            pool.submit(client)
    phase.seconds = time.perf_counter() - began
    phase.cpu_s = cpu_seconds(server) - cpu
    phase.client_cpu_s = time.process_time() - own
    phase.load = os.getloadavg()[0]
    phase.rss_mib = rss_kib(server) / 1024
    return phase


class Page:
    """The chat page's events through Gradio's queue, as a browser sends them (join, then read the event stream)."""

    def __init__(self, url: str) -> None:
        self.url = url
        config = httpx.get(f"{url}/config", timeout=10).json()
        elem = {c["id"]: c.get("props", {}).get("elem_id") for c in config["components"]}
        self.event = {elem[d["targets"][0][0]]: d["id"] for d in config["dependencies"] if d["targets"]}

    def call(self, http: httpx.Client, session: str, name: str, data: list[object]) -> tuple[int | str, str]:
        """(HTTP status of the join, or of the event: 200 done; the first output as text)."""
        event = self.event[name]
        body = {"data": data, "event_data": None, "fn_index": event, "trigger_id": event, "session_hash": session}
        try:
            joined = http.post(f"{self.url}/gradio_api/queue/join", json=body)
            if joined.status_code != 200:
                return joined.status_code, ""
            with http.stream("GET", f"{self.url}/gradio_api/queue/data", params={"session_hash": session}) as stream:
                for line in stream.iter_lines():
                    message = json.loads(line[5:]) if line.startswith("data:") else {}
                    if message.get("event_id") != joined.json()["event_id"]:
                        continue
                    if message.get("msg") == "queue_full":
                        return 503, ""
                    if message.get("msg") == "process_completed":
                        return (200, str(message["output"]["data"][0])) if message.get("success") else ("failed", "")
        except httpx.HTTPError as exc:
            return type(exc).__name__, ""
        return "no answer", ""

    def open_and_ask(self, http: httpx.Client, i: int) -> tuple[str, int | str]:
        """A new page session that has asked one question: (its id, the status of the ask)."""
        session = uuid.uuid4().hex[:12]
        status, _ = self.call(http, session, "ask", [QUESTIONS[i % len(QUESTIONS)], [], None, None, None])
        return session, status


def sessions(page: Page) -> Callable[[httpx.Client, int], list[tuple[int | str, float]]]:
    """Each post opens a page session and asks once in it."""

    def send(http: httpx.Client, i: int) -> list[tuple[int | str, float]]:
        start = time.perf_counter()
        _, status = page.open_and_ask(http, i)
        return [(status, (time.perf_counter() - start) * 1000)]

    return send


def feedback(page: Page, *, acknowledged: list[str]) -> Callable[[httpx.Client, int], list[tuple[int | str, float]]]:
    """Every FEEDBACK_PER_SESSION-th post opens a session and asks in it first; of each ten posts one
    comment is over the 2,000-character limit (refused by the handler, counted 4xx) and one over the
    body limit (413 before Gradio)."""
    sessions: dict[int, str] = {}

    def send(http: httpx.Client, i: int) -> list[tuple[int | str, float]]:
        thread = threading.get_ident()
        if i % FEEDBACK_PER_SESSION == 0 or thread not in sessions:
            sessions[thread], _ = page.open_and_ask(http, i)
        comment = {1: "x" * 5_000, 2: "y" * 300_000}.get(i % 10, f"Flood comment {i}")
        start = time.perf_counter()
        status, said = page.call(http, sessions[thread], "thumbs-down" if i % 2 else "thumbs-up", [i % 3 == 0, comment, None])
        ms = (time.perf_counter() - start) * 1000
        if status == 200 and said.startswith("Thank you"):
            acknowledged.append(said)
        elif status == 200 and said.startswith("Too many feedback entries"):
            status = 429
        elif status == 200 and "keep it under" in said:
            status = 400
        elif status == 200:
            status = f"said: {said[:60]}"
        return [(status, ms)]

    return send


def _asked() -> list[str]:
    """Distinct single-turn questions from the committed question sets, in a fixed order: a server's
    caches (a question's embedding, its sentences') would flatter a load of four repeated questions."""
    found = dict.fromkeys(
        case["question"]
        for path in sorted((ROOT / "evals").glob("*.jsonl"))
        for case in map(json.loads, path.read_text(encoding="utf-8").splitlines())
        if not case.get("turns")
    )
    return list(found)


ASKED = _asked()


def question(i: int) -> bytes:
    return json.dumps({"question": ASKED[i % len(ASKED)]}).encode()


def repeated(i: int) -> bytes:
    """The measure of earlier rounds: four questions, so every cache hits after the first few."""
    return json.dumps({"question": QUESTIONS[i % len(QUESTIONS)]}).encode()


def big_history(i: int) -> bytes:
    return _big_history(i % len(QUESTIONS))


@functools.cache
def _big_history(k: int) -> bytes:
    # ~200 KiB: under the 256 KiB default; only the last 20 turns are read. Encoded once per question:
    # 64 client threads encoding 200 KiB each took CPU from the server they share these 2 cores with.
    turns = [{"role": "assistant" if j % 2 else "user", "content": ("We are in lead optimization. " * 60)[:1900]} for j in range(100)]
    return json.dumps({"question": QUESTIONS[k], "history": turns}).encode()


# The same 1 MiB body every time, encoded once.
_HUGE = json.dumps({"question": "Which model?", "history": [{"role": "user", "content": "x"}] * 30000}).encode()


def huge_history(i: int) -> bytes:
    return _HUGE


def main() -> None:
    out = ROOT / "bench" / "results" / "stress.json"
    # Every client here is 127.0.0.1, so the per-address rates (120 questions, 10 feedback entries a
    # minute) would shed nearly everything: raised, so the shared limits are what is measured.
    rates = {"ADVISOR_RATE_LIMIT": "1000000/minute", "ADVISOR_FEEDBACK_RATE_LIMIT": "1000000/minute"}
    print(f"load average at start: {os.getloadavg()[0]:.1f} (2 cores; other processes move every latency)")
    with tempfile.TemporaryDirectory(prefix="advisor-stress-") as tmp:
        env = {**os.environ, "ADVISOR_DATA_DIR": tmp, **rates, "HF_HUB_OFFLINE": "1"}
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
            page = Page(url)
            acknowledged: list[str] = []
            pid = server.pid
            run(Phase("warm-up", 2), total=20, body=repeated, url=url, server=pid)
            rss_cold = rss_kib(pid)
            # A server in use keeps its page sessions up to ADVISOR_PAGE_SESSIONS (about 0.5 MiB each):
            # "before" is a server whose page has been used that much, so the floods' lines show what
            # they add beyond the state that bound keeps anyway.
            load(Phase("warm-up: page sessions to the bound", 8), total=KEPT_SESSIONS, send=sessions(page), server=pid)
            # RSS is read after a quiet moment, before as after: the server gives freed heap back then (ui/idle_trim.py).
            time.sleep(QUIET_SECONDS + 1)
            rss_before = rss_kib(pid)
            phases = [
                run(Phase("16 clients, 4 questions repeated", 16), total=2000, body=repeated, url=url, server=pid),
                run(Phase("16 clients, distinct questions", 16), total=2000, body=question, url=url, server=pid),
                run(Phase("64 clients (overload: queue of 16)", 64), total=2000, body=lambda i: question(2000 + i), url=url, server=pid),
                run(Phase("large-history flood (~200 KiB bodies)", 64), total=300, body=big_history, url=url, server=pid),
                run(Phase("oversized-history flood (30,000 turns)", 64), total=300, body=huge_history, url=url, server=pid),
                load(Phase("feedback flood (page; 1 in 5 oversized)", 32), total=FEEDBACK_FLOOD, send=feedback(page, acknowledged=acknowledged), server=pid),
                # The floods again: what a bounded cache took the first time it keeps, a leak adds to.
                run(Phase("large-history flood, again", 64), total=300, body=big_history, url=url, server=pid),
                load(Phase("feedback flood, again", 32), total=FEEDBACK_FLOOD, send=feedback(page, acknowledged=acknowledged), server=pid),
            ]
            rss_peak = rss_kib(pid)
            run(Phase("cool-down", 2), total=50, body=repeated, url=url, server=pid)
            time.sleep(QUIET_SECONDS + 1)
            rss_after = rss_kib(pid)
            health = httpx.get(f"{url}/api/health", timeout=5).json()
        finally:
            server.terminate()
            server.wait(timeout=30)
        with sqlite3.connect(Path(tmp) / "feedback.sqlite3") as db:
            stored = db.execute("SELECT count(*) FROM feedback").fetchone()[0]
    rows = [p.summary() for p in phases]
    head = ("phase", "cl", "req", "s", "req/s", "p50", "p95", "p99", "ok", "shed", "4xx", "err", "shed p95", "max shed ms", "cpu ms/req", "client cpu", "load", "RSS MiB")
    print(f"{head[0]:42}" + "".join(f"{h:>{max(6, len(h) + 1)}}" for h in head[1:]))
    keys = ("clients", "requests", "seconds", "req_per_s", "p50_ms", "p95_ms", "p99_ms", "ok", "shed_429_503", "refused_4xx", "errors", "p95_shed_ms", "max_shed_ms", "cpu_ms_per_request", "client_cpu_ms_per_request", "load", "rss_mib")
    for r in rows:
        print(f"{r['phase']:42}" + "".join(f"{r[k]!s:>{max(6, len(h) + 1)}}" for k, h in zip(keys, head[1:], strict=True)))
    print(f"RSS before {rss_before / 1024:.0f} MiB ({rss_cold / 1024:.0f} MiB before the page sessions), peak {rss_peak / 1024:.0f} MiB, "
          f"after {rss_after / 1024:.0f} MiB ({(rss_after - rss_before) / rss_before * 100:+.1f}%; "
          f"{(rss_after - rss_cold) / rss_cold * 100:+.1f}% of the server before its page sessions); health after: {health.get('status')}")  # fmt: skip
    # New questions fill bounded caches (sentence and question vectors, facts read): a server in use
    # has them full, so what the floods leave is measured from the end of the distinct-question phase.
    filled = next(r["rss_mib"] for r in rows if str(r["phase"]).startswith("16 clients, distinct"))
    print(f"The floods, from the server with its caches full ({filled} MiB, after the distinct questions): "
          f"{rss_after / 1024 - filled:+.0f} MiB ({(rss_after / 1024 - filled) / filled * 100:+.1f}%).")  # type: ignore[operator]
    first, again = rows[-3]["rss_mib"], rows[-1]["rss_mib"]
    print(f"The floods' second round: RSS {first} -> {again} MiB ({again - first:+} MiB): growth that stops is bounded caches, growth that goes on a leak.")  # type: ignore[operator]
    print(f"Feedback: {len(acknowledged)} acknowledged, {stored} in the store ({'none lost' if stored == len(acknowledged) else 'LOST SOME'}); "
          f"{2 * FEEDBACK_FLOOD // FEEDBACK_PER_SESSION} page sessions opened (each asked once; their answers count in the line's CPU).")
    print("Targets: 0 errors; p95 <= 300 ms at 16 clients; overload answered 429/503 within 1 s; RSS back within 10%.")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "phases": rows, "rss_kib": {"before_page_sessions": rss_cold, "before": rss_before, "peak": rss_peak, "after": rss_after}, "health": health,
        "feedback": {"acknowledged": len(acknowledged), "stored": stored}, "load_average_end": os.getloadavg()[0],
    }, indent=1))  # fmt: skip
    print(f"JSON: {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

"""Real services for the team-scale tests: a process started on 127.0.0.1 and known ready when
it prints the line that says so (an event set by a reader thread, never a sleep)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

BIN = Path(sys.executable).parent
STARTUP_S = 240


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Service:
    """A child process whose output is kept; ``ready`` is set when ``ready_line`` appears."""

    def __init__(self, argv: Sequence[str], *, ready_line: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
        self.argv = list(argv)
        self.output: list[str] = []
        self.ready = threading.Event()
        self._pattern = re.compile(ready_line)
        self.proc = subprocess.Popen(
            self.argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            env={**os.environ, **(env or {})},
            cwd=cwd,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)
            if self._pattern.search(line):
                self.ready.set()
        self.ready.set()  # the process ended: wake the waiter, which then sees it is gone

    def wait_ready(self) -> None:
        if not self.ready.wait(STARTUP_S) or self.proc.poll() is not None:
            raise RuntimeError(f"{self.argv[0]} did not start:\n{''.join(self.output[-40:])}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def chroma_server(path: Path, port: int) -> Service:
    service = Service(
        [str(BIN / "chroma"), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        ready_line=r"listening on address",
        env={"ANONYMIZED_TELEMETRY": "False", "NO_COLOR": "1"},
    )
    service.wait_ready()
    return service


def advisor_server(port: int, env: dict[str, str]) -> Service:
    service = Service(
        [str(BIN / "advisor-bot"), "serve", "--port", str(port)], ready_line=r"Uvicorn running on", env=env
    )
    service.wait_ready()
    return service


def run_cli(args: Sequence[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "advisor-bot"), *args], capture_output=True, text=True, env={**os.environ, **env}, timeout=600, check=False
    )

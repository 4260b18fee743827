"""Chroma server mode: one real `chroma run` server, two `advisor-bot serve` replicas.

An ingest from the command line is seen by both replicas without a restart; the server
stopping gives a clear error naming its URL, and service resumes when it is back.
"""

from __future__ import annotations

import shutil

import httpx
import pytest

from advisor_bot.config import PROJECT_ROOT
from tests.services import Service, advisor_server, chroma_server, free_port, run_cli

QUESTION = "We're in hit-to-lead running SAR on two series. CRO or CDMO?"


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory):
    """One Chroma server, an ingest and two replicas for the module (they take a while to start);
    the tests run in file order and each leaves the server running."""
    tmp_path = tmp_path_factory.mktemp("team")
    corpus_copy = tmp_path / "corpus"
    shutil.copytree(PROJECT_ROOT / "corpus", corpus_copy)
    chroma_port = free_port()
    url = f"http://127.0.0.1:{chroma_port}"
    env = {"ADVISOR_CHROMA_URL": url, "ADVISOR_CORPUS_DIR": str(corpus_copy), "ADVISOR_DATA_DIR": str(tmp_path / "data")}
    services: list[Service] = []
    chroma = chroma_server(tmp_path / "chroma", chroma_port)
    services.append(chroma)
    try:
        first = run_cli(["ingest"], env)
        assert first.returncode == 0, first.stderr
        replicas = []
        for _ in range(2):
            replicas.append(advisor_server(free_port(), env))
            services.append(replicas[-1])
        yield {"url": url, "env": env, "chroma": chroma, "replicas": replicas, "path": tmp_path / "chroma", "port": chroma_port,
               "services": services, "corpus": corpus_copy}
    finally:
        for s in services:
            s.stop()


def base(replica: Service) -> str:
    return f"http://127.0.0.1:{replica.argv[-1]}"


def ask(replica: Service) -> httpx.Response:
    return httpx.post(f"{base(replica)}/api/ask", json={"question": QUESTION}, timeout=120)


def test_replicas_share_one_chroma_server_and_see_a_reingest(team) -> None:
    corpus_copy = team["corpus"]
    answers = [ask(r) for r in team["replicas"]]
    assert [a.status_code for a in answers] == [200, 200]
    v1 = {a.json()["corpus_version"] for a in answers}
    assert len(v1) == 1
    assert answers[0].json()["recommendation"]["model"] == answers[1].json()["recommendation"]["model"] == "CRO"

    # A changed corpus, ingested by a third process: both replicas answer from it without a restart.
    (corpus_copy / "audits.md").write_text("# Audits\n\nCDMO audits cover batch records and deviations.\n", encoding="utf-8")
    second = run_cli(["ingest"], team["env"])
    assert second.returncode == 0, second.stderr
    assert "1 added" in second.stdout
    answers = [ask(r) for r in team["replicas"]]
    v2 = {a.json()["corpus_version"] for a in answers}
    assert len(v2) == 1 and v2 != v1
    version = v2.pop()
    assert version in second.stdout
    health = httpx.get(f"{base(team['replicas'][1])}/api/health", timeout=60).json()
    assert health["status"] == "ok"

    # On a server a rebuild recreates the collections: every unit is written again, the version stays.
    rebuilt = run_cli(["ingest", "--rebuild"], team["env"])
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert " 0 unchanged" in rebuilt.stdout and version in rebuilt.stdout
    assert {ask(r).json()["corpus_version"] for r in team["replicas"]} == {version}

    listed = run_cli(["sources"], team["env"])
    assert listed.returncode == 0, listed.stderr
    assert "audits.md" in listed.stdout and "cro-cdmo-framework.md" in listed.stdout


def test_chroma_server_stopping_names_its_url_and_service_resumes(team) -> None:
    replica = team["replicas"][0]
    assert ask(replica).status_code == 200
    team["chroma"].stop()

    down = ask(replica)
    assert down.status_code == 409
    assert team["url"] in down.json()["detail"]
    assert "not answering" in down.json()["detail"]
    health = httpx.get(f"{base(replica)}/api/health", timeout=60)
    assert health.status_code == 503 and team["url"] in health.json()["detail"]
    cli = run_cli(["ask", QUESTION], team["env"])
    assert cli.returncode == 2 and team["url"] in cli.stderr

    restarted = chroma_server(team["path"], team["port"])
    team["services"].append(restarted)
    again = ask(replica)
    assert again.status_code == 200, again.text
    assert again.json()["recommendation"]["model"] == "CRO"

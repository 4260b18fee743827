"""compose.yaml and deploy/nginx.conf against the code they start: no docker here, so what can be
checked without one (the spec's own schema check is recorded in docs/deploy.md)."""

from __future__ import annotations

import re

import yaml

from advisor_bot.config import PROJECT_ROOT, Settings
from ui.cli import app as cli

COMPOSE = yaml.safe_load((PROJECT_ROOT / "compose.yaml").read_text(encoding="utf-8"))
SERVICES = COMPOSE["services"]


def settings_variables() -> set[str]:
    names = {f"ADVISOR_{name.upper()}" for name in Settings.model_fields}
    for info in Settings.model_fields.values():
        alias = info.validation_alias
        names |= {str(c).upper() for c in getattr(alias, "choices", [alias] if alias else [])}
    return names


def test_every_advisor_variable_compose_sets_is_a_setting():
    used = {k for s in SERVICES.values() for k in s.get("environment") or {} if k.startswith("ADVISOR_")}
    assert used and used <= settings_variables(), sorted(used - settings_variables())


def test_the_commands_compose_runs_are_commands_of_the_cli():
    commands = {c.name or c.callback.__name__ for c in cli.registered_commands}
    for name in ("ingest", "app"):
        program, command, *_ = SERVICES[name]["command"]
        assert program == "advisor-bot" and command in commands


def test_dependencies_and_volumes_resolve():
    for name, service in SERVICES.items():
        assert set(service.get("depends_on") or {}) <= set(SERVICES), name
        for volume in service.get("volumes") or []:
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (PROJECT_ROOT / source).exists(), (name, source)
            else:
                assert source in COMPOSE["volumes"], (name, source)


def test_the_load_balancer_sends_traffic_to_the_port_the_app_serves_on():
    conf = (PROJECT_ROOT / "deploy" / "nginx.conf").read_text(encoding="utf-8")
    serve = SERVICES["app"]["command"]
    port = serve[serve.index("--port") + 1]
    assert re.search(rf"server\s+app:{port};", conf)
    assert "ip_hash" in conf  # Gradio's queue needs a session's events on one replica


def test_the_deploy_guide_lists_every_setting():
    guide = (PROJECT_ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    assert [n for n in (f"ADVISOR_{k.upper()}" for k in Settings.model_fields) if f"`{n}`" not in guide] == []


def test_compose_environment_is_accepted_by_the_settings(monkeypatch):
    # Defaults as compose interpolates them when .env sets nothing.
    for key, value in SERVICES["app"]["environment"].items():
        monkeypatch.setenv(key, re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(value)))
    settings = Settings()
    assert settings.chroma_url == "http://chroma:8000" and "localhost" in settings.allowed_hosts

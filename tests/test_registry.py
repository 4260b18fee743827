"""The tool registry: each decision tool declared once, and the surfaces generated from it.

The generated schemas themselves are pinned where a client sees them: the LangChain tools as the
OpenAI-protocol server receives them (test_llm_http.py) and the MCP tools as an MCP client lists
them (test_ui_api.py), both against tests/data/tool_schemas/.
"""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import Field, ValidationError

from advisor_bot import registry
from advisor_bot.registry import REGISTRY, tool
from advisor_bot.tools import StageResult, Toolbox

EIGHT = {
    "stage_recommendation",
    "profile_assessment",
    "pricing_models",
    "estimate_cost",
    "transition_options",
    "ip_checklist",
    "regulatory_roles",
    "common_mistakes",
}


def test_the_registry_holds_the_eight_toolbox_methods_once() -> None:
    assert set(REGISTRY) == EIGHT
    assert all(spec.func is getattr(Toolbox, name) for name, spec in REGISTRY.items())


def test_a_tool_with_an_undescribed_argument_is_rejected_and_not_registered() -> None:
    before = dict(REGISTRY)
    with pytest.raises(TypeError, match="provider"):

        @tool
        def half_described(self: object, stage: Annotated[str, Field(description="A stage label.")], provider: str) -> StageResult:
            """Look up a stage."""
            raise AssertionError("never called")

    assert REGISTRY == before


def test_a_tool_without_a_docstring_is_rejected() -> None:
    with pytest.raises(TypeError, match="docstring"):

        @tool
        def undocumented(self: object, stage: Annotated[str, Field(description="A stage label.")]) -> StageResult:
            raise AssertionError("never called")


def test_a_described_tool_gets_an_argument_model_with_its_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "REGISTRY", {})

    @tool
    def look_up(
        self: object, stage: Annotated[str, Field(description="A stage label.")], *, focus: Annotated[str, Field(description="Words.")] = ""
    ) -> StageResult:
        """Look up a stage."""
        return StageResult(row=None, known_stages=[stage, focus])

    spec = registry.REGISTRY["look_up"]
    assert spec.description == "Look up a stage." and spec.result is StageResult
    schema = spec.args.model_json_schema()
    assert schema["required"] == ["stage"] and schema["properties"]["focus"]["default"] == ""
    assert schema["properties"]["stage"]["description"] == "A stage label."
    result = spec.run(object(), spec.args.model_validate({"stage": "Discovery", "focus": "cost"}))
    assert isinstance(result, StageResult) and result.known_stages == ["Discovery", "cost"]
    with pytest.raises(ValidationError):
        spec.args.model_validate({"stage": 3})


def test_every_argument_of_every_tool_reaches_its_argument_model() -> None:
    """ip_checklist's ``focus`` was once lost on the MCP surface: the argument models are what the surfaces read."""
    assert set(REGISTRY["ip_checklist"].args.model_fields) == {"engagement", "focus"}
    assert set(REGISTRY["regulatory_roles"].args.model_fields) == {"provider", "focus"}
    for spec in REGISTRY.values():
        assert all(f.description for f in spec.args.model_fields.values()), spec.name

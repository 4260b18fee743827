"""What the model may call and read: ``search_framework``, ``record_situation`` and the registry's
decision tools as LangChain tools, and passages in the shape the model is shown them."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Iterable

from langchain_core.tools import StructuredTool

from advisor_bot.engines.base import EngineContext
from advisor_bot.engines.passages import passage_citation
from advisor_bot.grounding import Evidence
from advisor_bot.reading.model_reading import TOOL as SITUATION
from advisor_bot.reading.model_reading import TOOL_DESCRIPTION, situation_schema
from advisor_bot.registry import REGISTRY
from advisor_bot.retrieve import Passage

SEARCH = "search_framework"


def build_tools(context: EngineContext) -> dict[str, StructuredTool]:
    """``search_framework`` and every decision tool, as LangChain tools: the decision tools are generated
    from the registry (description, argument model), the same one the MCP tools come from."""

    def search_framework(query: str) -> list[Passage]:
        """Search the framework (and any documents the user added) for passages about a topic.

        query: what to look for, in the user's words or the framework's terms.
        Each passage comes with an id; cite it in square brackets, like [p4].
        """
        return context.retriever.search(query).passages

    def record_situation(**fields: object) -> dict[str, list[str]]:
        return {"recorded": sorted(k for k, v in fields.items() if v is not None)}

    tools = {
        SEARCH: StructuredTool.from_function(search_framework, name=SEARCH, description=inspect.getdoc(search_framework)),
        SITUATION: StructuredTool.from_function(
            record_situation, name=SITUATION, description=TOOL_DESCRIPTION, args_schema=situation_schema(context.toolbox.framework)
        ),
    }
    for spec in REGISTRY.values():
        tools[spec.name] = StructuredTool(
            name=spec.name,
            description=spec.description,
            args_schema=spec.args,
            func=functools.partial(spec.func, context.toolbox),
        )
    return tools


def passages_payload(passages: Iterable[Passage], evidence: Evidence) -> dict[str, object]:
    """Passages as the model is shown them: each with an id to cite it by (``evidence`` resolves it)."""
    return {
        "passages": [
            {"id": evidence.register(passage_citation(p)), "section": p.section, "text": p.quote}
            | ({"promotional": True} if p.promotional else {})
            | ({"source": f"user document {p.document}, not the framework"} if p.origin == "user" else {})
            for p in passages
        ]
    }

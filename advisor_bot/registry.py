"""The decision tools' registry: each tool is declared once, as a typed method, and every surface
(the offline engine's direct calls, the LLM's LangChain tools, the MCP tools) is generated from it.

A tool's docstring is its description; each argument is ``Annotated`` with a pydantic ``Field``
whose description the LLM and MCP clients see; the return annotation is the result model. The
argument model is built from the signature by pydantic, so a changed argument changes every
surface at once (and the pinned schemas in ``tests/data/tool_schemas/`` show it in review).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar, get_args, get_type_hints

from pydantic import BaseModel, create_model
from pydantic.fields import FieldInfo

F = TypeVar("F", bound=Callable[..., BaseModel])


@dataclass(frozen=True)
class ToolSpec:
    """One decision tool as every surface sees it."""

    name: str
    description: str
    args: type[BaseModel]
    result: type[BaseModel]
    func: Callable[..., BaseModel]

    def run(self, owner: object, arguments: BaseModel) -> BaseModel:
        """Call the tool on ``owner`` (the object whose method it is) with validated arguments."""
        return self.func(owner, **{name: getattr(arguments, name) for name in type(arguments).model_fields})


REGISTRY: dict[str, ToolSpec] = {}


def _described(hint: object) -> bool:
    return any(isinstance(m, FieldInfo) and m.description for m in get_args(hint)[1:])


def tool(func: F) -> F:
    """Register a method as a decision tool; it must describe itself and every argument."""
    doc = inspect.getdoc(func) or ""
    hints = get_type_hints(func, include_extras=True)
    params = [p for p in inspect.signature(func).parameters.values() if p.name != "self"]
    undescribed = [p.name for p in params if not _described(hints.get(p.name))]
    result = hints.get("return")
    if not doc.strip() or undescribed:
        raise TypeError(
            f"Tool {func.__name__} must have a docstring and an Annotated Field description for each argument "
            f"(missing: {undescribed or 'the docstring'})."
        )
    if not (isinstance(result, type) and issubclass(result, BaseModel)):
        raise TypeError(f"Tool {func.__name__} must return a pydantic model.")
    fields: dict[str, tuple[object, object]] = {
        p.name: (hints[p.name], ... if p.default is inspect.Parameter.empty else p.default) for p in params
    }
    camel = re.sub(r"(?:^|_)(\w)", lambda m: m.group(1).upper(), func.__name__)
    args = create_model(f"{camel}Args", __doc__=doc, **fields)  # type: ignore[call-overload]
    REGISTRY[func.__name__] = ToolSpec(name=func.__name__, description=doc, args=args, result=result, func=func)
    return func

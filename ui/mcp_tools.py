"""The decision tools and ``ask`` as Gradio API endpoints, which Gradio also serves as MCP tools.

Gradio builds each tool's JSON schema from a function's type hints and its description from the
docstring's ``Args:``. The decision tools' functions are generated from the registry
(``advisor_bot.registry``): one parameter per field of the tool's argument model, the field's
description in ``Args:``, nested models as TypedDicts so MCP clients see every field. Every tool
returns JSON text.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from types import UnionType
from typing import Literal, Union, get_args, get_origin, get_type_hints, TypeGuard

import gradio as gr
from pydantic import BaseModel, TypeAdapter, ValidationError
# pydantic (the argument check) needs typing_extensions' TypedDict on Python 3.11.
from typing_extensions import TypedDict

from advisor_bot.advisor import Advisor
from advisor_bot.errors import AdvisorError
from advisor_bot.situation import Situation
from advisor_bot.tools import Toolbox
from advisor_bot.registry import REGISTRY, ToolSpec
from ui.limits import Admission

logger = logging.getLogger(__name__)


def _shape(model: type[BaseModel]) -> type:
    """A TypedDict of the model's fields (all optional): Gradio turns it into the JSON schema MCP clients see."""
    # Built at run time from the model, which mypy cannot follow.
    return TypedDict(f"{model.__name__}Input", {n: _plain(f.annotation) for n, f in model.model_fields.items()}, total=False)  # type: ignore[operator]


def _is_model(annotation: object) -> TypeGuard[type[BaseModel]]:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _plain(annotation: object) -> object:
    """``X | None`` -> ``X`` (absence already means None); nested models -> their shape."""
    union = get_origin(annotation) in (Union, UnionType)
    options = [a for a in get_args(annotation) if a is not type(None)] if union else [annotation]
    if len(options) == 1 and _is_model(options[0]):
        return _shape(options[0])
    return options[0] if len(options) == 1 else Union[tuple(options)]  # noqa: UP007 - built at run time


# Derived, not retyped, so the tool schemas follow the models as fields are added.
SituationInput = _shape(Situation)


def _endpoint(spec: ToolSpec, owner: Callable[[], object]) -> Callable[..., str]:
    """A plain function with the tool's parameters, for Gradio to read; it validates its arguments
    with the tool's own model, so a wrong call is answered as the caller's mistake."""
    fields = spec.args.model_fields
    parameters = [
        inspect.Parameter(
            name,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            annotation=_shape(f.annotation) if _is_model(f.annotation) else f.annotation,
            **({} if f.is_required() else {"default": f.default}),
        )
        for name, f in fields.items()
    ]
    args_doc = "".join(f"\n    {name}: {f.description}" for name, f in fields.items())

    def endpoint(*args: object, **kwargs: object) -> str:
        bound = signature.bind(*args, **kwargs)
        return _json(lambda: spec.run(owner(), spec.args.model_validate(bound.arguments)))

    signature = inspect.Signature(parameters, return_annotation=str)
    endpoint.__signature__ = signature  # type: ignore[attr-defined]
    endpoint.__annotations__ = {p.name: p.annotation for p in parameters} | {"return": str}
    endpoint.__name__ = endpoint.__qualname__ = spec.name
    endpoint.__doc__ = spec.description + (f"\n\nArgs:{args_doc}" if fields else "")
    return endpoint


class TurnInput(TypedDict):
    role: Literal["user", "assistant"]
    content: str


def _json(produce: Callable[[], BaseModel]) -> str:
    """Run a tool; errors a caller can fix become a ``gr.Error`` with the reason."""
    # print_exception=False: the caller's mistake is answered, not written to the log as a traceback.
    try:
        return produce().model_dump_json()
    except AdvisorError as exc:
        raise gr.Error(str(exc), print_exception=False) from exc
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise gr.Error(f"Invalid arguments: {problems}", print_exception=False) from exc
    except Exception as exc:
        logger.exception("MCP tool failed")
        raise gr.Error("The tool failed on the server; the error has been logged.") from exc


def _typed(fn: Callable[..., str]) -> Callable[..., str]:
    """Check each argument against the tool's type hints before it runs: a number where text belongs
    is the caller's mistake, answered as such, not a crash inside the tool."""
    signature = inspect.signature(fn)
    adapters = {name: TypeAdapter(hint) for name, hint in get_type_hints(fn).items() if name != "return"}

    @functools.wraps(fn)
    def checked(*args: object, **kwargs: object) -> str:
        problems = []
        for name, value in signature.bind(*args, **kwargs).arguments.items():
            try:
                adapters[name].validate_python(value)
            except ValidationError as exc:
                problems += [f"{'.'.join(map(str, (name, *e['loc'])))}: {e['msg']}" for e in exc.errors()]
        if problems:
            raise gr.Error(f"Invalid arguments: {'; '.join(problems)}", print_exception=False)
        return fn(*args, **kwargs)

    return checked


def register_tools(advisor: Advisor, *, admission: Admission) -> None:
    """Add the endpoints to the Blocks being built (call inside ``with gr.Blocks()``)."""

    def toolbox() -> Toolbox:
        # Looked up per call: the advisor reloads its context when the corpus changes.
        return advisor.context.toolbox

    def ask(question: str, history: list[TurnInput] | None = None, situation: SituationInput | None = None) -> str:  # type: ignore[valid-type]
        """Answer a question about outsourcing chemical development (CRO, CDMO, hybrid or integrated partner), quoting the framework verbatim.

        Args:
            question: the user's question, in their words.
            history: earlier messages of the conversation, oldest first, each {"role": "user" or "assistant", "content": text}.
            situation: facts about the program that override what is read from the question (stage, quantity, gmp, budget, timeline, in_house, ip_sensitivity).
        Returns:
            The Answer as JSON: answer_markdown, citations (verbatim quotes with section and offsets), recommendation, situation, engine.
        """

        def run() -> BaseModel:
            given = Situation.model_validate(situation) if situation else None
            with admission.ticket():
                return admission.call(lambda: advisor.ask(question, history=list(history or []), situation=given))

        return _json(run)

    # Unqueued: MCP then calls the function in-process instead of looping back over
    # HTTP, which would need the basic-auth password; ``admission`` bounds the heavy one.
    gr.api(_typed(ask), api_name="ask", queue=False)
    for spec in REGISTRY.values():
        gr.api(_endpoint(spec, toolbox), api_name=spec.name, queue=False)

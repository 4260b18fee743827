"""The decision tools and ``ask`` as Gradio API endpoints, which Gradio also serves as MCP tools.

Gradio builds each tool's JSON schema from the type hints and its description
from the docstring's ``Args:``; TypedDicts derived from ``Situation`` and
``CostScenario`` give MCP clients every field of those models. Every tool
returns JSON text.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from types import UnionType
from typing import Literal, Union, get_args, get_origin, get_type_hints

import gradio as gr
from pydantic import BaseModel, TypeAdapter, ValidationError
# pydantic (the argument check) needs typing_extensions' TypedDict on Python 3.11.
from typing_extensions import TypedDict

from advisor_bot.advisor import Advisor
from advisor_bot.errors import AdvisorError
from advisor_bot.situation import Situation
from advisor_bot.tools import CostScenario, Toolbox
from ui.limits import Admission

logger = logging.getLogger(__name__)

ProviderName = Literal["CRO", "CDMO"]


def _shape(model: type[BaseModel]) -> type:
    """A TypedDict of the model's fields (all optional): Gradio turns it into the JSON schema MCP clients see."""
    return TypedDict(f"{model.__name__}Input", {n: _plain(f.annotation) for n, f in model.model_fields.items()}, total=False)


def _plain(annotation: object) -> object:
    """``X | None`` -> ``X`` (absence already means None); nested models -> their shape."""
    union = get_origin(annotation) in (Union, UnionType)
    options = [a for a in get_args(annotation) if a is not type(None)] if union else [annotation]
    if len(options) == 1 and isinstance(options[0], type) and issubclass(options[0], BaseModel):
        return _shape(options[0])
    return options[0] if len(options) == 1 else Union[tuple(options)]  # noqa: UP007 - built at run time


# Derived, not retyped, so the tool schemas follow the models as fields are added.
SituationInput = _shape(Situation)
CostScenarioInput = _shape(CostScenario)


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
        return advisor.context.toolbox

    def ask(question: str, history: list[TurnInput] | None = None, situation: SituationInput | None = None) -> str:
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
            with admission.ticket(None):
                return admission.call(lambda: advisor.ask(question, history=list(history or []), situation=given))

        return _json(run)

    def stage_recommendation(stage: str) -> str:
        """The Project Stage Decision Matrix row for a development stage: primary need, recommended model(s), selection criteria.

        Args:
            stage: a stage label from the matrix, e.g. "IND-enabling studies"; the result lists the known labels.
        """
        return _json(lambda: toolbox().stage_recommendation(stage))

    def profile_assessment(situation: SituationInput) -> str:
        """Which column (CRO, CDMO, Hybrid) of the Organizational Profile Decision Matrix each stated factor matches, with the tally.

        Args:
            situation: the program's stated factors; omit what is unknown.
        """
        return _json(lambda: toolbox().profile_assessment(Situation.model_validate(situation)))

    def pricing_models(provider: ProviderName | None, situation: str) -> str:
        """Pricing models from the framework's CRO and CDMO pricing tables, best fit first.

        Args:
            provider: "CRO", "CDMO", or null for both.
            situation: the user's words about the work, used to rank the models.
        """
        return _json(lambda: toolbox().pricing_models(provider, situation))

    def estimate_cost(scenario: CostScenarioInput) -> str:
        """Low and high cost of the stated work in USD, itemised, from the framework's own figures, with the arithmetic and citations.

        Args:
            scenario: the work to price: FTEs and months, route scouting, analogs, kilograms, process development, technology transfer.
        """
        return _json(lambda: toolbox().estimate_cost(CostScenario.model_validate(scenario)))

    def transition_options() -> str:
        """Sequential CRO-to-CDMO vs parallel engagement vs an integrated partner: timelines, transfer costs and cited points."""
        return _json(lambda: toolbox().transition_options())

    def ip_checklist(engagement: ProviderName | None) -> str:
        """IP provisions to negotiate for a CRO or CDMO engagement, plus the general negotiation best practices, cited.

        Args:
            engagement: "CRO", "CDMO", or null for both.
        """
        return _json(lambda: toolbox().ip_checklist(engagement))

    def regulatory_roles(provider: ProviderName | None) -> str:
        """Regulatory-filing responsibilities of a CRO or a CDMO, cited.

        Args:
            provider: "CRO", "CDMO", or null for both.
        """
        return _json(lambda: toolbox().regulatory_roles(provider))

    def common_mistakes(situation: str) -> str:
        """The framework's common outsourcing mistakes, most relevant to the situation first, cited.

        Args:
            situation: the user's words, used to rank the mistakes.
        """
        return _json(lambda: toolbox().common_mistakes(situation))

    for fn in (
        ask,
        stage_recommendation,
        profile_assessment,
        pricing_models,
        estimate_cost,
        transition_options,
        ip_checklist,
        regulatory_roles,
        common_mistakes,
    ):
        # Unqueued: MCP then calls the function in-process instead of looping back over
        # HTTP, which would need the basic-auth password; ``admission`` bounds the heavy one.
        gr.api(_typed(fn), api_name=fn.__name__, queue=False)

"""The configured chat model, and what its failures mean to a user: the LangChain client built with
the settings' timeout, retries and the deadline transport, and a failure told in plain words for
the notice that says why the offline engine answered instead."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
from langchain_core.language_models import BaseChatModel

from advisor_bot.config import Settings
from advisor_bot.engines.deadline import DeadlineTransport
from advisor_bot.errors import LLMFault


def chat_model(settings: Settings) -> BaseChatModel:
    """The configured chat model, with the client's timeout and retries set."""
    if not settings.llm:
        raise LLMFault("is not configured (set ADVISOR_LLM to provider:model, e.g. openai:gpt-4o-mini)")
    from langchain.chat_models import init_chat_model

    kwargs: dict[str, Any] = {}
    if settings.llm_temperature is not None:
        kwargs["temperature"] = settings.llm_temperature
    if settings.llm.startswith("ollama:"):
        # ChatOllama has no retry option; its httpx client takes the timeout.
        kwargs["client_kwargs"] = {"timeout": settings.llm_timeout, "transport": DeadlineTransport()}
        if settings.llm_base_url:
            kwargs["base_url"] = settings.llm_base_url
    else:
        kwargs["timeout"] = settings.llm_timeout
        kwargs["max_retries"] = settings.llm_max_retries
        if settings.llm.startswith("openai:"):
            kwargs["http_client"] = httpx.Client(transport=DeadlineTransport(), timeout=settings.llm_timeout)
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
        if settings.llm_base_url:
            kwargs["base_url"] = settings.llm_base_url
            key = key or "not-needed"  # local servers ignore it; the OpenAI client insists on one
        if key:
            kwargs["api_key"] = key
    try:
        return init_chat_model(settings.llm, **kwargs)
    except Exception as exc:  # noqa: BLE001 - any construction error becomes a notice
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        raise LLMFault(f"could not be set up ({type(exc).__name__}: {first})") from exc


def _status(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    if status is None and isinstance(getattr(exc, "response", None), httpx.Response):
        status = exc.response.status_code  # type: ignore[attr-defined]
    return status if isinstance(status, int) else None


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: BaseException | None = exc
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


def fault_reason(exc: BaseException, settings: Settings) -> tuple[str, bool]:
    """How a failure completes "The language model ...", and whether it is an expected one."""
    if isinstance(exc, LLMFault):
        return str(exc), True
    chain = list(_chain(exc))
    if any(isinstance(e, (TimeoutError, httpx.TimeoutException)) or "Timeout" in type(e).__name__ for e in chain):
        tries = settings.llm_max_retries + 1
        return f"did not answer within {settings.llm_timeout:g} s" + (f" on any of {tries} tries" if tries > 1 else ""), True
    status = _status(exc)
    if status == 429:
        return "is rate-limiting requests (HTTP 429)", True
    if status is not None and status >= 500:
        return f"had a server error (HTTP {status})", True
    if status is not None:
        return f"rejected the request (HTTP {status})", True
    if any(isinstance(e, (ConnectionError, httpx.TransportError)) or "Connection" in type(e).__name__ for e in chain):
        refused = any(isinstance(e, ConnectionRefusedError) or "refused" in str(e).lower() for e in chain)
        return "could not be reached" + (" (connection refused)" if refused else ""), True
    return f"failed unexpectedly ({type(exc).__name__})", False

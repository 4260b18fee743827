"""Prompts: Markdown files in ``prompts/``, loaded by name and rendered strictly.

A template names its variables as ``{name}``; rendering fails when a variable is
missing or one is passed that the template does not use, so a renamed variable
can never leave a hole in a prompt. Literal braces are written ``{{`` and ``}}``.
No prompt text lives in Python.
"""

from __future__ import annotations

import string
from functools import cache
from pathlib import Path

from advisor_bot.config import PROJECT_ROOT
from advisor_bot.errors import PromptError

PROMPTS_DIR = PROJECT_ROOT / "prompts"


@cache
def _template(path: Path) -> tuple[str, frozenset[str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PromptError(f"No prompt file {path}.") from exc
    fields = set()
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise PromptError(f"{path.name}: {exc}; write literal braces as {{{{ and }}}}.") from exc
    for _, field, spec, conversion in parsed:
        if field is None:
            continue
        if not field.isidentifier() or spec or conversion:
            raise PromptError(f"{path.name}: '{{{field}}}' is not a plain {{name}} variable.")
        fields.add(field)
    return text.strip("\n"), frozenset(fields)


def variables(name: str, *, directory: Path = PROMPTS_DIR) -> frozenset[str]:
    """The variables prompt ``name`` expects."""
    return _template(directory / f"{name}.md")[1]


def render(name: str, *, directory: Path = PROMPTS_DIR, **values: object) -> str:
    """Prompt ``name`` (``prompts/<name>.md``) with every variable filled in."""
    text, fields = _template(directory / f"{name}.md")
    missing, unused = fields - values.keys(), values.keys() - fields
    if missing or unused:
        raise PromptError(
            f"Prompt {name!r}: missing {sorted(missing)}, unused {sorted(unused)}; it expects {sorted(fields)}."
        )
    return text.format_map({k: str(v) for k, v in values.items()})

"""Gradio, imported without its type-stub writer.

Gradio's component metaclass, for each of its ~80 component classes, reads the class's source
file, parses it and the matching ``.pyi`` with ``ast`` and renders a Jinja template, to keep the
stubs in site-packages in step with the code. That serves Gradio's own development (it writes into
the installed package, and swallows the error where that is read-only, as in our image); here it
was about a third of ``import gradio`` (3.1 s -> 2.2 s of CPU) and so of the server's start.
The hook swaps that one function, as Gradio's module is loaded, for a no-op; a Gradio that has no
such function is left as it is, and so is one imported before this module.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType

_MODULE = "gradio.component_meta"
_WRITER = "create_or_modify_pyi"


def no_stub(component_class: type, class_name: str, events: Sequence[object]) -> None:
    """Stand-in for Gradio's stub writer: the stubs that ship with the package are the ones used."""


class _StubWriterRemover(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != _MODULE:
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or not isinstance(spec.loader, importlib.machinery.SourceFileLoader | importlib.machinery.SourcelessFileLoader):
            return spec
        load = spec.loader.exec_module

        def exec_module(module: ModuleType) -> None:
            load(module)
            if callable(getattr(module, _WRITER, None)):
                setattr(module, _WRITER, no_stub)

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]  # this spec's own loader only
        return spec


def install() -> None:
    """Before the first ``import gradio`` of the process; later it changes nothing."""
    if _MODULE not in sys.modules and not any(isinstance(f, _StubWriterRemover) for f in sys.meta_path):
        sys.meta_path.insert(0, _StubWriterRemover())

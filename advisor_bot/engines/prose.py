"""The model's explanation as a reader gets it: checked a sentence at a time, held back until the
engine's own opening (the verdict, or the framework's sentences) has been shown, and bounded in
length, so the explanation follows the answer instead of burying it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from advisor_bot.engines.sanitize import inert, repeats_prompt
from advisor_bot.grounding import ProseGuard

PARAGRAPH = "\n\n"


@dataclass
class Prose:
    """Feed it the model's sentences as they arrive; nothing comes out until ``release``. Units are
    checked when they are shown, not when they arrive, so citation numbers follow the opening's."""

    guard: ProseGuard
    limit: int  # characters of the model's own text shown at most (before its citations become links)
    held: list[str] = field(default_factory=list)
    shown: list[str] = field(default_factory=list)
    released: bool = False
    full: bool = False  # the next sentence would pass the limit: the rest is not shown (nor read)
    defused: int = 0  # images, remote links, HTML tags and prompt-repeating sentences cut
    written: int = 0  # characters of the model's text shown so far, as it wrote them

    @property
    def text(self) -> str:
        return "".join(self.shown)

    def feed(self, units: Iterable[str]) -> Iterator[str]:
        if not self.released:
            self.held.extend(units)
            return
        yield from self._show(units)

    def paragraph(self) -> Iterator[str]:
        """Text written before a tool call is a paragraph of its own."""
        yield from self.feed([PARAGRAPH])

    def release(self) -> Iterator[str]:
        self.released = True
        held, self.held = self.held, []
        yield from self._show(held)

    def _show(self, units: Iterable[str]) -> Iterator[str]:
        for unit in units:
            if self.full:
                return
            if unit == PARAGRAPH:
                if self.shown and not self.shown[-1].endswith("\n"):
                    self.shown.append(unit)
                    yield unit
                continue
            if repeats_prompt(unit):
                self.defused += 1
                continue
            # Measured before the check: a sentence that is not shown must not number a source.
            if self.written + len(unit.rstrip()) > self.limit:
                self.full = True
                return
            text, removed = inert(self.guard.check(unit) or "")
            self.defused += removed
            if not text.strip():
                continue
            self.written += len(unit)
            self.shown.append(text)
            yield text

"""The parts every widget view shares: the ``View`` box whose callbacks report their errors, and
small HTML helpers. Below :mod:`toolkit.widgets` and :mod:`toolkit.job_views`, which both build on them.

Every callback runs through ``View._run``: inside the view's ``Output`` widget, with errors shown there
(a toolkit error as its message, anything else with its traceback) and kept in ``.errors``.
"""

from __future__ import annotations

import html
import traceback
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as W

from toolkit.errors import ToolkitError

__all__ = ["View", "add_css", "format_counts"]


def add_css(widget: W.Widget, name: str) -> Any:
    """``widget`` with the CSS class ``name`` added (a browser test finds it by that class)."""
    widget.add_class(name)
    return widget


def format_counts(counts: dict[str, Any]) -> str:
    """``counts`` as one HTML table row: the number in bold, then its name."""
    cells = "".join(
        f"<td><b>{html.escape(f'{v:,}' if isinstance(v, int) else str(v))}</b> {html.escape(k)}</td>"
        for k, v in counts.items()
    )
    return f"<table><tr>{cells}</tr></table>"


class View(W.VBox):  # type: ignore[misc]
    """A box whose callbacks run inside its Output widget and show their errors there."""

    def __init__(self, children: Sequence[W.Widget], *, css: str) -> None:
        self.output = add_css(W.Output(), "t-output")
        self.errors: list[str] = []
        super().__init__([self.output, *children])  # errors on top, where they are seen
        self.add_class(css)

    def use_output(self, output: W.Output) -> None:
        """Show errors in ``output`` (an enclosing app's, at its top) instead of this view's own."""
        self.children = [c for c in self.children if c is not self.output]  # type: ignore[has-type]
        self.output = output

    def _clear(self) -> None:
        self.output.outputs = ()
        self.errors.clear()

    def _run(self, action: Callable[[], Any]) -> Any:
        self._clear()  # every action starts from a clean slate: no stale error or result
        with self.output:
            try:
                return action()
            except ToolkitError as exc:
                self._error(f"{type(exc).__name__}: {exc}")
            except Exception as exc:
                self._error("".join(traceback.format_exception(exc)))
        return None

    def _error(self, text: str) -> None:
        self.errors.append(text)
        self.output.append_stderr(text.rstrip("\n") + "\n")

"""How results look in a notebook: readable summaries and styled HTML tables, nothing computed here.

- :class:`Summary` is a plain dict (JSON values, what ``summary.json`` holds) that a notebook shows as a
  few lines of text instead of its whole structure.
- :func:`html_table` renders a frame for people: readable headers, thousands separators, local times
  to the second, ratios as percentages, and no internal columns (those starting with ``_``).
- :class:`Table` wraps a frame so a notebook cell shows it that way.

Examples
--------
>>> import polars as pl
>>> "job id" in html_table(pl.DataFrame({"job_id": [1], "_row": [3]}))
True
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

import polars as pl

__all__ = ["Summary", "Table", "html_table", "readable"]

_STYLE = (
    "<style>.t-table{border-collapse:collapse;font-size:13px}"
    ".t-table th{background:#eceff1;text-align:left;padding:3px 8px;font-weight:600}"
    ".t-table td{padding:2px 8px;border-top:1px solid #e0e0e0}"
    ".t-table td.n{text-align:right;font-variant-numeric:tabular-nums}</style>"
)
_IDS = ("id", "_from")  # identifiers, not quantities: no thousands separator
_UNITS = {"_s": " (s)", "_ms": " (ms)", "_at": ""}


class Summary(dict[str, Any]):
    """A result's summary: a dict of plain JSON values, shown in a notebook as ``text``."""

    def __init__(self, data: dict[str, Any], *, text: str) -> None:
        super().__init__(data)
        self.text = text

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # how IPython shows it
        printer.text(self.text)

    def _repr_html_(self) -> str:
        return f"<pre class='t-summary'>{html.escape(self.text)}</pre>"


def readable(column: str) -> str:
    """A column name as a header: ``lead_time_s`` -> ``lead time (s)``.

    >>> readable("lead_time_s"), readable("queued (UTC)")
    ('lead time (s)', 'queued (UTC)')
    """
    for suffix, unit in _UNITS.items():
        if column.endswith(suffix) and len(column) > len(suffix):
            return column[: -len(suffix)].replace("_", " ") + unit
    return column.replace("_", " ")


def _cell(value: Any, column: str) -> tuple[str, bool]:
    """The text of one value and whether it is a number (right-aligned)."""
    if value is None:
        return "", False
    if isinstance(value, bool):
        return ("yes" if value else "no"), False
    if isinstance(value, int):
        return (str(value) if column.endswith(_IDS) else f"{value:,}"), True
    if isinstance(value, float):
        return (f"{value:.1%}" if "ratio" in column or "share" in column else f"{value:,.1f}"), True
    if isinstance(value, datetime):
        return value.astimezone().strftime("%Y-%m-%d %H:%M:%S"), False
    return str(value), False


def html_table(frame: pl.DataFrame, *, rows: int = 20) -> str:
    """A styled HTML table of the first ``rows`` rows (escaped), with the total when cut.

    >>> html_table(pl.DataFrame({"items": [1234567], "reject_ratio": [0.0125]})).count("1,234,567")
    1
    """
    shown = frame.select(c for c in frame.columns if not c.startswith("_"))
    if shown.height == 0:
        return "<i>none</i>"
    head = "".join(f"<th>{html.escape(readable(c))}</th>" for c in shown.columns)
    body = "".join(
        "<tr>" + "".join(_td(v, c) for v, c in zip(r, shown.columns, strict=True)) + "</tr>"
        for r in shown.head(rows).iter_rows()
    )
    more = f"<p><i>{rows:,} of {shown.height:,} rows shown</i></p>" if shown.height > rows else ""
    return f"{_STYLE}<table class='t-table'><tr>{head}</tr>{body}</table>{more}"


def _td(value: Any, column: str) -> str:
    text, number = _cell(value, column)
    return f"<td class='n'>{html.escape(text)}</td>" if number else f"<td>{html.escape(text)}</td>"


class Table:
    """A frame a notebook cell shows as :func:`html_table` (``frame`` keeps the data)."""

    def __init__(self, frame: pl.DataFrame, *, rows: int = 50) -> None:
        self.frame, self.rows = frame, rows

    def _repr_html_(self) -> str:
        return html_table(self.frame, rows=self.rows)

    def __repr__(self) -> str:
        return f"Table({self.frame.height} rows: {', '.join(map(readable, self.frame.columns))})"

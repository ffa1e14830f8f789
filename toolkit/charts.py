"""Altair charts of job outcomes and plan changes; frame in, chart out, rendered offline.

Job charts take the frame of :func:`toolkit.runs.job_outcomes` (one row per job: feed, status,
items, failures, queued_at, run_time_s, lead_time_s, ...). Nothing here loads vega from a CDN:
:func:`render` turns a chart into an SVG with vl-convert, :func:`save` writes PNG, SVG or self-contained
HTML, and :func:`enable_offline` switches altair's notebook renderer to the same SVG path.

Examples
--------
>>> import polars as pl
>>> chart = changes_per_field({"OnhandValue": 3, "IncomingValue": 1})
>>> chart.to_dict()["mark"]["type"]
'bar'
>>> render(chart).data.startswith("<svg")
True
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import altair as alt
import polars as pl

from toolkit.entities import JobStatus

__all__ = [
    "SVG",
    "changes_per_field",
    "enable_offline",
    "failures_by_feed",
    "gallery",
    "items_per_job",
    "job_charts",
    "jobs_per_day",
    "lead_times",
    "render",
    "run_times",
    "save",
]

STATUS_ORDER = [s.name for s in JobStatus]
# Succeeded green, failures red/orange, in-flight greys and blues: the same in every chart.
_STATUS_COLORS = {
    "Initialized": "#9e9e9e",
    "Succeeded": "#2e7d32",
    "Failed": "#c62828",
    "ValidationFailed": "#ef6c00",
    "Validating": "#1565c0",
    "Queued": "#78909c",
}
_STATUS_SCALE = alt.Scale(domain=STATUS_ORDER, range=[_STATUS_COLORS[s] for s in STATUS_ORDER])
CHART_WIDTH, _HEIGHT = 420, 220
# counts have no fractions (this vega ignores tickMinStep): label whole values only
COUNT_AXIS = alt.Axis(format="d", labelExpr="datum.value % 1 ? '' : datum.label")


def status_color() -> alt.Color:
    return alt.Color("status:N", title="status", scale=_STATUS_SCALE, sort=STATUS_ORDER)


def jobs_per_day(outcomes: pl.DataFrame) -> alt.Chart:
    """Stacked bars: jobs queued per day (UTC), coloured by status; per hour when every job was queued
    on one day, per minute when within one hour (a first day's runs would otherwise be one bar).

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> f = pl.DataFrame({"status": ["Succeeded", "Failed"],
    ...                   "queued_at": [datetime(2024, 5, d, 8, tzinfo=UTC) for d in (1, 2)]})
    >>> chart = jobs_per_day(f).to_dict()
    >>> chart["encoding"]["y"]["field"], chart["title"]
    ('jobs', 'Jobs per day by status')
    """
    unit, stamp = _time_unit(outcomes["queued_at"])
    counts = (
        outcomes.select(pl.col("queued_at").dt.strftime(stamp).alias("time"), "status")
        .group_by("time", "status")
        .agg(pl.len().alias("jobs"))
        .sort("time", "status")
    )
    chart: alt.Chart = (
        alt.Chart(counts, title=f"Jobs per {unit} by status")
        .mark_bar()
        .encode(
            x=alt.X("time:O", title=f"{unit} (UTC)", axis=alt.Axis(labelAngle=-45)),
            y=alt.Y("jobs:Q", title="jobs", stack=True, axis=COUNT_AXIS),
            color=status_color(),
            tooltip=["time:O", "status:N", "jobs:Q"],
        )
        .properties(width=CHART_WIDTH, height=_HEIGHT)
    )
    return chart


def _time_unit(times: pl.Series) -> tuple[str, str]:
    """The coarsest of day, hour and minute that puts ``times`` in more than one bar."""
    for unit, stamp in _UNITS[:-1]:
        if times.dt.strftime(stamp).n_unique() > 1:
            return unit, stamp
    return _UNITS[-1] if times.len() else _UNITS[0]


_UNITS = (("day", "%Y-%m-%d"), ("hour", "%Y-%m-%d %H:00"), ("minute", "%Y-%m-%d %H:%M"))


def _histogram(outcomes: pl.DataFrame, column: str, title: str, *, unit: str = "seconds") -> alt.Chart:
    """Jobs binned by ``column`` (shown as ``unit``), coloured by feed."""
    data = outcomes.select("feed", pl.col(column).alias(unit)).drop_nulls(unit)
    chart: alt.Chart = (
        alt.Chart(data, title=title)
        .mark_bar()
        .encode(
            x=alt.X(f"{unit}:Q", bin=alt.Bin(maxbins=20), title=unit),
            y=alt.Y("count():Q", title="jobs", axis=COUNT_AXIS),
            color=alt.Color("feed:N", title="feed"),
        )
        .properties(width=CHART_WIDTH, height=_HEIGHT)
    )
    return chart


def lead_times(outcomes: pl.DataFrame) -> alt.Chart:
    """Histogram of lead time (queued until finished), by feed.

    Examples
    --------
    >>> lead_times(pl.DataFrame({"feed": ["a"], "lead_time_s": [3.5]})).to_dict()["mark"]["type"]
    'bar'
    """
    return _histogram(outcomes, "lead_time_s", "Lead time (queued to finished)")


def run_times(outcomes: pl.DataFrame) -> alt.Chart:
    """Histogram of run time (started until finished), by feed.

    Examples
    --------
    >>> run_times(pl.DataFrame({"feed": ["a"], "run_time_s": [1.0]})).to_dict()["title"]
    'Run time (started to finished)'
    """
    return _histogram(outcomes, "run_time_s", "Run time (started to finished)")


def items_per_job(outcomes: pl.DataFrame) -> alt.Chart:
    """Histogram of items per job, by feed.

    Examples
    --------
    >>> items_per_job(pl.DataFrame({"feed": ["a"], "items": [10]})).to_dict()["title"]
    'Items per job'
    """
    return _histogram(outcomes, "items", "Items per job", unit="items")


def failures_by_feed(outcomes: pl.DataFrame) -> alt.Chart:
    """Bars per feed: failed jobs (Failed or ValidationFailed) and failed items.

    Examples
    --------
    >>> f = pl.DataFrame({"feed": ["a", "a"], "status": ["Failed", "Succeeded"], "failures": [2, 0]})
    >>> failures_by_feed(f).data.rows()
    [('a', 'failed jobs', 1), ('a', 'failed items', 2)]
    """
    failed = pl.col("status").is_in(["Failed", "ValidationFailed"])
    data = (
        outcomes.group_by("feed", maintain_order=True)
        .agg(
            failed.sum().cast(pl.Int64).alias("failed jobs"),
            pl.col("failures").fill_null(0).sum().cast(pl.Int64).alias("failed items"),
        )
        .unpivot(index="feed", variable_name="measure", value_name="count")
        .sort("feed", pl.col("measure").cast(pl.Enum(["failed jobs", "failed items"])))
    )
    if data.height == 0:
        return empty_chart("Failures by feed", "no jobs")
    if not data["count"].sum():  # bars of zero would show a lone "0"
        return empty_chart("Failures by feed", "no failures")
    chart: alt.Chart = (
        alt.Chart(data, title="Failures by feed")
        .mark_bar()
        .encode(
            y=alt.Y("feed:N", title="feed"),
            x=alt.X("count:Q", title="count", axis=COUNT_AXIS),
            color=alt.Color("measure:N", title=None, scale=alt.Scale(range=["#c62828", "#ef9a9a"])),
            yOffset="measure:N",
            tooltip=["feed:N", "measure:N", "count:Q"],
        )
        .properties(width=CHART_WIDTH, height=_bar_height(data["feed"].n_unique(), per=36))
    )
    return chart


def empty_chart(title: str, text: str) -> alt.Chart:
    """A chart that says there is nothing to show (an empty nominal axis has no size)."""
    chart: alt.Chart = (
        alt.Chart(pl.DataFrame({"text": [text]}), title=title)
        .mark_text(color="#757575", fontSize=14)
        .encode(text="text:N")
        .properties(width=CHART_WIDTH, height=80)
    )
    return chart


def _bar_height(bars: int, *, per: int = 22) -> int:
    """Bars of a nominal axis get a fixed height each; an empty chart still has a size (for PNG)."""
    return max(80, bars * per)


def changes_per_field(field_counts: Mapping[str, int] | pl.DataFrame) -> alt.Chart:
    """Horizontal bars: rows changed per field, largest first.

    ``field_counts`` is a plan summary's or a Diff's ``field_counts`` (field -> rows changed), or a
    frame with columns ``field`` and ``rows``.

    Examples
    --------
    >>> changes_per_field({"PriceSale": 4}).data.to_dicts()
    [{'field': 'PriceSale', 'rows': 4}]
    >>> changes_per_field({}).data.to_dicts()
    [{'text': 'no changed fields'}]
    """
    if isinstance(field_counts, pl.DataFrame):
        data = field_counts.select("field", "rows")
    else:
        data = pl.DataFrame(
            {"field": list(field_counts), "rows": list(field_counts.values())},
            schema={"field": pl.String, "rows": pl.Int64},
        )
    data = data.sort("rows", "field", descending=[True, False])
    if data.height == 0:
        return empty_chart("Changes per field", "no changed fields")
    chart: alt.Chart = (
        alt.Chart(data, title="Changes per field")
        .mark_bar(color="#1565c0")
        .encode(
            y=alt.Y("field:N", sort="-x", title="field"),
            x=alt.X("rows:Q", title="rows changed", axis=COUNT_AXIS),
            tooltip=["field:N", "rows:Q"],
        )
        .properties(width=CHART_WIDTH, height=_bar_height(data.height))
    )
    return chart


def job_charts(outcomes: pl.DataFrame) -> dict[str, alt.Chart]:
    """Every job chart by name: jobs_per_day, lead_times, run_times, items_per_job, failures_by_feed.

    Examples
    --------
    >>> sorted(job_charts(pl.DataFrame(schema=_OUTCOME_SCHEMA)))[:2]
    ['failures_by_feed', 'items_per_job']
    """
    return {
        f.__name__: f(outcomes)
        for f in (jobs_per_day, lead_times, run_times, items_per_job, failures_by_feed)
    }


_OUTCOME_SCHEMA = {
    "feed": pl.String,
    "status": pl.String,
    "items": pl.Int64,
    "failures": pl.Int64,
    "queued_at": pl.Datetime("us", "UTC"),
    "run_time_s": pl.Float64,
    "lead_time_s": pl.Float64,
}


class SVG:
    """An SVG document that notebooks show as ``image/svg+xml`` (no JavaScript involved)."""

    def __init__(self, data: str) -> None:
        self.data = data

    def _repr_svg_(self) -> str:
        return self.data

    def __repr__(self) -> str:
        return f"<SVG chart, {len(self.data)} characters>"


def render(chart: alt.TopLevelMixin) -> SVG:
    """The chart as an offline SVG (vl-convert) that Jupyter displays as an image.

    Examples
    --------
    >>> render(changes_per_field({"a": 1})).data[:4]
    '<svg'
    """
    buffer = io.StringIO()
    chart.save(buffer, format="svg")
    return SVG(buffer.getvalue())


def save(chart: alt.TopLevelMixin, path: str | Path) -> Path:
    """Write the chart by the path's suffix: ``.png``, ``.svg``, ``.html`` (vega inlined) or ``.json``.

    Examples
    --------
    >>> import tempfile
    >>> out = save(changes_per_field({"a": 1}), Path(tempfile.mkdtemp()) / "c.svg")
    >>> out.read_text()[:4]
    '<svg'
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".png", ".svg", ".html", ".json"):
        msg = f"cannot save chart as {path.name!r}: expected a .png, .svg, .html or .json file"
        raise ValueError(msg)
    path.parent.mkdir(parents=True, exist_ok=True)
    options: dict[str, Any] = {"inline": True} if suffix == ".html" else {}
    if suffix == ".png":
        options["scale_factor"] = 2
    chart.save(str(path), **options)
    return path


def gallery(charts: Mapping[str, alt.TopLevelMixin]) -> None:
    """Show each chart once, as an offline SVG, in the notebook cell that calls this.

    Examples
    --------
    >>> gallery({})  # nothing to show
    """
    from IPython.display import display

    for chart in charts.values():
        display(render(chart))  # type: ignore[no-untyped-call]


def enable_offline() -> None:
    """Make altair render charts in notebooks as SVG through vl-convert (never from a CDN)."""
    alt.renderers.enable("svg")

"""Altair charts of the feeds' health by business day (frames of :mod:`toolkit.feed_health` in).

Each chart has the business days on its x axis, so a week of exports is a week of bars whatever the
wall clock said when they were sent. A chart with nothing to draw says so ("no refusals", "no jobs").

Examples
--------
>>> from datetime import date
>>> plans = pl.DataFrame({"feed": ["stock"], "business_day": [date(2025, 3, 6)], "outcome": ["guard refused"],
...                       "reason": ["deactivates 45 %"], "added": [0], "changed": [0], "deactivated": [1334],
...                       "rejected": [2]})
>>> [layer["mark"]["type"] for layer in refusals_by_day(plans).to_dict()["layer"]]
['square', 'text']
"""

from __future__ import annotations

import altair as alt
import polars as pl

from toolkit.charts import CHART_WIDTH, COUNT_AXIS, empty_chart, status_color

__all__ = [
    "health_charts",
    "items_by_day",
    "jobs_by_day",
    "lead_and_run_times_by_day",
    "refusals_by_day",
    "writes_by_day",
]

_MEASURE_COLORS = {"added": "#2e7d32", "changed": "#1565c0", "deactivated": "#6d4c41", "rejected": "#c62828"}
_DAY = alt.X("day:O", title="business day", axis=alt.Axis(labelAngle=0))


def _days(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.col("business_day").cast(pl.String).alias("day"))


def items_by_day(plans: pl.DataFrame) -> alt.TopLevelMixin:
    """Per feed (one small chart each): rows added, changed, deactivated and rejected per business day.

    Examples
    --------
    >>> items_by_day(pl.DataFrame(schema={"feed": pl.String, "business_day": pl.Date})).to_dict()["mark"]
    {'type': 'text', 'color': '#757575', 'fontSize': 14}
    """
    measures = list(_MEASURE_COLORS)
    data = (
        _days(plans)
        .unpivot(
            index=["feed", "day"], on=[m for m in measures if m in plans.columns], variable_name="measure"
        )
        .group_by("feed", "day", "measure")
        .agg(pl.col("value").sum().alias("rows"))
        .filter(pl.col("rows") > 0)
        .sort("feed", "day")
    )
    if data.height == 0:
        return empty_chart("Items per business day", "no changes")
    scale = alt.Scale(domain=measures, range=list(_MEASURE_COLORS.values()))
    base = alt.Chart(data, width=140, height=110).mark_bar()
    chart: alt.TopLevelMixin = base.encode(
        x=alt.X("day:O", title="business day", axis=alt.Axis(labelAngle=-45)),
        y=alt.Y("rows:Q", title="rows", axis=COUNT_AXIS),
        color=alt.Color("measure:N", title=None, scale=scale, sort=measures),
        xOffset=alt.XOffset("measure:N", sort=measures),
        tooltip=["feed:N", "day:O", "measure:N", alt.Tooltip("rows:Q", format=",")],
    ).facet(facet=alt.Facet("feed:N", title=None), columns=4, title="Items per business day, by feed")
    chart = chart.resolve_scale(y="independent")  # a feed's few changes stay visible beside a full feed
    return chart


def refusals_by_day(plans: pl.DataFrame) -> alt.TopLevelMixin:
    """A mark per feed and business day whose plan was refused, with the reason beside it."""
    data = _days(plans).filter(pl.col("outcome").is_in(["guard refused", "checks failed"]))
    if data.height == 0:
        return empty_chart("Refused plans", "no refusals")
    data = data.with_columns(pl.coalesce(pl.col("reason"), pl.col("outcome")).str.slice(0, 70).alias("why"))
    base = alt.Chart(data, title="Refused plans by business day").encode(
        x=_DAY, y=alt.Y("feed:N", title="feed"), tooltip=["feed:N", "day:O", "outcome:N", "reason:N"]
    )
    marks = base.mark_square(size=200, color="#c62828")
    chart: alt.TopLevelMixin = (
        marks + base.mark_text(align="left", dx=12, fontSize=11).encode(text="why:N")
    ).properties(width=CHART_WIDTH, height=max(60, data["feed"].n_unique() * 30))
    return chart


def jobs_by_day(jobs: pl.DataFrame) -> alt.TopLevelMixin:
    """Stacked bars: jobs per business day, coloured by status."""
    if jobs.height == 0:
        return empty_chart("Jobs per business day", "no jobs")
    data = _days(jobs).group_by("day", "status").agg(pl.len().alias("jobs")).sort("day")
    chart: alt.TopLevelMixin = (
        alt.Chart(data, title="Jobs per business day by status")
        .mark_bar()
        .encode(
            x=_DAY,
            y=alt.Y("jobs:Q", title="jobs", axis=COUNT_AXIS),
            color=status_color(),
            tooltip=["day:O", "status:N", "jobs:Q"],
        )
        .properties(width=CHART_WIDTH, height=200)
    )
    return chart


def writes_by_day(jobs: pl.DataFrame) -> alt.TopLevelMixin:
    """Grouped bars: rows Connect inserted and updated per business day (and failed items)."""
    if jobs.height == 0:
        return empty_chart("Inserted and updated", "no jobs")
    data = (
        _days(jobs)
        .group_by("day")
        .agg(
            pl.col("inserts").sum().alias("inserted"),
            pl.col("updates").sum().alias("updated"),
            pl.col("failures").sum().alias("failed items"),
        )
        .unpivot(index="day", variable_name="measure", value_name="rows")
        .sort("day")
    )
    if not data["rows"].sum():
        return empty_chart("Inserted and updated", "nothing written")
    order = ["inserted", "updated", "failed items"]
    chart: alt.TopLevelMixin = (
        alt.Chart(data, title="Inserted and updated per business day")
        .mark_bar()
        .encode(
            x=_DAY,
            y=alt.Y("rows:Q", title="rows", axis=COUNT_AXIS),
            color=alt.Color(
                "measure:N",
                title=None,
                sort=order,
                scale=alt.Scale(domain=order, range=["#2e7d32", "#1565c0", "#c62828"]),
            ),
            xOffset=alt.XOffset("measure:N", sort=order),
            tooltip=["day:O", "measure:N", alt.Tooltip("rows:Q", format=",")],
        )
        .properties(width=CHART_WIDTH, height=200)
    )
    return chart


def lead_and_run_times_by_day(jobs: pl.DataFrame) -> alt.TopLevelMixin:
    """Per business day, each job's lead time (queued until Connect started it) and run time."""
    if jobs.height == 0:
        return empty_chart("Lead and run times", "no jobs")
    data = (
        _days(jobs)
        .select(
            "day",
            "feed",
            "job_id",
            pl.col("wait_s").alias("lead time"),
            pl.col("run_time_s").alias("run time"),
        )
        .unpivot(index=["day", "feed", "job_id"], variable_name="measure", value_name="seconds")
        .drop_nulls("seconds")
    )
    if data.height == 0:
        return empty_chart("Lead and run times", "no finished jobs")
    order = ["lead time", "run time"]
    chart: alt.TopLevelMixin = (
        alt.Chart(data, title="Lead time (queued to started) and run time per business day")
        .mark_tick(thickness=2, size=14)
        .encode(
            x=_DAY,
            xOffset=alt.XOffset("measure:N", sort=order),
            y=alt.Y("seconds:Q", title="seconds"),
            color=alt.Color(
                "measure:N",
                title=None,
                sort=order,
                scale=alt.Scale(domain=order, range=["#ef6c00", "#1565c0"]),
            ),
            tooltip=["day:O", "feed:N", "job_id:Q", "measure:N", alt.Tooltip("seconds:Q", format=".1f")],
        )
        .properties(width=CHART_WIDTH, height=220)
    )
    return chart


def health_charts(plans: pl.DataFrame, jobs: pl.DataFrame) -> dict[str, alt.TopLevelMixin]:
    """Every feed-health chart by name, in reading order.

    Examples
    --------
    >>> from toolkit.feed_health import PLAN_SCHEMA
    >>> list(health_charts(pl.DataFrame(schema=PLAN_SCHEMA), pl.DataFrame()))[:2]  # no jobs either
    ['items_by_day', 'refusals_by_day']
    """
    return {
        "items_by_day": items_by_day(plans),
        "refusals_by_day": refusals_by_day(plans),
        "jobs_by_day": jobs_by_day(jobs),
        "writes_by_day": writes_by_day(jobs),
        "lead_and_run_times_by_day": lead_and_run_times_by_day(jobs),
    }

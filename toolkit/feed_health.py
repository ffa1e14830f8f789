"""The feeds' health by business day: what each day's source changed, what was refused, how jobs did.

A business day is the date the source's data is from (a daily export's date), not the wall clock: a
week's exports sent in one afternoon are still four days. Notebook 02 records it in the ledger when it
sends (``Reason.BUSINESS_DAY``, with the plan's counts) or is refused (``Reason.PLAN_REFUSED``, with
why); a plan sent without one (the CLI) falls on the local date it was made.

- :func:`record_business_day` writes that event for a preview that was sent or refused.
- :func:`feed_health` reads plans, refusals and jobs back as a :class:`FeedHealth`: one row per feed
  and business day (``table``), its charts (:mod:`toolkit.health_charts`) and ``write`` for headless runs.

Examples
--------
>>> import pathlib, tempfile
>>> from toolkit.config import Settings
>>> s = Settings(pathlib.Path("norce.toml"), pathlib.Path(tempfile.mkdtemp()), {}, {})
>>> feed_health(s).table().height
0
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from toolkit import charts, health_charts
from toolkit.config import Settings, parse_period
from toolkit.records import Event, Reason
from toolkit.reports import ledger_path

if TYPE_CHECKING:
    import altair as alt

    from toolkit.ledger import Ledger
    from toolkit.preview import Preview

__all__ = ["MEASURES", "FeedHealth", "feed_health", "plan_days", "record_business_day"]

MEASURES = ("added", "changed", "deactivated", "rejected")
REFUSALS = ("guard refused", "checks failed")
PLAN_SCHEMA: dict[str, pl.DataType] = {
    "feed": pl.String(),
    "business_day": pl.Date(),
    "plan_id": pl.String(),
    "outcome": pl.String(),
    "reason": pl.String(),
    **{m: pl.Int64() for m in MEASURES},
    "recorded_at": pl.Datetime("us", "UTC"),
}


def _day(business_day: str | date | None, now: datetime) -> str:
    if isinstance(business_day, date):
        return business_day.isoformat()
    if business_day:
        return date.fromisoformat(business_day).isoformat()  # ValueError names the text
    return now.astimezone().date().isoformat()


def _counts(preview: Preview) -> dict[str, int]:
    """Rows added, changed, deactivated (or removed, when refused) and rejected by the preview."""
    rejected = preview.check.rejected.height if preview.check is not None else 0
    if preview.plan is not None:
        s = preview.plan.summary
        return {"added": s.added, "changed": s.changed, "deactivated": s.deactivated, "rejected": rejected}
    diff = preview.diff.counts if preview.diff is not None else {}
    return {
        "added": int(diff.get("added", 0)),
        "changed": int(diff.get("changed", 0)),
        "deactivated": int(diff.get("removed", 0)),
        "rejected": rejected,
    }


def record_business_day(
    ledger: Ledger, preview: Preview, *, business_day: str | date | None, ending: str
) -> Event:
    """Record the business day of a preview that was sent (``BUSINESS_DAY``) or refused (``PLAN_REFUSED``).

    ``business_day`` is ``YYYY-MM-DD`` (empty: today's local date); ``ending`` is how the send ended.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from types import SimpleNamespace
    >>> from toolkit.ledger import Ledger
    >>> ledger = Ledger(pathlib.Path(tempfile.mkdtemp()) / "ledger.sqlite")
    >>> refused = SimpleNamespace(feed="stock", plan=None, check=None, diff=None, verdict="guard refused")
    >>> record_business_day(ledger, refused, business_day="2025-03-06", ending="guard refused").detail["why"]
    'guard refused'
    >>> ledger.close()
    """
    detail: dict[str, Any] = {"business_day": _day(business_day, ledger.now()), **_counts(preview)}
    if preview.plan is None:
        detail.update(why=ending, reason=preview.verdict)
        return ledger.event(Reason.PLAN_REFUSED, feed=preview.feed, detail=detail)
    detail["ending"] = ending
    return ledger.event(Reason.BUSINESS_DAY, feed=preview.feed, plan_id=preview.plan.id, detail=detail)


def _event_row(e: Event) -> tuple[Any, ...]:
    d = e.detail
    refused = e.reason == Reason.PLAN_REFUSED
    outcome = str(d.get("why", "refused")) if refused else str(d.get("ending") or "sent")
    day = date.fromisoformat(str(d["business_day"]))
    counts = tuple(int(d.get(m) or 0) for m in MEASURES)
    return (e.feed, day, e.plan_id, outcome, d.get("reason") if refused else None, *counts, e.at)


def plan_days(ledger: Ledger, *, since: datetime | None = None, feed: str | None = None) -> pl.DataFrame:
    """One row per plan sent or refused: its feed, business day, outcome, reason and counts."""
    reasons = (Reason.BUSINESS_DAY, Reason.PLAN_REFUSED)
    events = [e for e in ledger.events(feed=feed) if e.reason in reasons and (since is None or e.at >= since)]
    known = {e.plan_id for e in events if e.plan_id}
    rows = [_event_row(e) for e in events]
    for p in ledger.plans(feed):  # sent without a business day (the CLI): the day it was made
        if p.id in known or p.state == "planned" or (since is not None and p.created < since):
            continue
        counts = tuple(int(p.summary.get(m) or 0) for m in MEASURES)
        rows.append((p.feed, p.created.astimezone().date(), p.id, p.state, None, *counts, p.recorded_at))
    frame = pl.DataFrame(rows, schema=PLAN_SCHEMA, orient="row")
    # a plan sent again (resume) keeps its last record
    return frame.sort("recorded_at").unique(
        ["feed", "plan_id", "business_day"], keep="last", maintain_order=True
    )


def feed_jobs(ledger: Ledger, plans: pl.DataFrame, since: datetime | None, feed: str | None) -> pl.DataFrame:
    """Job outcomes with their plan's business day and lead time (queued until Connect started it)."""
    from toolkit.runs import job_outcomes

    outcomes = job_outcomes(ledger, since=since, feed=feed)
    days = plans.filter(pl.col("plan_id").is_not_null()).select("plan_id", "business_day").unique("plan_id")
    wait = (pl.col("started_at") - pl.col("queued_at")).dt.total_microseconds() / 1e6
    return outcomes.join(days, on="plan_id", how="left").with_columns(
        pl.coalesce("business_day", (pl.col("queued_at") + _utc_offset()).dt.date()),
        wait.clip(lower_bound=0.0).alias("wait_s"),
    )


def _utc_offset() -> timedelta:
    """This machine's offset from UTC: a job's local date when its plan has no business day."""
    return datetime.now().astimezone().utcoffset() or timedelta(0)


@dataclass(frozen=True)
class FeedHealth:
    """Plans (``plans``: :func:`plan_days`) and jobs (``jobs``: job outcomes with ``business_day`` and
    ``wait_s``, the lead time) of the feeds, by business day."""

    plans: pl.DataFrame = field(repr=False)
    jobs: pl.DataFrame = field(repr=False)

    def table(self) -> pl.DataFrame:
        """Per feed and business day: counts, refusals and their reason, jobs, writes and times."""
        plans = self.plans.group_by("feed", "business_day").agg(
            pl.col("outcome").is_in(REFUSALS).sum().alias("refused"),
            pl.col("reason").drop_nulls().str.join("; ").alias("refusal"),
            *(pl.col(m).sum() for m in MEASURES),
        )
        jobs = self.jobs.group_by("feed", "business_day").agg(
            pl.len().alias("jobs"),
            (pl.col("status") == "Succeeded").sum().alias("succeeded"),
            pl.col("status").is_in(["Failed", "ValidationFailed"]).sum().alias("failed"),
            pl.col("inserts").sum().alias("inserted"),
            pl.col("updates").sum().alias("updated"),
            pl.col("failures").sum().alias("failed_items"),
            pl.col("wait_s").median().alias("median_lead_time_s"),
            pl.col("run_time_s").median().alias("median_run_time_s"),
        )
        return (
            plans.join(jobs, on=["feed", "business_day"], how="full", coalesce=True)
            .with_columns(pl.col(pl.UInt32, pl.Int64).fill_null(0).cast(pl.Int64))
            .sort("business_day", "feed")
            .select("business_day", "feed", pl.exclude("business_day", "feed"))
        )

    def charts(self) -> dict[str, alt.TopLevelMixin]:
        """Every feed-health chart by name, each once (see :mod:`toolkit.health_charts`)."""
        return health_charts.health_charts(self.plans, self.jobs)

    def write(self, directory: str | Path) -> Path:
        """Write feed_health.csv and every chart as SVG and PNG into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.table().write_csv(directory / "feed_health.csv")
        for name, chart in self.charts().items():
            charts.save(chart, directory / f"{name}.svg")
            charts.save(chart, directory / f"{name}.png")
        return directory


def feed_health(
    settings: Settings, *, feed: str | None = None, period: str | None = None, now: datetime | None = None
) -> FeedHealth:
    """The health of ``feed`` (all when empty) by business day, over the last ``period`` (all when empty)."""
    from toolkit.ledger import Ledger

    since = (now or datetime.now(UTC)) - parse_period(period) if period else None
    with Ledger(ledger_path(settings)) as ledger:
        plans = plan_days(ledger, since=since, feed=feed or None)
        jobs = feed_jobs(ledger, plans, since, feed or None)
    return FeedHealth(plans, jobs)

"""Job outcome reports for notebook 03, and the JSON summaries every notebook result writes.

:func:`job_report` reads ``runs.job_outcomes`` from the ledger, filtered by feed, status and period;
``JobReport`` gives its summary, its charts (offline SVG) and writes them for headless runs.
:func:`restart_jobs` restarts failed jobs and waits for the new ones.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from toolkit import charts
from toolkit.charts import SVG
from toolkit.config import Settings, parse_period
from toolkit.outcomes import Outcome, job_outcomes
from toolkit.runs import restart_jobs as restart_plans
from toolkit.sending import Submission
from toolkit.workspace import Workspace

if TYPE_CHECKING:
    import altair as alt

__all__ = [
    "FAILED_STATUSES",
    "JobReport",
    "given",
    "job_report",
    "ledger_path",
    "restart_jobs",
    "restartable",
    "summary_json",
    "write_summary",
]

FAILED_STATUSES = ("Failed", "ValidationFailed")


def given(text: str | None) -> str | None:
    """Notebook parameters are literals: an empty string means 'not given'."""
    return text or None


def _dump(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, default=str)


def summary_json(data: dict[str, Any]) -> dict[str, Any]:
    """Plain JSON values only (dates and the like as strings), keys sorted."""
    plain: dict[str, Any] = json.loads(_dump(data))
    return plain


def write_summary(directory: str | Path, name: str, data: Any) -> Path:
    path = Path(directory) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_dump(data) + "\n", encoding="utf-8")
    return path


def ledger_path(settings: Settings) -> Path:
    """The ledger of ``settings``: ``<state_dir>/ledger.sqlite``."""
    return Workspace.of(settings).ledger_path


@dataclass(frozen=True)
class JobReport:
    """Job outcomes from the ledger (``outcomes``: ``runs.job_outcomes``'s frame), filtered."""

    settings: Settings = field(repr=False)
    outcomes: pl.DataFrame = field(repr=False)
    feed: str | None = None
    status: str | None = None
    period: str | None = None

    def summary(self) -> dict[str, Any]:
        f = self.outcomes
        status = pl.col("status").fill_null("unknown")  # a job not polled yet has no status
        by_status = dict(f.group_by(status).len().sort("status").rows())
        out = {
            "feed": self.feed,
            "status": self.status,
            "period": self.period,
            "jobs": f.height,
            "by_status": by_status,
            "items": int(f["items"].sum() or 0),
            "failed_items": int(f["failures"].sum() or 0),
            "median_lead_time_s": f["lead_time_s"].median(),
            "median_run_time_s": f["run_time_s"].median(),
            "restartable": restartable(f)["job_id"].to_list(),
        }
        return summary_json(out)

    def charts(self) -> dict[str, alt.Chart]:
        return charts.job_charts(self.outcomes)

    def chart(self, name: str) -> SVG:
        """One chart (``jobs_per_day``, ``lead_times``, ``run_times``, ``items_per_job``,
        ``failures_by_feed``) as an offline SVG for the notebook."""
        return charts.render(self.charts()[name])

    def write(self, directory: str | Path) -> dict[str, Any]:
        """Write summary.json, outcomes.csv and every chart as SVG and PNG; return the summary."""
        directory = Path(directory)
        summary = self.summary()
        write_summary(directory, "summary.json", summary)
        self.outcomes.write_csv(directory / "outcomes.csv")
        for name, chart in self.charts().items():
            charts.save(chart, directory / f"{name}.svg")
            charts.save(chart, directory / f"{name}.png")
        return summary

    def __str__(self) -> str:
        return f"{self.outcomes.height} jobs ({self.feed or 'all feeds'}, {self.period or 'all time'})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # how IPython shows it
        printer.text(str(self))


def job_report(
    settings: Settings,
    *,
    feed: str | None = None,
    status: str | None = None,
    period: str | None = "30d",
    now: datetime | None = None,
) -> JobReport:
    """Job outcomes of ``feed`` (all when empty) with ``status`` (any when empty) in the last ``period``.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from toolkit.config import Settings
    >>> s = Settings(pathlib.Path("norce.toml"), pathlib.Path(tempfile.mkdtemp()), {}, {})
    >>> job_report(s, period="7d").summary()["jobs"]
    0
    """
    since = (now or datetime.now(UTC)) - parse_period(period) if period else None
    with Workspace.of(settings).ledger() as ledger:
        frame = job_outcomes(ledger, since=since)
    if given(feed):
        frame = frame.filter(pl.col("feed") == feed)
    if given(status):
        frame = frame.filter(pl.col("status") == status)
    return JobReport(settings, frame, given(feed), given(status), given(period))


def restartable(outcomes: pl.DataFrame) -> pl.DataFrame:
    """Jobs that failed (or lost items) and that no later run restarted yet: what Restart offers.

    Examples
    --------
    >>> f = pl.DataFrame({"job_id": [1, 2, 3, 4], "status": ["Failed", "Succeeded", "Failed", "Succeeded"],
    ...                   "failures": [0, 0, 0, 2], "restarted_from": [None, 1, None, None]})
    >>> restartable(f)["job_id"].to_list()
    [3, 4]
    """
    done = outcomes["restarted_from"].drop_nulls().implode()
    failed = pl.col("status").is_in(FAILED_STATUSES) | (pl.col("failures").fill_null(0) > 0)
    return outcomes.filter(failed, ~pl.col("job_id").is_in(done))


def restart_jobs(
    settings: Settings,
    job_ids: Sequence[int],
    *,
    outcomes: pl.DataFrame | None = None,
    timeout: float = 600.0,
    poll_interval: float = 2.0,
) -> list[int]:
    """Restart failed jobs (``runs.restart_jobs``), wait for the new ones; return their ids.

    Waiting records the new jobs' outcomes and promotes the plan's snapshot when all its jobs succeeded.
    """
    frame = outcomes if outcomes is not None else job_report(settings, period=None).outcomes
    known = set(frame["job_id"].to_list())
    results = restart_plans(settings, job_ids, wait=True, timeout=timeout, poll_interval=poll_interval)
    new = [j for r in results for j in _job_ids(r) if j not in known]
    return list(dict.fromkeys(new))


def _job_ids(result: Submission | Outcome) -> list[int]:
    return [j.job_id for j in result.jobs] if isinstance(result, Outcome) else list(result.job_ids)

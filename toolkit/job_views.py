"""The job outcomes view of notebook 03: filters, a styled job table, charts once, restarts.

Part of :mod:`toolkit.widgets` (which re-exports :class:`JobsView`), built on
:mod:`toolkit.widget_parts`; it shows what :func:`toolkit.reports.job_report` reads and forwards clicks,
nothing more.
"""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as W

from toolkit import charts
from toolkit.display import html_table
from toolkit.outcomes import job_table
from toolkit.reports import JobReport, job_report, restart_jobs
from toolkit.widget_parts import View, add_css, format_counts

__all__ = ["PERIODS", "STATUSES", "JobsView"]

PERIODS = ("1d", "7d", "30d", "90d", "all")
STATUSES = ("any", "Succeeded", "Failed", "ValidationFailed", "Queued", "Validating", "Initialized")


class JobsView(View):
    """Job outcomes filtered by feed, status and period; charts; restart failed jobs."""

    def __init__(
        self,
        report: JobReport,
        *,
        load: Callable[..., JobReport] = job_report,
        restart: Callable[..., list[int]] = restart_jobs,
    ) -> None:
        self.report, self._load, self._restart = report, load, restart
        feeds = ["all", *sorted(report.settings.feeds)]
        self.feed = add_css(
            W.Dropdown(options=feeds, value=report.feed or "all", description="feed"), "t-jobs-feed"
        )
        self.status = add_css(
            W.Dropdown(options=STATUSES, value=report.status or "any", description="status"), "t-jobs-status"
        )
        period = report.period if report.period in PERIODS else "all"
        self.period = add_css(
            W.Dropdown(options=PERIODS, value=period, description="period"), "t-jobs-period"
        )
        self.refresh = add_css(W.Button(description="Refresh"), "t-refresh")
        self.summary = add_css(W.HTML(), "t-jobs-summary")
        self.table = add_css(W.HTML(), "t-jobs")
        self.failed = add_css(W.SelectMultiple(description="failed jobs", rows=4), "t-restart-select")
        self.restart = add_css(W.Button(description="Restart", button_style="warning"), "t-restart")
        self.charts = add_css(W.Output(), "t-jobs-charts")
        self.refresh.on_click(lambda _: self._run(self.reload))
        self.restart.on_click(lambda _: self._run(self.restart_selected))
        super().__init__(
            [
                W.HBox([self.feed, self.status, self.period, self.refresh]),
                self.summary,
                self.table,
                W.HBox([self.failed, self.restart]),
                self.charts,
            ],
            css="t-jobs-view",
        )
        self.show(report)

    def reload(self) -> JobReport:
        """Load the outcomes again with the filters' values."""
        report = self._load(
            self.report.settings,
            feed=_all(self.feed.value),
            status=_all(self.status.value),
            period=_all(self.period.value),
        )
        self.show(report)
        return report

    def show(self, report: JobReport) -> None:
        self.report = report
        summary = report.summary()
        self.summary.value = format_counts({"jobs": summary["jobs"], **summary["by_status"]})
        self.table.value = html_table(job_table(report.outcomes))
        self.failed.options = summary["restartable"]
        self.restart.disabled = not summary["restartable"]
        self.charts.outputs = ()
        for chart in report.charts().values():
            self.charts.append_display_data(charts.render(chart))

    def restart_selected(self) -> list[int]:
        """Restart the selected failed jobs, then reload."""
        new = self._restart(self.report.settings, list(self.failed.value), outcomes=self.report.outcomes)
        self.reload()
        return new


def _all(value: str) -> str | None:
    return None if value in ("all", "any") else value

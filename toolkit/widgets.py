"""ipywidgets views for the notebooks; they show toolkit results and forward clicks, nothing more.

Every callback runs through ``_View._run``: inside the view's ``Output`` widget, with errors shown
there (a toolkit error as its message, anything else with its traceback) and kept in ``.errors``.
Each interactive element carries a CSS class ``t-...`` so a browser test can find it.

- :class:`FeedPicker` feed, kind and source; :class:`CheckView` rejected rows; :class:`DiffView`
  counts, changes per field and old -> new samples; :class:`PayloadView` batches with their header
  and first items; :class:`SubmitView` dry run or submit, guard override, progress and job statuses;
  :class:`JobsView` filtered job outcomes, charts and restarts.
- :func:`preview_app`, :func:`submit_app` and :func:`jobs_app` put them together for notebooks
  01, 02 and 03.
"""

from __future__ import annotations

import html
import json
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as W
import orjson
import polars as pl

from toolkit import charts
from toolkit.config import Settings
from toolkit.errors import ToolkitError
from toolkit.notebook import Preview, SubmitResult, preview_feed, sample_changes, submit_feed
from toolkit.outcomes import job_table
from toolkit.reports import JobReport, job_report, restart_jobs

if TYPE_CHECKING:
    from toolkit.feeds import Plan

__all__ = ["CheckView", "DiffView", "FeedPicker", "JobsView", "PayloadView", "PreviewApp",
           "SubmitApp", "SubmitView", "jobs_app", "preview_app", "submit_app"]  # fmt: skip

KINDS = ("auto", "change", "full")
PERIODS = ("1d", "7d", "30d", "90d", "all")
STATUSES = ("any", "Succeeded", "Failed", "ValidationFailed", "Queued", "Validating", "Initialized")
ITEMS_SHOWN = 3


def _css(widget: W.Widget, name: str) -> Any:
    widget.add_class(name)
    return widget


def _pre(data: Any) -> str:
    return f"<pre>{html.escape(json.dumps(data, indent=2, ensure_ascii=False, default=str))}</pre>"


def _table(frame: pl.DataFrame, *, rows: int = 20) -> str:
    """A small HTML table of the first ``rows`` rows (escaped), with the total when cut."""
    if frame.height == 0:
        return "<i>none</i>"
    head = "".join(f"<th>{html.escape(c)}</th>" for c in frame.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape('' if v is None else str(v))}</td>" for v in r) + "</tr>"
        for r in frame.head(rows).iter_rows()
    )
    more = f"<p><i>{rows} of {frame.height} rows shown</i></p>" if frame.height > rows else ""
    return f"<table class='t-table'><tr>{head}</tr>{body}</table>{more}"


def _counts(counts: dict[str, Any]) -> str:
    cells = "".join(f"<td><b>{html.escape(str(v))}</b> {html.escape(k)}</td>" for k, v in counts.items())
    return f"<table><tr>{cells}</tr></table>"


class _View(W.VBox):  # type: ignore[misc]
    """A box whose callbacks run inside its Output widget and show their errors there."""

    def __init__(self, children: Sequence[W.Widget], *, css: str) -> None:
        self.output = _css(W.Output(), "t-output")
        self.errors: list[str] = []
        super().__init__([*children, self.output])
        self.add_class(css)

    def _run(self, action: Callable[[], Any]) -> Any:
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


class FeedPicker(W.HBox):  # type: ignore[misc]
    """Feed (from norce.toml), kind (auto/change/full), source file and a Preview button."""

    def __init__(self, settings: Settings, *, feed: str | None = None, kind: str = "auto",
                 source: str | None = None, label: str = "Preview") -> None:  # fmt: skip
        names = sorted(settings.feeds)
        self.settings = settings
        self.feed = _css(W.Dropdown(options=names, value=feed or (names[0] if names else None),
                                    description="feed"), "t-feed")  # fmt: skip
        self.kind = _css(W.ToggleButtons(options=KINDS, value=kind, description="kind",
                                         style={"button_width": "72px"}), "t-kind")  # fmt: skip
        self.source = _css(W.Text(value=source or "", description="source",
                                  placeholder="the feed's source"), "t-source")  # fmt: skip
        self.button = _css(W.Button(description=label, button_style="primary",
                                    layout=W.Layout(margin="2px 0 0 90px")), "t-pick")  # fmt: skip
        self.feed.observe(self._placeholder, names="value")
        self._placeholder()
        super().__init__([W.VBox([self.feed, self.kind]), W.VBox([self.source, self.button])])
        self.add_class("t-feed-picker")

    def _placeholder(self, *_: Any) -> None:
        if self.feed.value:
            self.source.placeholder = self.settings.feed(self.feed.value).source

    @property
    def value(self) -> dict[str, Any]:
        return {"feed": self.feed.value, "kind": self.kind.value, "source": self.source.value or None}

    def on_pick(self, callback: Callable[..., Any]) -> None:
        """Call ``callback(feed=..., kind=..., source=...)`` when the button is clicked."""
        self.button.on_click(lambda _: callback(**self.value))


class CheckView(W.VBox):  # type: ignore[misc]
    """Check summary counts and the rejected rows with their reasons."""

    def __init__(self) -> None:
        self.summary = _css(W.HTML(), "t-check-summary")
        self.rejected = _css(W.HTML(), "t-rejected")
        super().__init__([W.HTML("<h3>Checks</h3>"), self.summary, self.rejected])

    def show(self, preview: Preview) -> None:
        check = preview.check
        if check is None:
            self.summary.value, self.rejected.value = "<i>not checked</i>", ""
            return
        numbers = {k.replace("_", " "): v for k, v in check.summary.items()
                   if isinstance(v, int | float) and not isinstance(v, bool)}  # fmt: skip
        problems = {f"{k} problems": v for k, v in dict(check.summary.get("problems", {})).items()}
        self.summary.value = _counts({**numbers, **problems})
        warnings = "".join(f"<li>{html.escape(w)}</li>" for w in check.warnings)
        self.rejected.value = (f"<ul>{warnings}</ul>" if warnings else "") + _table(check.rejected)


class DiffView(W.VBox):  # type: ignore[misc]
    """Added / changed / removed / unchanged counts, changes per field, and old -> new samples."""

    def __init__(self, *, sample: int = 10) -> None:
        self.sample = sample
        self.counts = _css(W.HTML(), "t-diff-counts")
        self.chart = _css(W.Output(), "t-diff-chart")
        self.changes = _css(W.HTML(), "t-diff-sample")
        super().__init__([W.HTML("<h3>Changes</h3>"), self.counts, self.chart, self.changes])

    def show(self, preview: Preview) -> None:
        self.chart.outputs = ()
        if preview.diff is None:
            self.counts.value = "<i>no baseline yet: every valid row is sent (a full feed)</i>"
            self.changes.value = ""
            return
        self.counts.value = _counts(dict(preview.diff.counts))
        if preview.field_counts:
            self.chart.append_display_data(charts.render(charts.changes_per_field(preview.field_counts)))
        sample = sample_changes(preview.diff, key=preview.key, n=self.sample)
        self.changes.value = "<b>changed rows, old -> new</b>" + _table(sample, rows=self.sample * 5)


class PayloadView(W.VBox):  # type: ignore[misc]
    """One batch at a time: endpoint, header (pretty JSON), first items, item count and size."""

    def __init__(self) -> None:
        self.plan: Plan | None = None
        self.index = 0
        self.prev = _css(W.Button(description="◀ previous"), "t-prev")
        self.next = _css(W.Button(description="next ▶"), "t-next")
        self.label = _css(W.Label(), "t-batch")
        self.endpoint = _css(W.HTML(), "t-endpoint")
        self.header = _css(W.HTML(), "t-header")
        self.items = _css(W.HTML(), "t-items")
        self.prev.on_click(lambda _: self.go(self.index - 1))
        self.next.on_click(lambda _: self.go(self.index + 1))
        nav = W.HBox([self.prev, self.label, self.next])
        super().__init__([W.HTML("<h3>Payloads</h3>"), nav, self.endpoint,
                          W.HTML("<b>X-StormConnect-Header</b>"), self.header,
                          W.HTML(f"<b>first {ITEMS_SHOWN} items</b>"), self.items])  # fmt: skip
        self.add_class("t-payload")

    def show(self, plan: Plan | None) -> None:
        self.plan = plan
        self.go(0)

    def go(self, index: int) -> None:
        batches = self.plan.batches if self.plan is not None else ()
        self.index = max(0, min(index, len(batches) - 1))
        self.prev.disabled = self.index == 0
        self.next.disabled = self.index >= len(batches) - 1
        if not batches:
            self.label.value, self.endpoint.value = "no batches", ""
            self.header.value = self.items.value = ""
            return
        batch = batches[self.index]
        self.label.value = f"batch {self.index + 1} of {len(batches)}"
        self.endpoint.value = (f"<code>POST {html.escape(batch.endpoint)}</code> &nbsp; "
                               f"{batch.item_count} items, {batch.size:,} bytes")  # fmt: skip
        self.header.value = _pre(batch.header)
        self.items.value = _pre(orjson.loads(batch.body)[:ITEMS_SHOWN])


class SubmitView(_View):
    """Dry run or submit, the guard's verdict with an override, a confirm button, progress, jobs."""

    def __init__(self, preview: Preview, *, submit: Callable[..., SubmitResult] = submit_feed,
                 replan: Callable[..., Preview] = preview_feed, timeout: float = 600.0) -> None:  # fmt: skip
        self.preview, self._submit, self._replan, self.timeout = preview, submit, replan, timeout
        self.result: SubmitResult | None = None
        self.dry_run = _css(W.Checkbox(value=True, description="dry run (send nothing)"), "t-dry-run")
        self.verdict = _css(W.HTML(), "t-verdict")
        self.override = _css(W.Checkbox(value=False, description="override the guard"), "t-override")
        self.reason = _css(W.Text(description="reason", placeholder="why this is fine"), "t-reason")
        self.confirm = _css(W.Button(description="Confirm", button_style="danger"), "t-confirm")
        self.progress = _css(W.IntProgress(value=0, min=0, max=1, description="batches"),
                             "t-progress")  # fmt: skip
        self.statuses = _css(W.HTML(), "t-statuses")
        self.confirm.on_click(lambda _: self._run(self.run))
        super().__init__([W.HTML("<h3>Submit</h3>"), self.verdict,
                          W.HBox([self.override, self.reason]), W.HBox([self.dry_run, self.confirm]),
                          self.progress, self.statuses], css="t-submit")  # fmt: skip
        self.show(preview)

    def show(self, preview: Preview) -> None:
        self.preview = preview
        style = "color:#c62828" if not preview.is_ready else ""
        self.verdict.value = f"<span style='{style}'>verdict: {html.escape(preview.verdict)}</span>"
        self.override.layout.display = self.reason.layout.display = None if preview.refused else "none"
        self.progress.max = max(1, len(preview.plan.batches) if preview.plan else 1)
        self.progress.value = 0

    def run(self) -> SubmitResult:
        """What the confirm button does: re-plan with the override if asked, then submit."""
        preview = self.preview
        if preview.refused and self.override.value:
            preview = self._replan(preview.settings, preview.feed, kind=preview.kind,
                                   source=preview.source, allow_mass_deactivation=True,
                                   override_reason=self.reason.value)  # fmt: skip
            self.show(preview)
        self.statuses.value = "<i>sending…</i>" if not self.dry_run.value else ""
        self.result = self._submit(preview, submit=not self.dry_run.value, timeout=self.timeout,
                                   progress=self._on_progress, on_status=self._on_status)  # fmt: skip
        self.statuses.value = html.escape(str(self.result)) + self._jobs(self.result.statuses)
        return self.result

    def _on_progress(self, event: dict[str, Any]) -> None:
        self.progress.max = max(1, int(event.get("batches", 1)))
        self.progress.value = int(event.get("accepted", 0))

    def _on_status(self, statuses: dict[int, str]) -> None:
        self.statuses.value = self._jobs(statuses)

    @staticmethod
    def _jobs(statuses: Mapping[int, str]) -> str:
        rows = "".join(f"<li>job {k}: <b class='t-job-status'>{html.escape(v)}</b></li>"
                       for k, v in statuses.items())  # fmt: skip
        return f"<ul>{rows}</ul>" if rows else ""


class JobsView(_View):
    """Job outcomes filtered by feed, status and period; charts; restart failed jobs."""

    def __init__(self, report: JobReport, *, load: Callable[..., JobReport] = job_report,
                 restart: Callable[..., list[int]] = restart_jobs) -> None:  # fmt: skip
        self.report, self._load, self._restart = report, load, restart
        feeds = ["all", *sorted(report.settings.feeds)]
        self.feed = _css(W.Dropdown(options=feeds, value=report.feed or "all", description="feed"),
                         "t-jobs-feed")  # fmt: skip
        self.status = _css(W.Dropdown(options=STATUSES, value=report.status or "any",
                                      description="status"), "t-jobs-status")  # fmt: skip
        period = report.period if report.period in PERIODS else "all"
        self.period = _css(W.Dropdown(options=PERIODS, value=period, description="period"),
                           "t-jobs-period")  # fmt: skip
        self.refresh = _css(W.Button(description="Refresh"), "t-refresh")
        self.summary = _css(W.HTML(), "t-jobs-summary")
        self.table = _css(W.HTML(), "t-jobs")
        self.failed = _css(W.SelectMultiple(description="failed jobs", rows=4), "t-restart-select")
        self.restart = _css(W.Button(description="Restart", button_style="warning"), "t-restart")
        self.charts = _css(W.Output(), "t-jobs-charts")
        self.refresh.on_click(lambda _: self._run(self.reload))
        self.restart.on_click(lambda _: self._run(self.restart_selected))
        super().__init__([W.HBox([self.feed, self.status, self.period, self.refresh]), self.summary,
                          self.table, W.HBox([self.failed, self.restart]), self.charts],
                         css="t-jobs-view")  # fmt: skip
        self.show(report)

    def reload(self) -> JobReport:
        """Load the outcomes again with the filters' values."""
        report = self._load(self.report.settings, feed=_all(self.feed.value),
                            status=_all(self.status.value), period=_all(self.period.value))  # fmt: skip
        self.show(report)
        return report

    def show(self, report: JobReport) -> None:
        self.report = report
        summary = report.summary()
        self.summary.value = _counts({"jobs": summary["jobs"], **summary["by_status"]})
        self.table.value = _table(job_table(report.outcomes))
        self.failed.options = summary["restartable"]
        self.restart.disabled = not summary["restartable"]
        self.charts.outputs = ()
        for chart in report.charts().values():
            self.charts.append_display_data(charts.render(chart))

    def restart_selected(self) -> list[int]:
        """Restart the selected failed jobs, then reload."""
        new = self._restart(self.report.settings, list(self.failed.value),
                            outcomes=self.report.outcomes)  # fmt: skip
        self.reload()
        return new


def _all(value: str) -> str | None:
    return None if value in ("all", "any") else value


class PreviewApp(_View):
    """Notebook 01: pick a feed, see its checks, changes and payloads."""

    def __init__(self, preview: Preview, *, load: Callable[..., Preview] = preview_feed) -> None:
        self._load = load
        self.picker = FeedPicker(preview.settings, feed=preview.feed, kind=preview.kind,
                                 source=preview.source)  # fmt: skip
        self.verdict = _css(W.HTML(), "t-preview-verdict")
        self.check, self.diff, self.payload = CheckView(), DiffView(), PayloadView()
        self.picker.on_pick(lambda **v: self._run(lambda: self.pick(**v)))
        super().__init__([self.picker, self.verdict, self.check, self.diff, self.payload],
                         css="t-preview-app")  # fmt: skip
        self.show(preview)

    def pick(self, *, feed: str, kind: str, source: str | None) -> Preview:
        preview = self._load(self.picker.settings, feed, kind=kind, source=source)
        self.show(preview)
        return preview

    def show(self, preview: Preview) -> None:
        self.preview = preview
        self.verdict.value = f"<b>{html.escape(preview.feed)}</b>: {html.escape(preview.verdict)}"
        self.check.show(preview)
        self.diff.show(preview)
        self.payload.show(preview.plan)


class SubmitApp(PreviewApp):
    """Notebook 02: pick a feed, see its payloads, then dry-run or submit it."""

    def __init__(self, preview: Preview, *, load: Callable[..., Preview] = preview_feed,
                 submit: Callable[..., SubmitResult] = submit_feed,
                 timeout: float = 600.0) -> None:  # fmt: skip
        self.submit = SubmitView(preview, submit=submit, replan=load, timeout=timeout)
        super().__init__(preview, load=load)
        self.children = [self.picker, self.verdict, self.payload, self.submit, self.output]

    def show(self, preview: Preview) -> None:
        super().show(preview)
        self.submit.show(preview)


def preview_app(preview: Preview) -> PreviewApp:
    """The widgets of notebook 01 around ``preview`` (from :func:`toolkit.notebook.preview_feed`)."""
    return PreviewApp(preview)


def submit_app(preview: Preview, *, timeout: float = 600.0) -> SubmitApp:
    """The widgets of notebook 02: payloads, guard verdict and override, dry run or submit."""
    return SubmitApp(preview, timeout=timeout)


def jobs_app(report: JobReport) -> JobsView:
    """The widgets of notebook 03: filters, job table, charts and restarts."""
    return JobsView(report)

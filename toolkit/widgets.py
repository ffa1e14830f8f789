"""ipywidgets views for the notebooks; they show toolkit results and forward clicks, nothing more.

Every callback runs through ``View._run`` (from :mod:`toolkit.widget_parts`): inside the view's
``Output`` widget, with errors shown there (a toolkit error as its message, anything else with its
traceback) and kept in ``.errors``.
Each interactive element carries a CSS class ``t-...`` so a browser test can find it.

- :class:`FeedPicker` feed, kind and source; :class:`CheckView` rejected rows; :class:`DiffView`
  counts, changes per field and old -> new samples; :class:`PayloadView` batches with their header
  and first items; :class:`SubmitView` dry run or submit, guard override, progress and job statuses;
  :class:`JobsView` (from :mod:`toolkit.job_views`) filtered job outcomes, charts and restarts.
- :func:`preview_app`, :func:`submit_app` and :func:`jobs_app` put them together for notebooks
  01, 02 and 03.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import ipywidgets as W
import orjson

from toolkit import charts
from toolkit.config import Settings
from toolkit.display import html_table
from toolkit.errors import ConfigError
from toolkit.job_views import JobsView
from toolkit.notebook import Preview, SubmitResult, preview_feed, sample_changes, submit_feed
from toolkit.reports import JobReport, restart_jobs
from toolkit.widget_parts import View, add_css, format_counts

if TYPE_CHECKING:
    from toolkit.feeds import Plan

__all__ = [
    "CheckView",
    "DiffView",
    "FeedPicker",
    "JobsView",
    "PayloadView",
    "PreviewApp",
    "SubmitApp",
    "SubmitView",
    "jobs_app",
    "preview_app",
    "submit_app",
]

KINDS = ("auto", "change", "full")
ITEMS_SHOWN = 3
# the checks' short names, as a person reads them
_CHECKS = {
    "ge": "below the minimum",
    "le": "above the maximum",
    "gt": "below the minimum",
    "lt": "above the maximum",
    "isin": "not an allowed value",
    "unique": "duplicate keys",
    "not_nullable": "missing values",
    "str_length": "too long",
    "dtype": "wrong type",
    "parse": "unreadable values",
}


def _pre(data: Any) -> str:
    return f"<pre>{html.escape(json.dumps(data, indent=2, ensure_ascii=False, default=str))}</pre>"


class FeedPicker(W.HBox):  # type: ignore[misc]
    """Feed (from norce.toml), kind (auto/change/full), source file and a Preview button."""

    def __init__(
        self,
        settings: Settings,
        *,
        feed: str | None = None,
        kind: str = "auto",
        source: str | None = None,
        label: str = "Preview",
    ) -> None:
        names = sorted(settings.feeds)
        self.settings = settings
        self.feed = add_css(
            W.Dropdown(options=names, value=feed or (names[0] if names else None), description="feed"),
            "t-feed",
        )
        self.kind = add_css(
            W.ToggleButtons(options=KINDS, value=kind, description="kind", style={"button_width": "72px"}),
            "t-kind",
        )
        self.source = add_css(
            W.Text(value=source or "", description="source", placeholder="the feed's source"), "t-source"
        )
        self.button = add_css(
            W.Button(description=label, button_style="primary", layout=W.Layout(margin="2px 0 0 90px")),
            "t-pick",
        )
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
        self.summary = add_css(W.HTML(), "t-check-summary")
        self.rejected = add_css(W.HTML(), "t-rejected")
        super().__init__([W.HTML("<h3>Checks</h3>"), self.summary, self.rejected])

    def show(self, preview: Preview) -> None:
        check = preview.check
        if check is None:
            self.summary.value, self.rejected.value = "<i>not checked</i>", ""
            return
        c = check.summary
        rejected = f"{c.get('rejected_rows', 0):,} ({c.get('reject_ratio', 0.0):.1%})"
        numbers = {"rows": c.get("rows", 0), "valid": c.get("valid", 0), "rejected": rejected}
        problems = {_CHECKS.get(k, k.replace("_", " ")): v for k, v in dict(c.get("problems", {})).items()}
        self.summary.value = format_counts(numbers) + (format_counts(problems) if problems else "")
        warnings = "".join(f"<li>{html.escape(w)}</li>" for w in check.warnings)
        self.rejected.value = (f"<ul>{warnings}</ul>" if warnings else "") + html_table(check.rejected)


class DiffView(W.VBox):  # type: ignore[misc]
    """Added / changed / removed / unchanged counts, changes per field, and old -> new samples."""

    def __init__(self, *, sample: int = 10) -> None:
        self.sample = sample
        self.counts = add_css(W.HTML(), "t-diff-counts")
        self.chart = add_css(W.Output(), "t-diff-chart")
        self.changes = add_css(W.HTML(), "t-diff-sample")
        super().__init__([W.HTML("<h3>Changes</h3>"), self.counts, self.chart, self.changes])

    def show(self, preview: Preview) -> None:
        self.chart.outputs = ()
        if preview.diff is None:
            self.counts.value = "<i>no baseline yet: every valid row is sent (a full feed)</i>"
            self.changes.value = ""
            return
        self.counts.value = format_counts(dict(preview.diff.counts))
        if preview.field_counts:
            self.chart.append_display_data(charts.render(charts.changes_per_field(preview.field_counts)))
        sample = sample_changes(preview.diff, key=preview.key, n=self.sample)
        self.changes.value = "<b>changed rows, old -> new</b>" + html_table(sample, rows=self.sample * 5)


class PayloadView(W.VBox):  # type: ignore[misc]
    """One batch at a time: endpoint, header (pretty JSON), first items, item count and size."""

    def __init__(self) -> None:
        self.plan: Plan | None = None
        self.index = 0
        self.prev = add_css(W.Button(description="◀ previous"), "t-prev")
        self.next = add_css(W.Button(description="next ▶"), "t-next")
        self.label = add_css(W.Label(), "t-batch")
        self.endpoint = add_css(W.HTML(), "t-endpoint")
        self.header = add_css(W.HTML(), "t-header")
        self.items = add_css(W.HTML(), "t-items")
        self.prev.on_click(lambda _: self.go(self.index - 1))
        self.next.on_click(lambda _: self.go(self.index + 1))
        nav = W.HBox([self.prev, self.label, self.next])
        super().__init__(
            [
                W.HTML("<h3>Payloads</h3>"),
                nav,
                self.endpoint,
                W.HTML("<b>X-StormConnect-Header</b>"),
                self.header,
                W.HTML(f"<b>first {ITEMS_SHOWN} items</b>"),
                self.items,
            ]
        )
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
        self.endpoint.value = (
            f"<code>POST {html.escape(batch.endpoint)}</code> &nbsp; "
            f"{batch.item_count} items, {batch.size:,} bytes"
        )
        self.header.value = _pre(batch.header)
        self.items.value = _pre(orjson.loads(batch.body)[:ITEMS_SHOWN])


class SubmitView(View):
    """Dry run or submit, the guard's verdict with an override, a confirm button, progress, jobs.

    A plan is sent once: after a send, Confirm is disabled and the view offers Resume, Restart failed
    jobs and New preview. An override needs a reason; its first Confirm re-plans and restates the
    deactivations it allows, the second one sends.
    """

    def __init__(
        self,
        preview: Preview,
        *,
        submit: Callable[..., SubmitResult] = submit_feed,
        replan: Callable[..., Preview] = preview_feed,
        resume: Callable[..., Any] | None = None,
        restart: Callable[..., list[int]] = restart_jobs,
        timeout: float = 600.0,
    ) -> None:
        self.preview, self._submit, self._replan, self.timeout = preview, submit, replan, timeout
        self._resume, self._restart = resume or _resume_feed, restart
        self.on_preview: Callable[[Preview], None] = self.show
        self.result: SubmitResult | None = None
        self.dry_run = add_css(W.Checkbox(value=True, description="dry run (send nothing)"), "t-dry-run")
        self.verdict = add_css(W.HTML(), "t-verdict")
        self.override = add_css(W.Checkbox(value=False, description="override the guard"), "t-override")
        self.reason = add_css(W.Text(description="reason", placeholder="why this is fine"), "t-reason")
        self.confirm = add_css(W.Button(description="Confirm", button_style="danger"), "t-confirm")
        self.progress = add_css(W.IntProgress(value=0, min=0, max=1, description="batches"), "t-progress")
        self.statuses = add_css(W.HTML(), "t-statuses")
        self.resume = add_css(W.Button(description="Resume"), "t-resume")
        self.restart = add_css(
            W.Button(description="Restart failed jobs", button_style="warning"), "t-restart-failed"
        )
        self.again = add_css(W.Button(description="New preview"), "t-new-preview")
        self.after = add_css(W.HBox([self.resume, self.restart, self.again]), "t-after")
        self.confirm.on_click(lambda _: self._run(self.run))
        self.resume.on_click(lambda _: self._run(self.resume_sent))
        self.restart.on_click(lambda _: self._run(self.restart_failed))
        self.again.on_click(lambda _: self._run(self.new_preview))
        super().__init__(
            [
                W.HTML("<h3>Submit</h3>"),
                self.verdict,
                W.HBox([self.override, self.reason]),
                W.HBox([self.dry_run, self.confirm]),
                self.progress,
                self.statuses,
                self.after,
            ],
            css="t-submit",
        )
        self.show(preview)

    def show(self, preview: Preview) -> None:
        """Show a (new) preview: its verdict, Confirm enabled, and nothing of an earlier result."""
        self.preview, self.result = preview, None
        style = "color:#c62828" if not preview.is_ready else ""
        self.verdict.value = f"<span style='{style}'>verdict: {html.escape(preview.verdict)}</span>"
        self.override.layout.display = self.reason.layout.display = None if preview.refused else "none"
        self.progress.max = max(1, len(preview.plan.batches) if preview.plan else 1)
        self.progress.value = 0
        self.statuses.value = ""
        self.confirm.disabled, self.confirm.description = False, "Confirm"
        self.after.layout.display = "none"

    def run(self) -> SubmitResult | None:
        """What Confirm does: with an override, re-plan and restate it (sent by the next Confirm);
        else dry-run or send the plan, once."""
        if self.confirm.disabled:  # ipywidgets still delivers a click sent to a disabled button
            msg = (
                f"feed {self.preview.feed!r}: this plan was sent; use Resume, Restart failed jobs "
                "or New preview"
            )
            raise ConfigError(msg)
        if self.preview.refused and self.override.value:
            self._override()
            return None
        sending = not self.dry_run.value and self.preview.plan is not None
        if sending:
            self._sent()  # before the first request: a second click cannot send the plan again
            self.statuses.value = "<i>sending…</i>"
        self.result = self._submit(
            self.preview,
            submit=not self.dry_run.value,
            timeout=self.timeout,
            progress=self._on_progress,
            on_status=self._on_status,
        )
        self.statuses.value = html.escape(str(self.result)) + self._jobs(self.result.statuses)
        if self.result.exit_code:
            self._error(f"{self.result.feed}: {self.result.ending}: {self.result.reason}")
        return self.result

    def _override(self) -> None:
        reason = self.reason.value.strip()
        if not reason:
            msg = (
                f"feed {self.preview.feed!r}: overriding the guard needs a reason (it is recorded in "
                "the ledger); found an empty reason, nothing was sent"
            )
            raise ConfigError(msg)
        p = self.preview
        preview = self._replan(
            p.settings,
            p.feed,
            kind=p.kind,
            source=p.source,
            allow_mass_deactivation=True,
            override_reason=reason,
        )
        self.show(preview)
        counts = getattr(getattr(preview.plan, "summary", None), "deactivated", None)
        if counts is not None:
            self.confirm.description = f"Confirm: deactivate {counts:,}"

    def _sent(self) -> None:
        self.confirm.disabled = True
        self.after.layout.display = None

    def resume_sent(self) -> Any:
        """Resume the feed's unfinished submission and wait for its jobs."""
        done = self._resume(self.preview.settings, self.preview.feed, wait=True, timeout=self.timeout)
        self.statuses.value = html.escape(str(done))
        return done

    def restart_failed(self) -> list[int]:
        """Restart the failed jobs of the plan just sent and wait for the new ones."""
        outcome = self.result.outcome if self.result is not None else None
        failed = [f.job_id for f in outcome.failures] if outcome is not None else []
        if not failed:
            msg = f"feed {self.preview.feed!r}: the plan sent has no failed job to restart"
            raise ConfigError(msg)
        new = self._restart(self.preview.settings, failed, timeout=self.timeout)
        self.statuses.value = html.escape(f"jobs {failed} restarted as {new}")
        return new

    def new_preview(self) -> Preview:
        """Preview the feed again (a new plan against the current baseline)."""
        p = self.preview
        preview = self._replan(p.settings, p.feed, kind=p.kind, source=p.source)
        self.on_preview(preview)
        return preview

    def _on_progress(self, event: dict[str, Any]) -> None:
        self.progress.max = max(1, int(event.get("batches", 1)))
        self.progress.value = int(event.get("accepted", 0))

    def _on_status(self, statuses: dict[int, str]) -> None:
        self.statuses.value = self._jobs(statuses)

    @staticmethod
    def _jobs(statuses: Mapping[int, str]) -> str:
        rows = "".join(
            f"<li>job {k}: <b class='t-job-status'>{html.escape(v)}</b></li>" for k, v in statuses.items()
        )
        return f"<ul>{rows}</ul>" if rows else ""


def _resume_feed(settings: Settings, feed: str, **kw: Any) -> Any:
    from toolkit.runs import resume_feed

    return resume_feed(settings, feed, **kw)


class PreviewApp(View):
    """Notebook 01: pick a feed, see its checks, changes and payloads."""

    def __init__(self, preview: Preview, *, load: Callable[..., Preview] = preview_feed) -> None:
        self._load = load
        self.picker = FeedPicker(
            preview.settings, feed=preview.feed, kind=preview.kind, source=preview.source
        )
        self.verdict = add_css(W.HTML(), "t-preview-verdict")
        self.check, self.diff, self.payload = CheckView(), DiffView(), PayloadView()
        self.picker.on_pick(lambda **v: self._run(lambda: self.pick(**v)))
        super().__init__(
            [self.picker, self.verdict, self.check, self.diff, self.payload], css="t-preview-app"
        )
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

    def __init__(
        self,
        preview: Preview,
        *,
        load: Callable[..., Preview] = preview_feed,
        submit: Callable[..., SubmitResult] = submit_feed,
        timeout: float = 600.0,
    ) -> None:
        self.submit = SubmitView(preview, submit=submit, replan=load, timeout=timeout)
        super().__init__(preview, load=load)
        self.submit.use_output(self.output)  # one place for errors: the top of the app
        self.submit.on_preview = self.show  # New preview refreshes the payloads too
        self.children = [self.output, self.picker, self.verdict, self.payload, self.submit]

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

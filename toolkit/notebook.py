"""What the notebooks call: preview a feed, submit it, report on jobs; headless or behind widgets.

Each function returns a result object with ``summary()`` (plain JSON values) and ``write(directory)``
(summary.json plus charts), so ``papermill ... -p interactive False`` produces files, and the widgets
of :mod:`toolkit.widgets` call the very same functions when a button is clicked.

- :func:`preview_feed` reads, checks, diffs and plans a feed (nothing is sent). A guard refusal or
  failed checks become the preview's verdict instead of an exception, so a notebook can show them.
- :func:`submit_feed` sends a preview's plan (``submit=True``) or reports what it would send, waits for
  the jobs and promotes the snapshot when they all succeeded.
- :func:`job_report` (from :mod:`toolkit.reports`) reads job outcomes from the ledger.

Secrets never pass through here: the client reads them from the profile (the environment).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from toolkit import charts
from toolkit.config import FeedKind, Settings
from toolkit.errors import CheckFailed, GuardRefused, PlanError
from toolkit.reports import given, ledger_path, summary_json, write_summary

if TYPE_CHECKING:
    from toolkit.checks import CheckResult
    from toolkit.diff import Diff
    from toolkit.feeds import Plan
    from toolkit.runs import Outcome

__all__ = ["Preview", "SubmitResult", "preview_feed", "sample_changes", "submit_feed"]

StatusCallback = Callable[[dict[int, str]], None]


# --- preview ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Preview:
    """A feed read, checked, diffed and planned; ``plan`` is None when ``verdict`` says why."""

    settings: Settings = field(repr=False)
    feed: str
    kind: FeedKind
    source: str | None
    check: CheckResult | None = field(default=None, repr=False)
    diff: Diff | None = field(default=None, repr=False)
    plan: Plan | None = field(default=None, repr=False)
    verdict: str = "ok"
    refused: bool = False
    allow_mass_deactivation: bool = False
    override_reason: str | None = None

    @property
    def is_ready(self) -> bool:
        """True when there is a plan to submit."""
        return self.plan is not None

    @property
    def field_counts(self) -> dict[str, int]:
        """Rows changed per field (from the diff, else from the plan's summary)."""
        if self.diff is not None:
            return dict(self.diff.field_counts)
        return dict(self.summary().get("plan", {}).get("field_counts", {}))

    def summary(self) -> dict[str, Any]:
        """The preview as plain JSON values: verdict, check counts, diff counts, plan summary."""
        out: dict[str, Any] = {"feed": self.feed, "kind": self.kind, "source": self.source,
                               "verdict": self.verdict, "refused": self.refused}  # fmt: skip
        if self.check is not None:
            out["check"] = {**self.check.summary, "rejected": self.check.rejected.height}
        if self.diff is not None:
            out["diff"] = {**self.diff.counts, "field_counts": dict(self.diff.field_counts)}
        if self.plan is not None:
            out["plan"] = {"id": self.plan.id, "kind": self.plan.kind,
                           "batches": len(self.plan.batches), **self.plan.summary.as_dict()}  # fmt: skip
        return summary_json(out)

    def write(self, directory: str | Path) -> dict[str, Any]:
        """Write summary.json, rejected.csv, changes.csv and changes_per_field.svg; return the summary."""
        directory = Path(directory)
        summary = self.summary()
        write_summary(directory, "summary.json", summary)
        if self.check is not None:
            self.check.rejected.write_csv(directory / "rejected.csv")
        if self.diff is not None:
            sample_changes(self.diff, key=self.key).write_csv(directory / "changes.csv")
        charts.save(charts.changes_per_field(self.field_counts), directory / "changes_per_field.svg")
        return summary

    @property
    def key(self) -> tuple[str, ...]:
        from toolkit.entities import get_entity

        feed = self.settings.feed(self.feed)
        return feed.key or get_entity(feed.entity).key

    def __str__(self) -> str:
        return f"preview of {self.feed} ({self.kind}): {self.verdict}"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # how IPython shows it
        printer.text(str(self))


def _first_feed(settings: Settings, feed: str | None) -> str:
    if feed:
        return settings.feed(feed).name
    if not settings.feeds:
        msg = f"{settings.path}: no feeds; add a [feeds.<name>] table"
        raise PlanError(msg)
    return sorted(settings.feeds)[0]


def preview_feed(settings: Settings, feed: str | None = None, *, kind: FeedKind = "auto",
                 source: str | None = None, allow_mass_deactivation: bool = False,
                 override_reason: str | None = None, now: datetime | None = None) -> Preview:  # fmt: skip
    """Read, check, diff and plan ``feed`` (the first feed when empty); nothing is sent.

    The check and diff are those of the current source against the feed's baseline; the plan is
    ``toolkit.feeds.plan_feed``'s. A ``GuardRefused`` (mass deactivation, empty source) or
    ``CheckFailed`` becomes the preview's ``verdict`` with ``plan`` None.
    """
    from toolkit.checks import validate
    from toolkit.feeds import plan_feed
    from toolkit.sources import read_source

    name = _first_feed(settings, feed)
    spec, path = settings.feed(name), given(source)
    # the preview shows every rejected row; plan_feed enforces the feed's reject policy
    lenient = replace(spec.policies, max_reject_ratio=1.0, on_reject="skip")
    frame = read_source(spec, path=path)
    check = validate(spec.entity, frame, policies=lenient)
    base = Preview(settings, name, kind, path, check=check,
                   allow_mass_deactivation=allow_mass_deactivation,
                   override_reason=given(override_reason))  # fmt: skip
    try:  # the source is read and checked once: the plan takes those rows
        plan = plan_feed(settings, name, kind=kind, source=path, now=now,
                         allow_mass_deactivation=allow_mass_deactivation,
                         override_reason=given(override_reason), checked=(frame, check))  # fmt: skip
    except GuardRefused as exc:
        return _replace(base, diff=_diff(settings, name, check), verdict=f"guard refused: {exc}",
                        refused=True)  # fmt: skip
    except CheckFailed as exc:
        return _replace(base, diff=_diff(settings, name, check), verdict=f"checks failed: {exc}")
    diff = plan.diff if plan.baseline is not None else None  # None: no baseline to diff against yet
    return _replace(base, plan=plan, diff=diff, verdict=_verdict(plan))


def _replace(preview: Preview, **changes: Any) -> Preview:
    return replace(preview, **changes)


def _verdict(plan: Plan) -> str:
    if plan.allow_mass_deactivation and plan.override_reason:
        return f"ok (guard overridden: {plan.override_reason})"
    return "ok" if plan.batches else "ok (nothing to send)"


def _diff(settings: Settings, feed: str, check: CheckResult) -> Diff | None:
    """The current valid rows against the feed's baseline; None when there is no baseline yet."""
    from toolkit.diff import diff_frames
    from toolkit.entities import get_entity
    from toolkit.snapshots import SnapshotStore

    spec = settings.feed(feed)
    store = SnapshotStore(settings.state_dir / "snapshots")
    ref = store.baseline(feed)
    if ref is None:
        return None
    data = check.valid.select(pl.exclude("^_.*$"))
    return diff_frames(store.load(ref), data, key=list(spec.key or get_entity(spec.entity).key))


def sample_changes(diff: Diff, *, key: Sequence[str], n: int = 10) -> pl.DataFrame:
    """The first ``n`` changed rows as long rows: key columns, field, old and new value (as text).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> d = SimpleNamespace(
    ...     changed=pl.DataFrame({"PartNo": ["A"], "OnhandValue": [5], "changed_fields": [["OnhandValue"]]}),
    ...     previous=pl.DataFrame({"PartNo": ["A"], "OnhandValue": [3]}))
    >>> sample_changes(d, key=["PartNo"]).rows()
    [('A', 'OnhandValue', '3', '5')]
    """
    key = list(key)
    new, old = diff.changed.head(n), diff.previous.head(n)
    fields = sorted({f for fs in new["changed_fields"].to_list() for f in fs}, key=str)
    parts = [
        pl.DataFrame({**{k: new[k] for k in key}, "field": [f] * new.height,
                      "old": old[f].cast(pl.String), "new": new[f].cast(pl.String),
                      "changed": new["changed_fields"].list.contains(f)})
        for f in fields
    ]
    if not parts:
        return pl.DataFrame(schema={**{k: pl.String for k in key}, "field": pl.String,
                                    "old": pl.String, "new": pl.String})  # fmt: skip
    return pl.concat(parts).filter("changed").drop("changed").sort(key, maintain_order=True)


# --- submit ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SubmitResult:
    """What ``submit_feed`` did: a dry run's figures, or the jobs and their outcome."""

    feed: str
    plan_id: str | None
    dry_run: bool
    batches: int
    items: int
    job_ids: tuple[int, ...] = ()
    statuses: Mapping[int, str] = field(default_factory=dict)
    outcome: Outcome | None = field(default=None, repr=False)
    verdict: str = "ok"

    @property
    def succeeded(self) -> bool:
        return self.outcome is not None and self.outcome.succeeded

    def summary(self) -> dict[str, Any]:
        out = {"feed": self.feed, "plan_id": self.plan_id, "dry_run": self.dry_run,
               "batches": self.batches, "items": self.items, "job_ids": list(self.job_ids),
               "statuses": {str(k): v for k, v in self.statuses.items()}, "verdict": self.verdict,
               "succeeded": self.succeeded,
               "promoted": self.outcome.promoted if self.outcome else None}  # fmt: skip
        return summary_json(out)

    def write(self, directory: str | Path) -> dict[str, Any]:
        summary = self.summary()
        write_summary(directory, "summary.json", summary)
        return summary

    def __str__(self) -> str:
        if self.dry_run:
            return f"dry run of {self.feed}: {self.batches} batches, {self.items} items, nothing sent"
        ok = sum(v == "Succeeded" for v in self.statuses.values())
        return (f"{self.feed}: {self.batches} batches ({self.items} items) sent, "
                f"{ok} of {len(self.statuses)} jobs succeeded")  # fmt: skip

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # how IPython shows it
        printer.text(str(self))


def _items(plan: Plan) -> int:
    return sum(b.item_count for b in plan.batches)


def submit_feed(preview: Preview, *, submit: bool = False, timeout: float = 600.0,
                poll_interval: float = 2.0, progress: Callable[[dict[str, Any]], None] | None = None,
                on_status: StatusCallback | None = None,
                output_dir: str | Path | None = None) -> SubmitResult:  # fmt: skip
    """Submit the preview's plan (``submit=True``) and wait for its jobs; else a dry run.

    ``progress`` receives ``runs.submit``'s events, ``on_status`` the job statuses at every poll.
    Raises GuardRefused or CheckFailed when the preview has no plan (its verdict says why), and
    JobTimeout when jobs are still running after ``timeout`` seconds.
    """
    plan = preview.plan
    if plan is None:
        kind = GuardRefused if preview.refused else CheckFailed
        raise kind(f"{preview.feed}: nothing to submit, {preview.verdict}")
    result = SubmitResult(preview.feed, plan.id, not submit, len(plan.batches), _items(plan),
                          verdict=preview.verdict)  # fmt: skip
    if submit and plan.batches:
        result = _send(preview, plan, result, timeout, poll_interval, progress, on_status)
    if output_dir is not None:
        result.write(output_dir)
    return result


def _send(preview: Preview, plan: Plan, result: SubmitResult, timeout: float, poll_interval: float,
          progress: Callable[[dict[str, Any]], None] | None,
          on_status: StatusCallback | None) -> SubmitResult:  # fmt: skip
    from toolkit.connect import ConnectClient
    from toolkit.ledger import Ledger
    from toolkit.runs import submit, wait_for_jobs
    from toolkit.snapshots import SnapshotStore

    settings = preview.settings
    store = SnapshotStore(settings.state_dir / "snapshots")
    profile = settings.profile_of(preview.feed)
    with Ledger(ledger_path(settings)) as ledger, \
            ConnectClient(profile, state_dir=settings.state_dir) as client:  # fmt: skip
        submission = submit(plan, client, ledger, progress=progress)
        ids = submission.job_ids
        if on_status is not None:
            _watch(client, ids, on_status, timeout, poll_interval)
        outcome = wait_for_jobs(submission, client, ledger, store, timeout=timeout,
                                poll_interval=poll_interval)  # fmt: skip
    statuses = {int(j.job_id): _status_name(j.status) for j in outcome.jobs}
    if on_status is not None:
        on_status(statuses)
    return replace(result, job_ids=tuple(ids), statuses=statuses, outcome=outcome)


def _status_name(status: Any) -> str:
    from toolkit.entities import JobStatus

    return JobStatus(int(status)).name


def _watch(client: Any, ids: Sequence[int], on_status: StatusCallback, timeout: float,
           poll_interval: float) -> None:  # fmt: skip
    """Report the jobs' statuses at every poll until all are done (or the time is up).

    The client polls with one Job/List a round for all pending jobs, not one Job/Get per job.
    """
    from toolkit.errors import JobTimeout

    def report(jobs: Mapping[int, Any]) -> None:
        on_status({i: _status_name(j.status) for i, j in jobs.items()})

    with contextlib.suppress(JobTimeout):
        client.wait_for_jobs(ids, timeout=timeout, poll_interval=poll_interval, on_poll=report)



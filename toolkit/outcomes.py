"""Wait for a plan's jobs, keep their outcomes, and promote its snapshot only when all succeeded.

A job that failed keeps the baseline where it was, so the next plan carries the same changes again;
``Outcome.failures`` lists such jobs with the tail of their log. ``job_outcomes`` turns the ledger's
job rows into a frame for charts and reports.

Examples
--------
>>> import tempfile, pathlib
>>> from toolkit.ledger import Ledger
>>> job_outcomes(Ledger(pathlib.Path(tempfile.mkdtemp()) / "l.sqlite")).columns[:4]
['feed', 'entity', 'kind', 'plan_id']
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from toolkit.entities import JobStatus
from toolkit.errors import ConnectAPIError, JobFailed, JobTimeout, LedgerError
from toolkit.event_wait import event_client, wait_for_job_events
from toolkit.held_back import FAILURE_SCHEMA, FAILURES, HeldBack, held_back, item_failures, key_columns
from toolkit.ledger import Ledger
from toolkit.promotion import partial_rows
from toolkit.records import JobRecord, Reason

if TYPE_CHECKING:
    from toolkit.connect.models import Job, JobLogEntry
    from toolkit.feeds import Plan
    from toolkit.sending import JobsClient, Progress, Submission
    from toolkit.snapshots import SnapshotRef, SnapshotStore

__all__ = ["OUTCOME_SCHEMA", "Failure", "Outcome", "job_outcomes", "job_table", "wait_for_jobs"]

_LOG_TAIL = 20


@dataclass(frozen=True)
class Failure:
    """A job that did not succeed, with the tail of its log."""

    job_id: int
    index: int
    status: str
    fail: int | None
    log: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outcome:
    """What became of a plan's jobs; ``promoted`` is the snapshot id that became the baseline."""

    plan_id: str
    feed: str
    jobs: tuple[JobRecord, ...]
    failures: tuple[Failure, ...] = ()
    promoted: str | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def succeeded(self) -> bool:
        return not self.failures

    def raise_for_status(self) -> Outcome:
        """Raise JobFailed naming the failed jobs and their last log lines; else return self."""
        if self.failures:
            first = self.failures[0]
            msg = (
                f"plan {self.plan_id} ({self.feed}): {len(self.failures)} of {len(self.jobs)} "
                f"jobs failed (job {first.job_id}: {first.status}); the baseline did not move"
            )
            raise JobFailed(msg, job=first, log_tail=first.log)
        return self

    def __str__(self) -> str:
        done = f"{len(self.jobs) - len(self.failures)}/{len(self.jobs)} jobs succeeded"
        head = f"plan {self.plan_id} ({self.feed}): {done if self.jobs else 'nothing to send'}"
        lines = [head + (f"; baseline is now {self.promoted}" if self.promoted else "")]
        for f in self.failures:
            lines.append(f"  job {f.job_id} (batch {f.index}): {f.status}, {f.fail or 0} failed items")
            lines.extend(f"    {line}" for line in f.log[-5:])
        return "\n".join([*lines, *self.notes])


# --- wait and promote ------------------------------------------------------------------------
def wait_for_jobs(
    submission: Submission,
    client: JobsClient,
    ledger: Ledger,
    store: SnapshotStore,
    *,
    timeout: float = 3600.0,
    poll_interval: float = 5.0,
    progress: Progress | None = None,
) -> Outcome:
    """Wait until every job of the plan finished, store outcomes, and promote what Connect accepted.

    When every job succeeded, the plan's snapshot becomes the baseline. Jobs that failed (or ended with
    failed items) are listed in ``Outcome.failures`` with the tail of their log; their items are held
    back (``toolkit.held_back``) and the rest of the snapshot is promoted (``toolkit.promotion``), so the
    next change feed sends exactly the held-back items again. The failed items, mapped to their source
    rows, are saved beside the plan (``failures.parquet``; ``read_failures``).

    Raises JobTimeout (after recording what is known) when jobs are still running at ``timeout``, and
    LedgerError when batches are not all accepted.
    ``progress`` gets a ``job`` event whenever a job's status changes (see ``toolkit.progress``).
    """
    plan = submission.plan
    with ledger.lock(plan.feed):
        batches = ledger.batches(plan.id)
        pending = [b.index for b in batches if b.state != "accepted"]
        if pending:
            msg = f"plan {plan.id} ({plan.feed}): batches {pending} are not accepted; run resume first"
            raise LedgerError(msg)
        ids = [int(b.job_id) for b in batches if b.job_id is not None]
        told = _JobEvents(progress, plan, ids) if progress is not None else None
        jobs = _wait(client, ledger, ids, timeout, poll_interval, told) if ids else {}
        polled: tuple[str, ...] = getattr(jobs, "notes", ())  # waiting by events: what polling cost
        stored = [_store_outcome(client, ledger, jobs[i]) for i in ids]
        records = tuple(r for r, _ in stored)
        failures = tuple(_failure(r) for r in records if not r.succeeded)
        if not failures:
            promoted, notes = _promote(plan, ledger, store)
            return Outcome(plan.id, plan.feed, records, promoted=promoted, notes=(*notes, *polled))
        held = _held_back(plan, ledger, stored)
        promoted, notes = _promote(plan, ledger, store, held=held)
        ledger.set_plan_state(plan.id, "failed")
        return Outcome(plan.id, plan.feed, records, failures, promoted=promoted, notes=(*notes, *polled))


def _wait(
    client: JobsClient,
    ledger: Ledger,
    ids: Sequence[int],
    timeout: float,
    poll_interval: float,
    told: _JobEvents | None,
) -> dict[int, Job]:
    try:
        by_events = event_client(client)  # [profiles.P.events]: read the ledger, poll only late jobs
        if by_events is not None:
            return wait_for_job_events(by_events, ledger, ids, timeout=timeout, on_poll=told)
        if told is None:  # clients without on_poll (test fakes) still wait
            return client.wait_for_jobs(ids, timeout=timeout, poll_interval=poll_interval)
        return client.wait_for_jobs(ids, timeout=timeout, poll_interval=poll_interval, on_poll=told)
    except JobTimeout as exc:
        if exc.job is not None and exc.job.job_id in ids:
            ledger.record_job(exc.job)
        raise


class _JobEvents:
    """``on_poll`` for the client's job polling: a ``job`` event to ``progress`` per status change.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from toolkit.connect.models import Job
    >>> told = []
    >>> events = _JobEvents(told.append, SimpleNamespace(id="p1", feed="stock"), [7])
    >>> events({7: Job(7, JobStatus.Queued)}); events({7: Job(7, JobStatus.Queued)})
    >>> events({7: Job(7, JobStatus.Succeeded, totals=3)})
    >>> [(e["status"], e["finished"], e["jobs"], e["items"]) for e in told]
    [('Queued', 0, 1, None), ('Succeeded', 1, 1, 3)]
    """

    def __init__(
        self,
        progress: Progress,
        plan: Plan,
        ids: Sequence[int],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._progress, self._plan, self._ids, self._clock = progress, plan, list(ids), clock
        self._seen: dict[int, tuple[JobStatus, bool]] = {}
        self._started = clock()

    def __call__(self, known: dict[int, Job]) -> None:
        for job_id in self._ids:
            job = known.get(job_id)
            if job is None or self._seen.get(job_id) == (job.status, job.is_done):
                continue
            self._seen[job_id] = (job.status, job.is_done)
            self._progress(self._event(job))

    def _event(self, job: Job) -> dict[str, Any]:
        finished = sum(done for _, done in self._seen.values())
        return {
            "event": "job",
            "plan_id": self._plan.id,
            "feed": self._plan.feed,
            "job_id": job.job_id,
            "status": job.status.name,
            "done": job.is_done,
            "finished": finished,
            "jobs": len(self._ids),
            "items": job.totals,
            "run_time_s": _run_time(job),
            "waited_s": round(self._clock() - self._started, 3),
        }


def _run_time(job: Job) -> float | None:
    if job.run_time is not None:
        return job.run_time.total_seconds()
    return (job.stop - job.start).total_seconds() if job.stop and job.start else None


def _store_outcome(
    client: JobsClient, ledger: Ledger, job: Job
) -> tuple[JobRecord, list[JobLogEntry] | None]:
    """The job's record (with the tail of its log when it did not wholly succeed) and its whole log
    (None when it succeeded, or when the log could not be read)."""
    if job.succeeded and not job.fail:
        return ledger.record_job(job), None
    try:
        entries = client.job_log(job.job_id)
    except ConnectAPIError as exc:
        return ledger.record_job(
            job, log_tail=[{"severity": 3, "message": f"job log unavailable: {exc}"}]
        ), None
    tail = [
        {
            "severity": e.severity,
            "message": e.message,
            "timestamp": e.timestamp,
            "imported_row": e.imported_row,
        }
        for e in entries[-_LOG_TAIL:]
    ]
    return ledger.record_job(job, log_tail=tail), entries


def _held_back(
    plan: Plan, ledger: Ledger, stored: Sequence[tuple[JobRecord, list[JobLogEntry] | None]]
) -> HeldBack:
    """What the plan's failures hold back: a failed job's whole batch; of a job that succeeded with
    failed items, the items its log names (the whole batch when the log cannot name them all)."""
    by_index = {b.index: b for b in plan.batches}
    found = [
        item_failures(plan, by_index[r.index], r, log) for r, log in stored if log and r.index in by_index
    ]
    failures = pl.concat(found) if found else pl.DataFrame(schema=FAILURE_SCHEMA)
    whole = [
        r.index
        for r, log in stored
        if not r.succeeded and (r.status != 2 or not _named_all(r, log, failures))
    ]
    directory = ledger.plan(plan.id).directory
    if directory is not None and Path(directory).is_dir():
        failures.write_parquet(Path(directory) / FAILURES)
    return held_back(plan, whole, failures.filter(~pl.col("batch").is_in(whole)))


def _named_all(rec: JobRecord, log: list[JobLogEntry] | None, failures: pl.DataFrame) -> bool:
    """Whether the log named an item for each of the job's failed items (``Fail``)."""
    mine = failures.filter(pl.col("job_id") == rec.job_id)
    named = mine.filter(pl.col("key").is_not_null())["item"].n_unique()
    return log is not None and mine.height == mine["key"].count() and named >= (rec.fail or 0)


def _failure(rec: JobRecord) -> Failure:
    name = JobStatus(rec.status).name if rec.status is not None else "Unknown"
    lines = tuple(
        f"[{_SEVERITY.get(int(e.get('severity') or 1), '?')}] {e.get('message', '')}"
        + (f" (row {e['imported_row']})" if e.get("imported_row") else "")
        for e in rec.log_tail
    )
    return Failure(rec.job_id, rec.index, name, rec.fail, lines)


_SEVERITY = {1: "info", 2: "warning", 3: "error"}


def _promote(
    plan: Plan, ledger: Ledger, store: SnapshotStore, *, held: HeldBack | None = None
) -> tuple[str | None, tuple[str, ...]]:
    """Promote the plan's snapshot (without what ``held`` holds back) unless the plan was superseded or
    the baseline moved meanwhile (a partial baseline of this same plan is not a move)."""
    rec = ledger.plan(plan.id)
    current = store.baseline(plan.feed)
    current_id = current.id if current is not None else None
    snapshot_id = plan.snapshot.id if plan.snapshot is not None else None
    ours = {p["snapshot_id"] for p in ledger.promotions(plan.feed) if p["plan_id"] == plan.id}
    why = (
        "a newer plan superseded it"
        if rec.state == "superseded"
        else "the baseline moved since it was planned"
        if current_id not in {rec.baseline_id, snapshot_id, *ours}
        else ""
    )
    if why:
        note = f"snapshot {snapshot_id} not promoted: {why}"
        ledger.event(Reason.PROMOTION_SKIPPED, feed=plan.feed, plan_id=plan.id, detail={"why": why})
        return None, (note,)
    if held is not None and not held.empty and plan.snapshot is not None:
        return _promote_partial(plan, ledger, store, current, held)
    if plan.snapshot is not None and current_id != snapshot_id:
        store.promote(plan.snapshot)
    ledger.record_promotion(plan.feed, snapshot_id, plan.id)
    return snapshot_id, ()


def _promote_partial(
    plan: Plan, ledger: Ledger, store: SnapshotStore, current: SnapshotRef | None, held: HeldBack
) -> tuple[str | None, tuple[str, ...]]:
    """Save and promote the partial baseline: the plan's snapshot with the held-back items as ``current``."""
    assert plan.snapshot is not None
    key = key_columns(plan)
    new = store.scan(plan.snapshot)  # streamed into the new file: a snapshot may not fit in memory
    old = store.scan(current) if current is not None else None
    rows = partial_rows(new, old, held.keys, key=key, removals=held.removals)
    ref = store.promote(store.save(plan.feed, rows, kind="change", key=key))
    ledger.record_promotion(plan.feed, ref.id, plan.id)
    count = held.keys.height
    detail = {"snapshot": ref.id, "held_back": count, "removals": held.removals}
    ledger.event(Reason.PARTIALLY_PROMOTED, feed=plan.feed, plan_id=plan.id, detail=detail)
    removals = "; the removed items too (a FullFile batch failed)" if held.removals else ""
    note = (
        f"baseline is now {ref.id}, partial: {count} held-back items keep their old rows{removals}; "
        "the next change feed sends them again"
    )
    return ref.id, (note,)


# --- outcomes --------------------------------------------------------------------------------
_TS = pl.Datetime("us", "UTC")
OUTCOME_SCHEMA: dict[str, pl.DataType] = {
    "feed": pl.String(),
    "entity": pl.String(),
    "kind": pl.String(),
    "plan_id": pl.String(),
    "batch_id": pl.String(),
    "job_id": pl.Int64(),
    "status": pl.String(),
    "items": pl.Int64(),
    "inserts": pl.Int64(),
    "updates": pl.Int64(),
    "failures": pl.Int64(),
    "queued_at": _TS,
    "started_at": _TS,
    "stopped_at": _TS,
    "run_time_s": pl.Float64(),
    "lead_time_s": pl.Float64(),
    "restarted_from": pl.Int64(),
}


def job_outcomes(
    ledger: Ledger, *, since: timedelta | datetime | None = None, feed: str | None = None
) -> pl.DataFrame:
    """One row per job run (a restart is its own row), oldest first.

    ``run_time_s`` is Connect's run time (else stop - start); ``lead_time_s`` is submit to finish
    (stop - queued). ``since`` is a period back from now or a point in time.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> job_outcomes(Ledger(pathlib.Path(tempfile.mkdtemp()) / "l.sqlite")).columns[:4]
    ['feed', 'entity', 'kind', 'plan_id']
    """
    cutoff = ledger.now() - since if isinstance(since, timedelta) else since
    rows = [r for r in ledger.job_rows(since=cutoff) if feed is None or r["feed"] == feed]
    status = {int(s): s.name for s in JobStatus}
    data = [
        (
            r["feed"],
            r["entity"],
            r["kind"],
            r["plan_id"],
            r["batch_id"],
            r["job_id"],
            status.get(r["status"]) if r["status"] is not None else None,
            r["totals"] if r["totals"] is not None else r["item_count"],
            r["inserts"],
            r["updates"],
            r["fail"],
            _parse(r["queued_at"]),
            _parse(r["start"]),
            _parse(r["stop"]),
            r["run_time_s"],
            None,
            r["restarted_from"],
        )
        for r in rows
    ]
    frame = pl.DataFrame(data, schema=OUTCOME_SCHEMA, orient="row")
    seconds = (pl.col("stopped_at") - pl.col("started_at")).dt.total_microseconds() / 1e6
    lead = (pl.col("stopped_at") - pl.col("queued_at")).dt.total_microseconds() / 1e6
    return frame.with_columns(
        pl.coalesce("run_time_s", seconds).alias("run_time_s"), lead.cast(pl.Float64).alias("lead_time_s")
    )


def job_table(outcomes: pl.DataFrame) -> pl.DataFrame:
    """The columns of `job_outcomes` a person reads first, newest job first, times to the second.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> job_table(job_outcomes(Ledger(pathlib.Path(tempfile.mkdtemp()) / "l.sqlite"))).columns[:7]
    ['job_id', 'feed', 'kind', 'status', 'items', 'failures', 'queued (UTC)']
    """
    return outcomes.reverse().select(
        "job_id",
        "feed",
        "kind",
        "status",
        "items",
        "failures",
        pl.col("queued_at").dt.strftime("%Y-%m-%d %H:%M:%S").alias("queued (UTC)"),
        pl.col("lead_time_s").round(1),
        pl.col("run_time_s").round(1),
        "restarted_from",
    )


def _parse(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text).astimezone(UTC) if text else None

"""Restart a plan's failed jobs, or named ones: Job/Restart where Connect allows it, else resend.

A job is never replayed over newer values: when a newer job of the same feed has succeeded since,
restarting an older one (succeeded or failed) would write the older values again, so it is refused,
naming the newer job, unless ``force``.

Examples
--------
>>> RESTART_WINDOW.days
14
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from toolkit.entities import JobStatus
from toolkit.errors import ConnectAPIError, LedgerError, OutcomeUnknown
from toolkit.lookup import DEFAULT_LOOKUP, JobLookup
from toolkit.records import BatchRecord, JobRecord, Reason
from toolkit.sending import JobsClient, Submission, load_plan, send_batch

if TYPE_CHECKING:
    from toolkit.feeds import Plan
    from toolkit.ledger import Ledger

__all__ = ["RESTART_WINDOW", "restart_failed", "superseding_job"]

RESTART_WINDOW = timedelta(days=14)
_RESTARTABLE = (int(JobStatus["Succeeded"]), int(JobStatus["Failed"]))  # what Job/Restart accepts
_SUCCEEDED = int(JobStatus["Succeeded"])


def restart_failed(
    target: Submission | str,
    client: JobsClient,
    ledger: Ledger,
    *,
    job_ids: Iterable[int] | None = None,
    now: datetime | None = None,
    lookup: JobLookup = DEFAULT_LOOKUP,
    force: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> Submission:
    """Restart the failed jobs of a plan (a Submission or a plan id), or only ``job_ids``.

    Job/Restart is used where Connect allows it (status Succeeded or Failed, finished within 14 days);
    otherwise (validation failed, too old, refused, or no job at all) the batch is sent again. Either
    way the new job is recorded with ``restarted_from`` set. Wait with ``wait_for_jobs`` afterwards.
    A job that a newer succeeded job of the feed superseded is refused (LedgerError) unless ``force``.
    """
    plan = target.plan if isinstance(target, Submission) else load_plan(ledger.plan(target))
    wanted = set(job_ids) if job_ids is not None else None
    with ledger.lock(plan.feed):
        when = now or ledger.now()
        todo = [(rec, _job(ledger, rec)) for rec in ledger.batches(plan.id)]
        todo = [(rec, job) for rec, job in todo if _needs_restart(rec, job, wanted)]
        if not force:
            _refuse_superseded(ledger, plan.feed, [job for _, job in todo if job is not None])
        sent = sum(_restart_one(plan, rec, job, client, ledger, when, lookup, sleep) for rec, job in todo)
        return Submission(plan, tuple(ledger.batches(plan.id)), sent=sent)


def superseding_job(ledger: Ledger, feed: str, job: JobRecord) -> int | None:
    """The newest job of ``feed`` queued after ``job`` that succeeded: of a later plan, or a later run of
    the same batch (a plan's other batches hold other items). None when there is none."""
    newer = [
        r
        for r in ledger.job_rows()
        if r["feed"] == feed
        and r["run"] > job.run
        and r["status"] == _SUCCEEDED
        and r["job_id"] != job.job_id
        and (r["plan_id"] != job.plan_id or r["idx"] == job.index)
    ]
    return int(newer[-1]["job_id"]) if newer else None


def _refuse_superseded(ledger: Ledger, feed: str, jobs: list[JobRecord]) -> None:
    for job in jobs:
        newer = superseding_job(ledger, feed, job)
        if newer is not None:
            msg = (
                f"job {job.job_id} of feed {feed!r} is superseded: job {newer} of the same feed "
                "succeeded since, and replaying the older one would write older values over it; "
                "pass --force (force=True) to restart it anyway"
            )
            raise LedgerError(msg)


def _job(ledger: Ledger, rec: BatchRecord) -> JobRecord | None:
    return ledger.job(rec.job_id) if rec.job_id is not None else None


def _restart_one(
    plan: Plan,
    rec: BatchRecord,
    job: JobRecord | None,
    client: JobsClient,
    ledger: Ledger,
    when: datetime,
    lookup: JobLookup,
    sleep: Callable[[float], None],
) -> int:
    batch = next(b for b in plan.batches if b.index == rec.index)
    with ledger.send_lock(batch.endpoint):
        if job is not None and _restart(plan, rec, job, client, ledger, when):
            return 0
        send_batch(
            plan,
            batch,
            client,
            ledger,
            lookup,
            sleep,
            reason=Reason.RESUBMITTED,
            restarted_from=job.job_id if job else None,
        )
        return 1


def _needs_restart(rec: BatchRecord, job: JobRecord | None, wanted: set[int] | None) -> bool:
    if wanted is not None:
        return job is not None and job.job_id in wanted
    if rec.state in ("failed", "unknown"):
        return True
    return job is not None and job.is_finished and not job.succeeded


def _restart(
    plan: Plan, rec: BatchRecord, job: JobRecord, client: Any, ledger: Ledger, when: datetime
) -> bool:
    finished = job.stop or job.start or job.queued_at
    if job.status not in _RESTARTABLE or finished is None:
        return False
    if when - finished > RESTART_WINDOW:
        return False
    try:
        response = client.restart_job(job.job_id)
    except OutcomeUnknown:
        raise  # the restart may have been taken: never resend the batch on top of it
    except ConnectAPIError as exc:
        ledger.event(
            Reason.RESTART_REFUSED,
            feed=plan.feed,
            plan_id=plan.id,
            index=rec.index,
            job_id=job.job_id,
            detail={"error": str(exc)},
        )
        return False
    ledger.mark_accepted(
        plan.id,
        rec.index,
        int(response.job_id),
        reason=Reason.RESTARTED,
        restarted_from=job.job_id,
        queued_at=when,
    )
    return True

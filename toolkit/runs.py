"""Submit plans, track their jobs and promote their snapshots: the one place joining feeds, client and ledger.

The rules, under every failure:

- each batch is recorded ``sending`` before its request and ``accepted`` with its job id after it, so a
  crashed run resumes where it stopped and never sends an accepted batch again;
- a request whose answer was lost (OutcomeUnknown) is looked up in Job/List before anything is sent
  again; a batch whose job cannot be found is marked ``unknown`` and the submission stops;
- a plan's snapshot becomes the baseline only when every job of the plan succeeded; otherwise the
  baseline stays and the next plan carries the same changes again.

Examples
--------
>>> from toolkit.runs import JobLookup
>>> JobLookup().skew
datetime.timedelta(seconds=120)
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

import polars as pl

from toolkit.errors import LedgerError
from toolkit.ledger import Ledger
from toolkit.lookup import DEFAULT_LOOKUP, JobLookup, find_job
from toolkit.outcomes import OUTCOME_SCHEMA, Failure, Outcome, job_outcomes, wait_for_jobs
from toolkit.progress import WaitEvents, eta_seconds
from toolkit.records import BatchRecord, PlanRecord, Reason
from toolkit.recovery import adopt_lost, mark_submitted, refuse_lost
from toolkit.restarts import restart_failed
from toolkit.sending import (
    JobsClient,
    PlanAlreadySent,
    Progress,
    Sleep,
    Submission,
    load_plan,
    load_plan_dir,
    refuse_sent,
    send_batch,
)
from toolkit.workspace import Workspace

if TYPE_CHECKING:
    from toolkit.config import KindOption, Settings
    from toolkit.connect import ConnectClient
    from toolkit.feeds import Batch, Plan
    from toolkit.snapshots import SnapshotStore

__all__ = [
    "OUTCOME_SCHEMA",
    "Failure",
    "JobLookup",
    "JobsClient",
    "NothingToResume",
    "Outcome",
    "PlanAlreadySent",
    "Progress",
    "Run",
    "Submission",
    "job_outcomes",
    "load_plan",
    "load_plan_dir",
    "open_run",
    "plan_and_submit",
    "read_job_outcomes",
    "refuse_sent",
    "restart_failed",
    "restart_feed_job",
    "restart_jobs",
    "resume",
    "resume_feed",
    "submit",
    "wait_for_jobs",
]


# --- submit ----------------------------------------------------------------------------------
def submit(
    plan: Plan,
    client: JobsClient,
    ledger: Ledger,
    *,
    progress: Progress | None = None,
    lookup: JobLookup = DEFAULT_LOOKUP,
    sleep: Callable[[float], None] = time.sleep,
) -> Submission:
    """Send every batch of ``plan`` not accepted yet, in order, recording each step in the ledger.

    The plan is saved (``Plan.save``) under ``ledger.directory / "plans" / plan.id`` and recorded with
    its batches before anything is sent, so ``resume`` can continue from another process.

    Raises
    ------
    FeedLocked
        Another run holds the feed.
    OutcomeUnknown
        A batch was sent, no answer came back and its job is not in Job/List (batch marked unknown).
    ConnectAPIError
        Connect refused a batch (batch marked failed).
    """
    emit = progress or _ignore
    with ledger.lock(plan.feed):
        refuse_sent(plan.id, ledger)
        _record(plan, ledger)
        records = {b.index: b for b in ledger.batches(plan.id)}
        todo = [b for b in plan.batches if records[b.index].state != "accepted"]
        rate = _rate(client)
        waits = WaitEvents(
            progress, rate=rate, where=_event("start", plan, len(plan.batches) - len(todo), len(todo), rate)
        )
        emit(waits.where)
        sent = found = 0
        with waits.attached(client):  # the client's waits become "wait" events while it sends
            for left, batch in zip(range(len(todo) - 1, -1, -1), todo, strict=True):
                waits.where = _event("send", plan, len(plan.batches) - left - 1, left + 1, rate)
                rec, was_sent, was_found = _deliver(
                    plan, batch, records[batch.index], client, ledger, lookup, sleep
                )
                sent, found = sent + was_sent, found + was_found
                emit(
                    {
                        **_event("batch", plan, len(plan.batches) - left, left, rate),
                        "index": batch.index,
                        "job_id": rec.job_id,
                        "found": was_found,
                    }
                )
        emit(_event("done", plan, len(plan.batches), 0, rate))
        return Submission(plan, tuple(ledger.batches(plan.id)), sent=sent, found=found)


def _deliver(
    plan: Plan,
    batch: Batch,
    rec: BatchRecord,
    client: JobsClient,
    ledger: Ledger,
    lookup: JobLookup,
    sleep: Sleep,
) -> tuple[BatchRecord, bool, bool]:
    """Find the job of a batch left ``sending``/``unknown`` by an earlier attempt, else send it.

    Returns the batch record, whether a request was sent and whether the job was found in Job/List.
    """
    with ledger.send_lock(batch.endpoint):
        if rec.state in ("sending", "unknown") and rec.sent_at is not None:
            job = find_job(client, ledger, plan.id, batch, rec.sent_at, lookup, sleep)
            if job is not None:
                return (
                    ledger.mark_accepted(plan.id, batch.index, job.job_id, reason=Reason.FOUND_IN_LIST),
                    False,
                    True,
                )
        rec, found = send_batch(plan, batch, client, ledger, lookup, sleep)
        return rec, True, found


def _record(plan: Plan, ledger: Ledger) -> PlanRecord:
    """Save the plan (again, when its saved copy is damaged), mark it submitted and record it."""
    refuse_lost(ledger, plan.feed)
    directory = Workspace(ledger.directory).plan_dir(plan.id)
    if not _saved_whole(directory, len(plan.batches)):
        plan.save(directory)
    mark_submitted(directory, plan, ledger.now())
    return ledger.record_plan(plan, directory=directory)


def _saved_whole(directory: Path, batches: int) -> bool:
    try:
        manifest = json.loads((directory / "manifest.json").read_text())
        return len(manifest["batches"]) == batches
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _rate(client: object) -> int:
    return int(getattr(getattr(client, "profile", None), "rate_limit_per_minute", 60) or 60)


def _event(kind: str, plan: Plan, accepted: int, left: int, rate: int) -> dict[str, Any]:
    return {
        "event": kind,
        "plan_id": plan.id,
        "feed": plan.feed,
        "batches": len(plan.batches),
        "accepted": accepted,
        "requests_left": left,
        "eta_s": eta_seconds(left, rate=rate),
    }


def _ignore(event: dict[str, Any]) -> None:
    return None


# --- resume ----------------------------------------------------------------------------------
class NothingToResume(LedgerError):
    """The feed has no unfinished submission: there is nothing to resume (not a failure)."""


def resume(
    feed: str,
    *,
    settings: Settings | None = None,
    client: JobsClient,
    ledger: Ledger,
    progress: Progress | None = None,
    lookup: JobLookup = DEFAULT_LOOKUP,
) -> Submission:
    """Continue the feed's latest unfinished submission (loaded from the plan ``submit`` saved).

    ``settings`` is accepted for symmetry with the CLI; the saved plan is found through the ledger, or,
    when the ledger forgot it (``toolkit.recovery``), through the plan directories. Raises
    NothingToResume when the feed has no unfinished submission.
    """
    with ledger.lock(feed):
        rec = ledger.open_plan(feed) or adopt_lost(ledger, feed)
        if rec is None:
            msg = f"feed {feed!r} has no unfinished submission in {ledger.path}: nothing to resume"
            raise NothingToResume(msg)
        return submit(load_plan(rec), client, ledger, progress=progress, lookup=lookup)


# --- one feed, from settings (what the CLI and notebooks call) --------------------------------
@dataclass(frozen=True)
class Run:
    """What a run of one feed needs, built from settings by ``open_run``."""

    settings: Settings
    feed: str
    client: ConnectClient
    ledger: Ledger
    store: SnapshotStore


@contextmanager
def open_run(settings: Settings, feed: str) -> Iterator[Run]:
    """The client, ledger and snapshot store of ``feed``, all under ``settings.state_dir``."""
    with Workspace.of(settings).session(settings.profile_of(feed)) as (client, ledger, store):
        yield Run(settings, feed, client, ledger, store)


@overload
def plan_and_submit(
    settings: Settings,
    feed: str,
    *,
    kind: KindOption = ...,
    source: str | None = ...,
    confirm: Callable[[Plan], bool] | None = ...,
    wait: Literal[False] = ...,
    allow_mass_deactivation: bool = ...,
    override_reason: str | None = ...,
    progress: Progress | None = ...,
    timeout: float = ...,
    poll_interval: float = ...,
) -> Submission | None: ...
@overload
def plan_and_submit(
    settings: Settings,
    feed: str,
    *,
    kind: KindOption = ...,
    source: str | None = ...,
    confirm: Callable[[Plan], bool] | None = ...,
    wait: Literal[True],
    allow_mass_deactivation: bool = ...,
    override_reason: str | None = ...,
    progress: Progress | None = ...,
    timeout: float = ...,
    poll_interval: float = ...,
) -> Outcome | None: ...
@overload
def plan_and_submit(
    settings: Settings,
    feed: str,
    *,
    kind: KindOption = ...,
    source: str | None = ...,
    confirm: Callable[[Plan], bool] | None = ...,
    wait: bool,
    allow_mass_deactivation: bool = ...,
    override_reason: str | None = ...,
    progress: Progress | None = ...,
    timeout: float = ...,
    poll_interval: float = ...,
) -> Submission | Outcome | None: ...
def plan_and_submit(
    settings: Settings,
    feed: str,
    *,
    kind: KindOption = "auto",
    source: str | None = None,
    confirm: Callable[[Plan], bool] | None = None,
    wait: bool = False,
    allow_mass_deactivation: bool = False,
    override_reason: str | None = None,
    progress: Progress | None = None,
    timeout: float = 3600.0,
    poll_interval: float = 5.0,
) -> Submission | Outcome | None:
    """Plan ``feed``, ask ``confirm(plan)`` (None: no question), submit, and wait when asked.

    The feed's lock is taken before anything is read, so a second run fails fast with FeedLocked.
    Returns None when ``confirm`` said no, the Outcome with ``wait``, else the Submission.
    """
    from toolkit.feeds import plan_feed

    with open_run(settings, feed) as run, run.ledger.lock(feed):
        plan = plan_feed(
            settings,
            feed,
            kind=kind,
            source=source,
            store=run.store,
            allow_mass_deactivation=allow_mass_deactivation,
            override_reason=override_reason,
            progress=progress,
        )
        if confirm is not None and not confirm(plan):
            return None
        sub = submit(plan, run.client, run.ledger, progress=progress)
        return _maybe_wait(sub, run, wait, timeout, poll_interval, progress)


@overload
def resume_feed(
    settings: Settings,
    feed: str,
    *,
    wait: Literal[False] = ...,
    progress: Progress | None = ...,
    timeout: float = ...,
    poll_interval: float = ...,
) -> Submission: ...
@overload
def resume_feed(
    settings: Settings,
    feed: str,
    *,
    wait: Literal[True],
    progress: Progress | None = ...,
    timeout: float = ...,
    poll_interval: float = ...,
) -> Outcome: ...
@overload
def resume_feed(
    settings: Settings,
    feed: str,
    *,
    wait: bool,
    progress: Progress | None = ...,
    timeout: float = ...,
    poll_interval: float = ...,
) -> Submission | Outcome: ...
def resume_feed(
    settings: Settings,
    feed: str,
    *,
    wait: bool = False,
    progress: Progress | None = None,
    timeout: float = 3600.0,
    poll_interval: float = 5.0,
) -> Submission | Outcome:
    """``resume`` the feed's unfinished submission with the settings' client and ledger."""
    with open_run(settings, feed) as run:
        sub = resume(feed, settings=settings, client=run.client, ledger=run.ledger, progress=progress)
        return _maybe_wait(sub, run, wait, timeout, poll_interval, progress)


@overload
def restart_feed_job(
    settings: Settings,
    job_id: int,
    *,
    wait: Literal[False] = ...,
    timeout: float = ...,
    poll_interval: float = ...,
    force: bool = ...,
) -> Submission: ...
@overload
def restart_feed_job(
    settings: Settings,
    job_id: int,
    *,
    wait: Literal[True],
    timeout: float = ...,
    poll_interval: float = ...,
    force: bool = ...,
) -> Outcome: ...
@overload
def restart_feed_job(
    settings: Settings,
    job_id: int,
    *,
    wait: bool,
    timeout: float = ...,
    poll_interval: float = ...,
    force: bool = ...,
) -> Submission | Outcome: ...
def restart_feed_job(
    settings: Settings,
    job_id: int,
    *,
    wait: bool = False,
    timeout: float = 3600.0,
    poll_interval: float = 5.0,
    force: bool = False,
) -> Submission | Outcome:
    """Restart (or resubmit) the batch of job ``job_id``; the feed is found through the ledger.

    A job that a newer succeeded job of its feed superseded is refused unless ``force``.
    """
    (result,) = restart_jobs(
        settings, [job_id], wait=wait, timeout=timeout, poll_interval=poll_interval, force=force
    )
    return result


def restart_jobs(
    settings: Settings,
    job_ids: Iterable[int],
    *,
    wait: bool = False,
    timeout: float = 3600.0,
    poll_interval: float = 5.0,
    force: bool = False,
) -> list[Submission | Outcome]:
    """``restart_failed`` for the plans of ``job_ids`` (one result per plan, in the order first named).

    The plans and feeds are found through the ledger; each plan is restarted under its feed's lock with
    its profile's client, and waited for when ``wait``. Superseded jobs are refused unless ``force``.
    """
    with Workspace.of(settings).ledger() as ledger:
        by_plan: dict[str, list[int]] = {}
        for job_id in job_ids:
            by_plan.setdefault(ledger.job(job_id).plan_id, []).append(job_id)
        feeds = {plan_id: ledger.plan(plan_id).feed for plan_id in by_plan}
    results: list[Submission | Outcome] = []
    for plan_id, ids in by_plan.items():
        with open_run(settings, feeds[plan_id]) as run:
            sub = restart_failed(plan_id, run.client, run.ledger, job_ids=ids, force=force)
            results.append(_maybe_wait(sub, run, wait, timeout, poll_interval))
    return results


def read_job_outcomes(
    settings: Settings, *, feed: str | None = None, since: timedelta | datetime | None = None
) -> pl.DataFrame:
    """``job_outcomes`` of the ledger in ``settings.state_dir``."""
    with Workspace.of(settings).ledger() as ledger:
        return job_outcomes(ledger, since=since, feed=feed)


def _maybe_wait(
    sub: Submission,
    run: Run,
    wait: bool,
    timeout: float,
    poll_interval: float,
    progress: Progress | None = None,
) -> Submission | Outcome:
    if not wait:
        return sub
    return wait_for_jobs(
        sub,
        run.client,
        run.ledger,
        run.store,
        timeout=timeout,
        poll_interval=poll_interval,
        progress=progress,
    )

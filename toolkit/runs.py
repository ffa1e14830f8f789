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
from typing import TYPE_CHECKING, Any, Protocol

import polars as pl

from toolkit.errors import ConnectAPIError, LedgerError, OutcomeUnknown
from toolkit.ledger import Ledger, StateDamaged
from toolkit.lookup import DEFAULT_LOOKUP, JobLookup, find_job
from toolkit.outcomes import OUTCOME_SCHEMA, Failure, Outcome, job_outcomes, wait_for_jobs
from toolkit.progress import WaitEvents, eta_seconds
from toolkit.records import BatchRecord, PlanRecord, Reason
from toolkit.restarts import restart_failed

if TYPE_CHECKING:
    from toolkit.config import FeedKind, Settings
    from toolkit.connect import ConnectClient
    from toolkit.connect.models import Job
    from toolkit.feeds import Batch, Plan
    from toolkit.snapshots import SnapshotStore

__all__ = [
    "OUTCOME_SCHEMA",
    "Failure",
    "JobLookup",
    "NothingToResume",
    "Outcome",
    "PlanAlreadySent",
    "Progress",
    "Run",
    "Submission",
    "job_outcomes",
    "load_plan",
    "open_run",
    "plan_and_submit",
    "read_job_outcomes",
    "refuse_sent",
    "restart_failed",
    "restart_feed_job",
    "resume",
    "resume_feed",
    "submit",
    "wait_for_jobs",
]

Progress = Callable[[dict[str, Any]], None]
Sleep = Callable[[float], None]


class _Client(Protocol):  # the part of ConnectClient that runs uses
    def import_items(self, entity: str, items_or_body: Any, header: dict[str, Any]) -> Any: ...
    def list_jobs(self) -> list[Job]: ...
    def job_log(self, job_id: int) -> list[Any]: ...
    def restart_job(self, job_id: int) -> Any: ...
    def wait_for_jobs(
        self,
        job_ids: Iterable[int],
        *,
        timeout: float,
        poll_interval: float,
        on_poll: Callable[[dict[int, Job]], None] | None = None,
    ) -> dict[int, Job]: ...


@dataclass(frozen=True)
class Submission:
    """A plan as submitted: its batches' states (from the ledger) and what this call did."""

    plan: Plan
    batches: tuple[BatchRecord, ...]
    sent: int = 0
    found: int = 0

    @property
    def plan_id(self) -> str:
        return str(self.plan.id)

    @property
    def feed(self) -> str:
        return str(self.plan.feed)

    @property
    def job_ids(self) -> tuple[int, ...]:
        return tuple(b.job_id for b in self.batches if b.job_id is not None)

    @property
    def is_complete(self) -> bool:
        """True when every batch of the plan is accepted."""
        return all(b.state == "accepted" for b in self.batches)

    def __str__(self) -> str:
        done = sum(b.state == "accepted" for b in self.batches)
        return (
            f"plan {self.plan_id} ({self.feed}): {done}/{len(self.batches)} batches accepted, "
            f"{self.sent} sent now, {self.found} found in Job/List"
        )


# --- submit ----------------------------------------------------------------------------------
def submit(
    plan: Plan,
    client: _Client,
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


class PlanAlreadySent(LedgerError):
    """A plan whose batches were all accepted already (and whose jobs finished) is not sent again."""


def refuse_sent(plan_id: str, ledger: Ledger) -> None:
    """Raise PlanAlreadySent when ``plan_id`` finished (succeeded or failed) with every batch accepted.

    A plan id names a source against a baseline, so sending such a plan again would send the same
    batches twice. What is left to do is restarting its failed jobs, or a new preview once the source
    or the baseline moved. A plan superseded by another one may be sent again (what came after it
    may have been taken since).
    """
    if not ledger.has_plan(plan_id):
        return
    rec, batches = ledger.plan(plan_id), ledger.batches(plan_id)
    if rec.state not in ("succeeded", "failed") or not batches:
        return
    if any(b.state != "accepted" for b in batches):
        return
    jobs = ", ".join(str(b.job_id) for b in batches)
    after = (
        "preview again once the source or the baseline changed"
        if rec.state == "succeeded"
        else "restart its failed jobs (`norce-feeds restart JOB`), or preview again once the source changed"
    )
    msg = (
        f"plan {plan_id} of feed {rec.feed!r} was sent already: its {len(batches)} batches were all "
        f"accepted (jobs {jobs}) and the plan {rec.state}; it is not sent twice: {after}"
    )
    raise PlanAlreadySent(msg)


def _deliver(
    plan: Plan,
    batch: Batch,
    rec: BatchRecord,
    client: _Client,
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


def send_batch(
    plan: Plan,
    batch: Batch,
    client: _Client,
    ledger: Ledger,
    lookup: JobLookup,
    sleep: Callable[[float], None],
    *,
    reason: Reason = Reason.ACCEPTED,
    restarted_from: int | None = None,
) -> tuple[BatchRecord, bool]:
    """Send one batch (holding its endpoint's send lock); the flag says its job was found in Job/List
    after a lost answer."""
    _check_state_dir(ledger)
    rec = ledger.mark_sending(plan.id, batch.index)
    try:
        response = client.import_items(batch.entity, batch.body, batch.header)
    except OutcomeUnknown as exc:
        try:
            job = find_job(client, ledger, plan.id, batch, rec.sent_at or ledger.now(), lookup, sleep)
        except OutcomeUnknown as ambiguous:
            ledger.mark_unknown(plan.id, batch.index, str(ambiguous))
            raise
        if job is None:
            ledger.mark_unknown(plan.id, batch.index, str(exc))
            msg = (
                f"plan {plan.id} batch {batch.index} ({batch.endpoint}): sent, no answer, and no "
                f"matching job in Job/List; run resume to look again before resending"
            )
            raise OutcomeUnknown(msg, endpoint=batch.endpoint, batch=batch.id) from exc
        return ledger.mark_accepted(
            plan.id, batch.index, job.job_id, reason=Reason.FOUND_IN_LIST, restarted_from=restarted_from
        ), True
    except ConnectAPIError as exc:
        ledger.mark_failed(plan.id, batch.index, str(exc))
        raise
    return ledger.mark_accepted(
        plan.id, batch.index, int(response.job_id), reason=reason, restarted_from=restarted_from
    ), False


def _check_state_dir(ledger: Ledger) -> None:
    """Refuse to send once the ledger's file is gone (the state directory was deleted meanwhile):
    what is sent now could not be recorded where the next run looks."""
    if not ledger.path.exists():
        msg = (
            f"ledger {ledger.path} was deleted during the run; nothing more is sent. Restore the "
            "state directory from a backup, or run the feed again (a lost state directory means "
            "a first full feed)"
        )
        raise StateDamaged(msg)


def _record(plan: Plan, ledger: Ledger) -> PlanRecord:
    """Save the plan (again, when its saved copy is damaged), mark it submitted and record it."""
    from toolkit.recovery import mark_submitted, refuse_lost

    refuse_lost(ledger, plan.feed)
    directory = ledger.directory / "plans" / plan.id
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
    client: _Client,
    ledger: Ledger,
    progress: Progress | None = None,
    lookup: JobLookup = DEFAULT_LOOKUP,
) -> Submission:
    """Continue the feed's latest unfinished submission (loaded from the plan ``submit`` saved).

    ``settings`` is accepted for symmetry with the CLI; the saved plan is found through the ledger, or,
    when the ledger forgot it (``toolkit.recovery``), through the plan directories. Raises
    NothingToResume when the feed has no unfinished submission.
    """
    from toolkit.recovery import adopt_lost

    with ledger.lock(feed):
        rec = ledger.open_plan(feed) or adopt_lost(ledger, feed)
        if rec is None:
            msg = f"feed {feed!r} has no unfinished submission in {ledger.path}: nothing to resume"
            raise NothingToResume(msg)
        return submit(load_plan(rec), client, ledger, progress=progress, lookup=lookup)


def load_plan(rec: PlanRecord) -> Plan:
    """The plan ``submit`` saved for ``rec`` (``Plan.load`` of its directory)."""
    if rec.directory is None or not Path(rec.directory).exists():
        msg = (
            f"plan {rec.id} of feed {rec.feed!r} was not saved (expected {rec.directory}); run "
            f"`norce-feeds submit {rec.feed}` to plan again: batches already accepted are not resent "
            "when the source and baseline are unchanged"
        )
        raise StateDamaged(msg)
    return load_plan_dir(Path(rec.directory), feed=rec.feed)


def load_plan_dir(directory: Path, *, feed: str) -> Plan:
    """``Plan.load`` of ``directory``; a damaged plan is StateDamaged, saying how to go on."""
    from toolkit.errors import PlanError
    from toolkit.feeds import Plan

    try:
        return Plan.load(directory)
    except (PlanError, OSError, KeyError, ValueError, TypeError, pl.exceptions.PolarsError) as exc:
        why = f"{type(exc).__name__}: {exc}" if not isinstance(exc, PlanError) else str(exc)
        msg = (
            f"saved plan {directory} of feed {feed!r} is damaged ({why}); run `norce-feeds submit "
            f"{feed}`: a plan of the same source against the same baseline is saved again and "
            "continues this submission without resending its accepted batches"
        )
        raise StateDamaged(msg) from exc


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
    from toolkit.connect import ConnectClient
    from toolkit.snapshots import SnapshotStore

    profile = settings.profile_of(feed)
    with (
        ConnectClient(profile, state_dir=settings.state_dir) as client,
        Ledger(settings.state_dir / "ledger.sqlite") as ledger,
    ):
        yield Run(settings, feed, client, ledger, SnapshotStore(settings.state_dir / "snapshots"))


def plan_and_submit(
    settings: Settings,
    feed: str,
    *,
    kind: FeedKind = "auto",
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
        )
        if confirm is not None and not confirm(plan):
            return None
        sub = submit(plan, run.client, run.ledger, progress=progress)
        return _maybe_wait(sub, run, wait, timeout, poll_interval, progress)


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
    with Ledger(settings.state_dir / "ledger.sqlite") as ledger:
        plan_id = ledger.job(job_id).plan_id
        feed = ledger.plan(plan_id).feed
    with open_run(settings, feed) as run:
        sub = restart_failed(plan_id, run.client, run.ledger, job_ids=[job_id], force=force)
        return _maybe_wait(sub, run, wait, timeout, poll_interval)


def read_job_outcomes(
    settings: Settings, *, feed: str | None = None, since: timedelta | datetime | None = None
) -> pl.DataFrame:
    """``job_outcomes`` of the ledger in ``settings.state_dir``."""
    with Ledger(settings.state_dir / "ledger.sqlite") as ledger:
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

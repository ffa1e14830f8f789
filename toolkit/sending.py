"""The steps below a submission: one batch sent and recorded, a saved plan loaded, a plan never sent twice.

``toolkit.runs`` builds submissions from these; ``toolkit.outcomes``, ``toolkit.restarts`` and
``toolkit.recovery`` use them too, so they live below all four.

Examples
--------
>>> from toolkit.sending import Submission
>>> Submission.__dataclass_fields__["sent"].default
0
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import polars as pl

from toolkit.errors import ConnectAPIError, LedgerError, OutcomeUnknown, PlanError
from toolkit.ledger import Ledger, StateDamaged
from toolkit.lookup import JobLookup, find_job
from toolkit.plan_model import Plan
from toolkit.records import BatchRecord, PlanRecord, Reason

if TYPE_CHECKING:
    from toolkit.batches import Batch
    from toolkit.connect.models import Job

__all__ = [
    "JobsClient",
    "PlanAlreadySent",
    "Progress",
    "Sleep",
    "Submission",
    "load_plan",
    "load_plan_dir",
    "refuse_sent",
    "send_batch",
]

Progress = Callable[[dict[str, Any]], None]
Sleep = Callable[[float], None]


class JobsClient(Protocol):
    """The part of ``ConnectClient`` that submitting and waiting use (a test may pass its own)."""

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


def send_batch(
    plan: Plan,
    batch: Batch,
    client: JobsClient,
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

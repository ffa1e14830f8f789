"""Finding the job of a batch whose answer was lost, in Job/List, without guessing.

Job/List shows what the server knows of each job (JobId, Totals, Start, StorageName) and nothing a
request carries, so a job is tied to a batch by elimination: it is not claimed by another batch
(``toolkit.claims``), its ``Totals`` equal the batch's item count, it started no earlier than the
request minus ``skew``, and its StorageName, when given, names the endpoint's import. The batches that
could own such a job are the unresolved ones (``sending``/``unknown``) of the same endpoint and count;
sends to one endpoint are serialized (the ledger's send lock), so jobs are created in the order those
batches were sent. A batch gets a job only when that order decides it:

- as many candidate jobs as unresolved batches: the n-th batch sent owns the n-th job (by JobId);
- fewer jobs than batches, all of one plan (a plan stops at its first lost answer, so its accepted
  batches are the first ones sent): the first batches own the jobs, the others have none;
- anything else (more jobs than batches, or batches of several plans) is ambiguous: the outcome is
  reported unknown (``OutcomeUnknown``), never guessed.

Examples
--------
>>> JobLookup().attempts
3
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from toolkit.errors import OutcomeUnknown

if TYPE_CHECKING:
    from toolkit.connect.models import Job
    from toolkit.feeds import Batch
    from toolkit.ledger import Ledger

__all__ = ["DEFAULT_LOOKUP", "JobLookup", "find_job"]


@dataclass(frozen=True)
class JobLookup:
    """How to look for the job of a batch whose answer was lost.

    Job/List is asked ``attempts`` times, ``delay`` seconds apart, because a slow server may create
    the job after the client gave up waiting; ``skew`` allows for clock differences.
    """

    attempts: int = 3
    delay: float = 2.0
    skew: timedelta = timedelta(seconds=120)


DEFAULT_LOOKUP = JobLookup()


class ListsJobs(Protocol):
    """A client that lists Connect's recent jobs (Job/List), as ``ConnectClient`` does."""

    def list_jobs(self) -> list[Job]: ...


def find_job(
    client: ListsJobs,
    ledger: Ledger,
    plan_id: str,
    batch: Batch,
    since: datetime,
    lookup: JobLookup,
    sleep: Callable[[float], None],
) -> Job | None:
    """The job of ``batch`` (sent at ``since``), None when Job/List shows none for it.

    Call it holding the endpoint's send lock. Raises OutcomeUnknown when Job/List cannot tell which
    of several jobs is the batch's.
    """
    cutoff = since - lookup.skew
    problem = ""
    for attempt in range(max(lookup.attempts, 1)):
        if attempt:
            sleep(lookup.delay)
        listed = client.list_jobs()  # before the ledger: a job listed here was claimed or is unresolved
        claimed = ledger.claimed_job_ids()
        hits = sorted(
            (
                j
                for j in listed
                if j.job_id not in claimed and _matches(j, batch.item_count, cutoff, batch.endpoint)
            ),
            key=lambda j: j.job_id,
        )
        owners = [
            (b.plan_id, b.index) for b in ledger.unresolved(batch.endpoint, batch.item_count, since=cutoff)
        ]
        decided, problem = _decide(hits, owners, (plan_id, batch.index))
        if decided is not None:
            return decided
    if problem:
        msg = (
            f"plan {plan_id} batch {batch.index} ({batch.endpoint}): sent, no answer, and Job/List "
            f"cannot tell its job apart: {problem}; nothing was resent. Run `norce-feeds resume` "
            "for the other feeds first, then for this one"
        )
        raise OutcomeUnknown(msg, endpoint=batch.endpoint, batch=batch.id)
    return None


def _decide(hits: list[Job], owners: list[tuple[str, int]], ours: tuple[str, int]) -> tuple[Job | None, str]:
    """The job the send order gives ``ours`` (or None), and why it is ambiguous when it is."""
    if ours not in owners:
        owners = [*owners, ours]
    at = owners.index(ours)
    if not hits:
        return None, ""
    if len(hits) == len(owners):
        return hits[at], ""
    if len(hits) < len(owners) and len({plan for plan, _ in owners}) == 1:
        return (hits[at] if at < len(hits) else None), ""
    jobs = ", ".join(str(j.job_id) for j in hits[:10])
    batches = ", ".join(f"{p} #{i}" for p, i in owners[:10])
    return None, (
        f"{len(hits)} unclaimed matching job(s) ({jobs}) for {len(owners)} unanswered batch(es) ({batches})"
    )


def _matches(job: Job, items: int, cutoff: datetime, endpoint: str) -> bool:
    name = endpoint.rstrip("/").rsplit("/", 1)[-1].lower()
    done = bool(getattr(job, "is_done", job.is_finished))
    counted = job.totals == items or (not done and not job.totals)
    recent = job.start is None or job.start >= cutoff
    return counted and recent and (not job.storage_name or name in job.storage_name.lower())

"""Waiting on jobs by their JobCompletedEvents: the ledger is read, Connect is asked only when needed.

When the profile has ``[profiles.P.events]``, the receiver (:mod:`toolkit.events`) writes each job's
completion into the ledger, so waiting reads the ledger every ``check_seconds`` (a local read, no
request) instead of polling Job/List and Job/Get every ``poll_interval``. Connect is asked only:

- for a job with no event ``grace_seconds`` after the wait began (or after its last probe): one Job/Get
  (one Job/List for several) *probes* it; a finished job is taken from the answer (its event was lost
  or is late), an unfinished one is probed again after another grace period, so a long job costs one
  request per grace period, not one per poll interval;
- for a job whose events disagree (a Failed after a Succeeded): one Job/Get decides, since the events
  alone cannot say which status Job/Get gives;
- with ``fetch_counts`` (the default), once at the end: one Job/List reads the counts of the jobs known
  by their event (an event carries no Totals, Inserts, Updates or Fail, and a job that Succeeded with
  failed items must not pass for a clean one). Without it the wait makes no request at all while the
  events arrive, and such jobs carry their status only.

So a plan of ``n`` jobs whose events all arrive costs 1 request (0 without ``fetch_counts``), where
polling costs one Job/List per ``poll_interval`` for as long as the jobs run. ``WaitedJobs.requests``
counts what was spent; its ``note`` goes into the run's summary.

Examples
--------
>>> waited = WaitedJobs({}, requests=1, by_event=3, probed=0)
>>> waited.note
'jobs: 3 by their event, 0 probed; 1 request spent on polling'
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Protocol, runtime_checkable

from toolkit.config import EventSettings, Profile
from toolkit.connect.models import Job
from toolkit.entities import JobStatus
from toolkit.errors import JobTimeout
from toolkit.job_events import JobEventRecord, settled
from toolkit.ledger import Ledger

__all__ = ["EventJobsClient", "WaitedJobs", "event_client", "job_from_event", "wait_for_job_events"]


@runtime_checkable
class EventJobsClient(Protocol):
    """The part of ``ConnectClient`` that waiting by events uses."""

    profile: Profile

    def get_job(self, job_id: int) -> Job: ...
    def list_jobs(self) -> list[Job]: ...


class WaitedJobs(dict[int, Job]):
    """The finished jobs by id (as ``ConnectClient.wait_for_jobs`` gives them), with what they cost."""

    def __init__(self, jobs: Mapping[int, Job], *, requests: int, by_event: int, probed: int) -> None:
        super().__init__(jobs)
        self.requests, self.by_event, self.probed = requests, by_event, probed

    @property
    def notes(self) -> tuple[str, ...]:
        """The note, for ``Outcome.notes``."""
        return (self.note,)

    @property
    def note(self) -> str:
        spent = f"{self.requests} request{'' if self.requests == 1 else 's'}"
        return f"jobs: {self.by_event} by their event, {self.probed} probed; {spent} spent on polling"


def event_client(client: object) -> EventJobsClient | None:
    """``client`` when its profile has an events receiver configured, else None.

    >>> event_client(object()) is None
    True
    """
    if isinstance(client, EventJobsClient) and getattr(client.profile, "events", None) is not None:
        return client
    return None


def job_from_event(job_id: int, records: list[JobEventRecord]) -> Job | None:
    """The finished job its events describe (status only), or None when they do not settle it.

    >>> from datetime import datetime, UTC
    >>> at = datetime(2024, 5, 1, tzinfo=UTC)
    >>> job = job_from_event(7, [JobEventRecord("p", 7, 3, at, at, 2)])
    >>> job.status, job.is_done, job.fail
    (<JobStatus.Failed: 3>, True, None)
    """
    status = settled(records)
    if status is None:
        return None
    return Job(job_id, JobStatus(status), last_updated=records[-1].last_at, is_finished=True)


def wait_for_job_events(
    client: EventJobsClient,
    ledger: Ledger,
    job_ids: Iterable[int],
    *,
    timeout: float,
    on_poll: Callable[[dict[int, Job]], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> WaitedJobs:
    """Wait until every job finished, reading their events from ``ledger`` (see the module).

    Raises
    ------
    JobTimeout
        Some job was not finished after ``timeout`` seconds; carries the first one's last state.
    """
    waiter = _Waiter(client, ledger, list(dict.fromkeys(int(i) for i in job_ids)), clock=clock)
    deadline = clock() + timeout
    while True:
        waiter.round()
        if on_poll is not None:
            on_poll(dict(waiter.seen))
        pending = waiter.pending()
        if not pending:
            return waiter.result()
        remaining = deadline - clock()
        if remaining <= 0:
            last = waiter.seen.get(pending[0])
            state = f" (last status {last.status.name})" if last else ""
            msg = f"{len(pending)} job(s) without an event or a finished state after {timeout:g} s: "
            raise JobTimeout(msg + f"{pending[:20]}{state}", job=last)
        sleep(min(waiter.settings.check_seconds, remaining))


class _Waiter:
    """One wait's state: the jobs seen, when each was last probed, the requests spent."""

    def __init__(
        self, client: EventJobsClient, ledger: Ledger, ids: list[int], *, clock: Callable[[], float]
    ) -> None:
        assert client.profile.events is not None
        self.settings: EventSettings = client.profile.events
        self.client, self.ledger, self.ids, self.clock = client, ledger, ids, clock
        self.seen: dict[int, Job] = {}
        self.by_event: set[int] = set()
        self.probed: set[int] = set()
        self.requests = 0
        started = clock()
        self.probed_at = dict.fromkeys(ids, started)

    def pending(self) -> list[int]:
        return [i for i in self.ids if not (i in self.seen and self.seen[i].is_done)]

    def round(self) -> None:
        pending = self.pending()
        found = self.ledger.job_events_for(pending, profile=self.client.profile.name)
        for job_id, records in found.items():
            job = job_from_event(job_id, records)
            if job is None:  # the events disagree: Job/Get says which status holds
                job = self._get(job_id)
            else:
                self.by_event.add(job_id)
            self.seen[job_id] = job
        now = self.clock()
        late = [i for i in self.pending() if now - self.probed_at[i] >= self.settings.grace_seconds]
        if late:
            self._probe(late, now)

    def _probe(self, late: list[int], now: float) -> None:
        listed = self._list() if len(late) > 1 else {}
        for job_id in late:
            self.seen[job_id] = listed[job_id] if job_id in listed else self._get(job_id)
            self.probed_at[job_id] = now
            if self.seen[job_id].is_done:
                self.probed.add(job_id)

    def _get(self, job_id: int) -> Job:
        self.requests += 1
        return self.client.get_job(job_id)

    def _list(self) -> dict[int, Job]:
        self.requests += 1
        return {job.job_id: job for job in self.client.list_jobs()}

    def result(self) -> WaitedJobs:
        """The finished jobs; with ``fetch_counts``, those known by their event get Job/List's counts."""
        counted = [i for i in self.ids if i in self.by_event]
        if self.settings.fetch_counts and counted:
            listed = self._list() if len(counted) > 1 else {}
            for job_id in counted:
                job = listed.get(job_id) or self._get(job_id)
                if job.is_done:  # a listed job still running would contradict its event: keep the event
                    self.seen[job_id] = job
        jobs = {i: self.seen[i] for i in self.ids}
        return WaitedJobs(jobs, requests=self.requests, by_event=len(self.by_event), probed=len(self.probed))

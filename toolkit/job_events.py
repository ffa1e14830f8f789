"""JobCompletedEvents in the ledger: every delivery Norce made, kept so waiting can read them.

Norce POSTs ``{ClientId, ApplicationId?, JobId, StatusId}`` when a job ends (StatusId 2 Succeeded,
3 Failed, 4 Validation failed) and retries until it gets a 200, so one event may arrive several times
and events may arrive in any order. The table ``job_events`` keeps one row per (profile, job, status):
a repeated delivery only counts up ``deliveries``, a different status for the same job is a row of its
own. A job is *settled* by its events when they all give one status; when two disagree (a Failed after
a Succeeded, say) the events cannot say which one Job/Get gives, so the job counts as unsettled and the
waiter asks Job/Get (:mod:`toolkit.event_wait`). Nothing secret is stored: no path, no header.

Examples
--------
>>> import tempfile, pathlib
>>> from toolkit.ledger import Ledger
>>> with Ledger(pathlib.Path(tempfile.mkdtemp()) / "ledger.sqlite") as ledger:
...     event = JobEvent(client_id="shop", application_id=None, job_id=7, status=2)
...     ledger.record_job_event(event, profile="stage"), ledger.record_job_event(event, profile="stage")
...     ledger.job_events_for([7, 8], profile="stage")[7][0].deliveries
(True, False)
2
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence, Set
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = ["FINAL_STATUSES", "JOB_EVENTS_SCHEMA", "JobEvent", "JobEventRecord", "JobEvents", "settled"]

FINAL_STATUSES = frozenset({2, 3, 4})
"""The StatusIds a JobCompletedEvent may carry: Succeeded, Failed, Validation failed."""

JOB_EVENTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS job_events (
  profile TEXT NOT NULL, job_id INTEGER NOT NULL, status INTEGER NOT NULL, client_id TEXT,
  application_id TEXT, first_at TEXT NOT NULL, last_at TEXT NOT NULL,
  deliveries INTEGER NOT NULL DEFAULT 1, PRIMARY KEY (profile, job_id, status));
"""


@dataclass(frozen=True)
class JobEvent:
    """One JobCompletedEvent as Norce sends it."""

    client_id: str
    application_id: str | None
    job_id: int
    status: int


@dataclass(frozen=True)
class JobEventRecord:
    """What the ledger keeps of a job's events of one status."""

    profile: str
    job_id: int
    status: int
    first_at: datetime
    last_at: datetime
    deliveries: int


def settled(records: Sequence[JobEventRecord]) -> int | None:
    """The job's final status when its events agree on one, else None (none, or two that disagree).

    >>> at = datetime(2024, 5, 1, tzinfo=UTC)
    >>> ok, failed = (JobEventRecord("p", 7, s, at, at, 1) for s in (2, 3))
    >>> settled([ok]), settled([ok, failed]), settled([])
    (2, None, None)
    """
    statuses = {r.status for r in records}
    return statuses.pop() if len(statuses) == 1 else None


class JobEvents:
    """The job-event methods of :class:`toolkit.ledger.Ledger` (a mixin)."""

    def now(self) -> datetime:
        raise NotImplementedError

    def _tx(self, *, durable: bool = False) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        raise NotImplementedError

    def record_job_event(self, event: JobEvent, *, profile: str) -> bool:
        """Keep one delivery of ``event`` (durably: it survives a power loss once this returns).

        True for the first delivery of this job and status, False for a repeat (counted).
        """
        if event.status not in FINAL_STATUSES:
            msg = f"job event for job {event.job_id}: expected StatusId 2, 3 or 4, found {event.status}"
            raise ValueError(msg)
        at = self.now().astimezone(UTC).isoformat()
        with self._tx(durable=True) as con:
            cursor = con.execute(
                "INSERT INTO job_events (profile, job_id, status, client_id, application_id, first_at, "
                "last_at) VALUES (?,?,?,?,?,?,?) ON CONFLICT (profile, job_id, status) DO UPDATE SET "
                "deliveries = deliveries + 1, last_at = excluded.last_at RETURNING deliveries",
                (profile, event.job_id, event.status, event.client_id, event.application_id, at, at),
            )
            return int(cursor.fetchone()[0]) == 1

    def job_events_for(self, job_ids: Iterable[int], *, profile: str) -> dict[int, list[JobEventRecord]]:
        """The recorded events of ``job_ids`` (jobs without any are left out), oldest first."""
        ids = sorted(set(job_ids))
        found: dict[int, list[JobEventRecord]] = {}
        for start in range(0, len(ids), 500):  # SQLite's limit on bound parameters
            chunk = ids[start : start + 500]
            rows = self._rows(
                f"SELECT * FROM job_events WHERE profile = ? AND job_id IN ({','.join('?' * len(chunk))}) "
                "ORDER BY first_at, status",
                (profile, *chunk),
            )
            for r in rows:
                found.setdefault(int(r["job_id"]), []).append(_record(r))
        return found

    def job_event_ids(self, *, profile: str) -> Set[int]:
        """Every job id of ``profile`` with a recorded event."""
        return {int(r[0]) for r in self._rows("SELECT job_id FROM job_events WHERE profile = ?", (profile,))}


def _record(row: sqlite3.Row) -> JobEventRecord:
    return JobEventRecord(
        profile=row["profile"],
        job_id=int(row["job_id"]),
        status=int(row["status"]),
        first_at=datetime.fromisoformat(row["first_at"]),
        last_at=datetime.fromisoformat(row["last_at"]),
        deliveries=int(row["deliveries"]),
    )

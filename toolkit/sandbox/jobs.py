"""Jobs and job logs in SQLite, rendered as the contract's JobDto and JobLogDto.

Statuses (contract): 6 Queued -> 5 Validating -> 1 Initialized -> 2 Succeeded | 3 Failed |
4 Validation failed. Times come from the sandbox's injectable clock: ``start`` is when a job left the
queue (its creation until then), so Start - queued is its lead time and RunTime = Stop - Start.

Examples
--------
>>> format_time(0.0)
'1970-01-01T00:00:00.000Z'
>>> format_span(3723.5)
'01:02:03.5000000'
>>> format_span(90061.0)
'1.01:01:01'
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from toolkit.entities import JobStatus

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT, entity TEXT NOT NULL, status INTEGER NOT NULL,
        storage_name TEXT, header TEXT NOT NULL, payload BLOB NOT NULL, totals INTEGER NOT NULL,
        inserts INTEGER NOT NULL DEFAULT 0, updates INTEGER NOT NULL DEFAULT 0,
        fail INTEGER NOT NULL DEFAULT 0, start REAL NOT NULL, stop REAL, last_updated REAL NOT NULL,
        errors TEXT NOT NULL DEFAULT '[]', fail_injected INTEGER NOT NULL DEFAULT 0,
        restarted_from INTEGER)""",
    """CREATE TABLE IF NOT EXISTS job_logs (
        job_id INTEGER NOT NULL, severity INTEGER NOT NULL, message TEXT NOT NULL, ts REAL NOT NULL,
        row INTEGER)""",
    "CREATE INDEX IF NOT EXISTS job_logs_job ON job_logs (job_id)",
)
# JobStatus numbers (the registry's enum is built at run time, so name them once here)
_NAMES = ("Initialized", "Succeeded", "Failed", "ValidationFailed", "Validating", "Queued")
INITIALIZED, SUCCEEDED, FAILED, VALIDATION_FAILED, VALIDATING, QUEUED = (int(JobStatus[n]) for n in _NAMES)
FINISHED = frozenset({SUCCEEDED, FAILED, VALIDATION_FAILED})
PENDING = (QUEUED, VALIDATING, INITIALIZED)


@dataclass(frozen=True)
class JobRecord:
    """One stored job."""

    id: int
    entity: str
    status: int
    storage_name: str
    header: str
    payload: bytes
    totals: int
    inserts: int
    updates: int
    fail: int
    start: float
    stop: float | None
    last_updated: float
    errors: str
    fail_injected: int
    restarted_from: int | None

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    def dto(self) -> dict[str, Any]:
        """The contract's JobDto (PascalCase)."""
        return {
            "JobId": self.id,
            "StatusId": self.status,
            "StorageName": self.storage_name,
            "Totals": self.totals,
            "Inserts": self.inserts,
            "Updates": self.updates,
            "Fail": self.fail,
            "Start": format_time(self.start),
            "Stop": format_time(self.stop) if self.stop is not None else None,
            "LastUpdated": format_time(self.last_updated),
            "IsFinished": self.is_finished,
            "RunTime": format_span(self.stop - self.start) if self.stop is not None else None,
        }


def format_time(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def format_span(seconds: float) -> str:
    """A .NET TimeSpan in its constant format: ``[d.]hh:mm:ss[.fffffff]``."""
    ticks = round(seconds * 10_000_000)
    days, rest = divmod(ticks, 864_000_000_000)
    h, rest = divmod(rest, 36_000_000_000)
    m, rest = divmod(rest, 600_000_000)
    s, frac = divmod(rest, 10_000_000)
    text = f"{h:02d}:{m:02d}:{s:02d}" + (f".{frac:07d}" if frac else "")
    return f"{days}.{text}" if days else text


class Jobs:
    """Job rows on the store's connection; every call holds the store's lock."""

    def __init__(self, conn: sqlite3.Connection, clock: Callable[[], float]) -> None:
        self._conn, self._now = conn, clock

    def create(
        self,
        *,
        entity: str,
        endpoint: str,
        header: str,
        payload: bytes,
        totals: int,
        errors: list[tuple[int, str]],
        fail_injected: bool,
        restarted_from: int | None = None,
    ) -> int:
        now = self._now()
        cur = self._conn.execute(
            "INSERT INTO jobs (entity, status, header, payload, totals, start, last_updated, errors, "
            "fail_injected, restarted_from) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                entity,
                QUEUED,
                header,
                payload,
                totals,
                now,
                now,
                orjson.dumps(errors).decode(),
                int(fail_injected),
                restarted_from,
            ),
        )
        job_id = int(cur.lastrowid or 0)
        storage = f"{endpoint.rsplit('/', 1)[-1]}/{job_id}.json"
        self._conn.execute("UPDATE jobs SET storage_name = ? WHERE id = ?", (storage, job_id))
        self.log(job_id, 1, "Queued")
        return job_id

    def get(self, job_id: int) -> JobRecord | None:
        row = self._conn.execute(f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return JobRecord(*row) if row else None

    def all(self) -> list[JobRecord]:
        return [JobRecord(*r) for r in self._conn.execute(f"SELECT {_COLUMNS} FROM jobs ORDER BY id")]

    def next_pending(self) -> JobRecord | None:
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM jobs WHERE status IN (?, ?, ?) ORDER BY id LIMIT 1", PENDING
        ).fetchone()
        return JobRecord(*row) if row else None

    def set_status(
        self, job_id: int, status: int, *, inserts: int = 0, updates: int = 0, fail: int = 0
    ) -> None:
        now = self._now()
        stop = now if status in FINISHED else None
        self._conn.execute(
            "UPDATE jobs SET status = ?, inserts = ?, updates = ?, fail = ?, stop = ?, last_updated = ? "
            "WHERE id = ?",
            (status, inserts, updates, fail, stop, now, job_id),
        )
        self.log(job_id, 1, JobStatus(status).name)

    def begin(self, job_id: int) -> None:
        """The job leaves the queue: Validating, and its Start is now (Queued until then)."""
        now = self._now()
        self._conn.execute(
            "UPDATE jobs SET status = ?, start = ?, last_updated = ? WHERE id = ?",
            (VALIDATING, now, now, job_id),
        )
        self.log(job_id, 1, JobStatus(VALIDATING).name)

    def log(self, job_id: int, severity: int, message: str, row: int | None = None) -> None:
        self._conn.execute(
            "INSERT INTO job_logs VALUES (?, ?, ?, ?, ?)", (job_id, severity, message, self._now(), row)
        )

    def log_many(self, job_id: int, entries: list[tuple[int, str, int | None]]) -> None:
        now = self._now()
        self._conn.executemany(
            "INSERT INTO job_logs VALUES (?, ?, ?, ?, ?)", [(job_id, s, m, now, r) for s, m, r in entries]
        )

    def logs(self, job_id: int) -> list[dict[str, Any]]:
        """The contract's JobLogDto rows, oldest first."""
        rows = self._conn.execute(
            "SELECT severity, message, ts, row FROM job_logs WHERE job_id = ? ORDER BY rowid", (job_id,)
        )
        return [
            {"SeverityId": s, "Message": m, "TimeStamp": format_time(t), "ImportedRow": r}
            for s, m, t, r in rows
        ]

    def by_status(self) -> dict[str, int]:
        rows = self._conn.execute("SELECT status, count(*) FROM jobs GROUP BY status")
        return {JobStatus(s).name: n for s, n in rows}


_COLUMNS = (
    "id, entity, status, storage_name, header, payload, totals, inserts, updates, fail, start, "
    "stop, last_updated, errors, fail_injected, restarted_from"
)

"""What Connect answers, as frozen dataclasses: jobs, job log rows, import responses.

Connect is a .NET service: member names are PascalCase, timestamps come as ISO 8601 (with or without
``Z``, an offset or up to seven fraction digits) or as ``/Date(ms)/``, run times as TimeSpan strings
(``hh:mm:ss.fffffff``, ``d.hh:mm:ss``). The parsers here accept all of them and give UTC datetimes.

Examples
--------
>>> job = Job.from_json({"JobId": 7, "StatusId": 2, "IsFinished": True, "RunTime": "00:00:01.5"})
>>> job.status, job.succeeded, job.run_time
(<JobStatus.Succeeded: 2>, True, datetime.timedelta(seconds=1, microseconds=500000))
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from toolkit.entities import JobStatus

__all__ = [
    "ImportResponse",
    "Job",
    "JobLogEntry",
    "ValidationSummary",
    "parse_run_time",
    "parse_timestamp",
]

_MS_DATE = re.compile(r"^/?Date\((?P<ms>-?\d+)(?P<tz>[+-]\d{4})?\)/?$")
_TIMESPAN = re.compile(
    r"^(?P<sign>-)?(?:(?P<days>\d+)[.:])?(?P<h>\d{1,2}):(?P<m>\d{2}):(?P<s>\d{2})(?:\.(?P<f>\d+))?$"
)
# entities builds its enums at run time, so name members by value here (2, 3, 4)
_SUCCEEDED = JobStatus(2)
_FINISHED = frozenset({_SUCCEEDED, JobStatus(3), JobStatus(4)})


def parse_timestamp(value: object) -> datetime | None:
    """A Connect timestamp as an aware UTC datetime; None for null or empty.

    Naive timestamps are taken as UTC. Numbers are epoch seconds (milliseconds when very large).

    >>> parse_timestamp("2024-05-01T10:00:00.1234567")
    datetime.datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=datetime.timezone.utc)
    >>> parse_timestamp("2024-05-01T12:00:00+02:00").hour
    10
    >>> parse_timestamp("/Date(1714557600000)/")
    datetime.datetime(2024, 5, 1, 10, 0, tzinfo=datetime.timezone.utc)
    """
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if abs(value) > 1e11 else value
        return datetime.fromtimestamp(seconds, UTC)
    if not isinstance(value, str):
        msg = f"expected a timestamp string, found {type(value).__name__} {value!r}"
        raise ValueError(msg)
    text = value.strip()
    m = _MS_DATE.match(text.replace("\\/", "/"))  # JSON may escape the slashes
    if m:  # the offset in /Date(ms+0100)/ is display only: ms are UTC
        return datetime.fromtimestamp(int(m["ms"]) / 1000, UTC)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        msg = f"expected an ISO 8601 or /Date(ms)/ timestamp, found {value!r}"
        raise ValueError(msg) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_run_time(value: object) -> timedelta | None:
    """A run time given as a .NET TimeSpan (``hh:mm:ss(.fff)``, ``d.hh:mm:ss``) or in seconds.

    >>> parse_run_time("01:02:03.25")
    datetime.timedelta(seconds=3723, microseconds=250000)
    >>> parse_run_time("1.00:00:01"), parse_run_time(2.5)
    (datetime.timedelta(days=1, seconds=1), datetime.timedelta(seconds=2, microseconds=500000))
    """
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    text = str(value).strip()
    m = _TIMESPAN.match(text)
    if m:
        fraction = float(f"0.{m['f']}") if m["f"] else 0.0
        span = timedelta(
            days=int(m["days"] or 0), hours=int(m["h"]), minutes=int(m["m"]), seconds=int(m["s"]) + fraction
        )
        return -span if m["sign"] else span
    try:
        return timedelta(seconds=float(text))
    except ValueError:
        msg = f"expected a run time like 'hh:mm:ss' or seconds, found {value!r}"
        raise ValueError(msg) from None


class _Members:
    """A JSON object read case-insensitively (Connect writes PascalCase, proxies sometimes camelCase)."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        if not isinstance(data, Mapping):
            msg = f"expected a JSON object, found {type(data).__name__}"
            raise ValueError(msg)
        self._data = {str(k).lower(): v for k, v in data.items()}

    def get(self, *names: str, default: Any = None) -> Any:
        for name in names:
            value = self._data.get(name.lower())
            if value is not None:
                return value
        return default

    def integer(self, *names: str) -> int | None:
        value = self.get(*names)
        return None if value is None or value == "" else int(value)


@dataclass(frozen=True)
class Job:
    """One Connect job (JobDto): an import or restart and what came of it."""

    job_id: int
    status: JobStatus
    storage_name: str | None = None
    totals: int | None = None
    inserts: int | None = None
    updates: int | None = None
    fail: int | None = None
    start: datetime | None = None
    stop: datetime | None = None
    last_updated: datetime | None = None
    is_finished: bool = False
    run_time: timedelta | None = None

    @property
    def succeeded(self) -> bool:
        """True when the job ended Succeeded."""
        return self.status is _SUCCEEDED

    @property
    def is_done(self) -> bool:
        """True when the job will not change any more (finished flag or a final status)."""
        return self.is_finished or self.status in _FINISHED

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Job:
        """Read a JobDto (``Inserts`` or the documented ``Insert`` both work)."""
        m = _Members(data)
        job_id, status = m.integer("JobId", "Id"), m.integer("StatusId", "Status")
        if job_id is None or status is None:
            msg = f"a job needs JobId and StatusId, found members {sorted(data)}"
            raise ValueError(msg)
        return cls(
            job_id=job_id,
            status=JobStatus(status),
            storage_name=m.get("StorageName"),
            totals=m.integer("Totals", "Total"),
            inserts=m.integer("Inserts", "Insert"),
            updates=m.integer("Updates", "Update"),
            fail=m.integer("Fail", "Fails", "Failed"),
            start=parse_timestamp(m.get("Start")),
            stop=parse_timestamp(m.get("Stop")),
            last_updated=parse_timestamp(m.get("LastUpdated")),
            is_finished=bool(m.get("IsFinished", default=False)),
            run_time=parse_run_time(m.get("RunTime")),
        )


@dataclass(frozen=True)
class JobLogEntry:
    """One row of a job's log (JobLogDto); severity 1 information, 2 warning, 3 error."""

    severity: int
    message: str
    timestamp: datetime | None = None
    imported_row: str | int | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobLogEntry:
        m = _Members(data)
        return cls(
            severity=m.integer("SeverityId", "Severity") or 1,
            message=str(m.get("Message", default="")),
            timestamp=parse_timestamp(m.get("TimeStamp")),
            imported_row=m.get("ImportedRow"),
        )


@dataclass(frozen=True)
class ValidationSummary:
    """How many items an import held and how many failed validation on arrival."""

    total: int = 0
    failures: int = 0
    messages: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> ValidationSummary:
        if not data:
            return cls()
        m = _Members(data)
        messages = m.get("Messages", default=[]) or []
        return cls(
            total=m.integer("NrOfItemsInTotal") or 0,
            failures=m.integer("NrOfValidationFailures") or 0,
            messages=tuple(str(x) for x in messages),
        )


@dataclass(frozen=True)
class ImportResponse:
    """Connect's answer to an import or a restart (JobResponse); ``job_id`` is an int.

    >>> r = ImportResponse.from_json({"JobId": "42", "StatusCode": "OK", "Description": "",
    ...     "ValidationSummary": {"NrOfItemsInTotal": 3, "NrOfValidationFailures": 0, "Messages": []}})
    >>> r.job_id, r.validation.total
    (42, 3)
    """

    job_id: int
    status_code: str | None = None
    description: str | None = None
    validation: ValidationSummary = ValidationSummary()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ImportResponse:
        m = _Members(data)
        job_id = m.integer("JobId")
        if job_id is None:
            msg = f"a job response needs a JobId, found members {sorted(data)}"
            raise ValueError(msg)
        return cls(
            job_id=job_id,
            status_code=None if m.get("StatusCode") is None else str(m.get("StatusCode")),
            description=m.get("Description"),
            validation=ValidationSummary.from_json(m.get("ValidationSummary")),
        )

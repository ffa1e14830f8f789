"""What the ledger returns: frozen records of plans, batches, jobs and events, and reason codes.

Examples
--------
>>> Reason("promoted")
<Reason.PROMOTED: 'promoted'>
>>> JobRecord(run=1, job_id=7, plan_id="p", batch_id="b", index=0, status=2, totals=3, inserts=3,
...           updates=0, fail=0, queued_at=None, start=None, stop=None, run_time_s=None, log_tail=[],
...           restarted_from=None).is_finished
True
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

__all__ = ["BatchRecord", "BatchState", "Event", "JobRecord", "PlanRecord", "PlanState", "Reason"]

BatchState = Literal["planned", "sending", "accepted", "unknown", "failed"]
PlanState = Literal["planned", "sending", "submitted", "succeeded", "failed", "superseded"]


class Reason(StrEnum):
    """Why an event was recorded; count them to see how runs fail (like pandera's SchemaErrorReason)."""

    PLANNED = "planned"
    REPLANNED = "replanned"
    GUARD_OVERRIDE = "guard_override"
    SENDING = "sending"
    ACCEPTED = "accepted"
    FOUND_IN_LIST = "found_in_list"
    OUTCOME_UNKNOWN = "outcome_unknown"
    SEND_FAILED = "send_failed"
    JOB_SUCCEEDED = "job_succeeded"
    JOB_FAILED = "job_failed"
    PROMOTED = "promoted"
    PROMOTION_SKIPPED = "promotion_skipped"
    PARTIALLY_PROMOTED = (
        "partially_promoted"  # the baseline moved for what Connect accepted: detail says what not
    )
    RESTARTED = "restarted"
    RESTART_REFUSED = "restart_refused"
    RESUBMITTED = "resubmitted"
    SUPERSEDED = "superseded"
    STALE_LOCK_BROKEN = "stale_lock_broken"
    PLAN_REFUSED = "plan_refused"  # a send was refused before any plan (guard, checks): detail says why
    BUSINESS_DAY = "business_day"  # the business day (source date) a sent plan's data is from


def _at(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _fields(cls: type, row: sqlite3.Row, **convert: Callable[[Any], Any]) -> dict[str, Any]:
    names = [f.name for f in fields(cls)]
    return {n: convert.get(n, lambda v: v)(row[n]) for n in names}


@dataclass(frozen=True)
class PlanRecord:
    """A plan as the ledger knows it (``directory`` is where ``Plan.save`` wrote it)."""

    id: str
    feed: str
    entity: str
    kind: str
    profile: str | None
    snapshot_id: str | None
    baseline_id: str | None
    summary: dict[str, Any]
    created: datetime
    allow_mass_deactivation: bool
    override_reason: str | None
    directory: Path | None
    state: PlanState
    recorded_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> PlanRecord:
        return cls(
            **_fields(
                cls,
                row,
                summary=json.loads,
                created=_at,
                recorded_at=_at,
                updated_at=_at,
                allow_mass_deactivation=bool,
                directory=lambda d: Path(d) if d else None,
            )
        )


@dataclass(frozen=True)
class BatchRecord:
    """One batch of a plan: its state, job id and attempts."""

    plan_id: str
    index: int
    batch_id: str
    endpoint: str
    item_count: int
    bytes: int
    state: BatchState
    job_id: int | None
    attempts: int
    sent_at: datetime | None
    accepted_at: datetime | None
    updated_at: datetime
    error: str | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> BatchRecord:
        values: dict[str, Any] = {**dict(row), "index": row["idx"]}
        conv: dict[str, Callable[[Any], Any]] = {"sent_at": _at, "accepted_at": _at, "updated_at": _at}
        return cls(**{f.name: conv.get(f.name, lambda v: v)(values[f.name]) for f in fields(cls)})


@dataclass(frozen=True)
class JobRecord:
    """One run of a Connect job for a batch (a restart or resubmission is a new record)."""

    run: int
    job_id: int
    plan_id: str
    batch_id: str
    index: int
    status: int | None
    totals: int | None
    inserts: int | None
    updates: int | None
    fail: int | None
    queued_at: datetime | None
    start: datetime | None
    stop: datetime | None
    run_time_s: float | None
    log_tail: list[dict[str, Any]]
    restarted_from: int | None

    @property
    def is_finished(self) -> bool:
        return self.status in (2, 3, 4)

    @property
    def succeeded(self) -> bool:
        """Succeeded with no failed item: only then may the plan's snapshot become the baseline."""
        return self.status == 2 and not self.fail

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> JobRecord:
        values: dict[str, Any] = {**dict(row), "index": row["idx"]}
        conv: dict[str, Callable[[Any], Any]] = {
            "queued_at": _at,
            "start": _at,
            "stop": _at,
            "log_tail": lambda t: json.loads(t) if t else [],
        }
        return cls(**{f.name: conv.get(f.name, lambda v: v)(values[f.name]) for f in fields(cls)})


@dataclass(frozen=True)
class Event:
    """One ledger event: when, why (a Reason), and what it concerns."""

    at: datetime
    reason: Reason
    feed: str | None
    plan_id: str | None = None
    index: int | None = None
    job_id: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Event:
        return cls(
            at=_at(row["at"]) or datetime.now(UTC),
            reason=Reason(row["reason"]),
            feed=row["feed"],
            plan_id=row["plan_id"],
            index=row["idx"],
            job_id=row["job_id"],
            detail=json.loads(row["detail"] or "{}"),
        )

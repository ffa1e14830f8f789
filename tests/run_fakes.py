"""Small fakes for the ledger and runs unit tests: a plan, a snapshot store and a Connect client."""

from __future__ import annotations

import hashlib
import json
import pickle
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from toolkit.connect.models import ImportResponse, Job, JobLogEntry, ValidationSummary
from toolkit.entities import JobStatus
from toolkit.errors import ConnectAPIError, JobTimeout, OutcomeUnknown

T0 = datetime(2025, 5, 1, 8, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Ref:
    id: str
    feed: str = "stock"


@dataclass(frozen=True)
class Summary:
    counts: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.counts)


@dataclass(frozen=True)
class FakeBatch:
    index: int
    body: bytes
    item_count: int
    entity: str = "onhands"
    endpoint: str = "Product/ImportOnhands"
    header: dict[str, Any] = field(default_factory=lambda: {"AccountId": 10000})

    @property
    def id(self) -> str:
        return hashlib.sha256(self.endpoint.encode() + self.body).hexdigest()

    @property
    def size(self) -> int:
        return len(self.body)

    @property
    def header_json(self) -> str:
        return json.dumps(self.header, separators=(",", ":"))

    def items(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = json.loads(self.body)
        return items


@dataclass(frozen=True)
class FakePlan:
    id: str
    batches: tuple[FakeBatch, ...]
    feed: str = "stock"
    entity: str = "onhands"
    profile: str = "sandbox"
    kind: str = "change"
    created: datetime = T0
    snapshot: Ref | None = Ref("snap-2")
    baseline: Ref | None = Ref("snap-1")
    summary: Summary = Summary({"changed": 3})
    allow_mass_deactivation: bool = False
    override_reason: str | None = None
    origins: None = None

    def save(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "plan.pickle").write_bytes(pickle.dumps(self))
        (directory / "manifest.json").write_text(json.dumps({"batches": [b.index for b in self.batches]}))
        return directory

    @classmethod
    def load(cls, directory: Path) -> FakePlan:
        return pickle.loads((Path(directory) / "plan.pickle").read_bytes())


def make_plan(plan_id: str = "plan-1", sizes: tuple[int, ...] = (2, 3, 2), **kw: Any) -> FakePlan:
    batches = tuple(
        FakeBatch(i, json.dumps([item(f"{plan_id}-{i}-{k}", k) for k in range(n)]).encode(), n)
        for i, n in enumerate(sizes)
    )
    return FakePlan(plan_id, batches, **kw)


def item(part_no: str, value: int) -> dict[str, Any]:
    return {"PartNo": part_no, "WarehouseCode": "W1", "LocationCode": "L1", "OnhandValue": value}


class FakeStore:
    """Snapshots as frames in memory (a partial baseline is saved here too)."""

    def __init__(self, baseline: str | None = "snap-1") -> None:
        self.current = Ref(baseline) if baseline else None
        self.promoted: list[str] = []
        self.frames: dict[str, pl.DataFrame] = {}

    def load(self, ref: Ref) -> pl.DataFrame:
        empty = pl.DataFrame(
            schema={"PartNo": pl.String, "WarehouseCode": pl.String, "LocationCode": pl.String}
        )
        return self.frames.get(ref.id, empty)

    def scan(self, ref: Ref) -> pl.LazyFrame:
        return self.load(ref).lazy()

    def save(self, feed: str, rows: pl.DataFrame | pl.LazyFrame, **kw: Any) -> Ref:
        ref = Ref(f"partial-{len(self.frames) + 1}", feed)
        self.frames[ref.id] = rows.lazy().collect()
        return ref

    def baseline(self, feed: str) -> Ref | None:
        return self.current

    def promote(self, ref: Ref) -> Ref:
        self.current = ref
        self.promoted.append(ref.id)
        return ref


class FakeProfile:
    rate_limit_per_minute = 60


class FakeClient:
    """A Connect that records imports; ``faults`` maps a call number (1-based) to a fault name.

    Faults: "lost" (job created, answer lost), "dropped" (nothing created, no answer),
    "refused" (400). ``outcomes`` maps a job id to its final status (default Succeeded).
    """

    def __init__(self, *, faults: dict[int, str] | None = None, clock: datetime = T0) -> None:
        self.profile = FakeProfile()
        self.faults = faults or {}
        self.jobs: dict[int, Job] = {}
        self.bodies: dict[int, bytes] = {}
        self.outcomes: dict[int, JobStatus] = {}
        self.calls = 0
        self.list_calls = 0
        self.restarts: list[int] = []
        self.restart_same_id = False
        self.now = clock
        self.never_finish = False

    def _new_job(self, body: bytes, count: int, endpoint: str) -> int:
        job_id = 100 + len(self.jobs) + 1
        name = endpoint.rsplit("/", 1)[-1]
        self.jobs[job_id] = Job(
            job_id, JobStatus.Queued, storage_name=f"{name}_{job_id}.json", totals=count, start=self.now
        )
        self.bodies[job_id] = body
        return job_id

    def import_items(self, entity: str, body: bytes, header: dict[str, Any]) -> ImportResponse:
        self.calls += 1
        fault = self.faults.get(self.calls)
        endpoint = {"onhands": "Product/ImportOnhands"}.get(entity, entity)
        if fault == "refused":
            raise ConnectAPIError("Connect answered 400 for Product/ImportOnhands", status=400)
        if fault == "dropped":
            raise OutcomeUnknown("no answer from Product/ImportOnhands", endpoint=endpoint)
        job_id = self._new_job(body, len(json.loads(body)), endpoint)
        if fault == "lost":
            raise OutcomeUnknown("read timeout on Product/ImportOnhands", endpoint=endpoint)
        return ImportResponse(
            job_id=job_id,
            status_code="200",
            description="ok",
            validation=ValidationSummary(len(json.loads(body)), 0),
        )

    def list_jobs(self) -> list[Job]:
        self.list_calls += 1
        return list(self.jobs.values())

    def get_job(self, job_id: int) -> Job:
        return self.jobs[job_id]

    def job_log(self, job_id: int) -> list[JobLogEntry]:
        return [JobLogEntry(1, "import started"), JobLogEntry(3, "PartNo X1 unknown", None, 2)]

    def restart_job(self, job_id: int) -> ImportResponse:
        job = self.jobs[job_id]
        if job.status not in (JobStatus.Succeeded, JobStatus.Failed):
            raise ConnectAPIError(f"job {job_id} cannot be restarted", status=400)
        self.restarts.append(job_id)
        new_id = job_id if self.restart_same_id else 100 + len(self.jobs) + 1
        self.jobs[new_id] = Job(new_id, JobStatus.Queued, totals=job.totals, start=self.now)
        self.outcomes.pop(new_id, None)
        return ImportResponse(
            job_id=new_id, status_code="200", description="ok", validation=ValidationSummary()
        )

    def finish(self, job_id: int) -> Job:
        status = self.outcomes.get(job_id, JobStatus.Succeeded)
        job = self.jobs[job_id]
        start = job.start or self.now
        fail = job.totals if status is not JobStatus.Succeeded else 0
        done = Job(
            job_id,
            status,
            job.storage_name,
            job.totals,
            job.totals if not fail else 0,
            0,
            fail,
            start,
            start + timedelta(seconds=4),
            start + timedelta(seconds=4),
            True,
            timedelta(seconds=3),
        )
        self.jobs[job_id] = done
        return done

    def wait_for_jobs(self, job_ids: Any, *, timeout: float, poll_interval: float) -> dict[int, Job]:
        if self.never_finish:
            first = next(iter(job_ids))
            raise JobTimeout(f"job {first} did not finish", job=self.jobs[first])
        return {i: self.finish(i) for i in job_ids}

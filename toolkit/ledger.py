"""The ledger: a SQLite record of every plan, batch, job, promotion and event, and a lock per feed.

The ledger is what makes a submission crash-safe. A batch is recorded ``sending`` before its request
goes out and ``accepted`` (with its job id) after the answer, each in one transaction, so a run that
dies in between leaves a trace that the next run checks against Job/List before sending again.
Nothing secret is ever written here: no token, no client secret, no header other than the plan's.

Batch states: ``planned`` -> ``sending`` -> ``accepted`` | ``unknown`` (sent, no answer, job not found)
| ``failed`` (Connect refused it). Plan states: ``planned`` -> ``sending`` -> ``submitted`` (every batch
accepted) -> ``succeeded`` (every job succeeded) | ``failed``; a newer plan of the same feed marks the
open ones ``superseded``.

Examples
--------
>>> import tempfile, pathlib
>>> ledger = Ledger(pathlib.Path(tempfile.mkdtemp()) / "ledger.sqlite")
>>> with ledger.lock("stock") as holder:
...     holder.count(":") >= 2
True
>>> ledger.event(Reason.PROMOTED, feed="stock", detail={"snapshot": "s1"}).reason
<Reason.PROMOTED: 'promoted'>
>>> ledger.close()
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.claims import CLAIMS_SCHEMA, JobClaims, claim
from toolkit.errors import LedgerError
from toolkit.job_events import JOB_EVENTS_SCHEMA, JobEvents
from toolkit.locks import FeedLocks
from toolkit.records import (
    BatchRecord,
    BatchState,
    Event,
    JobRecord,
    PlanRecord,
    PlanState,
    Reason,
)

if TYPE_CHECKING:
    from toolkit.connect.models import Job
    from toolkit.plan_model import Plan

__all__ = [
    "BatchRecord",
    "BatchState",
    "Event",
    "JobRecord",
    "Ledger",
    "PlanRecord",
    "PlanState",
    "Reason",
    "StateDamaged",
]

_NO_PARAMS: tuple[Any, ...] = ()
OPEN_PLAN_STATES: tuple[PlanState, ...] = ("planned", "sending", "submitted")


_SCHEMA = """
CREATE TABLE IF NOT EXISTS plans (
  id TEXT PRIMARY KEY, feed TEXT NOT NULL, entity TEXT NOT NULL, kind TEXT NOT NULL, profile TEXT,
  snapshot_id TEXT, baseline_id TEXT, summary TEXT NOT NULL, created TEXT NOT NULL,
  allow_mass_deactivation INTEGER NOT NULL, override_reason TEXT, directory TEXT,
  state TEXT NOT NULL, recorded_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS plans_by_feed ON plans (feed, recorded_at);
CREATE TABLE IF NOT EXISTS batches (
  plan_id TEXT NOT NULL REFERENCES plans (id), idx INTEGER NOT NULL, batch_id TEXT NOT NULL,
  endpoint TEXT NOT NULL, item_count INTEGER NOT NULL, bytes INTEGER NOT NULL, state TEXT NOT NULL,
  job_id INTEGER, attempts INTEGER NOT NULL DEFAULT 0, sent_at TEXT, accepted_at TEXT,
  updated_at TEXT NOT NULL, error TEXT, PRIMARY KEY (plan_id, idx));
CREATE TABLE IF NOT EXISTS jobs (
  run INTEGER PRIMARY KEY AUTOINCREMENT, job_id INTEGER NOT NULL, plan_id TEXT NOT NULL,
  batch_id TEXT NOT NULL, idx INTEGER NOT NULL, status INTEGER, totals INTEGER, inserts INTEGER,
  updates INTEGER, fail INTEGER, queued_at TEXT, start TEXT, stop TEXT, run_time_s REAL,
  log_tail TEXT, restarted_from INTEGER, updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS jobs_by_id ON jobs (job_id);
CREATE TABLE IF NOT EXISTS promotions (
  feed TEXT NOT NULL, snapshot_id TEXT, plan_id TEXT NOT NULL, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, reason TEXT NOT NULL, feed TEXT,
  plan_id TEXT, idx INTEGER, job_id INTEGER, detail TEXT);
CREATE TABLE IF NOT EXISTS locks (
  feed TEXT PRIMARY KEY, holder TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL,
  started TEXT NOT NULL, taken_at TEXT NOT NULL);
"""


class StateDamaged(LedgerError):
    """The state directory is damaged (ledger unreadable or forgetful, a saved plan broken, the
    directory deleted during a run); the message says how to go on."""


def _iso(at: datetime | None) -> str | None:
    return at.astimezone(UTC).isoformat() if at is not None else None


def _wal(con: sqlite3.Connection) -> None:
    """Switch to WAL, waiting out another process that is creating or switching the same file (the
    busy timeout does not cover a journal-mode change, which two processes starting at once race for)."""
    for attempt in range(200):
        try:
            con.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 199:
                raise
            time.sleep(0.05)


class Ledger(FeedLocks, JobClaims, JobEvents):
    """The SQLite ledger of one state directory (WAL mode; safe for several processes).

    Parameters
    ----------
    path
        The database file, created with its directory when missing (usually
        ``settings.state_dir / "ledger.sqlite"``).
    clock
        Returns the current UTC time; tests pass a fixed one.
    """

    def __init__(self, path: str | Path, *, clock: Callable[[], datetime] | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._mutex = threading.RLock()
        self._held: dict[str, int] = {}
        try:
            self._con = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=10.0
            )
            self._con.row_factory = sqlite3.Row
            _wal(self._con)
            self._con.execute("PRAGMA foreign_keys=ON")
            self._con.executescript(_SCHEMA + CLAIMS_SCHEMA + JOB_EVENTS_SCHEMA)
        except sqlite3.Error as exc:
            raise StateDamaged(_damaged(self.path, "cannot open", exc)) from exc

    def __repr__(self) -> str:
        return f"Ledger({str(self.path)!r})"

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for feed in list(self._held):
            self._held[feed] = 1
            self.release(feed)
        self._con.close()

    @property
    def directory(self) -> Path:
        """The state directory the ledger lives in (saved plans go to ``directory / "plans"``)."""
        return self.path.parent

    def now(self) -> datetime:
        return self._clock()

    # --- transactions ------------------------------------------------------------------------
    @contextmanager
    def _tx(self, *, durable: bool = False) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken with BEGIN IMMEDIATE so concurrent writers queue, not fail.

        Commits survive a killed process; ``durable`` ones (a batch about to be sent) also survive
        a power loss: their fsync of the WAL carries every earlier commit with it.
        """
        with self._mutex:
            self._con.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            try:
                self._con.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                msg = f"ledger {self.path}: cannot start a transaction ({exc})"
                raise LedgerError(msg) from exc
            try:
                yield self._con
                self._con.execute("COMMIT")
            except BaseException as exc:
                if self._con.in_transaction:
                    self._con.execute("ROLLBACK")
                if isinstance(exc, sqlite3.DatabaseError):
                    raise StateDamaged(_damaged(self.path, "cannot write", exc)) from exc
                raise

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._mutex:
            try:
                return self._con.execute(sql, params).fetchall()
            except sqlite3.DatabaseError as exc:
                raise StateDamaged(_damaged(self.path, "cannot read", exc)) from exc

    def check(self) -> None:
        """Raise LedgerError when SQLite finds the file damaged (``PRAGMA quick_check``)."""
        found = [str(r[0]) for r in self._rows("PRAGMA quick_check")]
        if found != ["ok"]:
            raise StateDamaged(_damaged(self.path, "is damaged", "; ".join(found[:3])))

    def _event(
        self,
        con: sqlite3.Connection,
        reason: Reason,
        *,
        feed: str | None,
        plan_id: str | None = None,
        index: int | None = None,
        job_id: int | None = None,
        detail: dict[str, Any] | None = None,
    ) -> Event:
        at = self.now()
        body = json.dumps(detail or {}, default=str, sort_keys=True)
        con.execute(
            "INSERT INTO events (at, reason, feed, plan_id, idx, job_id, detail) VALUES (?,?,?,?,?,?,?)",
            (_iso(at), reason.value, feed, plan_id, index, job_id, body),
        )
        return Event(
            at=at, reason=reason, feed=feed, plan_id=plan_id, index=index, job_id=job_id, detail=detail or {}
        )

    def event(
        self,
        reason: Reason,
        *,
        feed: str | None = None,
        plan_id: str | None = None,
        index: int | None = None,
        job_id: int | None = None,
        detail: dict[str, Any] | None = None,
    ) -> Event:
        """Record one event on its own (state changes record theirs in the same transaction)."""
        with self._tx() as con:
            return self._event(
                con, reason, feed=feed, plan_id=plan_id, index=index, job_id=job_id, detail=detail
            )

    # --- plans -------------------------------------------------------------------------------
    def record_plan(self, plan: Plan, *, directory: Path | None = None) -> PlanRecord:
        """Record a plan and its batches (state ``planned``); a no-op while the plan is open.

        Plan ids are deterministic, so a finished plan (succeeded, failed, superseded) can come back
        with the same id: its batches are then re-armed (``planned``, no job) and sent again, because
        the catalog may have moved since. Other open or failed plans of the feed become
        ``superseded``: the new plan was diffed against the last good baseline and carries their
        changes again.
        """
        rows = self._rows("SELECT state FROM plans WHERE id = ?", (plan.id,))
        if rows and rows[0][0] in OPEN_PLAN_STATES:
            return self.plan(plan.id)
        snapshot = plan.snapshot  # a plan's snapshot may still be being written: wait outside the lock
        now = _iso(self.now())
        with self._tx() as con:
            self._supersede(con, plan.feed, plan.id, now)
            if rows:
                con.execute(
                    "UPDATE batches SET state='planned', job_id=NULL, error=NULL, updated_at=? "
                    "WHERE plan_id=?",
                    (now, plan.id),
                )
                con.execute("UPDATE plans SET state='planned', updated_at=? WHERE id=?", (now, plan.id))
                self._event(
                    con, Reason.REPLANNED, feed=plan.feed, plan_id=plan.id, detail={"was": rows[0][0]}
                )
            else:
                self._insert_plan(con, plan, snapshot, directory, now)
            if plan.allow_mass_deactivation:  # the reason, and the counts it allowed
                counts = getattr(plan, "summary", None)
                self._event(
                    con,
                    Reason.GUARD_OVERRIDE,
                    feed=plan.feed,
                    plan_id=plan.id,
                    detail={
                        "reason": plan.override_reason,
                        "deactivated": getattr(counts, "deactivated", None),
                        "baseline_items": getattr(counts, "baseline_items", None),
                    },
                )
        return self.plan(plan.id)

    def _supersede(self, con: sqlite3.Connection, feed: str, plan_id: str, now: str | None) -> None:
        states = (*OPEN_PLAN_STATES, "failed")
        stale = con.execute(
            f"SELECT id FROM plans WHERE feed = ? AND id != ? AND state IN ({_marks(states)})",
            (feed, plan_id, *states),
        ).fetchall()
        for row in stale:
            con.execute("UPDATE plans SET state='superseded', updated_at=? WHERE id=?", (now, row[0]))
            self._event(con, Reason.SUPERSEDED, feed=feed, plan_id=row[0], detail={"by": plan_id})

    def _insert_plan(
        self, con: sqlite3.Connection, plan: Any, snap: Any, directory: Path | None, now: str | None
    ) -> None:
        base = plan.baseline
        con.execute(
            "INSERT INTO plans VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                plan.id,
                plan.feed,
                plan.entity,
                plan.kind,
                getattr(plan, "profile", None),
                snap.id if snap else None,
                base.id if base else None,
                json.dumps(plan.summary.as_dict(), default=str, sort_keys=True),
                _iso(plan.created),
                int(plan.allow_mass_deactivation),
                plan.override_reason,
                str(directory) if directory else None,
                "planned",
                now,
                now,
            ),
        )
        con.executemany(
            "INSERT INTO batches (plan_id, idx, batch_id, endpoint, item_count, bytes, state, "
            "updated_at) VALUES (?,?,?,?,?,?,'planned',?)",
            [(plan.id, b.index, b.id, b.endpoint, b.item_count, b.size, now) for b in plan.batches],
        )
        self._event(
            con,
            Reason.PLANNED,
            feed=plan.feed,
            plan_id=plan.id,
            detail={"batches": len(plan.batches), "kind": plan.kind},
        )

    def plan(self, plan_id: str) -> PlanRecord:
        """The recorded plan ``plan_id``; LedgerError when unknown."""
        rows = self._rows("SELECT * FROM plans WHERE id = ?", (plan_id,))
        if not rows:
            msg = f"ledger {self.path}: no plan {plan_id!r}"
            raise LedgerError(msg)
        return PlanRecord.from_row(rows[0])

    def has_plan(self, plan_id: str) -> bool:
        return bool(self._rows("SELECT 1 FROM plans WHERE id = ?", (plan_id,)))

    def plans(self, feed: str | None = None) -> list[PlanRecord]:
        """Recorded plans, oldest first, of one feed or all."""
        sql, params = "SELECT * FROM plans", _NO_PARAMS
        if feed is not None:
            sql, params = sql + " WHERE feed = ?", (feed,)
        return [PlanRecord.from_row(r) for r in self._rows(sql + " ORDER BY recorded_at, rowid", params)]

    def open_plan(self, feed: str) -> PlanRecord | None:
        """The feed's latest plan that is not finished (planned, sending or submitted), if any."""
        rows = self._rows(
            f"SELECT * FROM plans WHERE feed = ? AND state IN ({_marks(OPEN_PLAN_STATES)}) "
            "ORDER BY updated_at DESC, rowid DESC LIMIT 1",
            (feed, *OPEN_PLAN_STATES),
        )
        return PlanRecord.from_row(rows[0]) if rows else None

    def set_plan_state(self, plan_id: str, state: PlanState) -> None:
        with self._tx() as con:
            con.execute(
                "UPDATE plans SET state=?, updated_at=? WHERE id=?", (state, _iso(self.now()), plan_id)
            )

    # --- batches -----------------------------------------------------------------------------
    def batches(self, plan_id: str) -> list[BatchRecord]:
        rows = self._rows("SELECT * FROM batches WHERE plan_id = ? ORDER BY idx", (plan_id,))
        return [BatchRecord.from_row(r) for r in rows]

    def batch(self, plan_id: str, index: int) -> BatchRecord:
        rows = self._rows("SELECT * FROM batches WHERE plan_id = ? AND idx = ?", (plan_id, index))
        if not rows:
            msg = f"ledger {self.path}: plan {plan_id!r} has no batch {index}"
            raise LedgerError(msg)
        return BatchRecord.from_row(rows[0])

    def mark_sending(self, plan_id: str, index: int) -> BatchRecord:
        """Record that batch ``index`` is about to be sent (attempts + 1, sent_at = now)."""
        now = _iso(self.now())
        with self._tx(durable=True) as con:
            con.execute(
                "UPDATE batches SET state='sending', attempts=attempts+1, sent_at=?, updated_at=?, "
                "error=NULL WHERE plan_id=? AND idx=?",
                (now, now, plan_id, index),
            )
            con.execute(
                "UPDATE plans SET state='sending', updated_at=? WHERE id=? AND state='planned'",
                (now, plan_id),
            )
            self._event(con, Reason.SENDING, feed=_feed_of(con, plan_id), plan_id=plan_id, index=index)
        return self.batch(plan_id, index)

    def mark_accepted(
        self,
        plan_id: str,
        index: int,
        job_id: int,
        *,
        reason: Reason = Reason.ACCEPTED,
        restarted_from: int | None = None,
        queued_at: datetime | None = None,
    ) -> BatchRecord:
        """Record the job id Connect gave batch ``index`` and open a job row for it."""
        now = _iso(self.now())
        with self._tx() as con:
            con.execute(
                "UPDATE batches SET state='accepted', job_id=?, accepted_at=?, updated_at=?, error=NULL "
                "WHERE plan_id=? AND idx=?",
                (job_id, now, now, plan_id, index),
            )
            row = con.execute(
                "SELECT batch_id, sent_at FROM batches WHERE plan_id=? AND idx=?", (plan_id, index)
            ).fetchone()
            con.execute(
                "INSERT INTO jobs (job_id, plan_id, batch_id, idx, queued_at, restarted_from, "
                "updated_at) VALUES (?,?,?,?,?,?,?)",
                (
                    job_id,
                    plan_id,
                    row["batch_id"],
                    index,
                    _iso(queued_at) or row["sent_at"] or now,
                    restarted_from,
                    now,
                ),
            )
            claim(con, self.path, job_id, plan_id, index, now or "")
            self._event(
                con,
                reason,
                feed=_feed_of(con, plan_id),
                plan_id=plan_id,
                index=index,
                job_id=job_id,
                detail={"restarted_from": restarted_from},
            )
            _close_sending(con, plan_id, now)
        return self.batch(plan_id, index)

    def mark_recovered(self, plan_id: str, sent_at: datetime) -> None:
        """A plan the ledger had forgotten: every batch not accepted is ``unknown``, sent at ``sent_at``
        (so each is looked up in Job/List before it is sent again)."""
        with self._tx() as con:
            con.execute(
                "UPDATE batches SET state='unknown', sent_at=?, attempts=attempts+1, updated_at=? "
                "WHERE plan_id=? AND state != 'accepted'",
                (_iso(sent_at), _iso(self.now()), plan_id),
            )
            con.execute("UPDATE plans SET state='sending' WHERE id=?", (plan_id,))
            self._event(
                con,
                Reason.OUTCOME_UNKNOWN,
                feed=_feed_of(con, plan_id),
                plan_id=plan_id,
                detail={"recovered": True},
            )

    def mark_unknown(self, plan_id: str, index: int, error: str) -> BatchRecord:
        """The batch was sent, no answer came back and its job was not found in Job/List."""
        return self._mark(plan_id, index, "unknown", Reason.OUTCOME_UNKNOWN, error)

    def mark_failed(self, plan_id: str, index: int, error: str) -> BatchRecord:
        """Connect refused the batch (an error answer, not a lost one)."""
        return self._mark(plan_id, index, "failed", Reason.SEND_FAILED, error)

    def _mark(self, plan_id: str, index: int, state: BatchState, reason: Reason, error: str) -> BatchRecord:
        now = _iso(self.now())
        with self._tx() as con:
            con.execute(
                "UPDATE batches SET state=?, error=?, updated_at=? WHERE plan_id=? AND idx=?",
                (state, error, now, plan_id, index),
            )
            self._event(
                con,
                reason,
                feed=_feed_of(con, plan_id),
                plan_id=plan_id,
                index=index,
                detail={"error": error},
            )
        return self.batch(plan_id, index)

    # --- jobs --------------------------------------------------------------------------------
    def record_job(self, job: Job, *, log_tail: Sequence[dict[str, Any]] | None = None) -> JobRecord:
        """Store a job's latest state (status, counts, times) on its newest row."""
        run_time = job.run_time.total_seconds() if job.run_time is not None else None
        with self._tx() as con:
            row = con.execute(
                "SELECT run, plan_id, idx FROM jobs WHERE job_id=? ORDER BY run DESC LIMIT 1", (job.job_id,)
            ).fetchone()
            if row is None:
                msg = f"ledger {self.path}: job {job.job_id} belongs to no recorded batch"
                raise LedgerError(msg)
            con.execute(
                "UPDATE jobs SET status=?, totals=?, inserts=?, updates=?, fail=?, start=?, stop=?, "
                "run_time_s=?, log_tail=COALESCE(?, log_tail), updated_at=? WHERE run=?",
                (
                    int(job.status),
                    job.totals,
                    job.inserts,
                    job.updates,
                    job.fail,
                    _iso(job.start),
                    _iso(job.stop),
                    run_time,
                    json.dumps(list(log_tail), default=str) if log_tail is not None else None,
                    _iso(self.now()),
                    row["run"],
                ),
            )
            if getattr(job, "is_done", job.is_finished):
                ok = bool(job.succeeded)
                self._event(
                    con,
                    Reason.JOB_SUCCEEDED if ok else Reason.JOB_FAILED,
                    feed=_feed_of(con, row["plan_id"]),
                    plan_id=row["plan_id"],
                    index=row["idx"],
                    job_id=job.job_id,
                    detail={"status": int(job.status), "fail": job.fail},
                )
        return self.job(job.job_id)

    def job(self, job_id: int) -> JobRecord:
        """The newest row of job ``job_id``; LedgerError when unknown."""
        rows = self._rows("SELECT * FROM jobs WHERE job_id=? ORDER BY run DESC LIMIT 1", (job_id,))
        if not rows:
            msg = f"ledger {self.path}: no job {job_id}"
            raise LedgerError(msg)
        return JobRecord.from_row(rows[0])

    def jobs(self, plan_id: str | None = None) -> list[JobRecord]:
        sql, params = "SELECT * FROM jobs", _NO_PARAMS
        if plan_id is not None:
            sql, params = sql + " WHERE plan_id = ?", (plan_id,)
        return [JobRecord.from_row(r) for r in self._rows(sql + " ORDER BY run", params)]

    def known_job_ids(self) -> set[int]:
        """Every job id already tied to a batch (so a lookup never claims one twice)."""
        return {r[0] for r in self._rows("SELECT DISTINCT job_id FROM jobs")}

    def job_rows(self, *, since: datetime | None = None) -> list[sqlite3.Row]:
        """Each job row joined with its plan (for ``runs.job_outcomes``), oldest first."""
        sql = (
            "SELECT p.feed, p.entity, p.kind, j.*, b.item_count FROM jobs j "
            "JOIN plans p ON p.id = j.plan_id "
            "JOIN batches b ON b.plan_id = j.plan_id AND b.idx = j.idx"
        )
        if since is None:
            return self._rows(sql + " ORDER BY j.run")
        return self._rows(sql + " WHERE j.queued_at >= ? ORDER BY j.run", (_iso(since),))

    # --- promotions and events -----------------------------------------------------------------
    def record_promotion(self, feed: str, snapshot_id: str | None, plan_id: str) -> None:
        """Record that ``plan_id``'s snapshot became the feed's baseline; the plan ``succeeded``."""
        now = _iso(self.now())
        with self._tx() as con:
            con.execute("INSERT INTO promotions VALUES (?,?,?,?)", (feed, snapshot_id, plan_id, now))
            con.execute("UPDATE plans SET state='succeeded', updated_at=? WHERE id=?", (now, plan_id))
            self._event(con, Reason.PROMOTED, feed=feed, plan_id=plan_id, detail={"snapshot": snapshot_id})

    def promotions(self, feed: str | None = None) -> list[dict[str, Any]]:
        sql, params = "SELECT * FROM promotions", _NO_PARAMS
        if feed is not None:
            sql, params = sql + " WHERE feed = ?", (feed,)
        return [dict(r) for r in self._rows(sql + " ORDER BY rowid", params)]

    def events(self, *, feed: str | None = None, plan_id: str | None = None) -> list[Event]:
        rows = self._rows(
            "SELECT * FROM events WHERE (? IS NULL OR feed = ?) AND (? IS NULL OR plan_id = ?) ORDER BY id",
            (feed, feed, plan_id, plan_id),
        )
        return [Event.from_row(r) for r in rows]


def _damaged(path: Path, what: str, exc: object) -> str:
    return (
        f"ledger {path}: {what} ({exc}); the state directory is damaged: restore ledger.sqlite from a "
        "backup, or move it aside and run `norce-feeds resume FEED`, which looks the saved plans' "
        "batches up in Job/List before sending anything"
    )


def _marks(values: Sequence[object]) -> str:
    return ",".join("?" * len(values))


def _feed_of(con: sqlite3.Connection, plan_id: str) -> str | None:
    row = con.execute("SELECT feed FROM plans WHERE id = ?", (plan_id,)).fetchone()
    return str(row[0]) if row else None


def _close_sending(con: sqlite3.Connection, plan_id: str, now: str | None) -> None:
    """A plan whose batches are all accepted is ``submitted``."""
    open_ = con.execute(
        "SELECT COUNT(*) FROM batches WHERE plan_id=? AND state != 'accepted'", (plan_id,)
    ).fetchone()[0]
    if open_ == 0:
        con.execute(
            "UPDATE plans SET state='submitted', updated_at=? WHERE id=? AND state IN "
            "('planned','sending','failed')",
            (now, plan_id),
        )

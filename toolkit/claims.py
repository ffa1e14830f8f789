"""Which batch owns which job: a claim per job id, and one sender per endpoint at a time.

Connect's Job/List tells jobs apart only by what the server knows (JobId, Totals, Start, StorageName);
nothing a request carries comes back in it, so a batch whose answer was lost is found by its item
count and time. That is only sound when no other batch could have made the same job, so, for every
process sharing a state directory:

- a batch is sent, and a lost answer looked up, while holding the endpoint's **send lock** (a row of
  the ledger's ``locks`` table, waited for, broken when its holder died), so no other batch of the
  same endpoint is in flight meanwhile and jobs are created in the order batches were sent;
- a job id is **claimed** by one batch only (``claims`` has the job id as primary key), so a lookup
  never takes a job another batch recorded.

A lookup that still sees more candidate jobs than batches that could own them reports the outcome as
unknown (see ``toolkit.runs``).

Examples
--------
>>> import tempfile, pathlib
>>> from toolkit.ledger import Ledger
>>> with Ledger(pathlib.Path(tempfile.mkdtemp()) / "ledger.sqlite") as ledger:
...     with ledger.send_lock("/commerce/connect/4.0/ImportSkuOnhands"):
...         ledger.claimed_job_ids()
set()
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from toolkit.errors import FeedLocked, LedgerError
from toolkit.records import BatchRecord

__all__ = ["CLAIMS_SCHEMA", "JobClaims"]

CLAIMS_SCHEMA = """
CREATE TABLE IF NOT EXISTS claims (
  job_id INTEGER PRIMARY KEY, plan_id TEXT NOT NULL, idx INTEGER NOT NULL, at TEXT NOT NULL);
INSERT OR IGNORE INTO claims (job_id, plan_id, idx, at) SELECT job_id, plan_id, idx, updated_at FROM jobs;
"""
SEND_LOCK_WAIT = 900.0
"""Seconds a sender waits for another process's send to the same endpoint (a send includes the
request budget's wait and a lost answer's lookups)."""


class JobClaims:
    """The claim and send-lock methods of :class:`toolkit.ledger.Ledger` (a mixin)."""

    path: Path

    def acquire(self, feed: str) -> str:
        raise NotImplementedError

    def release(self, feed: str) -> None:
        raise NotImplementedError

    def _tx(self, *, durable: bool = False) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        raise NotImplementedError

    @contextmanager
    def send_lock(self, endpoint: str, *, wait: float = SEND_LOCK_WAIT, poll: float = 0.02) -> Iterator[None]:
        """Hold the endpoint's send lock for the block, waiting while another live process holds it."""
        name = f"send {endpoint}"
        deadline = time.monotonic() + wait
        while True:
            try:
                self.acquire(name)
                break
            except FeedLocked as exc:
                if time.monotonic() > deadline:
                    msg = f"endpoint {endpoint}: another process kept sending for {wait:g} s ({exc})"
                    raise FeedLocked(msg) from None
                time.sleep(poll)
        try:
            yield
        finally:
            self.release(name)

    def claimed_job_ids(self) -> set[int]:
        """Every job id a batch has claimed (its answer named it, or a lookup found it)."""
        return {int(r[0]) for r in self._rows("SELECT job_id FROM claims")}

    def unresolved(self, endpoint: str, item_count: int, *, since: datetime) -> list[BatchRecord]:
        """Batches of ``endpoint`` with ``item_count`` items sent since ``since`` whose job is not known
        (``sending`` or ``unknown``), in the order they were sent."""
        rows = self._rows(
            "SELECT * FROM batches WHERE endpoint = ? AND item_count = ? AND state IN "
            "('sending', 'unknown') AND sent_at >= ? ORDER BY sent_at, rowid",
            (endpoint, item_count, since.astimezone(UTC).isoformat()),
        )
        return [BatchRecord.from_row(r) for r in rows]


def claim(con: sqlite3.Connection, path: object, job_id: int, plan_id: str, index: int, at: str) -> None:
    """Tie ``job_id`` to batch ``index`` of ``plan_id`` (in the caller's transaction); LedgerError when
    another batch holds it."""
    row = con.execute("SELECT plan_id, idx FROM claims WHERE job_id = ?", (job_id,)).fetchone()
    if row is None:
        con.execute("INSERT INTO claims VALUES (?,?,?,?)", (job_id, plan_id, index, at))
    elif (row[0], row[1]) != (plan_id, index):
        msg = (
            f"ledger {path}: job {job_id} is already recorded for plan {row[0]} batch {row[1]}, "
            f"not for plan {plan_id} batch {index}; nothing was changed"
        )
        raise LedgerError(msg)

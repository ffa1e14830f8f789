"""One lock per feed, kept in the ledger, so two runs of the same feed never overlap.

The lock is a row of the ledger's ``locks`` table taken in a BEGIN IMMEDIATE transaction. Its holder
is ``host:pid:started`` (the process start time guards against a reused pid). A second run fails fast
with FeedLocked naming the holder; a lock whose holder ran on this host and is gone (killed, crashed)
is stale and is taken over, with a ``stale_lock_broken`` event.

Examples
--------
>>> import os
>>> process_started(os.getpid()) is not None or not os.path.exists("/proc/self/stat")
True
"""

from __future__ import annotations

import os
import socket
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from toolkit.errors import FeedLocked
from toolkit.records import Event, Reason

__all__ = ["FeedLocks", "process_started"]


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


class FeedLocks:
    """The lock methods of :class:`toolkit.ledger.Ledger` (a mixin over its transactions)."""

    _held: dict[str, int]

    def now(self) -> datetime:
        raise NotImplementedError

    def _tx(self, *, durable: bool = False) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        raise NotImplementedError

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
        raise NotImplementedError

    @contextmanager
    def lock(self, feed: str) -> Iterator[str]:
        """Hold the feed's lock for the block (re-entrant within this Ledger); yields the holder."""
        holder = self.acquire(feed)
        try:
            yield holder
        finally:
            self.release(feed)

    def acquire(self, feed: str) -> str:
        """Take the feed's lock or raise FeedLocked naming the holder; a dead holder's lock is broken."""
        if feed in self._held:
            self._held[feed] += 1
            return self.holder(feed) or ""
        host, pid = socket.gethostname(), os.getpid()
        started = process_started(pid) or _iso(self.now())
        holder = f"{host}:{pid}:{started}"
        with self._tx() as con:
            row = con.execute("SELECT * FROM locks WHERE feed = ?", (feed,)).fetchone()
            if row is not None and not _is_stale(row, host):
                msg = (
                    f"feed {feed!r} is locked by {row['holder']} since {row['taken_at']}; "
                    "another run of this feed is in progress"
                )
                raise FeedLocked(msg)
            if row is not None:
                self._event(con, Reason.STALE_LOCK_BROKEN, feed=feed, detail={"holder": row["holder"]})
            con.execute(
                "INSERT OR REPLACE INTO locks VALUES (?,?,?,?,?,?)",
                (feed, holder, host, pid, started, _iso(self.now())),
            )
        self._held[feed] = 1
        return holder

    def release(self, feed: str) -> None:
        """Give the lock back (only this Ledger's own hold; re-entrant holds count down)."""
        if feed not in self._held:
            return
        self._held[feed] -= 1
        if self._held[feed] > 0:
            return
        del self._held[feed]
        with self._tx() as con:
            con.execute("DELETE FROM locks WHERE feed = ? AND pid = ?", (feed, os.getpid()))

    def holder(self, feed: str) -> str | None:
        """Who holds the feed's lock (``host:pid:started``), or None."""
        rows = self._rows("SELECT holder FROM locks WHERE feed = ?", (feed,))
        return str(rows[0][0]) if rows else None


def _is_stale(row: sqlite3.Row, host: str) -> bool:
    """A lock is stale when its holder ran on this host and that process is gone (or was replaced)."""
    return row["host"] == host and process_gone(row["pid"], row["started"])


def process_gone(pid: int, started: str | None) -> bool:
    """Whether process ``pid`` of this host, which started at ``started`` (`process_started`), is
    gone: no such process, or another one that took its pid."""
    now = process_started(pid)
    if now is not None:
        return bool(now != started)
    if Path("/proc/self/stat").exists():
        return True  # /proc works and has no live process of that pid (or only a zombie)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def process_started(pid: int) -> str | None:
    """When process ``pid`` started (UTC, to the second) from /proc; None when gone or unknown."""
    try:
        after = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        boot = next(
            int(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime")
        )
    except (OSError, IndexError, ValueError, StopIteration):
        return None
    if after[0] == "Z":
        return None
    at = datetime.fromtimestamp(boot + int(after[19]) / os.sysconf("SC_CLK_TCK"), UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")

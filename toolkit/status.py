"""Where each feed stands: its baseline, its last full feed, what `auto` would plan next, and
whether a submission is unfinished or the feed is locked, from the snapshot store and the ledger.

A baseline whose file is missing or corrupt, or a damaged ledger, is reported in the ``problem``
column, not raised: the status of the other feeds is still wanted, and nothing can be planned or
resumed safely until it is mended.

Examples
--------
>>> import tempfile, pathlib
>>> from toolkit.config import load_settings
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> _ = (root / "norce.toml").write_text('''
... [profiles.sandbox]
... base_url = "http://127.0.0.1:8765"
... client_id = "sandbox"
... scope = "sandbox"
... [feeds.stock]
... entity = "onhands"
... profile = "sandbox"
... source = "stock.csv"
... ''')
>>> feed_status(load_settings(root / "norce.toml")).select("feed", "baseline", "next_kind").rows()
[('stock', None, 'full')]
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import polars as pl

from toolkit.config import Feed, Settings
from toolkit.errors import SnapshotError
from toolkit.ledger import Ledger, StateDamaged
from toolkit.planning import choose_kind
from toolkit.records import Reason
from toolkit.snapshots import SnapshotStore
from toolkit.workspace import Workspace

__all__ = ["STATUS_SCHEMA", "feed_status"]

_TS = pl.Datetime("us", "UTC")
STATUS_SCHEMA: dict[str, pl.DataType] = {
    "feed": pl.String(),
    "entity": pl.String(),
    "profile": pl.String(),
    "baseline": pl.String(),
    "baseline_rows": pl.Int64(),
    "promoted_at": _TS,
    "last_full_at": _TS,
    "next_kind": pl.String(),
    "why": pl.String(),
    "pending_removals": pl.Int64(),
    "held_back": pl.Int64(),
    "open_plan": pl.String(),
    "open_state": pl.String(),
    "locked_by": pl.String(),
    "problem": pl.String(),
}


def feed_status(settings: Settings, *, feed: str | None = None, now: datetime | None = None) -> pl.DataFrame:
    """One row per feed of ``settings`` (or just ``feed``), in the order of norce.toml."""
    feeds = [settings.feed(feed)] if feed is not None else list(settings.feeds.values())
    store = Workspace.of(settings).store()
    at = now or datetime.now(UTC)
    rows = []
    for f in feeds:
        row: dict[str, Any] = {"feed": f.name, "entity": f.entity, "profile": f.profile}
        try:
            row |= _snapshots(f, store, at)
        except SnapshotError as exc:
            row["problem"] = str(exc)
        rows.append(row)
    try:
        _ledger_columns(settings, rows)
    except StateDamaged as exc:  # every feed's submissions are unknown until the ledger is mended
        rows = [{**row, "problem": row.get("problem") or str(exc)} for row in rows]
    return pl.DataFrame(rows, schema=STATUS_SCHEMA)


def _ledger_columns(settings: Settings, rows: list[dict[str, Any]]) -> None:
    with Workspace.of(settings).ledger() as ledger:
        ledger.check()
        for row in rows:
            row["pending_removals"] = _pending(ledger, row["feed"], row.get("baseline"))
            row["held_back"] = _held_back(ledger, row["feed"], row.get("baseline"))
            opened = ledger.open_plan(row["feed"])
            if opened is not None:
                row |= {"open_plan": opened.id, "open_state": opened.state}
            row["locked_by"] = ledger.holder(row["feed"])


def _held_back(ledger: Ledger, feed: str, baseline: str | None) -> int | None:
    """Items a partial baseline holds back (their batches or items failed); None for a whole baseline."""
    partial = [e for e in ledger.events(feed=feed) if e.reason == Reason.PARTIALLY_PROMOTED]
    made = [e for e in partial if baseline is not None and e.detail.get("snapshot") == baseline]
    return int(made[-1].detail.get("held_back", 0)) if made else None


def _pending(ledger: Ledger, feed: str, baseline: str | None) -> int | None:
    """Removed items the baseline still holds until a FullFile import removes them (competitor prices,
    supplier products): what the plan that made the baseline left for a full feed."""
    made = [p for p in ledger.plans(feed) if baseline is not None and p.snapshot_id == baseline]
    return int(made[-1].summary.get("left_for_full", 0)) if made else None


def _snapshots(feed: Feed, store: SnapshotStore, now: datetime) -> dict[str, Any]:
    baseline = store.baseline(feed.name)
    last_full = store.last_full(feed.name)
    kind, why = choose_kind("auto", feed, store, baseline, now)
    return {
        "baseline": baseline and baseline.id,
        "baseline_rows": baseline and baseline.rows,
        "promoted_at": baseline and baseline.promoted,
        "last_full_at": last_full and last_full.promoted,
        "next_kind": kind,
        "why": why,
    }

"""Plans from frames in memory: the planning core with no file, no snapshot store and no thread.

``plan_feed`` reads a feed's source and baseline from disk and writes the new snapshot; ``plan_frames``
takes the source rows and the baseline rows as polars frames and returns the same plan (same batches,
same ids) with nothing read or written. Notebooks use it to try a mapping on a few rows, tests use it to
check planning rules; `toolkit.streaming` makes the same plan a partition at a time.

Examples
--------
>>> import polars as pl, tomllib
>>> from toolkit.config import settings_from
>>> settings = settings_from(tomllib.loads('''
... [profiles.shop]
... base_url = "https://shop.api-se.stage.norce.tech"
... client_id = "c"
... scope = "stage"
... [feeds.stock]
... entity = "onhands"
... profile = "shop"
... account = 10000
... source = "stock.csv"
... '''))
>>> rows = pl.DataFrame({"PartNo": ["A", "B"], "WarehouseCode": "W1", "LocationCode": "L1",
...                      "OnhandValue": [5, 7]})
>>> first = plan_frames(settings, "stock", rows)
>>> first.kind, first.summary.added
('full', 2)
>>> later = plan_frames(settings, "stock", rows.with_columns(OnhandValue=pl.Series([5, 9])), baseline=rows)
>>> later.kind, later.summary.changed, later.preview(1)[0]["items"]
('change', 1, [{'PartNo': 'B', 'WarehouseCode': 'W1', 'LocationCode': 'L1', 'OnhandValue': 9}])
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from toolkit._element_rows import row_key, with_element_keys
from toolkit.checks import validate
from toolkit.config import Feed, Settings
from toolkit.diff import diff_frames
from toolkit.entities import Entity, get_entity
from toolkit.errors import PlanError
from toolkit.plan_model import FeedKind, KindOption, Plan
from toolkit.plan_structure import Located, owns_structure
from toolkit.planning import Facts, assemble, data_columns, hold_rejected
from toolkit.rowhash import hash_rows
from toolkit.snapshots import SnapshotRef

__all__ = ["plan_frames"]

MEMORY = "<memory>"
"""The ``_source`` of rows given in memory, and the path of an in-memory baseline."""


def plan_frames(
    settings: Settings,
    feed: str | Feed,
    rows: pl.DataFrame,
    *,
    baseline: pl.DataFrame | None = None,
    kind: KindOption = "auto",
    now: datetime | None = None,
    allow_mass_deactivation: bool = False,
    override_reason: str | None = None,
) -> Plan:
    """Plan ``rows`` (canonical columns, as ``read_source`` gives them) against ``baseline`` rows.

    Parameters
    ----------
    settings, feed
        The feed whose entity, key, policies, account and profile the plan follows.
    rows
        The source rows; ``_source`` and ``_row`` are added when absent (row numbers from 1).
    baseline
        The rows Norce accepted last (a promoted snapshot's rows), or None for a first feed.
    kind
        ``"auto"``: a change feed against a baseline, a full feed without one.
    now
        The plan's time (default: now, UTC).

    Raises
    ------
    CheckFailed, GuardRefused
        As ``plan_feed`` does: too many rejected rows, or mass deactivation without an override.
    PlanError
        A products feed that does not own the product structure: it needs the owner's snapshot, so
        plan it with ``plan_feed``.
    """
    f = settings.feed(feed) if isinstance(feed, str) else feed
    entity = get_entity(f.entity)
    when = now or datetime.now(UTC)
    frame = _numbered(rows)
    check = validate(entity, frame, policies=f.policies)
    valid = with_element_keys(entity, data_columns(check.valid))
    _require_structure(f, entity, valid)
    key = list(f.key or row_key(entity, valid.columns))
    hashes = hash_rows(valid, key=key)
    before = baseline if baseline is not None else valid.clear()
    diff = diff_frames(before, valid, key=key, current_hashes=hashes)
    held = hold_rejected(diff, valid, frame, check.rejected, key=key, hashes=hashes)
    chosen: FeedKind = ("change" if baseline is not None else "full") if kind == "auto" else kind
    why = (
        f"{kind} in memory"
        if kind != "auto"
        else ("a baseline was given" if baseline is not None else "no baseline")
    )
    ref = _memory_ref(f.name, baseline, when)
    facts = Facts(frame, check.rejected, Located(valid), *held, baseline=ref, kind=chosen, why=why, key=key)
    plan, _, _ = assemble(
        settings, f, facts, asked=kind, now=when, allow=allow_mass_deactivation, reason=override_reason
    )
    return plan


def _numbered(rows: pl.DataFrame) -> pl.DataFrame:
    """``rows`` with ``_source`` and ``_row`` (1, 2, ...) where they are missing."""
    extra = []
    if "_source" not in rows.columns:
        extra.append(pl.lit(MEMORY).alias("_source"))
    if "_row" not in rows.columns:
        extra.append(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("_row"))
    return rows.with_columns(extra) if extra else rows


def _require_structure(feed: Feed, entity: Entity, valid: pl.DataFrame) -> None:
    if entity.name == "products" and not owns_structure(feed, valid.columns):
        msg = (
            f"feed {feed.name!r} does not own the product structure, so its plan needs the owner's "
            "snapshot: plan it with plan_feed (plan_frames plans feeds that own their structure)"
        )
        raise PlanError(msg)


def _memory_ref(feed: str, baseline: pl.DataFrame | None, now: datetime) -> SnapshotRef | None:
    """A baseline given as rows, named by its content (its id is the plan id's baseline part)."""
    if baseline is None:
        return None
    digest = hashlib.sha256(baseline.hash_rows().to_numpy().tobytes()).hexdigest()
    return SnapshotRef(
        id=f"memory-{digest[:16]}",
        feed=feed,
        path=Path(MEMORY),
        rows=baseline.height,
        content_hash=digest,
        created=now,
        status="baseline",
        kind=None,
    )

"""How ``plan_feed`` builds a plan: choose the kind, turn a diff into groups, guard, batch, summarise."""

from __future__ import annotations

import hashlib
import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from toolkit.batches import (
    FULL_FILE_SCOPE,
    Batch,
    Group,
    field_groups,
    full_file_groups,
    make_batches,
    union_groups,
)
from toolkit.batches import count_requests as _count
from toolkit.config import Feed, Policies, Settings
from toolkit.entities import Entity, get_entity
from toolkit.errors import SnapshotError
from toolkit.rowhash import ROW_HASH, RowHashes, hash_rows

if TYPE_CHECKING:
    from toolkit.checks import CheckResult
    from toolkit.diff import Diff
    from toolkit.feeds import FeedKind, KindOption, Plan, PlanSummary
    from toolkit.snapshots import SnapshotRef, SnapshotStore

logger = logging.getLogger("toolkit.planning")


@dataclass
class Parts:
    """The groups of a plan and the counts that go with them."""

    groups: list[Group] = field(default_factory=list)
    deactivated: int = 0
    left_for_full: int = 0
    deactivating: int = 0  # what the guard weighs: removed items that are still active
    grouping: str = "none"
    notes: list[str] = field(default_factory=list)


def _utc(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def choose_kind(kind: KindOption, feed: Feed, store: SnapshotStore, baseline: SnapshotRef | None,
                now: datetime) -> tuple[FeedKind, str]:  # fmt: skip
    """The kind to plan and why."""
    if kind in ("change", "full"):
        return kind, f"{kind} feed asked for" + ("" if baseline else "; no baseline yet")
    if baseline is None:
        return "full", "no baseline yet"
    period = feed.policies.full_every
    if period is None:
        return "change", f"baseline {baseline.id}; no full_every policy"
    last = store.last_full(feed.name)
    if last is None:
        return "full", f"no full feed on record (full_every {_duration(period)})"
    age = _utc(now) - _utc(last.created)
    why = f"last full feed {last.id} is {_duration(age)} old (full_every {_duration(period)})"
    return ("full", why) if age >= period else ("change", f"baseline {baseline.id}; {why}")


def _duration(span: timedelta) -> str:
    """A span as people say it: '13 s', '25 min', '3 h 20 min', '7 d', '8 d 2 h'.

    Examples
    --------
    >>> [_duration(timedelta(seconds=s)) for s in (13.5, 1500, 12000, 7 * 86400, 8 * 86400 + 7300)]
    ['13 s', '25 min', '3 h 20 min', '7 d', '8 d 2 h']
    """
    seconds = int(span.total_seconds())
    minutes, hours = seconds // 60, seconds // 3600
    if seconds < 120:
        return f"{seconds} s"
    if minutes < 120:
        return f"{minutes} min"
    if hours < 48:
        return f"{hours} h {minutes % 60} min" if minutes % 60 else f"{hours} h"
    return f"{hours // 24} d {hours % 24} h" if hours % 24 else f"{hours // 24} d"


def _still_active(entity: Entity, removed: pl.DataFrame) -> pl.DataFrame:
    if entity.removal == "sku_status" and "Status" in removed.columns:
        return removed.filter(pl.col("Status").ne_missing("Inactive"))
    if "IsActive" in removed.columns:
        return removed.filter(pl.col("IsActive").fill_null(True))
    return removed


def _deactivation(entity: Entity, rows: pl.DataFrame) -> Group | None:
    """Explicit deactivations (IsActive false; SKU Status Inactive), or None where there is no field."""
    if rows.is_empty() or entity.removal == "full_feed":
        return None
    column, value = ("Status", "Inactive") if entity.removal == "sku_status" else ("IsActive", False)
    frame = rows.with_columns(pl.lit(value).alias(column))
    return Group(frame, (column,), (), label="deactivated")


def _cleared(diff: Diff) -> tuple[str, ...]:
    """Columns that some changed row turned from a value into null."""
    ch = diff.changed
    cols = [c for c in ch.columns if c not in diff.key and c != "changed_fields"]
    if ch.is_empty() or not cols:
        return ()
    hits = ch.select(
        (pl.col(c).is_null() & pl.col("changed_fields").list.contains(c)).any().alias(c) for c in cols
    )
    return tuple(c for c in cols if hits[c][0])


def _encoded(entity: Entity, groups: list[Group]) -> list[Group]:
    return [g if g.json is not None else replace(g, json=g.encoded(entity)) for g in groups]


def change_parts(entity: Entity, diff: Diff, policies: Policies) -> Parts:
    """Added items whole, changed items by changed fields, removed ones deactivated or left."""
    parts = Parts()
    added = [] if diff.added.is_empty() else [Group(diff.added, None, (), label="added")]
    active = _still_active(entity, diff.removed)
    parts.deactivating = active.height
    deactivation = _deactivation(entity, active)
    if deactivation is not None:
        parts.deactivated = active.height
    elif active.height:
        parts.left_for_full = active.height
        parts.notes.append(f"{active.height} removed items left for the next full feed "
                           f"({entity.item} has no IsActive or Status)")  # fmt: skip
    fixed = _encoded(entity, [*added, *([deactivation] if deactivation else [])])
    parts.grouping, changed = _changed_groups(entity, diff.changed, policies,
                                              fixed=_count(entity, fixed, policies=policies))  # fmt: skip
    parts.groups = [*fixed[: len(added)], *changed, *fixed[len(added) :]]
    return parts


def _changed_groups(entity: Entity, changed: pl.DataFrame, policies: Policies,
                    fixed: int) -> tuple[str, list[Group]]:  # fmt: skip
    """By changed-field set unless that costs more than ``max_extra_requests`` over one union header
    per batch. Every set needs at least one request, so many sets settle it without encoding them."""
    if changed.is_empty():
        return "none", []
    union = _encoded(entity, union_groups(changed, policies, "changed"))
    n_union = _count(entity, union, policies=policies)
    allowed = policies.max_extra_requests * (fixed + n_union)
    n_sets = changed["changed_fields"].list.join("\x1f").n_unique()
    if n_sets - n_union > allowed:
        why = f"the changed items' {n_sets} field sets would take at least {n_sets} requests, not {n_union}"
        return f"union per batch ({why})", union
    by_fields = _encoded(entity, field_groups(changed, "changed"))
    n_fields = _count(entity, by_fields, policies=policies)
    if n_fields - n_union <= allowed:
        return f"by changed fields ({len(by_fields)} set{'' if len(by_fields) == 1 else 's'})", by_fields
    why = f"by field sets the changed items would take {n_fields} requests, not {n_union}"
    return f"union per batch ({why})", union


def full_parts(entity: Entity, valid: pl.DataFrame, diff: Diff, policies: Policies) -> Parts:
    """Every item with every field; FullFile where the header has it and a batch holds whole scopes."""
    parts = Parts(grouping="full")
    group = Group(valid, None, _cleared(diff), full_file=entity.has_full_file, label="full")
    active = _still_active(entity, diff.removed)
    parts.deactivating = active.height
    outside = active
    if entity.has_full_file:
        parts.groups, covered = full_file_groups(entity, group, policies)
        scope = list(FULL_FILE_SCOPE.get(entity.name, ()))
        if scope:
            outside = active.join(covered, on=scope, how="anti", nulls_equal=True)
        elif not covered.is_empty():
            outside = active.clear()
        if any(not g.full_file for g in parts.groups):
            limits = f"max_items {policies.max_items}, max_bytes {policies.max_bytes}"
            parts.notes.append(f"FullFile off where a scope does not fit one batch ({limits})")
    else:
        parts.groups = [group]
    deactivation = _deactivation(entity, outside)
    parts.deactivated = active.height - (0 if deactivation else outside.height)
    if deactivation is not None:
        parts.groups.append(deactivation)
    elif outside.height:
        parts.left_for_full = outside.height
        parts.notes.append(f"{outside.height} removed items stay active: no FullFile import covers "
                           f"them and {entity.item} has no IsActive or Status")  # fmt: skip
    return parts


def build_plan(settings: Settings, feed: Feed, *, kind: KindOption, source: str | Path | None,
               now: datetime, allow: bool, reason: str | None, store: SnapshotStore,
               checked: tuple[pl.DataFrame, CheckResult] | None = None) -> Plan:  # fmt: skip
    """read_source -> validate -> diff -> guard -> batches -> Plan, the snapshot written meanwhile."""
    from toolkit._refusals import refuse_source
    from toolkit.checks import enforce, validate
    from toolkit.feeds import Plan, plan_id
    from toolkit.sources import read_source

    entity = get_entity(feed.entity)
    # The baseline file is checked against its hash while the source is read (hashlib releases the GIL).
    with ThreadPoolExecutor(1, thread_name_prefix="baseline") as pool:
        finding = pool.submit(store.baseline, feed.name)
        if checked is None:
            frame = read_source(feed, path=source)
            check = validate(entity, frame, policies=feed.policies)
        else:
            frame, check = checked
            enforce(entity, feed.policies, check)
        base_ref = finding.result()
    refuse_source(feed, frame, base_ref, source=source, allow=allow)  # schema drift, a cut-off file
    valid = check.valid.select(c for c in check.valid.columns if not c.startswith("_"))
    chosen, why = choose_kind(kind, feed, store, base_ref, now)
    key = list(feed.key or entity.key)
    diff, held, hashes = _diff(store, base_ref, valid, frame, check.rejected, key=key)
    valid = pl.concat([valid, held]) if held.height else valid
    parts, batches, baseline_rows = _batches(entity, feed, chosen, valid, diff, base_ref, allow=allow)
    saving = _save_meanwhile(store, feed.name, valid, kind=chosen, key=key, hashes=hashes)
    profile = settings.profile_of(feed)
    cleared = _cleared(diff)
    if cleared:
        parts.notes.append(f"values cleared in the source are sent as null ({', '.join(cleared)}); Connect "
                           "may keep the old value where null does not overwrite")  # fmt: skip
    if held.height:
        parts.notes.append(f"{held.height} items whose rows were rejected keep their baseline values "
                           "(neither changed nor deactivated)")  # fmt: skip
    summary = _summary(chosen, why, diff, parts, batches, check.rejected.height, baseline_rows,
                       profile.rate_limit_per_minute)  # fmt: skip
    return Plan(
        id=plan_id(feed.name, chosen, _rows_digest(hashes), [b.id for b in batches],
                   baseline=base_ref.id if base_ref else None), feed=feed.name,
        entity=entity.name, profile=profile.name, kind=chosen, created=now, saving=saving,
        baseline=base_ref, batches=batches, summary=summary, rejected=check.rejected,
        allow_mass_deactivation=allow, override_reason=reason, diff=diff,
    )  # fmt: skip


def _save_meanwhile(store: SnapshotStore, feed: str, rows: pl.DataFrame, *, kind: FeedKind, key: list[str],
                    hashes: RowHashes) -> Future[SnapshotRef]:  # fmt: skip
    """Write the new snapshot on a worker thread and return at once: the plan can be previewed while
    it is written (1M rows of Parquet take one to two seconds), and `Plan.snapshot` waits for it.
    Started after the batches are made, so it does not compete with them for polars' threads; the
    worker is not a daemon, so an exiting interpreter finishes the write first."""
    pool = ThreadPoolExecutor(1, thread_name_prefix="snapshot")
    try:
        saving = pool.submit(store.save, feed, rows, kind=kind, key=key, hashes=hashes)
    finally:
        pool.shutdown(wait=False)

    def report(done: Future[SnapshotRef]) -> None:  # said at once, even if the plan is only previewed
        exc = done.exception()
        if exc is None:
            return
        said = f"feed {feed!r}: the new snapshot could not be written ({exc})"
        said = str(exc) if isinstance(exc, SnapshotError) else said  # which names the feed already
        logger.warning("%s; the plan cannot be recorded or sent", said)

    saving.add_done_callback(report)
    return saving


def _rows_digest(hashes: RowHashes) -> str:
    """sha256 of the row hashes in row order: names the snapshot's content before its file exists."""
    column = hashes.frame[ROW_HASH].rechunk()
    return hashlib.sha256(column.to_numpy().data).hexdigest()


def _diff(store: SnapshotStore, base_ref: SnapshotRef | None, valid: pl.DataFrame, frame: pl.DataFrame,
          rejected: pl.DataFrame, *, key: list[str]) -> tuple[Diff, pl.DataFrame, RowHashes]:  # fmt: skip
    """The diff of the valid rows against the baseline, the baseline rows held for rejected items, and
    the row hashes of the valid rows and the held ones (the new snapshot's).

    A rejected row says nothing true about its item, so the item stays as Norce has it: its baseline
    row goes into the new snapshot, and it is neither removed (deactivated) nor changed. Those rows
    are the diff's removed rows of the rejected keys, so the baseline is read once.
    """
    from toolkit.diff import diff_frames

    hashes = hash_rows(valid, key=key)
    if base_ref is None:
        return diff_frames(valid.clear(), valid, key=key, current_hashes=hashes), valid.clear(), hashes
    diff = store.diff(base_ref, valid, key=key, current_hashes=hashes)
    keys = rejected_keys(frame, rejected, key=key)
    held = diff.removed.join(keys, on=key, how="semi") if keys.height else diff.removed.clear()
    if held.height == 0:
        return diff, valid.clear(), hashes
    fill = [pl.col(c) if c in held.columns else pl.lit(None).alias(c) for c in valid.columns]
    held = held.select(fill).cast(valid.schema)
    removed = diff.removed.join(keys, on=key, how="anti")
    kept = replace(diff, removed=removed, unchanged=diff.unchanged + held.height)
    both = RowHashes(pl.concat([hashes.frame, hash_rows(held, key=key).frame]), hashes.signature)
    return kept, held, both


def rejected_keys(frame: pl.DataFrame, rejected: pl.DataFrame, *, key: list[str]) -> pl.DataFrame:
    """The distinct keys of the source rows that were rejected (rows with a null key part left out)."""
    if rejected.height == 0 or not set(key) <= set(frame.columns):
        return pl.DataFrame()
    bad = frame.join(rejected.select("_source", "_row").unique(), on=["_source", "_row"], how="semi")
    return bad.select(key).drop_nulls().unique()


def _batches(entity: Entity, feed: Feed, chosen: FeedKind, valid: pl.DataFrame, diff: Diff,
             base_ref: SnapshotRef | None, *,
             allow: bool) -> tuple[Parts, tuple[Batch, ...], int]:  # fmt: skip
    """groups -> guard -> batches."""
    from toolkit.feeds import guard

    baseline_rows = base_ref.rows if base_ref is not None else 0
    policies = feed.policies
    if chosen == "change":
        parts = change_parts(entity, diff, policies)
    else:
        parts = full_parts(entity, valid, diff, policies)
    guard(feed, chosen, valid=valid.height, baseline=baseline_rows, deactivating=parts.deactivating,
          allow=allow)  # fmt: skip
    assert feed.account is not None
    batches = make_batches(entity, parts.groups, account=feed.account, policies=policies)
    return parts, batches, baseline_rows


def _summary(kind: FeedKind, why: str, diff: Diff, parts: Parts, batches: tuple[Batch, ...],
             rejected: int, baseline: int, rate: int) -> PlanSummary:  # fmt: skip
    from toolkit.feeds import PlanSummary

    requests = len(batches)
    return PlanSummary(
        kind=kind, reason=why, added=diff.added.height, changed=diff.changed.height,
        removed=diff.removed.height, deactivated=parts.deactivated, unchanged=diff.unchanged,
        rejected=rejected, left_for_full=parts.left_for_full, baseline_items=baseline,
        items=sum(b.item_count for b in batches), field_counts=dict(diff.field_counts),
        batches=requests, requests=requests, bytes=sum(b.size for b in batches),
        eta_seconds=round(requests * 60.0 / max(rate, 1), 1), grouping=parts.grouping,
        notes=tuple(parts.notes),
    )  # fmt: skip

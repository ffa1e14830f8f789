"""How ``plan_feed`` builds a plan: choose the kind, turn a diff into groups, guard, batch, summarise."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from toolkit._element_rows import row_key, with_element_keys
from toolkit._refusals import refuse_source
from toolkit.batches import Batch, make_batches
from toolkit.checks import enforce, validate
from toolkit.config import Feed, Policies, Settings
from toolkit.diff import diff_frames
from toolkit.entities import Entity, get_entity
from toolkit.errors import SnapshotError
from toolkit.plan_elements import NestedPlan
from toolkit.plan_model import FeedKind, KindOption, Plan, PlanSummary, guard, plan_id
from toolkit.plan_parts import Parts, Rights, change_parts, cleared_columns, full_parts
from toolkit.plan_structure import Located, locate_rows
from toolkit.rowhash import ROW_HASH, RowHashes, hash_rows
from toolkit.sources import read_source

if TYPE_CHECKING:
    from toolkit.checks import CheckResult
    from toolkit.diff import Diff
    from toolkit.snapshots import SnapshotRef, SnapshotStore

logger = logging.getLogger("toolkit.planning")


def _utc(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def choose_kind(
    kind: KindOption, feed: Feed, store: SnapshotStore, baseline: SnapshotRef | None, now: datetime
) -> tuple[FeedKind, str]:
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


@dataclass(frozen=True)
class Facts:
    """What a plan is made of, all read already: `assemble` makes the plan from it without any I/O."""

    frame: pl.DataFrame
    """The source rows as read (``_source`` and ``_row`` included)."""
    rejected: pl.DataFrame
    located: Located
    """The valid rows a plan may send (see ``toolkit.plan_structure``)."""
    diff: Diff
    """Against the baseline, the items of rejected rows held (neither changed nor removed)."""
    held: pl.DataFrame
    """The baseline rows kept for the items of rejected rows."""
    hashes: RowHashes
    """The row hashes of the valid rows and the held ones."""
    baseline: SnapshotRef | None
    kind: FeedKind
    why: str
    key: list[str]


def build_plan(
    settings: Settings,
    feed: Feed,
    *,
    kind: KindOption,
    source: str | Path | None,
    now: datetime,
    allow: bool,
    reason: str | None,
    store: SnapshotStore,
    checked: tuple[pl.DataFrame, CheckResult] | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> Plan:
    """read_source -> validate -> diff -> `assemble`, the snapshot written meanwhile."""
    entity = get_entity(feed.entity)
    step = _Steps(feed.name, progress)
    # The baseline file is checked against its hash while the source is read (hashlib releases the GIL).
    with ThreadPoolExecutor(1, thread_name_prefix="baseline") as pool:
        finding = pool.submit(store.baseline, feed.name)
        if checked is None:
            step("reading the source")
            frame = read_source(feed, path=source)
            step(f"checking {frame.height:,} rows")
            check = validate(entity, frame, policies=feed.policies)
        else:
            frame, check = checked
            enforce(entity, feed.policies, check)
        base_ref = finding.result()
    columns = store.scan(base_ref).collect_schema().names() if base_ref is not None else None
    rows = base_ref.rows if base_ref is not None else 0
    refuse_source(feed, frame, columns, baseline_rows=rows, source=source, allow=allow)  # drift, cut-off
    valid = with_element_keys(entity, data_columns(check.valid))  # supplier rows: "" for no element
    located = locate_rows(settings, feed, entity, valid, store)  # products: who owns the structure
    chosen, why = choose_kind(kind, feed, store, base_ref, now)
    key = list(feed.key or row_key(entity, located.valid.columns))
    step(
        f"diffing {located.valid.height:,} rows against "
        + (f"baseline {base_ref.id}" if base_ref else "nothing")
    )
    hashes = hash_rows(located.valid, key=key)
    if base_ref is None:
        diff = diff_frames(located.valid.clear(), located.valid, key=key, current_hashes=hashes)
    else:
        diff = store.diff(base_ref, located.valid, key=key, current_hashes=hashes)
    held = hold_rejected(diff, located.valid, frame, check.rejected, key=key, hashes=hashes)
    facts = Facts(frame, check.rejected, located, *held, baseline=base_ref, kind=chosen, why=why, key=key)
    step(f"making the {chosen} feed's batches")
    plan, snapshot, snapshot_hashes = assemble(
        settings, feed, facts, asked=kind, now=now, allow=allow, reason=reason
    )
    saving = _save_meanwhile(store, feed.name, snapshot, kind=chosen, key=key, hashes=snapshot_hashes)
    step.done(f"{len(plan.batches):,} requests planned")
    return replace(plan, saving=saving)


class _Steps:
    """Tells ``progress`` each planning step as it starts (``event: plan``); quiet without it."""

    STEPS = 5

    def __init__(self, feed: str, progress: Callable[[dict[str, Any]], None] | None) -> None:
        self.feed, self.progress, self.step = feed, progress, 0

    def __call__(self, what: str) -> None:
        self.step += 1
        if self.progress is not None:
            self.progress(
                {"event": "plan", "feed": self.feed, "step": self.step, "steps": self.STEPS, "what": what}
            )

    def done(self, what: str) -> None:
        if self.progress is not None:
            self.progress(
                {"event": "plan", "feed": self.feed, "step": self.STEPS, "steps": self.STEPS, "what": what}
            )


def data_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` without the bookkeeping columns (``_source``, ``_row``, ...)."""
    return frame.select(c for c in frame.columns if not c.startswith("_"))


def assemble(
    settings: Settings,
    feed: Feed,
    facts: Facts,
    *,
    asked: KindOption,
    now: datetime,
    allow: bool,
    reason: str | None,
) -> tuple[Plan, pl.DataFrame, RowHashes]:
    """The plan of ``facts`` (pure: no file, no clock, no thread), the new snapshot's rows and their hashes.

    Rights (deactivation, FullFile) -> groups -> guard -> batches -> summary -> plan id. The plan's
    ``saving`` is None: whoever stores the snapshot rows sets it.
    """
    entity = get_entity(feed.entity)
    facts = replace(facts, diff=facts.diff.in_key_order())  # items go in key order, whatever the source's
    valid = pl.concat([facts.located.valid, facts.held]) if facts.held.height else facts.located.valid
    first = facts.baseline is None
    rights, notes = rights_of(
        settings,
        feed,
        entity,
        facts.frame,
        facts.rejected,
        key=facts.key,
        asked=asked,
        first=first,
        allow=allow,
    )
    rights, notes = facts.located.rights(rights), [*notes, *facts.located.notes]
    notes = [n for n in notes if facts.kind == "full" or n != FULL_FILE_OFF]
    parts, batches, baseline_rows = _batches(
        entity,
        feed,
        facts.kind,
        valid,
        facts.diff,
        facts.baseline,
        allow=allow,
        rights=rights,
        today=now.date(),
    )
    rows, hashes = _with_pending(valid, facts.hashes, parts.pending, key=facts.key)
    parts.notes.extend(_notes(entity, facts, notes))
    profile = settings.profile_of(feed)
    summary = summarize(
        facts.kind,
        facts.why,
        facts.diff,
        parts,
        batches,
        facts.rejected.height,
        baseline_rows,
        profile.rate_limit_per_minute,
        feed.policies,
    )
    base_id = facts.baseline.id if facts.baseline else None
    plan = Plan(
        id=plan_id(feed.name, facts.kind, rows_digest(hashes), [b.id for b in batches], baseline=base_id),
        feed=feed.name,
        entity=entity.name,
        profile=profile.name,
        kind=facts.kind,
        created=now,
        saving=None,
        baseline=facts.baseline,
        batches=batches,
        summary=summary,
        rejected=facts.rejected,
        allow_mass_deactivation=allow,
        override_reason=reason,
        diff=facts.diff,
        origins=origins(facts),
    )
    return plan, rows, hashes


def origins(facts: Facts) -> pl.DataFrame | None:
    """The source rows (key, ``_source``, ``_row``) of the items a plan adds or changes."""
    if not {"_source", "_row", *facts.key} <= set(facts.frame.columns):
        return None
    touched = pl.concat([facts.diff.added.select(facts.key), facts.diff.changed.select(facts.key)])
    rows = facts.frame.select(*facts.key, "_source", "_row")
    rows = rows.with_columns(pl.col(k).cast(touched.schema[k]) for k in facts.key)
    return rows.join(touched, on=facts.key, how="semi", nulls_equal=False)


def _notes(entity: Entity, facts: Facts, notes: list[str]) -> list[str]:
    cleared = cleared_columns(entity, facts.diff)
    said = [f"values cleared in the source are sent as null ({', '.join(cleared)})"] if cleared else []
    if facts.held.height:
        said.append(
            f"{facts.held.height} items whose rows were rejected keep their baseline values "
            "(neither changed nor deactivated)"
        )
    return [*said, *notes]


def _save_meanwhile(
    store: SnapshotStore, feed: str, rows: pl.DataFrame, *, kind: FeedKind, key: list[str], hashes: RowHashes
) -> Future[SnapshotRef]:
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


def rows_digest(hashes: RowHashes | Sequence[RowHashes | pl.DataFrame]) -> str:
    """Names the snapshot's content before its file exists: sha256 of the row count and the wrapping
    sum and xor of the row hashes. Order does not count, so a source exported in another row order,
    or planned in partitions (`toolkit.streaming`), names the same content.

    >>> import polars as pl
    >>> from toolkit.rowhash import hash_rows
    >>> a = hash_rows(pl.DataFrame({"k": [1, 2], "v": ["x", "y"]}), key="k")
    >>> b = hash_rows(pl.DataFrame({"k": [2, 1], "v": ["y", "x"]}), key="k")
    >>> rows_digest(a) == rows_digest(b) == rows_digest([b.frame[:1], b.frame[1:]])
    True
    """
    parts = [hashes] if isinstance(hashes, RowHashes) else hashes
    return digest_totals([hash_totals(p.frame if isinstance(p, RowHashes) else p) for p in parts])


def hash_totals(frame: pl.DataFrame) -> tuple[int, int, int]:
    """Row count, wrapping sum and xor of ``frame``'s row hashes: what `rows_digest` adds up."""
    column = frame[ROW_HASH].to_numpy()
    xor = int(np.bitwise_xor.reduce(column)) if column.size else 0
    return column.size, int(column.sum(dtype=np.uint64)), xor  # an array's sum wraps silently


def digest_totals(totals: Sequence[tuple[int, int, int]]) -> str:
    """`rows_digest` of parts by their `hash_totals`."""
    count, total, xor = fold_totals(totals)
    return hashlib.sha256(f"{count}:{total}:{xor}".encode()).hexdigest()


def fold_totals(totals: Sequence[tuple[int, int, int]]) -> tuple[int, int, int]:
    """The `hash_totals` of rows in parts, from each part's."""
    count, total, xor = 0, 0, 0
    for n, s, x in totals:
        count, total, xor = count + n, (total + s) % 2**64, xor ^ x
    return count, total, xor


def hold_rejected(
    diff: Diff,
    valid: pl.DataFrame,
    frame: pl.DataFrame,
    rejected: pl.DataFrame,
    *,
    key: list[str],
    hashes: RowHashes,
) -> tuple[Diff, pl.DataFrame, RowHashes]:
    """``diff`` with the items of rejected rows held, the baseline rows held for them, and the row hashes
    of the valid rows and the held ones (the new snapshot's).

    A rejected row says nothing true about its item, so the item stays as Norce has it: its baseline
    row goes into the new snapshot, and it is neither removed (deactivated) nor changed. Those rows
    are the diff's removed rows of the rejected keys, so the baseline is read once.
    """
    is_held = _held(diff.removed, frame, rejected, key=key)
    if not is_held.any():
        return diff, valid.clear(), hashes
    held = _as_rows(diff.removed.filter(is_held), valid)
    kept = replace(diff, removed=diff.removed.filter(~is_held), unchanged=diff.unchanged + held.height)
    both = RowHashes(pl.concat([hashes.frame, hash_rows(held, key=key).frame]), hashes.signature)
    return kept, held, both


def _as_rows(rows: pl.DataFrame, like: pl.DataFrame) -> pl.DataFrame:
    """Baseline rows in the columns and types of ``like`` (a column the baseline lacks is null)."""
    fill = [pl.col(c) if c in rows.columns else pl.lit(None).alias(c) for c in like.columns]
    return rows.select(fill).cast(like.schema)


def _held(removed: pl.DataFrame, frame: pl.DataFrame, rejected: pl.DataFrame, *, key: list[str]) -> pl.Series:
    """Which removed rows a rejected row may stand for: its key, or, for a row whose key is
    incomplete, every removed row that agrees with the key parts it has (all of them when it has none)."""
    held = pl.Series([False] * removed.height, dtype=pl.Boolean)
    if rejected.height == 0 or removed.height == 0 or not set(key) <= set(frame.columns):
        return held
    bad = frame.join(rejected.select("_source", "_row").unique(), on=["_source", "_row"], how="semi")
    patterns = (
        bad.select(key)
        .unique()
        .with_columns(
            pl.concat_str([pl.col(k).is_not_null().cast(pl.Int8).cast(pl.String) for k in key]).alias("__has")
        )
    )
    marked = removed.with_row_index("__i")
    for part in patterns.partition_by("__has"):
        present = [k for k, flag in zip(key, part["__has"][0], strict=True) if flag == "1"]
        if not present:
            return pl.Series([True] * removed.height, dtype=pl.Boolean)
        hits = marked.join(part.select(present).unique(), on=present, how="semi")["__i"]
        held = held.scatter(hits, True) if hits.len() else held
    return held


def rejected_keys(frame: pl.DataFrame, rejected: pl.DataFrame, *, key: list[str]) -> pl.DataFrame:
    """The distinct keys of the source rows that were rejected (rows with a null key part left out)."""
    if rejected.height == 0 or not set(key) <= set(frame.columns):
        return pl.DataFrame()
    bad = frame.join(rejected.select("_source", "_row").unique(), on=["_source", "_row"], how="semi")
    return bad.select(key).drop_nulls().unique()


def _with_pending(
    valid: pl.DataFrame, hashes: RowHashes, pending: pl.DataFrame | None, *, key: list[str]
) -> tuple[pl.DataFrame, RowHashes]:
    """The new snapshot's rows: the valid ones plus removed ones still pending a FullFile import, so
    the next full feed still sees them as removed."""
    if pending is None or pending.is_empty():
        return valid, hashes
    rows = _as_rows(pending, valid)
    both = RowHashes(pl.concat([hashes.frame, hash_rows(rows, key=key).frame]), hashes.signature)
    return pl.concat([valid, rows]), both


def rights_of(
    settings: Settings,
    feed: Feed,
    entity: Entity,
    frame: pl.DataFrame,
    rejected: pl.DataFrame,
    *,
    key: list[str],
    asked: KindOption,
    first: bool,
    allow: bool,
) -> tuple[Rights, list[str]]:
    """Whether the feed deactivates (owns the field) and may send FullFile, and the notes that say why not."""
    owns, owner = _owns(settings, feed, entity, frame)
    notes = []
    unbounded = _unbounded_full_file(feed, asked=asked, allow=allow) if first else None
    full_file = entity.has_full_file and unbounded is None and feed.policies.full_file
    if entity.has_full_file and unbounded:
        notes.append(unbounded)
    elif entity.has_full_file and not feed.policies.full_file:
        notes.append(FULL_FILE_OFF)
    keyless = (
        rejected.height
        and not frame.join(rejected.select("_source", "_row").unique(), on=["_source", "_row"], how="semi")
        .select(key)
        .filter(pl.any_horizontal(pl.col(k).is_null() for k in key))
        .is_empty()
    )
    if full_file and keyless:
        full_file = False
        notes.append("FullFile off: rejected rows without a complete key could stand for any item")
    elif full_file and first and rejected.height:
        full_file = False  # no baseline holds a rejected row's item: FullFile would deactivate it
        notes.append("FullFile off: with no baseline, the items of rejected rows would be deactivated")
    return Rights(owns=owns, full_file=full_file, owner=owner), notes


FULL_FILE_OFF = "FullFile off (policy full_file = false): removed items are deactivated explicitly"


def _unbounded_full_file(feed: Feed, *, asked: KindOption, allow: bool) -> str | None:
    """Why a first full feed (no baseline) goes without FullFile, or None when it may send it.

    Nothing tells what FullFile would deactivate then (a lost state dir, a half-empty export), so it
    needs an explicit ``--kind full`` and a bound: the feed's ``min_rows`` policy, which the source
    passed, or an override with its reason.
    """
    if asked != "full":
        return (
            "first full feed: sent without FullFile, as there is no baseline to tell what it would "
            "deactivate (ask for --kind full to send FullFile)"
        )
    if allow or feed.policies.min_rows:
        return None
    return (
        "first full feed: sent without FullFile, as neither a baseline nor a min_rows policy bounds "
        "what it would deactivate (set min_rows, or pass --allow-mass-deactivation with a reason)"
    )


def _owns(settings: Settings, feed: Feed, entity: Entity, frame: pl.DataFrame) -> tuple[bool, str]:
    """Whether ``feed`` deactivates removed items (see ``Policies.deactivate``), and else who does.

    With ``auto``, a feed whose source carries the field owns it, and so does one that lacks it unless
    another feed of the entity maps it (or is told ``deactivate = "always"``). Product feeds share
    their SKUs (the ERP's structure and status, the PIM's texts), so a products feed without Status
    beside another one leaves removals to it; other entities' feeds usually split their items (one
    warehouse's stock each), and each deactivates its own.
    """
    field = {"sku_status": "Status", "is_active": "IsActive"}.get(entity.removal)
    policy = feed.policies.deactivate
    if policy != "auto" or field is None or field in frame.columns:
        return policy != "never", ""
    others = [f for f in settings.feeds.values() if f.entity == feed.entity and f.name != feed.name]
    owners = [f.name for f in others if field in f.mapping.values() or f.policies.deactivate == "always"]
    if owners:
        return False, f"feed {', '.join(owners)}, which maps {field}"
    if entity.removal != "sku_status" or not others:
        return True, ""
    names = ", ".join(f.name for f in others)
    return False, f'another {entity.name} feed ({names}): set deactivate = "always" on the owner of {field}'


def _batches(
    entity: Entity,
    feed: Feed,
    chosen: FeedKind,
    valid: pl.DataFrame,
    diff: Diff,
    base_ref: SnapshotRef | None,
    *,
    allow: bool,
    rights: Rights,
    today: date,
) -> tuple[Parts, tuple[Batch, ...], int]:
    """groups -> guard -> batches."""
    baseline_rows = base_ref.rows if base_ref is not None else 0
    policies = feed.policies
    nested = NestedPlan.of(entity, feed, valid, diff, owns=rights.owns, today=today, first=base_ref is None)
    if chosen == "change":
        parts = change_parts(entity, nested.diff, policies, rights)
    else:
        parts = full_parts(entity, in_key_order(nested.valid, diff.key), nested.diff, policies, rights)
    nested.finish(entity, parts)  # supplier elements, price lists, company links (toolkit.plan_elements)
    guard(
        feed, chosen, valid=valid.height, baseline=baseline_rows, deactivating=parts.deactivating, allow=allow
    )
    assert feed.account is not None
    batches = make_batches(
        entity, parts.groups, account=feed.account, policies=policies, flags=feed.header_flags
    )
    return parts, batches, baseline_rows


def in_key_order(rows: pl.DataFrame, key: Sequence[str]) -> pl.DataFrame:
    """``rows`` sorted by ``key``: the order a full feed sends its items in (see `Diff.in_key_order`)."""
    return rows.sort(list(key)) if rows.height > 1 and set(key) <= set(rows.columns) else rows


def min_requests(batches: Sequence[Batch], policies: Policies) -> int:
    """The fewest requests ``batches``' items could take: per item group (one header and one kind of
    change: added, changed by a field set, clearing values, deactivated), the items over ``max_items``
    and the bytes over ``max_bytes``.

    How items are grouped into headers is bounded by the feed's ``max_extra_requests`` (``grouping``
    says how); a plan is above this bound when a group's items are cut further.

    >>> from toolkit.config import Policies
    >>> min_requests([], Policies())
    0
    """
    totals: dict[int, tuple[int, int]] = {}
    for b in batches:
        where = b.group
        items, size = totals.get(where, (0, 0))
        totals[where] = (items + b.item_count, size + b.size)
    floor = [max(-(-n // policies.max_items), -(-size // policies.max_bytes)) for n, size in totals.values()]
    return sum(floor)


def summarize(
    kind: FeedKind,
    why: str,
    diff: Diff,
    parts: Parts,
    batches: tuple[Batch, ...],
    rejected: int,
    baseline: int,
    rate: int,
    policies: Policies,
) -> PlanSummary:
    requests = len(batches)
    return PlanSummary(
        kind=kind,
        reason=why,
        added=diff.added.height,
        changed=diff.changed.height,
        removed=diff.removed.height,
        deactivated=parts.deactivated,
        unchanged=diff.unchanged,
        rejected=rejected,
        left_for_full=parts.left_for_full,
        baseline_items=baseline,
        items=sum(b.item_count for b in batches),
        field_counts=dict(diff.field_counts),
        batches=requests,
        requests=requests,
        min_requests=min_requests(batches, policies),
        bytes=sum(b.size for b in batches),
        eta_seconds=round(requests * 60.0 / max(rate, 1), 1),
        grouping=parts.grouping,
        notes=tuple(parts.notes),
    )

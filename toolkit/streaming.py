"""Plans of feeds larger than memory: the same plan as `toolkit.planning`, made a partition at a time.

A feed of a hundred million customer price rows does not fit in memory as a frame, nor does its full
feed's request bodies. `plan_streamed` reads the source once, writing it into partitions of key ranges
(polars' streaming engine sinks it), then plans a partition at a time:

1. check, hash and diff the partition's rows against the same key range of the baseline, and write
   the new snapshot's partition (rows and row hashes) beside the plan;
2. a change plan keeps only the partitions' diffs (a few per cent of the rows) and plans them with
   the in-memory code; a full plan reads the new snapshot's partitions again and cuts their items
   into request bodies as they come, carrying an unfinished request over to the next partition, each
   body written to disk once cut (the plan on disk is the plan: `Plan.batches` read their bodies
   from it when sent or previewed).

Partitions are key ranges of the first key column, and every partition's rows are sorted by the key,
so the partitions one after another are in key order, the order every plan sends its items in
(`Diff.in_key_order`): a streamed plan is byte for byte the plan `plan_frames` makes in memory of the
same rows (`tests/test_streaming.py`). The snapshot keeps its partitions' bounds, and the next plan
partitions by them, so its diff reads one baseline partition per source partition.

What it does not do: entities with nested lists (products, supplier products, price lists, customers)
and those only FullFile removes (competitor SKUs) are planned in memory; a streamed full plan sends
no FullFile (removed items are deactivated explicitly, as with ``full_file = false``); and the plan and
snapshot are files in ``out``, not yet recorded in the state directory's ledger.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import math
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from toolkit._casts import reduce_shadows, shadows_where_failed
from toolkit._element_rows import row_key, with_element_keys
from toolkit._refusals import refuse_source
from toolkit.batches import Batch, Group, batch_id, limits_split, make_batches
from toolkit.checks import CheckResult, checks_digest, combine, enforce, validate
from toolkit.config import Feed, Policies, Settings
from toolkit.diff import Diff, concat_diffs, diff_frames
from toolkit.entities import Entity, get_entity
from toolkit.errors import PlanError
from toolkit.hashdiff import Found, diff_on_hashes
from toolkit.locks import process_gone, process_started
from toolkit.payloads import build_header, item_columns, join_items
from toolkit.plan_model import (
    ORIGINS,
    ORIGINS_IN_MEMORY,
    FeedKind,
    KindOption,
    Plan,
    batch_file,
    guard,
    plan_id,
    save_plan,
)
from toolkit.plan_parts import (
    Parts,
    Rights,
    change_parts,
    cleared_columns,
    full_groups,
    full_parts,
    full_rows,
    lacking_fields,
)
from toolkit.planning import (
    FULL_FILE_OFF,
    choose_kind,
    data_columns,
    digest_totals,
    fold_totals,
    hash_totals,
    hold_rejected,
    rights_of,
    summarize,
)
from toolkit.rowhash import RowHashes, hash_rows
from toolkit.snapshots import DROPPED, SnapshotStore, file_sha256, part_file, scan_part

__all__ = ["STREAMED", "StreamedSnapshot", "in_parts", "plan_in_store", "plan_streamed"]

STREAMED = frozenset({"sku_prices", "onhands", "relations", "companies"})
"""The entities a streamed plan takes: one item per row, removed items deactivated by IsActive."""

ROWS_PER_PARTITION = 2_000_000
META = "meta.json"
_PART = "__part"


@dataclass(frozen=True)
class StreamedSnapshot:
    """A snapshot written in partitions of key ranges: ``part-NNNNN.parquet`` (rows) and
    ``hashes-NNNNN.parquet`` (their row hashes) per partition, and ``meta.json``."""

    path: Path
    id: str
    rows: int
    column: str
    """The key column the partitions are ranges of."""
    bounds: tuple[Any, ...]
    """Partition ``i`` holds the rows whose ``column`` is at least ``bounds[i - 1]`` and below
    ``bounds[i]``."""
    key: tuple[str, ...]
    signature: dict[str, Any] = field(repr=False)
    columns: tuple[str, ...] = field(default=(), repr=False)
    totals: tuple[int, int, int] | None = field(default=None, repr=False)
    """`hash_totals` of all its rows (None: written before they were kept)."""
    checks: str | None = field(default=None, repr=False)
    """`checks_digest` of the checks its rows passed (None: not known)."""

    @property
    def parts(self) -> int:
        return len(self.bounds) + 1

    def rows_of(self, part: int) -> pl.DataFrame:
        """Partition ``part``'s rows in key order."""
        rows = scan_part(self.path, part).collect()
        return rows[self._order(rows)] if self._patched(part) else rows

    def hashes_of(self, part: int) -> RowHashes:
        """Partition ``part``'s row hashes, in the order of `rows_of`."""
        return self.part(part)[1]

    def part(self, part: int) -> tuple[pl.DataFrame, RowHashes]:
        """Partition ``part``'s rows in key order and their row hashes (a partition a change plan
        patched is sorted once, for both)."""
        rows, hashes = pl.collect_all([scan_part(self.path, part), scan_part(self.path, part, "hashes")])
        if self._patched(part):
            order = self._order(rows)
            rows, hashes = rows[order], hashes[order]
        return rows, RowHashes(hashes, self.signature)

    def _patched(self, part: int) -> bool:
        """Whether a change plan patched the partition (its rows are then not in key order)."""
        return any(part_file(self.path, part, f).exists() for f in (DROPPED, "delta-part"))

    def _order(self, rows: pl.DataFrame) -> pl.Series:
        return rows.select(pl.arg_sort_by(self.key)).to_series()

    @classmethod
    def open(cls, path: str | Path) -> StreamedSnapshot:
        """The snapshot in ``path`` (PlanError when it is not one)."""
        path = Path(path)
        try:
            meta = orjson.loads((path / META).read_bytes())
        except (FileNotFoundError, orjson.JSONDecodeError) as exc:
            msg = f"{path}: not a streamed snapshot ({exc})"
            raise PlanError(msg) from None
        return cls(
            path=path,
            id=meta["id"],
            rows=meta["rows"],
            column=meta["column"],
            bounds=tuple(meta["bounds"]),
            key=tuple(meta["key"]),
            signature=meta["signature"],
            columns=tuple(meta["columns"]),
            totals=tuple(int(t) for t in meta["totals"]) if "totals" in meta else None,  # type: ignore[arg-type]
            checks=meta.get("checks"),
        )


def plan_streamed(
    settings: Settings,
    feed: Feed,
    *,
    out: str | Path,
    kind: FeedKind,
    now: datetime,
    source: str | Path | None = None,
    baseline: str | Path | None = None,
    allow: bool = False,
    reason: str | None = None,
    rows_per_partition: int = ROWS_PER_PARTITION,
    progress: Callable[[dict[str, Any]], None] | None = None,
    baseline_id: str | None = None,
    why: str | None = None,
) -> Plan:
    """Plan ``feed`` a partition at a time into ``out/plan`` (the saved plan) and ``out/snapshot``.

    ``baseline`` is the ``snapshot`` folder of the plan last accepted (None: none yet); the new
    snapshot is partitioned by its bounds, or, without one, by bounds sampled from the source so
    that partitions hold about ``rows_per_partition`` rows. Raises what `plan_feed` raises (checks,
    guard, refused sources) and PlanError for an entity it does not take (`STREAMED`).
    """
    entity = get_entity(feed.entity)
    if entity.name not in STREAMED:
        msg = (
            f"feed {feed.name!r}: a streamed plan takes {', '.join(sorted(STREAMED))}, not "
            f"{entity.name} (plan it in memory)"
        )
        raise PlanError(msg)
    if kind not in ("change", "full"):
        msg = f"feed {feed.name!r}: a streamed plan is a change or a full feed, not {kind!r}"
        raise PlanError(msg)
    out = Path(out)
    base = StreamedSnapshot.open(baseline) if baseline is not None else None
    run = _Run(settings, feed, entity, out, kind, now, base, allow, reason, progress)
    run.base_id = baseline_id or (base.id if base else None)
    run.why = why or f"{kind} feed asked for" + ("" if base else "; no baseline yet")
    return run.plan(source, rows_per_partition)


def plan_in_store(
    settings: Settings,
    feed: Feed,
    *,
    kind: KindOption,
    source: str | Path | None,
    now: datetime,
    allow: bool,
    reason: str | None,
    store: SnapshotStore,
    plans: Path,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> Plan:
    """`plan_streamed` for ``plan_feed`` (a feed with ``stream = true``): against the feed's baseline
    in ``store`` (a one-file baseline is cut into partitions first), the new snapshot taken into
    ``store`` and the plan left in ``plans/<plan id>``, where submitting it reads its bodies."""
    base = store.baseline(feed.name)
    chosen, why = choose_kind(kind, feed, store, base, now)
    _clear_abandoned(plans, feed.name)
    work = plans / f".streaming-{feed.name}-{uuid.uuid4().hex[:12]}"
    work.mkdir(parents=True)
    (work / PID).write_bytes(orjson.dumps([os.getpid(), process_started(os.getpid())]))
    try:
        key = tuple(feed.key or get_entity(feed.entity).key)
        per_part = feed.policies.rows_per_partition
        baseline = base.path if base is not None and base.path.is_dir() else None
        if baseline is not None:
            meta = StreamedSnapshot.open(baseline)
            if meta.key != key or meta.rows > 2 * per_part * meta.parts:
                baseline = None  # by another key, or grown past twice rows_per_partition: cut again
        if base is not None and baseline is None:
            baseline = work / "baseline"
            in_parts(store.scan(base), key, baseline, per_part=per_part, feed=feed.name)
        plan = plan_streamed(
            settings,
            feed,
            out=work,
            kind=chosen,
            now=now,
            source=source,
            baseline=baseline,
            allow=allow,
            reason=reason,
            rows_per_partition=feed.policies.rows_per_partition,
            progress=progress,
            baseline_id=base.id if base else None,
            why=why,
        )
        snapshot = store.adopt(feed.name, work / "snapshot", kind=chosen)
        final = plans / plan.id
        shutil.rmtree(final, ignore_errors=True)  # the same id: the same batches, planned again
        (work / "plan").rename(final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    batches = tuple(dataclasses.replace(b, file=final / batch_file(b)) if b.file else b for b in plan.batches)
    origins = plan.origins
    if origins is None and (final / ORIGINS).exists():  # too many to keep: read from the plan's file
        origins = pl.scan_parquet(final / ORIGINS)
    return dataclasses.replace(plan, saving=snapshot, baseline=base, batches=batches, origins=origins)


PID = "pid"


def _clear_abandoned(plans: Path, feed: str) -> None:
    """Remove the work folders of ``feed``'s streamed plans whose process is gone (killed mid-plan:
    they may hold gigabytes of partitions and bodies). A live process's folder is left alone."""
    for folder in plans.glob(f".streaming-{feed}-*"):
        try:
            pid, started = orjson.loads((folder / PID).read_bytes())
        except (OSError, ValueError, TypeError):
            pid, started = 0, None
        if pid and not process_gone(pid, started):
            continue
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class _Partial:
    """What a partition leaves behind once its rows are gone."""

    diff: Diff
    check: CheckResult
    totals: tuple[int, int, int]
    """`hash_totals` of the partition's snapshot rows."""
    origins: int
    """Rows written to the plan's origin parts."""
    added: int
    held: int
    lacking: set[str]


@dataclass
class _Run:
    settings: Settings
    feed: Feed
    entity: Entity
    out: Path
    kind: FeedKind
    now: datetime
    base: StreamedSnapshot | None
    allow: bool
    reason: str | None
    progress: Callable[[dict[str, Any]], None] | None
    steps: int = 0
    base_id: str | None = None
    why: str = ""
    schema: pl.Schema = field(default_factory=pl.Schema)
    """The source's columns (a partition with no rows has them too)."""
    seconds: dict[str, float] = field(default_factory=dict)
    """Where the time went (partitioning, checking, diffing, writing the snapshot, batching): the
    last progress event carries it."""

    writing: Future[None] | None = None

    def _write_behind(self, rows: pl.DataFrame, hashes: pl.DataFrame, snapshot: Path, i: int) -> None:
        """Write partition ``i`` of the snapshot on a worker thread while the next one is diffed
        (Parquet writing releases the GIL), one write at a time; `_written` waits for the last."""
        self._written()
        self.writing = _WRITER.submit(_write_part, rows, hashes, snapshot, i)

    def _written(self) -> None:
        if self.writing is not None:
            writing, self.writing = self.writing, None
            writing.result()  # raises the write's error, if any

    @contextmanager
    def timed(self, what: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[what] = self.seconds.get(what, 0.0) + time.perf_counter() - start

    def tell(self, what: str, step: int) -> None:
        if self.progress is not None:
            self.progress(
                {"event": "plan", "feed": self.feed.name, "step": step, "steps": self.steps, "what": what}
            )

    def plan(self, source: str | Path | None, rows_per_partition: int) -> Plan:
        from toolkit.sources import scan_source

        scan = scan_source(self.feed, path=source)
        self.schema = scan.collect_schema()
        columns = self.schema.names()
        key = list(self.feed.key or row_key(self.entity, [c for c in columns if not c.startswith("_")]))
        if self.base is not None and self.base.key != tuple(key):
            msg = (
                f"feed {self.feed.name!r}: the baseline is partitioned by {list(self.base.key)}, the feed's "
                f"key is {key}; plan it with plan_feed, which partitions the baseline again"
            )
            raise PlanError(msg)
        rows, odd = _probe(scan, key)
        baseline_cols = list(self.base.columns) if self.base else None
        refuse_source(
            self.feed,
            odd,
            baseline_cols,
            baseline_rows=self.base.rows if self.base else 0,
            source=source,
            allow=self.allow,
            rows=rows,
        )
        bounds = self._bounds(scan, key[0], rows, rows_per_partition)
        snapshot, plan_dir = self.out / "snapshot", self.out / "plan"
        for folder in (snapshot, plan_dir):
            shutil.rmtree(folder, ignore_errors=True)
        snapshot.mkdir(parents=True)
        (plan_dir / "batches").mkdir(parents=True)
        (plan_dir / ORIGIN_PARTS).mkdir()
        found = None
        hashed = self.feed.policies.max_hashed_rows
        checks = checks_digest(self.entity, [c for c in columns if not c.startswith("_")])
        if (
            self.kind == "change"
            and self.base
            and rows
            and not odd.height
            and max(rows, self.base.rows) <= hashed
            and self.base.checks == checks
        ):
            self.steps = 3
            self.tell(f"hashing {rows:,} rows", 1)
            found = diff_on_hashes(
                self.entity,
                scan,
                key=key,
                baseline=self.base.path,
                signature=self.base.signature,
                totals=self.base.totals,
                partition_of=_partition_of(key[0], bounds),
                snapshot=snapshot,
                timed=self.timed,
                pick=lambda picked: scan_source(self.feed, path=source, rows=picked),
                untrimmed=scan_source(self.feed, path=source, trim=False),
            )
        if found is not None:
            partials = [self._found(found, key, plan_dir / ORIGIN_PARTS)]
        else:
            partials = self._by_partition(scan, key, rows, bounds, odd, snapshot, plan_dir)
        check = combine(self.entity, [p.check for p in partials])
        enforce(self.entity, self.feed.policies, check)
        diff = concat_diffs([p.diff for p in partials])
        rights, notes = self._rights(odd, key)
        valid = sum(p.check.summary["valid"] for p in partials) + sum(p.held for p in partials)
        totals = fold_totals([p.totals for p in partials])
        digest = digest_totals([totals])
        linked = found.linked if found else None
        meta = write_meta(
            snapshot, key, bounds, valid, digest[:16], totals=totals, checks=checks, known=linked
        )
        lacking_any = set().union(*(p.lacking for p in partials))  # in the order memory lists them:
        lacking = [c for c in item_columns(self.entity, meta.columns) if c in lacking_any]
        with self.timed("batching"):
            parts_, batches = self._batches(diff, rights, lacking, key, meta, plan_dir, valid)
        parts_.notes.extend(_said(self.entity, diff, sum(p.held for p in partials), notes))
        profile = self.settings.profile_of(self.feed)
        summary = summarize(
            self.kind,
            self.why,
            diff,
            parts_,
            batches,
            check.rejected.height,
            self.base.rows if self.base else 0,
            profile.rate_limit_per_minute,
            self.feed.policies,
        )
        summary = dataclasses.replace(summary, added=sum(p.added for p in partials))
        with self.timed("batching"):
            origins = _gather_origins(plan_dir, sum(p.origins for p in partials))
        plan = Plan(
            id=plan_id(
                self.feed.name,
                self.kind,
                digest,
                [b.id for b in batches],
                baseline=self.base_id,
            ),
            feed=self.feed.name,
            entity=self.entity.name,
            profile=profile.name,
            kind=self.kind,
            created=self.now,
            saving=None,
            baseline=None,
            batches=batches,
            summary=summary,
            rejected=check.rejected,
            allow_mass_deactivation=self.allow,
            override_reason=self.reason,
            diff=diff,
            origins=origins,
        )
        with self.timed("batching"):
            save_plan(plan, plan_dir)
        if self.progress is not None:
            what = f"{len(batches):,} requests planned"
            seconds = {k: round(v, 2) for k, v in self.seconds.items()}
            self.progress(
                {"event": "plan", "feed": self.feed.name, "step": self.steps, "steps": self.steps}
                | {"what": what, "seconds": seconds}
            )
        return plan

    def _by_partition(
        self,
        scan: pl.LazyFrame,
        key: list[str],
        rows: int,
        bounds: tuple[Any, ...],
        odd: pl.DataFrame,
        snapshot: Path,
        plan_dir: Path,
    ) -> list[_Partial]:
        """Check and diff the source a partition at a time, each written as the new snapshot's."""
        parts = len(bounds) + 1
        self.steps = 2 * parts + 2 if self.kind == "full" else parts + 2
        work = self.out / "work"
        shutil.rmtree(work, ignore_errors=True)
        self.tell(f"partitioning {rows:,} rows into {parts}", 1)
        with self.timed("partitioning"):
            _partition(scan, key[0], bounds, work)
        keyless = odd.filter(pl.any_horizontal(pl.col(k).is_null() for k in key)) if rows else odd
        partials = []
        try:
            for i in range(parts):
                self.tell(f"checking and diffing partition {i + 1} of {parts}", 2 + i)
                partials.append(self._partition(i, work, snapshot, key, keyless, plan_dir / ORIGIN_PARTS))
        except BaseException:
            with contextlib.suppress(Exception):  # the partition's own error is the one to tell
                self._written()
            raise
        with self.timed("writing the snapshot"):
            self._written()
        shutil.rmtree(work, ignore_errors=True)
        return partials

    def _found(self, found: Found, key: list[str], origins: Path) -> _Partial:
        """The one partial of a change plan diffed on hashes (`toolkit.hashdiff`)."""
        self.tell("planning the rows that changed", 2)
        rows = _origins(found.frame, found.diff, key)
        if rows is not None:
            rows.write_parquet(origins / f"{0:05d}.parquet")
        return _Partial(
            diff=found.diff.in_key_order(),
            check=found.check,
            totals=fold_totals(found.totals),
            origins=rows.height if rows is not None else 0,
            added=found.diff.added.height,
            held=found.held,
            lacking=set(),
        )

    def _rights(self, odd: pl.DataFrame, key: list[str]) -> tuple[Rights, list[str]]:
        """The feed's rights and notes as in memory with ``full_file = false`` (a streamed plan
        sends no FullFile), that note said so where the feed's policy would have sent it."""
        policies = self.feed.policies
        off = dataclasses.replace(self.feed, policies=dataclasses.replace(policies, full_file=False))
        rights, notes = rights_of(
            self.settings,
            off,
            self.entity,
            odd,
            odd.clear().select("_source", "_row"),
            key=key,
            asked=self.kind,
            first=self.base is None,
            allow=self.allow,
        )
        if self.kind == "change":
            notes = [n for n in notes if n != FULL_FILE_OFF]
        elif policies.full_file:
            notes = [STREAMED_FULL_FILE if n == FULL_FILE_OFF else n for n in notes]
        return rights, notes

    def _bounds(self, scan: pl.LazyFrame, column: str, rows: int, per_part: int) -> tuple[Any, ...]:
        if self.base is not None and self.base.column == column:
            return self.base.bounds
        return sample_bounds(scan, column, rows, per_part, feed=self.feed.name)

    def _partition(
        self, i: int, work: Path, snapshot: Path, key: list[str], keyless: pl.DataFrame, origins: Path
    ) -> _Partial:
        with self.timed("reading"):
            frame = _read_part(work, i, self.schema)
        with self.timed("checking"):
            check = validate(self.entity, frame, policies=Policies(max_reject_ratio=1.0))
            valid = with_element_keys(self.entity, data_columns(check.valid))
        with self.timed("diffing"):
            hashes = hash_rows(valid, key=key)
            if self.base is None:
                diff = diff_frames(valid.clear(), valid, key=key, current_hashes=hashes)
            else:
                base_rows, base_hashes = self.base.part(i)
                diff = diff_frames(
                    base_rows, valid, key=key, baseline_hashes=base_hashes, current_hashes=hashes
                )
            # a rejected row without a complete key may stand for a removed row of any partition
            odd = keyless.join(frame.select("_source", "_row"), on=["_source", "_row"], how="anti")
            both = pl.concat([frame, odd], how="diagonal_relaxed") if odd.height else frame
            rejected = check.rejected
            if odd.height:
                rejected = pl.concat([rejected, odd.select("_source", "_row")], how="diagonal_relaxed")
            diff, held, hashes = hold_rejected(diff, valid, both, rejected, key=key, hashes=hashes)
        with self.timed("writing the snapshot"):
            rows = pl.concat([valid, held]) if held.height else valid
            order = rows.select(pl.arg_sort_by(key)).to_series()
            rows, row_hashes = rows[order], hashes.frame[order]
            self._write_behind(rows, row_hashes, snapshot, i)
        found = _origins(frame, diff, key)
        if found is not None:
            found.write_parquet(origins / f"{i:05d}.parquet")
        added = diff.added.height
        if self.kind == "full":  # a full feed sends every row from the snapshot: the added ones only count
            diff = dataclasses.replace(diff, added=diff.added.clear())
        return _Partial(
            diff=diff.in_key_order(),
            check=dataclasses.replace(check, valid=check.valid.clear()),
            totals=hash_totals(row_hashes),
            origins=found.height if found is not None else 0,
            added=added,
            held=held.height,
            lacking=set(lacking_fields(self.entity, rows)),
        )

    def _batches(
        self,
        diff: Diff,
        rights: Rights,
        lacking: list[str],
        key: list[str],
        snapshot: StreamedSnapshot,
        plan_dir: Path,
        valid: int,
    ) -> tuple[Parts, tuple[Batch, ...]]:
        policies, account = self.feed.policies, self.feed.account
        assert account is not None
        flags = self.feed.header_flags
        if self.kind == "change":
            parts = change_parts(self.entity, diff, policies, rights)
            self._guard(valid, parts)
            return parts, make_batches(
                self.entity, parts.groups, account=account, policies=policies, flags=flags
            )
        empty = snapshot.rows_of(0).head(0)
        parts = full_parts(self.entity, empty, diff, policies, rights, lacking=lacking)
        self._guard(valid, parts)
        main, *tail = parts.groups
        if not (main.frame.is_empty() and main.label == "full"):
            msg = "a streamed full plan expects its items' group first"
            raise PlanError(msg)
        streams = _Streams(self.entity, account, policies, flags, plan_dir)
        clear = cleared_columns(self.entity, diff)
        for i in range(snapshot.parts):
            self.tell(
                f"writing the requests of partition {i + 1} of {snapshot.parts}", 2 + snapshot.parts + i
            )
            rows = full_rows(self.entity, snapshot.rows_of(i), diff, rights)
            group, extra = full_groups(self.entity, rows, clear, Parts(), lacking=lacking)
            for g in [group, *extra]:
                streams.add(g)
        made = streams.close()
        rest = make_batches(self.entity, tail, account=account, policies=policies, flags=flags)
        n, groups = len(made), streams.count
        rest = tuple(dataclasses.replace(b, index=b.index + n, group=b.group + groups) for b in rest)
        return parts, (*made, *rest)

    def _guard(self, valid: int, parts: Parts) -> None:
        base = self.base.rows if self.base else 0
        guard(
            self.feed,
            self.kind,
            valid=valid,
            baseline=base,
            deactivating=parts.deactivating,
            allow=self.allow,
        )


STREAMED_FULL_FILE = "FullFile off: a streamed full plan deactivates removed items explicitly"


def sample_bounds(scan: pl.LazyFrame, column: str, rows: int, per_part: int, *, feed: str) -> tuple[Any, ...]:
    """Bounds of ``column`` that cut ``rows`` rows into partitions of about ``per_part``, from a
    sample of the column (every few thousandth value, read by the streaming engine)."""
    parts = max(1, math.ceil(rows / max(per_part, 1)))
    if parts == 1:
        return ()
    dtype = scan.collect_schema()[column]
    if not (dtype == pl.String or dtype.is_integer()):
        msg = f"feed {feed!r}: a streamed plan partitions by {column}, which must be text or a whole number"
        raise PlanError(msg)
    every = max(1, rows // (parts * 256))  # rows picked by a hash of their position: every stride
    picked_rows = pl.col("__i").hash(0x5EED) % every == 0  # of a sorted export would see a few values
    sample = (
        scan.select(pl.col(column)).with_row_index("__i").filter(picked_rows).select(column).drop_nulls()
    ).collect(engine="streaming")
    values = sample[column].sort()
    picked = [values[int(len(values) * i / parts)] for i in range(1, parts)] if len(values) else []
    return tuple(sorted(set(picked)))


def write_meta(
    snapshot: Path,
    key: Sequence[str],
    bounds: tuple[Any, ...],
    rows: int,
    snap_id: str,
    *,
    totals: tuple[int, int, int],
    checks: str | None = None,
    known: dict[str, str] | None = None,
) -> StreamedSnapshot:
    """``meta.json`` of the partitions written in ``snapshot`` (``totals``: `hash_totals` of all their
    rows; ``checks``: the `checks_digest` they passed), with every file's sha256 (those of ``known``,
    files linked from a baseline, as given)."""
    first = snapshot / "part-00000.parquet"
    meta = StreamedSnapshot(
        path=snapshot,
        id=snap_id,
        rows=rows,
        column=key[0],
        bounds=bounds,
        key=tuple(key),
        signature=hash_rows(pl.read_parquet(first, n_rows=1), key=list(key)).signature,
        columns=tuple(pl.read_parquet_schema(first)),
        totals=totals,
        checks=checks,
    )
    data: dict[str, Any] = {
        f.name: getattr(meta, f.name) for f in dataclasses.fields(meta) if f.name not in ("path", "totals")
    }
    data["totals"] = [str(t) for t in totals]  # u64 sums: text, as JSON readers may not take them
    known = known or {}
    data["files"] = {f.name: known.get(f.name) or file_sha256(f) for f in sorted(snapshot.glob("*.parquet"))}
    (snapshot / META).write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    return meta


def in_parts(
    rows: pl.LazyFrame, key: Sequence[str], folder: Path, *, per_part: int, feed: str
) -> StreamedSnapshot:
    """A snapshot of ``rows`` (a stored one-file snapshot) in partitions: the baseline of a feed's
    first streamed plan."""
    key = list(key)
    count = rows.select(pl.len()).collect(engine="streaming").item()
    bounds = sample_bounds(rows, key[0], count, per_part, feed=feed)
    work = folder.with_name(folder.name + ".work")
    _partition(rows, key[0], bounds, work)
    folder.mkdir(parents=True, exist_ok=True)
    digests = []
    for i in range(len(bounds) + 1):
        part = _read_part(work, i, rows.collect_schema())
        part = part[part.select(pl.arg_sort_by(key)).to_series()]
        hashes = hash_rows(part, key=key).frame
        part.write_parquet(folder / f"part-{i:05d}.parquet")
        hashes.write_parquet(folder / f"hashes-{i:05d}.parquet")
        digests.append(hash_totals(hashes))
    shutil.rmtree(work, ignore_errors=True)
    totals = fold_totals(digests)
    return write_meta(folder, key, bounds, count, digest_totals([totals])[:16], totals=totals)


_WRITER = ThreadPoolExecutor(1, thread_name_prefix="snapshot-parts")


def _write_part(rows: pl.DataFrame, hashes: pl.DataFrame, snapshot: Path, i: int) -> None:
    rows.write_parquet(snapshot / f"part-{i:05d}.parquet", compression_level=1)  # zstd 3 is 20 % slower
    hashes.write_parquet(snapshot / f"hashes-{i:05d}.parquet", compression_level=1)


def _said(entity: Entity, diff: Diff, held: int, notes: list[str]) -> list[str]:
    cleared = cleared_columns(entity, diff)
    said = [f"values cleared in the source are sent as null ({', '.join(cleared)})"] if cleared else []
    if held:
        said.append(
            f"{held} items whose rows were rejected keep their baseline values "
            "(neither changed nor deactivated)"
        )
    return [*said, *notes]


def _origins(frame: pl.DataFrame, diff: Diff, key: list[str]) -> pl.DataFrame | None:
    if not {"_source", "_row", *key} <= set(frame.columns):
        return None
    touched = pl.concat([diff.added.select(key), diff.changed.select(key)])
    rows = frame.select(*key, "_source", "_row")
    rows = rows.with_columns(pl.col(k).cast(touched.schema[k]) for k in key)
    return rows.join(touched, on=key, how="semi", nulls_equal=False)


ORIGIN_PARTS = "origins-parts"


def _gather_origins(plan_dir: Path, rows: int) -> pl.DataFrame | None:
    """The partitions' origins as the plan's ``origins.parquet`` (streamed, not collected); returned
    when small enough to keep, else None (the file has them)."""
    parts = sorted((plan_dir / ORIGIN_PARTS).glob("*.parquet"))
    kept = None
    if parts:
        pl.scan_parquet(parts).sink_parquet(plan_dir / ORIGINS, engine="streaming")
        kept = pl.read_parquet(plan_dir / ORIGINS) if rows <= ORIGINS_IN_MEMORY else None
    shutil.rmtree(plan_dir / ORIGIN_PARTS, ignore_errors=True)
    return kept


def _probe(scan: pl.LazyFrame, key: list[str]) -> tuple[int, pl.DataFrame]:
    """The source's row count, and its rows that need a look before planning: those with an
    ``_error`` (a cut-off file) or without a complete key (they may stand for any removed item)."""
    schema = scan.collect_schema()
    odd = pl.any_horizontal(pl.col(k).is_null() for k in key if k in schema)
    if "_error" in schema:
        odd = odd | pl.col("_error").is_not_null()
    rows, found = pl.collect_all([scan.select(pl.len()), scan.filter(odd)], engine="streaming")
    return rows.item(), reduce_shadows(found)


def _partition_of(column: str, bounds: tuple[Any, ...]) -> pl.Expr:
    """The partition of a row: how many bounds its key column is at or above (nulls: the first)."""
    if not bounds:
        return pl.lit(0, dtype=pl.UInt32)
    return pl.sum_horizontal((pl.col(column) >= b).fill_null(False).cast(pl.UInt32) for b in bounds)


def _partition(scan: pl.LazyFrame, column: str, bounds: tuple[Any, ...], work: Path) -> None:
    """The source in partition files (Arrow IPC with lz4: written and read at near memory speed, a
    fifth of the bytes), the text of a value kept only where its cast failed."""
    shadows = shadows_where_failed(scan.collect_schema().names())
    scan.with_columns(*shadows, _partition_of(column, bounds).alias(_PART)).sink_ipc(
        pl.PartitionBy(work, key=_PART, include_key=False), mkdir=True, engine="streaming", compression="lz4"
    )


def _read_part(work: Path, i: int, schema: pl.Schema) -> pl.DataFrame:
    """Partition ``i`` of the rows `_partition` wrote (none: an empty frame of ``schema``)."""
    folder = work / f"{_PART}={i}"
    files = sorted(folder.glob("*.ipc")) if folder.exists() else []
    frame = pl.scan_ipc(files).collect() if files else pl.DataFrame(schema=schema)
    return reduce_shadows(frame)


@dataclass
class _Stream:
    header: dict[str, Any]
    header_json: str
    group: int
    pending: pl.Series | None = None
    made: list[Batch] = field(default_factory=list)


class _Streams:
    """Items of the full feed's groups, a partition at a time, cut into requests as in memory
    (`toolkit.batches.make_batches`): a request still open when a partition ends takes the next
    partition's first items. Each body is written to ``plan_dir`` once cut."""

    def __init__(
        self, entity: Entity, account: int, policies: Policies, flags: Sequence[str], plan_dir: Path
    ) -> None:
        self.entity, self.account, self.policies, self.flags = entity, account, policies, flags
        self.plan_dir = plan_dir
        self.streams: dict[tuple[Any, ...], _Stream] = {}
        self.written = 0

    @property
    def count(self) -> int:
        return len(self.streams)

    def add(self, group: Group) -> None:
        if group.frame.is_empty():
            return
        fields = group.fields if group.fields is not None else item_columns(self.entity, group.frame.columns)
        ident = (group.label, tuple(fields), group.clear, group.full_file)
        stream = self.streams.get(ident)
        if stream is None:
            header = build_header(
                self.entity, account=self.account, fields=fields, full_file=group.full_file, flags=self.flags
            )
            stream = _Stream(header, orjson.dumps(header).decode(), len(self.streams))
            self.streams[ident] = stream
        json = group.encoded(self.entity)
        items = json if stream.pending is None else pl.concat([stream.pending, json])
        cuts = limits_split(items, self.policies)
        for offset, length in cuts[:-1]:
            self._emit(stream, items.slice(offset, length))
        last = cuts[-1]
        stream.pending = items.slice(*last)

    def close(self) -> tuple[Batch, ...]:
        out: list[Batch] = []
        for stream in self.streams.values():
            if stream.pending is not None and stream.pending.len():
                self._emit(stream, stream.pending)
            stream.pending = None
            for b in stream.made:
                final = dataclasses.replace(b, index=len(out))
                target = self.plan_dir / batch_file(final)
                assert b.file is not None
                b.file.replace(target)
                out.append(dataclasses.replace(final, file=target))
        _sync(self.plan_dir / "batches")
        return tuple(out)

    def _emit(self, stream: _Stream, items: pl.Series) -> None:
        body = join_items(items)
        digest = batch_id(self.entity.endpoint, stream.header_json, body)
        path = self.plan_dir / "batches" / f"cut-{self.written:06d}.json"
        self.written += 1
        path.write_bytes(body)
        stream.made.append(
            Batch(
                id=digest,
                index=-1,
                entity=self.entity.name,
                endpoint=self.entity.endpoint,
                header=stream.header,
                data=None,
                item_count=items.len(),
                group=stream.group,
                file=path,
                sha256=hashlib.sha256(body).hexdigest(),
                nbytes=len(body),
            )
        )


def _sync(folder: Path) -> None:
    """Every body on disk before the manifest names them (one sync, not one per file)."""
    os.sync()
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def iter_partitions(snapshot: StreamedSnapshot) -> Iterator[pl.DataFrame]:
    """A streamed snapshot's rows, a partition at a time, in key order."""
    for i in range(snapshot.parts):
        yield snapshot.rows_of(i)

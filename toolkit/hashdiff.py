"""A change plan's diff on row hashes first, and the patched snapshot it leaves.

A daily change feed of a large flat feed changes a few rows in a hundred. `diff_on_hashes` finds
them without partitioning the source or reading the baseline's rows:

1. one pass of the streaming engine over the source hashes every row as `toolkit.rowhash` hashed the
   baseline's rows (in its columns and dtypes), the text untrimmed: trimming is half of the pass, and
   a row with spaces to trim only hashes unlike its baseline row, so it is read again (3.);
2. the row hashes of both sides are sorted, a core per side, and merged: a hash found once is a row
   on one side only (changed, added or removed); a row whose hash is on both sides is unchanged, and
   is not checked again (the caller makes sure the baseline's rows passed the same checks);
3. only the rows that differ are read again: the source's by ``_row`` in their own file, picked as
   the file is read, the baseline's from the partitions that hold them; they are checked and diffed
   as a small frame, as in memory.

The new snapshot is the baseline patched: each partition's files are hard-linked into it, with the
row numbers it drops and the rows it adds beside them (`toolkit.snapshots.scan_part`); a partition
whose patch outgrows a quarter of its file is written again whole.

It answers None (the caller plans a partition at a time) where the shortcut could differ from a
plan of every row: a source whose columns or dtypes are not the baseline's, or with a key on two
rows (the checks collapse or reject those rows).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import polars as pl

from toolkit._casts import reduce_shadows, shadows_where_failed
from toolkit._element_rows import with_element_keys
from toolkit.checks import CheckResult, combine, validate
from toolkit.config import Policies
from toolkit.diff import Diff, diff_frames
from toolkit.entities import Entity
from toolkit.errors import SourceError
from toolkit.planning import data_columns, hash_totals, hold_rejected
from toolkit.rowhash import KEY_HASH, ROW_HASH, hash_exprs, hash_rows, plan_columns
from toolkit.snapshots import DROPPED, part_count, part_file, scan_part

__all__ = ["COMPACT_AT", "Found", "diff_on_hashes"]

COMPACT_AT = 0.25
"""A patched partition is written again whole once its dropped and added rows pass this share of
its file's rows (reading it then costs little more than reading the file)."""

_I, _P, _O, _BAD = "__i", "__p", "__o", "__bad"

Timer = Callable[[str], AbstractContextManager[None]]
Pick = Callable[[list[pl.Series]], pl.LazyFrame]


@dataclass(frozen=True)
class Found:
    """What `diff_on_hashes` found, and left in the new snapshot's folder."""

    diff: Diff
    """Changed, added and removed rows (rejected rows' items held), unchanged counted."""
    check: CheckResult
    """The check of the rows that differ, counted as a check of every source row (an unchanged row
    is a row Norce accepted, checked the same way then)."""
    frame: pl.DataFrame
    """The source rows that differ, as read (with ``_source`` and ``_row``)."""
    totals: tuple[tuple[int, int, int], ...]
    """`hash_totals` of the new snapshot's rows, in parts (the baseline's, less the rows gone, plus
    the rows added)."""
    held: int
    linked: dict[str, str]
    """Files linked from the baseline, with their sha256 (known, not read again)."""


def diff_on_hashes(
    entity: Entity,
    scan: pl.LazyFrame,
    *,
    key: list[str],
    baseline: Path,
    signature: dict[str, Any],
    totals: tuple[int, int, int] | None,
    partition_of: pl.Expr,
    snapshot: Path,
    timed: Timer,
    pick: Pick | None = None,
    untrimmed: pl.LazyFrame | None = None,
) -> Found | None:
    """Diff the source ``scan`` against the partitioned snapshot in ``baseline`` (row hashes of
    ``signature``, `hash_totals` ``totals`` when known) on row hashes, and write the new snapshot's
    partitions into ``snapshot`` (the baseline's, patched; ``partition_of`` gives a row's
    partition). ``pick`` gives the source of only some rows, by ``_row`` in each file
    (`toolkit.sources.scan_source` with ``rows``): those are then read without trimming and casting
    the rest again. ``untrimmed`` is the source read without trimming its text (``trim=False``),
    hashed faster: a row with text to trim hashes unlike its baseline row and is read again,
    trimmed; a row that hashes like one is that row, trimmed or not. None where it does not apply
    (see the module's docstring); the caller then plans every row."""
    schema = scan.collect_schema()
    data = [c for c in schema.names() if not c.startswith("_")]
    base_schema = pl.read_parquet_schema(part_file(baseline, 0, "part"))
    if sorted(data) != sorted(base_schema):
        return None
    spec = plan_columns(tuple(key), pl.Schema(base_schema), pl.Schema({c: schema[c] for c in data}), None)
    if spec.signature != signature:
        return None
    shadows = shadows_where_failed(schema.names())
    bad = pl.any_horizontal(s.is_not_null() for s in shadows) if shadows else pl.lit(False)
    with timed("hashing"), ThreadPoolExecutor(1) as pool:
        reading = pool.submit(_base_hashes, baseline)  # the baseline's hashes, read meanwhile
        row_hash = hash_exprs(spec, schema)[1]  # it covers the key
        where = [pl.col("_row").cast(pl.UInt32)] if pick and "_row" in schema else []
        hashed = untrimmed if untrimmed is not None else scan
        source = hashed.select(row_hash, bad.alias(_BAD), *where).collect(engine="streaming")
        base, starts = reading.result()
    with timed("matching"):
        once = _found_once(source[ROW_HASH], base[ROW_HASH]).implode()
        with ThreadPoolExecutor(2) as pool:  # polars lets go of the GIL: side by side
            in_source, in_base = pool.map(lambda s: s.is_in(once), (source[ROW_HASH], base[ROW_HASH]))
        if source.height - in_source.sum() != base.height - in_base.sum():
            return None  # a row repeated whole: the checks collapse it, the slow way
        differs = (in_source | source[_BAD]).arg_true()
        all_totals = [totals or hash_totals(base), _less(hash_totals(base.filter(in_base)))]
        gone = _located(in_base.arg_true().to_numpy(), starts)
    with timed("reading"):
        picked = _picked(scan, pick, source, differs)
        frame, *before_parts = pl.collect_all([picked, *_rows_at(baseline, gone)], engine="streaming")
        frame = reduce_shadows(frame)
        if frame.height != differs.len():
            msg = f"{frame.height} source rows read again where {differs.len()} were asked for"
            raise SourceError(msg)
        before = pl.concat(before_parts) if before_parts else pl.DataFrame(schema=base_schema)
        # A key on a row that differs and on one that does not (the checks reject or collapse such
        # rows: the slow way). Only a key no differing baseline row has can be on an unchanged one.
        keys = frame.select(hash_exprs(spec, frame.schema)[0]).to_series()
        known = before.select(hash_exprs(spec, before.schema)[0]).to_series()
        new = keys.filter(~keys.is_in(known.implode())).implode()
        if (base[KEY_HASH].is_in(new) & ~in_base).any():
            return None
        same = source.height - frame.height
        del source, base
    with timed("checking"):
        check = validate(entity, frame, policies=Policies(max_reject_ratio=1.0))
        valid = with_element_keys(entity, data_columns(check.valid))
    with timed("diffing"):
        hashes = hash_rows(valid, key=key)
        diff = diff_frames(before, valid, key=key, current_hashes=hashes)
        diff, held, hashes = hold_rejected(diff, valid, frame, check.rejected, key=key, hashes=hashes)
        diff = dataclasses.replace(diff, unchanged=diff.unchanged + same)
    unchanged = CheckResult(check.valid.clear(), check.rejected.clear(), {"rows": same, "valid": same})
    check = combine(entity, [check, unchanged])
    with timed("writing the snapshot"):
        added = pl.concat([valid, held]) if held.height else valid
        added = added.select(pl.col(c).cast(t) for c, t in base_schema.items())
        parts = part_count(baseline)
        linked = _patch(baseline, snapshot, gone, added, hashes.frame, partition_of, key=key, parts=parts)
        all_totals.append(hash_totals(hashes.frame))
    return Found(
        diff=diff,
        check=check,
        frame=frame,
        totals=tuple(all_totals),
        held=held.height,
        linked=linked,
    )


def _base_hashes(baseline: Path) -> tuple[pl.DataFrame, np.ndarray]:
    """The baseline's row hashes, its partitions one after another, and where each one starts."""
    frames = pl.collect_all([scan_part(baseline, i, "hashes") for i in range(part_count(baseline))])
    return pl.concat(frames), np.cumsum([0, *(f.height for f in frames)])


def _picked(scan: pl.LazyFrame, pick: Pick | None, source: pl.DataFrame, at: pl.Series) -> pl.LazyFrame:
    """The source rows at positions ``at``: by file and ``_row`` where ``pick`` can read them so,
    else by position in the whole source (every row trimmed and cast again to count them)."""
    if pick is not None and "_row" in source.columns:
        # a file's rows come together and start at _row 1: file k is the k-th run (when no file is empty)
        starts = (source["_row"] == 1).arg_true().to_numpy()
        rows = source["_row"][at]
        cuts = [*np.searchsorted(at.to_numpy(), starts[1:]), rows.len()]  # ``at`` ascends
        by_file = [rows.slice(a, b - a) for a, b in zip([0, *cuts[:-1]], cuts, strict=True)]
        with contextlib.suppress(SourceError):  # as many runs as files, or an empty file
            return pick(by_file)
    return scan.with_row_index(_I).filter(pl.col(_I).is_in(at.implode())).drop(_I)


def _less(totals: tuple[int, int, int]) -> tuple[int, int, int]:
    """`hash_totals` that take ``totals`` away when added up (`digest_totals`)."""
    count, total, xor = totals
    return -count, (-total) % 2**64, xor


def _found_once(source: pl.Series, base: pl.Series) -> pl.Series:
    """The row hashes found on one side only.

    Each side's hashes are distinct (their keys are, and a row hash covers the key), so a hash on
    both sides comes twice when both are sorted together. Each side is sorted on a core of its own
    (numpy's sort lets go of the GIL), then each half of the hash range is merged on its own: a
    third of the time of a hash set of a hundred million values per side.
    """
    sides = [_copy(source), _copy(base)]
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(np.ndarray.sort, sides))
        a, b = sides
        cut_a, cut_b = (int(np.searchsorted(x, np.uint64(2**63))) for x in sides)
        halves = [np.concatenate([a[:cut_a], b[:cut_b]]), np.concatenate([a[cut_a:], b[cut_b:]])]
        del sides, a, b
        found = list(pool.map(_alone, halves))
    return pl.Series(ROW_HASH, np.concatenate(found))


def _copy(hashes: pl.Series) -> np.ndarray:
    """The hashes in a numpy array of their own (to sort in place), copied chunk by chunk: twice as
    fast as ``to_numpy`` of a series in many chunks."""
    return (
        np.concatenate([c.to_numpy() for c in hashes.get_chunks()])
        if hashes.len()
        else hashes.to_numpy().copy()
    )


def _alone(values: np.ndarray) -> np.ndarray:
    """The values found once in ``values``, two sorted runs (merged in place)."""
    values.sort(kind="stable")  # a merge of the two runs
    same = values[1:] == values[:-1]
    alone = np.ones(values.size, dtype=bool)
    alone[1:] &= ~same
    alone[:-1] &= ~same
    return values[alone]


def _located(at: np.ndarray, starts: np.ndarray) -> pl.DataFrame:
    """Positions ``at`` in the partitions' rows one after another, as (partition, row)."""
    part = np.searchsorted(starts, at, side="right") - 1
    return pl.DataFrame(
        {_P: pl.Series(part, dtype=pl.UInt32), _O: pl.Series(at - starts[part], dtype=pl.UInt32)}
    )


def _rows_at(baseline: Path, at: pl.DataFrame) -> list[pl.LazyFrame]:
    """The baseline rows at (partition, row) ``at``, one query per partition that holds some."""
    queries = []
    for (part,), rows in at.group_by(_P, maintain_order=True):
        wanted = rows[_O].implode()
        lf = scan_part(baseline, int(part)).with_row_index(_O).filter(pl.col(_O).is_in(wanted))
        queries.append(lf.drop(_O))
    return queries


def _patch(
    baseline: Path,
    snapshot: Path,
    gone: pl.DataFrame,
    added: pl.DataFrame,
    hashes: pl.DataFrame,
    partition_of: pl.Expr,
    *,
    key: list[str],
    parts: int,
) -> dict[str, str]:
    """Write the new snapshot's partitions: each baseline partition less its ``gone`` rows
    (partition, row), plus the ``added`` rows (with their ``hashes``) that fall in it. Returns the
    files linked from the baseline, with their sha256."""
    known = orjson.loads((baseline / "meta.json").read_bytes())["files"]
    gone_by = {int(k[0]): v[_O] for k, v in gone.partition_by(_P, as_dict=True).items()}
    both = pl.concat([added, hashes], how="horizontal").with_columns(partition_of.alias(_P))
    added_by = {int(k[0]): v.drop(_P) for k, v in both.partition_by(_P, as_dict=True).items()}
    columns, none = added.columns, both.clear().drop(_P)
    linked: dict[str, str] = {}
    for i in range(parts):
        part = _Patch.of(baseline, i)
        part.drop(gone_by.get(i, pl.Series(_O, [], pl.UInt32)))
        here = added_by.get(i, none)
        part.add(here.select(columns), here.select(KEY_HASH, ROW_HASH))
        if part.patched_rows > COMPACT_AT * part.file_rows:
            part.write_whole(snapshot, key)
        else:
            linked |= part.write_patch(snapshot, known)
    return linked


@dataclass
class _Patch:
    """One partition of the new snapshot: the baseline partition's file, less the rows dropped
    (by row number in the file), plus the rows added (with their hashes)."""

    baseline: Path
    i: int
    file_rows: int
    dropped: np.ndarray
    """Row numbers of the file's rows the partition no longer has (sorted, distinct)."""
    delta: pl.DataFrame
    delta_hashes: pl.DataFrame

    @classmethod
    def of(cls, baseline: Path, i: int) -> _Patch:
        """Partition ``i`` as the baseline has it (its own patch included)."""
        file = part_file(baseline, i, "part")
        file_rows = pl.scan_parquet(file).select(pl.len()).collect().item()
        dropped_file = part_file(baseline, i, DROPPED)
        dropped = np.empty(0, dtype=np.uint32)
        if dropped_file.exists():
            dropped = pl.read_parquet(dropped_file).to_series().to_numpy()
        delta_file = part_file(baseline, i, "delta-part")
        if delta_file.exists():
            delta = pl.read_parquet(delta_file)
            delta_hashes = pl.read_parquet(part_file(baseline, i, "delta-hashes"))
        else:
            delta = pl.DataFrame(schema=pl.read_parquet_schema(file))
            delta_hashes = pl.DataFrame(schema=pl.read_parquet_schema(part_file(baseline, i, "hashes")))
        return cls(baseline, i, file_rows, dropped.astype(np.uint32), delta, delta_hashes)

    @property
    def patched_rows(self) -> int:
        return self.dropped.size + self.delta.height

    def drop(self, rows: pl.Series) -> None:
        """Drop the rows ``rows``, numbered as `scan_part` reads the partition: the file's rows left,
        then the added ones."""
        if not rows.len():
            return
        at = rows.to_numpy()
        left = np.setdiff1d(np.arange(self.file_rows, dtype=np.uint32), self.dropped, assume_unique=True)
        self.dropped = np.union1d(self.dropped, left[at[at < left.size]]).astype(np.uint32)
        in_delta = at[at >= left.size] - left.size
        if in_delta.size:
            keep = pl.Series(~np.isin(np.arange(self.delta.height), in_delta))
            self.delta, self.delta_hashes = self.delta.filter(keep), self.delta_hashes.filter(keep)

    def add(self, rows: pl.DataFrame, hashes: pl.DataFrame) -> None:
        if rows.height:
            self.delta = pl.concat([self.delta, rows])
            self.delta_hashes = pl.concat([self.delta_hashes, hashes])

    def write_patch(self, snapshot: Path, known: dict[str, str]) -> dict[str, str]:
        """Link the file and its hashes into ``snapshot``, write what was dropped and added; returns
        the linked files' sha256 (the baseline's meta.json has them: not read again)."""
        linked = {}
        for what in ("part", "hashes"):
            src = part_file(self.baseline, self.i, what)
            _link(src, snapshot / src.name)
            linked[src.name] = known[src.name]
        if self.dropped.size:
            dropped = pl.DataFrame({"row": pl.Series(self.dropped, dtype=pl.UInt32)})
            dropped.write_parquet(part_file(snapshot, self.i, DROPPED), compression_level=1)
        if self.delta.height:
            self.delta.write_parquet(part_file(snapshot, self.i, "delta-part"), compression_level=1)
            self.delta_hashes.write_parquet(part_file(snapshot, self.i, "delta-hashes"), compression_level=1)
        return linked

    def write_whole(self, snapshot: Path, key: list[str]) -> None:
        """Write the partition into ``snapshot`` as one file (and its hashes) again, in key order."""
        keep = np.ones(self.file_rows, dtype=bool)
        keep[self.dropped] = False
        mask = pl.Series(keep)
        rows = pl.read_parquet(part_file(self.baseline, self.i, "part")).filter(mask)
        hashes = pl.read_parquet(part_file(self.baseline, self.i, "hashes")).filter(mask)
        rows, hashes = pl.concat([rows, self.delta]), pl.concat([hashes, self.delta_hashes])
        order = rows.select(pl.arg_sort_by(key)).to_series()
        rows[order].write_parquet(part_file(snapshot, self.i, "part"), compression_level=1)
        hashes[order].write_parquet(part_file(snapshot, self.i, "hashes"), compression_level=1)


def _link(src: Path, dst: Path) -> None:
    """``dst`` as a hard link of ``src`` (a copy where the file system cannot link)."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)

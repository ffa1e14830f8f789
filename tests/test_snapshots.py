"""SnapshotStore: atomic files, manifest, baseline promotion, corruption, retention, row-hash cache."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq
import pytest
from polars.testing import assert_frame_equal

import toolkit.snapshots as snapshots
from toolkit.diff import diff_frames
from toolkit.errors import SnapshotError
from toolkit.snapshots import SnapshotRef, SnapshotStore


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(minutes=1)
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> SnapshotStore:
    return SnapshotStore(tmp_path / "snaps", clock=Clock())


def stock(n: int = 3, offset: int = 0) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "PartNo": [f"P{i}" for i in range(n)],
            "OnhandValue": [i + offset for i in range(n)],
            "_source": ["a.csv"] * n,
            "_row": list(range(1, n + 1)),
        }
    )


def test_save_writes_zstd_parquet_without_metadata_columns(store: SnapshotStore) -> None:
    ref = store.save("stock", stock(), kind="full")
    assert ref.status == "saved" and ref.kind == "full" and ref.rows == 3
    assert ref.created == dt.datetime(2024, 5, 1, 12, 1, tzinfo=dt.UTC)
    assert ref.content_hash == hashlib.sha256(ref.path.read_bytes()).hexdigest()
    assert pq.ParquetFile(ref.path).metadata.row_group(0).column(0).compression == "ZSTD"
    assert_frame_equal(store.load(ref), stock().drop("_source", "_row"))
    assert_frame_equal(store.scan(ref).collect(), store.load(ref))
    manifest = json.loads((ref.path.parent / "manifest.json").read_text())
    assert [e["id"] for e in manifest["snapshots"]] == [ref.id]
    assert store.history("stock") == [ref]


def test_save_accepts_a_lazyframe(store: SnapshotStore) -> None:
    assert store.save("stock", stock().lazy()).rows == 3


def test_promotion_moves_the_baseline(store: SnapshotStore) -> None:
    assert store.baseline("stock") is None
    first = store.promote(store.save("stock", stock(), kind="full"))
    assert store.baseline("stock") == first
    assert first.status == "baseline" and first.promoted == dt.datetime(2024, 5, 1, 12, 2, tzinfo=dt.UTC)
    second = store.promote(store.save("stock", stock(offset=1), kind="change"))
    statuses = [(r.id, r.status) for r in store.history("stock")]
    assert statuses == [(first.id, "superseded"), (second.id, "baseline")]
    assert store.baseline("stock") == second
    assert store.last_full("stock") is not None
    assert store.last_full("stock").id == first.id  # type: ignore[union-attr]


def test_last_full_ignores_unpromoted(store: SnapshotStore) -> None:
    store.save("stock", stock(), kind="full")
    assert store.last_full("stock") is None


def _corrupt(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_corrupt_baseline_file_is_an_error_naming_the_file(store: SnapshotStore) -> None:
    ref = store.promote(store.save("stock", stock()))
    _corrupt(ref.path)
    fresh = SnapshotStore(store.directory)
    with pytest.raises(SnapshotError, match=rf"{ref.path}.*corrupt"):
        fresh.baseline("stock")
    for read in (fresh.load, fresh.scan):
        with pytest.raises(SnapshotError, match=str(ref.path)):
            read(ref)


def test_missing_baseline_file_is_an_error_not_no_baseline(store: SnapshotStore) -> None:
    ref = store.promote(store.save("stock", stock()))
    ref.path.unlink()
    with pytest.raises(SnapshotError, match=rf"{ref.path} is missing"):
        store.baseline("stock")


def test_missing_or_broken_manifest_is_an_error(store: SnapshotStore) -> None:
    ref = store.promote(store.save("stock", stock()))
    manifest = ref.path.parent / "manifest.json"
    manifest.write_text("{not json")
    with pytest.raises(SnapshotError, match=rf"{manifest} is not valid"):
        store.baseline("stock")
    manifest.unlink()
    with pytest.raises(SnapshotError, match="missing but 1 snapshot files exist"):
        store.baseline("stock")


def test_feed_names_must_be_safe_directory_names(store: SnapshotStore) -> None:
    with pytest.raises(SnapshotError, match="cannot name a snapshot directory"):
        store.save("../etc", stock())


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path: Path) -> None:
    target = tmp_path / "file.bin"
    target.write_bytes(b"old")

    def half_written(tmp: Path) -> None:
        tmp.write_bytes(b"ne")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        snapshots._write_atomic(target, half_written)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.bin"]


def test_atomic_write_fsyncs_the_file_and_the_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    snapshots._write_atomic(tmp_path / "x", lambda tmp: tmp.write_bytes(b"new"))
    assert (tmp_path / "x").read_bytes() == b"new"
    assert synced[0].endswith(".tmp") and synced[-1] == str(tmp_path)


def test_a_crash_before_the_rename_leaves_the_store_as_it_was(
    store: SnapshotStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = store.promote(store.save("stock", stock()))

    def crash(src: Any, dst: Any) -> None:
        raise OSError("power cut")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(SnapshotError, match=r"feed 'stock': the new snapshot could not be written .*power"):
        store.save("stock", stock(offset=5))
    monkeypatch.undo()
    assert store.history("stock") == [ref]
    assert not [p for p in ref.path.parent.iterdir() if p.name.endswith(".tmp")]


def test_a_snapshot_that_cannot_be_written_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "stock").write_text("a file where the feed's folder belongs")
    with pytest.raises(SnapshotError, match=r"feed 'stock': the new snapshot could not be written in "):
        SnapshotStore(tmp_path).save("stock", stock())


def test_retention_keeps_the_last_n_the_baseline_and_the_last_full(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path, keep=2, clock=Clock())
    full = store.promote(store.save("stock", stock(), kind="full"))
    baseline = store.promote(store.save("stock", stock(offset=1), kind="change"))
    later = [store.save("stock", stock(offset=i)) for i in range(2, 6)]
    kept = [r.id for r in store.history("stock")]
    assert kept == [full.id, baseline.id, later[-2].id, later[-1].id]
    files = {p.name for p in (tmp_path / "stock").glob("*.parquet")}
    assert files == {f"{i}.parquet" for i in kept}
    with pytest.raises(SnapshotError, match="not in the manifest"):
        store.promote(later[0])


def test_row_hash_cache_is_reused_and_recomputed_when_stale(
    store: SnapshotStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = store.save("stock", stock(), key="PartNo")
    assert ref.hash_cache is not None and ref.hash_cache.exists()
    first = store.row_hashes(ref, key="PartNo")
    monkeypatch.setattr(snapshots, "hash_rows", _forbidden)
    assert_frame_equal(store.row_hashes(ref, key="PartNo").frame, first.frame)
    monkeypatch.undo()
    _edit_manifest(ref, lambda e: e["hash_cache"]["signature"].update(polars="0.1.0"))
    calls = _count(monkeypatch, snapshots, "hash_rows")
    assert_frame_equal(store.row_hashes(ref, key="PartNo").frame, first.frame)
    assert calls == [1] and store.row_hashes(ref, key="PartNo").signature == first.signature
    assert calls == [1]
    _corrupt(ref.hash_cache)
    assert_frame_equal(store.row_hashes(ref, key="PartNo").frame, first.frame)
    assert calls == [2]


def test_store_diff_uses_the_cache_and_matches_diff_frames(store: SnapshotStore) -> None:
    base = store.promote(store.save("stock", stock(5), key="PartNo"))
    current = (
        stock(6)
        .with_columns(
            pl.when(pl.col("PartNo") == "P1").then(99).otherwise(pl.col("OnhandValue")).alias("OnhandValue")
        )
        .filter(pl.col("PartNo") != "P0")
    )
    got = store.diff(base, current, key="PartNo")
    want = diff_frames(store.load(base), current, key="PartNo")
    assert got.counts == {"added": 1, "removed": 1, "changed": 1, "unchanged": 3}
    _assert_same_diff(got, want)


def test_a_stored_baseline_is_read_a_few_row_groups_at_a_time(
    store: SnapshotStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(snapshots, "ROW_GROUP_ROWS", 4)
    base = store.promote(store.save("stock", stock(40), key="PartNo"))
    groups = pq.ParquetFile(base.path).metadata
    assert [groups.row_group(i).num_rows for i in range(groups.num_row_groups)] == [4] * 10
    assert snapshots._slice_rows(base.path) == 4 * max(2, pl.thread_pool_size())
    reads: list[tuple[int, int | None]] = []
    real_slice = pl.LazyFrame.slice

    def counted(lf: pl.LazyFrame, offset: int, length: int | None = None) -> pl.LazyFrame:
        reads.append((offset, length))
        return real_slice(lf, offset, length)

    monkeypatch.setattr(pl.LazyFrame, "slice", counted)
    late = pl.col("PartNo").is_in(["P37", "P39"])  # both in the last slice
    current = stock(40).with_columns(pl.when(late).then(-1).otherwise("OnhandValue").alias("OnhandValue"))
    got = store.diff(base, current, key="PartNo")
    assert got.changed["PartNo"].to_list() == ["P37", "P39"]
    assert got.previous["OnhandValue"].to_list() == [37, 39]
    assert len(reads) == 1 and reads[0][0] + (reads[0][1] or 0) >= 40  # the slices before it are never read
    current = current.filter(~pl.col("PartNo").is_in(["P0", "P21"]))
    want = diff_frames(store.load(base), current, key="PartNo")
    _assert_same_diff(store.diff(base, current, key="PartNo"), want)


def test_a_snapshot_written_before_its_layout_was_recorded_is_read_in_one_go(tmp_path: Path) -> None:
    stock(40).write_parquet(tmp_path / "older.parquet", row_group_size=7)  # no layout in its metadata
    assert snapshots._slice_rows(tmp_path / "older.parquet") is None  # so diff_frames reads it in one go


def _assert_same_diff(got: Any, want: Any) -> None:
    assert got.counts == want.counts
    for name in ("added", "removed", "changed", "previous"):
        assert_frame_equal(getattr(got, name), getattr(want, name))


def test_two_stores_on_one_directory_share_the_manifest(tmp_path: Path) -> None:
    a, b = SnapshotStore(tmp_path), SnapshotStore(tmp_path)
    first, second = a.save("stock", stock()), b.save("stock", stock(offset=1))
    assert [r.id for r in a.history("stock")] == [first.id, second.id]


def _forbidden(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("row hashes should have come from the cache")


def _count(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[int]:
    real, calls = getattr(module, name), [0]

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


def _edit_manifest(ref: SnapshotRef, edit: Callable[[dict[str, Any]], Any]) -> None:
    path = ref.path.parent / "manifest.json"
    body = json.loads(path.read_text())
    for entry in body["snapshots"]:
        if entry["id"] == ref.id:
            edit(entry)
    path.write_text(json.dumps(body))

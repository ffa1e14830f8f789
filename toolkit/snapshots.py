"""Snapshots of canonical frames on disk: Parquet files, a manifest per feed, the baseline.

A snapshot is what a feed's source looked like when a plan was made. The one whose plan Norce
accepted is the feed's **baseline**: the next diff runs against it. Layout::

    <directory>/<feed>/manifest.json            every snapshot of the feed, its hash and status
    <directory>/<feed>/<id>.parquet             the rows (zstd, row groups of `ROW_GROUP_ROWS`),
                                                "_"-prefixed columns dropped
    <directory>/<feed>/<id>.hashes.parquet      optional row-hash cache (see `SnapshotStore.row_hashes`)
    <directory>/<feed>/<id>.parts/              a snapshot in partitions of key ranges (a streamed
                                                plan's, `toolkit.streaming`): part and hash files,
                                                meta.json with their sha256 (the content hash); a
                                                partition a change plan patched keeps its files
                                                (linked) beside the rows it dropped and added
                                                (`scan_part`)

Every file is written atomically (temp file in the same directory, fsync, ``os.replace``, fsync of
the directory), so a crash leaves the old file or the new one, never half of one. Every read checks
the file against the sha256 in the manifest. A baseline whose file is missing or corrupt raises
`SnapshotError` naming the file; it is never treated as "no baseline", which would turn the next
change feed into a full import of everything.

Statuses: ``saved`` (written, not accepted yet), ``baseline`` (the last promoted), ``superseded``
(promoted once, then replaced). Retention keeps the last ``keep`` snapshots, the baseline, the
last promoted full snapshot and every snapshot an unfinished plan will promote (``held``: by default
read from the ledger beside the store, ``<state_dir>/ledger.sqlite``), and deletes the rest with
their files.

Examples
--------
>>> import tempfile, polars as pl
>>> store = SnapshotStore(tempfile.mkdtemp())
>>> ref = store.save("stock", pl.DataFrame({"PartNo": ["a"], "OnhandValue": [3]}), kind="full")
>>> ref.rows, ref.status, store.baseline("stock")
(1, 'saved', None)
>>> store.promote(ref).status
'baseline'
>>> store.load(store.baseline("stock")).to_dicts()
[{'PartNo': 'a', 'OnhandValue': 3}]
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import re
import shutil
import sqlite3
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import polars as pl

from toolkit.diff import Diff, diff_frames
from toolkit.errors import SnapshotError
from toolkit.rowhash import RowHashes, hash_rows, row_hash_signature

__all__ = [
    "SnapshotKind",
    "SnapshotRef",
    "SnapshotStatus",
    "SnapshotStore",
    "part_count",
    "part_file",
    "scan_part",
]

SnapshotStatus = Literal["saved", "baseline", "superseded"]
SnapshotKind = Literal["change", "full"]
MANIFEST = "manifest.json"
PARTS, PARTS_META = ".parts", "meta.json"
_T = TypeVar("_T")
_FEED_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
ROW_GROUP_ROWS = 65_536
"""Rows per row group of a snapshot file, recorded in the file's own metadata (``_GROUP_ROWS``): a
diff against a stored baseline reads it a few whole groups at a time (`toolkit.diff`)."""
_GROUP_ROWS = "toolkit.row_group_rows"


@dataclass(frozen=True)
class SnapshotRef:
    """One stored snapshot, as its feed's manifest describes it.

    ``hash_cache`` is the row-hash cache file beside it (None when there is none); ``promoted`` is
    when it became the baseline (None if it never did).
    """

    id: str
    feed: str
    path: Path
    rows: int
    content_hash: str
    created: dt.datetime
    status: SnapshotStatus
    kind: SnapshotKind | None
    hash_cache: Path | None = None
    promoted: dt.datetime | None = None


class SnapshotStore:
    """Snapshots of every feed under one ``directory``; see the module docstring for the layout.

    Parameters
    ----------
    directory
        Root directory; one sub-directory per feed, created on first save.
    keep
        Retention: how many of the latest snapshots to keep (the baseline and the last promoted full
        snapshot are kept whatever their age).
    clock
        Returns the current UTC time (tests pass a fixed one).
    held
        Given a feed, the ids of its snapshots that unfinished plans will promote (never pruned);
        default: read from the ledger beside the store (`held_by_ledger`).
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        keep: int = 10,
        clock: Callable[[], dt.datetime] | None = None,
        held: Callable[[str], set[str]] | None = None,
    ) -> None:
        if keep < 1:
            raise ValueError(f"keep must be at least 1, got {keep}")
        self.directory = Path(directory)
        self.keep = keep
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._held = held or (lambda feed: held_by_ledger(self.directory.parent / "ledger.sqlite", feed))
        self._verified: dict[tuple[int, int], tuple[int, int, str]] = {}
        """(mtime, size, sha256) of files checked, by inode (device, number)."""

    def __repr__(self) -> str:
        return f"SnapshotStore({str(self.directory)!r}, keep={self.keep})"

    def save(
        self,
        feed: str,
        frame: pl.DataFrame | pl.LazyFrame,
        *,
        kind: SnapshotKind | None = None,
        key: str | Sequence[str] | None = None,
        hashes: RowHashes | None = None,
    ) -> SnapshotRef:
        """Write ``frame`` as a new snapshot of ``feed`` (status ``saved``) and return its ref.

        A LazyFrame is streamed to the file (``sink_parquet``), so a snapshot larger than memory can
        be saved. With ``key``, the row hashes of the snapshot are cached beside it, so a later diff
        against it need not hash it again (`row_hashes`); ``hashes`` are `hash_rows` of ``frame``
        when the caller has them already (used when they were computed the way `hash_rows` would).
        """
        data = _data(frame)
        folder = self._folder(feed, create=False)  # created by _manifest, inside the try below
        created = self._clock().astimezone(dt.UTC)
        snap_id = f"{created:%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:8]}"
        path = folder / f"{snap_id}.parquet"
        try:
            with self._manifest(feed) as entries:
                _write_atomic(path, lambda tmp: _write_parquet(data, tmp))
                written = pl.scan_parquet(path)
                source = data if isinstance(data, pl.DataFrame) else written  # no re-read if in memory
                rows = written.select(pl.len()).collect().item()
                if key is None:
                    hashes = None
                elif not _fits(hashes, source.collect_schema(), key, rows=rows):
                    hashes = hash_rows(source, key=key)
                stat, content_hash = path.stat(), file_sha256(path)
                self._verified[(stat.st_dev, stat.st_ino)] = (stat.st_mtime_ns, stat.st_size, content_hash)
                entry = {
                    "id": snap_id,
                    "file": path.name,
                    "rows": rows,
                    "bytes": stat.st_size,
                    "content_hash": content_hash,
                    "created": _iso(created),
                    "status": "saved",
                    "kind": kind,
                    "promoted": None,
                    "hash_cache": hashes and _write_cache(folder, snap_id, hashes),
                }
                entries.append(entry)
                self._retain(folder, entries)
        except (OSError, pl.exceptions.PolarsError) as exc:  # a full disk, a lost mount, no rights
            msg = f"feed {feed!r}: the new snapshot could not be written in {folder} ({exc})"
            raise SnapshotError(msg) from exc
        return _ref(feed, folder, entry)

    def adopt(self, feed: str, folder: Path, *, kind: SnapshotKind | None = None) -> SnapshotRef:
        """Take a snapshot written in partitions (a folder with ``meta.json``, `toolkit.streaming`)
        as a new snapshot of ``feed`` (status ``saved``): the folder moves into the store, and its
        ``meta.json`` (which holds every part's sha256) is its content hash."""
        created = self._clock().astimezone(dt.UTC)
        snap_id = f"{created:%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:8]}"
        store = self._folder(feed, create=False)
        path = store / f"{snap_id}{PARTS}"
        try:
            meta = json.loads((folder / PARTS_META).read_bytes())
            with self._manifest(feed) as entries:
                shutil.move(folder, path)
                entry = {
                    "id": snap_id,
                    "file": path.name,
                    "rows": meta["rows"],
                    "bytes": sum(f.stat().st_size for f in path.iterdir()),
                    "content_hash": file_sha256(path / PARTS_META),
                    "created": _iso(created),
                    "status": "saved",
                    "kind": kind,
                    "promoted": None,
                    "hash_cache": None,
                }
                entries.append(entry)
                self._retain(store, entries)
        except (OSError, ValueError, KeyError) as exc:
            msg = f"feed {feed!r}: the new snapshot could not be stored in {store} ({exc})"
            raise SnapshotError(msg) from exc
        return _ref(feed, store, entry)

    def load(self, ref: SnapshotRef) -> pl.DataFrame:
        """The snapshot's rows, after checking the file against its content hash."""
        return _read(self._verify(ref), lambda p: _scan(p).collect())

    def scan(self, ref: SnapshotRef) -> pl.LazyFrame:
        """A LazyFrame over the snapshot's rows, after checking the file against its content hash."""
        return _read(self._verify(ref), _scan)

    def baseline(self, feed: str) -> SnapshotRef | None:
        """The feed's baseline (the last promoted snapshot), checked; None if it never had one.

        Raises `SnapshotError` when the manifest names a baseline whose file is missing or corrupt,
        or when snapshot files exist but the manifest does not.
        """
        found = [r for r in self.history(feed) if r.status == "baseline"]
        if not found:
            return None
        self._verify(found[-1])
        return found[-1]

    def promote(self, ref: SnapshotRef) -> SnapshotRef:
        """Make ``ref`` the baseline of its feed (the previous one becomes ``superseded``)."""
        now = _iso(self._clock().astimezone(dt.UTC))
        folder = self._folder(ref.feed, create=False)
        with self._manifest(ref.feed) as entries:
            entry = _find(entries, ref)
            self._verify(ref)
            for other in entries:
                if other["status"] == "baseline":
                    other["status"] = "superseded"
            entry["status"], entry["promoted"] = "baseline", now
            self._retain(folder, entries)
        return _ref(ref.feed, folder, entry)

    def history(self, feed: str) -> list[SnapshotRef]:
        """Every snapshot of ``feed`` still kept, oldest first."""
        folder = self._folder(feed, create=False)
        return [_ref(feed, folder, e) for e in _read_manifest(folder)]

    def last_full(self, feed: str) -> SnapshotRef | None:
        """The last promoted snapshot of kind ``full`` (None if no full feed was ever accepted)."""
        full = [r for r in self.history(feed) if r.kind == "full" and r.promoted is not None]
        return max(full, key=lambda r: r.promoted or r.created, default=None)

    def row_hashes(
        self, ref: SnapshotRef, *, key: str | Sequence[str], columns: Sequence[str] | None = None
    ) -> RowHashes:
        """The snapshot's row hashes: from its cache when that was computed the same way (same
        polars version, seed, key and columns), else computed now and cached for next time."""
        lf = self.scan(ref)
        wanted = row_hash_signature(lf.collect_schema(), key=key, columns=columns)
        cached = self._cached(ref, wanted)
        if cached is not None:
            return cached
        hashes = hash_rows(lf, key=key, columns=columns)
        folder = self._folder(ref.feed, create=False)
        cache = _write_cache(folder, ref.id, hashes)
        with self._manifest(ref.feed) as entries:
            _find(entries, ref)["hash_cache"] = cache
        return hashes

    def diff(
        self,
        ref: SnapshotRef,
        current: pl.DataFrame | pl.LazyFrame,
        *,
        key: str | Sequence[str],
        fields: Sequence[str] | None = None,
        current_hashes: RowHashes | None = None,
    ) -> Diff:
        """`diff_frames` of ``current`` against the stored snapshot, using its cached row hashes
        (and ``current_hashes``, e.g. `row_hashes` of ``current`` saved as a snapshot)."""
        hashes, slices = self.row_hashes(ref, key=key), _slice_rows(ref.path)
        return diff_frames(
            self.scan(ref),
            current,
            key=key,
            fields=fields,
            baseline_hashes=hashes,
            current_hashes=current_hashes,
            baseline_slice_rows=slices,
        )

    # --- internals -----------------------------------------------------------------------------

    def _folder(self, feed: str, *, create: bool) -> Path:
        if not _FEED_NAME.match(feed):
            raise SnapshotError(f"feed name {feed!r} cannot name a snapshot directory")
        folder = self.directory / feed
        if create:
            folder.mkdir(parents=True, exist_ok=True)
        return folder

    @contextlib.contextmanager
    def _manifest(self, feed: str) -> Iterator[list[dict[str, Any]]]:
        folder = self._folder(feed, create=True)
        with open(folder / ".lock", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            entries = _read_manifest(folder)
            if not (folder / MANIFEST).exists():
                # Written before any snapshot file, so files without a manifest always mean trouble.
                _write_manifest(folder, feed, entries)
            yield entries
            _write_manifest(folder, feed, entries)

    def _verify(self, ref: SnapshotRef) -> Path:
        if not ref.path.is_dir():
            self._check(ref, ref.path, ref.content_hash)
            return ref.path
        self._check(ref, ref.path / PARTS_META, ref.content_hash)  # partitions: meta.json names the parts
        try:
            files = json.loads((ref.path / PARTS_META).read_bytes())["files"]
        except (OSError, ValueError, KeyError) as exc:
            raise SnapshotError(f"snapshot {ref.id!r} of feed {ref.feed!r}: {exc}") from exc
        for name, digest in files.items():
            self._check(ref, ref.path / name, digest)
        return ref.path

    def _check(self, ref: SnapshotRef, path: Path, expected: str) -> None:
        try:
            stat = path.stat()
        except FileNotFoundError:
            msg = f"snapshot {ref.id!r} of feed {ref.feed!r}: file {path} is missing"
            raise SnapshotError(msg) from None
        inode = (stat.st_dev, stat.st_ino)  # a partition linked into the next snapshot: checked once
        seen = self._verified.get(inode)
        if seen is not None and seen == (stat.st_mtime_ns, stat.st_size, expected):
            return
        found = file_sha256(path)
        if found != expected:
            msg = (
                f"snapshot {ref.id!r} of feed {ref.feed!r}: file {path} is corrupt (sha256 "
                f"{found[:12]}…, expected {expected[:12]}…)"
            )
            raise SnapshotError(msg)
        self._verified[inode] = (stat.st_mtime_ns, stat.st_size, found)

    def _cached(self, ref: SnapshotRef, wanted: dict[str, Any]) -> RowHashes | None:
        folder = self._folder(ref.feed, create=False)
        entry = next((e for e in _read_manifest(folder) if e["id"] == ref.id), None)
        cache = (entry or {}).get("hash_cache")
        if not cache or cache["signature"] != wanted:
            return None
        path = folder / cache["file"]
        # A cache is only a cache: when it is missing or damaged, it is computed again.
        if not path.exists() or file_sha256(path) != cache["sha256"]:
            return None
        return RowHashes(pl.read_parquet(path).rechunk(), cache["signature"])  # one chunk joins faster

    def _retain(self, folder: Path, entries: list[dict[str, Any]]) -> None:
        full = [e for e in entries if e["kind"] == "full" and e["promoted"]]
        keep = {e["id"] for e in entries[-self.keep :]}
        keep |= {e["id"] for e in entries if e["status"] == "baseline"}
        keep |= self._held(folder.name)
        if full:
            keep.add(max(full, key=lambda e: e["promoted"])["id"])
        for entry in [e for e in entries if e["id"] not in keep]:
            entries.remove(entry)
            gone = folder / entry["file"]
            if gone.is_dir():
                shutil.rmtree(gone, ignore_errors=True)
            gone.unlink(missing_ok=True)
            if entry["hash_cache"]:
                (folder / entry["hash_cache"]["file"]).unlink(missing_ok=True)


_HELD_SQL = (
    "SELECT snapshot_id FROM plans WHERE feed = ? AND snapshot_id IS NOT NULL "
    "AND state IN ('planned', 'sending', 'submitted')"
)


def held_by_ledger(ledger: Path, feed: str) -> set[str]:
    """Snapshot ids of ``feed`` that unfinished plans in ``ledger`` will promote (read-only; empty
    when there is no ledger). A ledger that cannot be read holds nothing back: it is reported where
    it is used (`toolkit.ledger`).

    >>> held_by_ledger(Path("/nonexistent/ledger.sqlite"), "stock")
    set()
    """
    if not ledger.exists():
        return set()
    try:
        with contextlib.closing(sqlite3.connect(f"{ledger.as_uri()}?mode=ro", uri=True, timeout=10)) as con:
            rows = con.execute(_HELD_SQL, (feed,)).fetchall()
    except sqlite3.Error:
        return set()
    return {str(r[0]) for r in rows}


# --- files -----------------------------------------------------------------------------------


def _data(frame: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame | pl.LazyFrame:
    names = [c for c in frame.lazy().collect_schema().names() if not c.startswith("_")]
    return frame.select(names)


def _write_parquet(data: pl.DataFrame | pl.LazyFrame, path: Path) -> None:
    layout = {_GROUP_ROWS: str(ROW_GROUP_ROWS)}
    if isinstance(data, pl.LazyFrame):
        data.sink_parquet(path, compression="zstd", row_group_size=ROW_GROUP_ROWS, metadata=layout)
    else:  # zstd level 3 is 20 % slower than 1
        data.write_parquet(
            path, compression="zstd", compression_level=1, row_group_size=ROW_GROUP_ROWS, metadata=layout
        )


def _scan(path: Path) -> pl.LazyFrame:
    """The snapshot's rows: its Parquet file, or its partitions when it was written in partitions."""
    if not path.is_dir():
        return pl.scan_parquet(path)
    return pl.concat([scan_part(path, i) for i in range(part_count(path))])


PartFiles = Literal["part", "hashes"]
DROPPED = "dropped"


def part_count(folder: Path) -> int:
    """How many partitions the snapshot in ``folder`` has."""
    return len(list(folder.glob("part-*.parquet")))


def part_file(folder: Path, i: int, what: PartFiles | str) -> Path:
    """File ``what`` (``part``, ``hashes``, ``dropped``, ``delta-part``, ``delta-hashes``) of
    partition ``i``."""
    return folder / f"{what}-{i:05d}.parquet"


def scan_part(folder: Path, i: int, what: PartFiles = "part") -> pl.LazyFrame:
    """Partition ``i`` of a snapshot written in partitions: its rows (``part``) or their row hashes
    (``hashes``), in the same order.

    A change plan that changed a few rows of a partition links the partition's files into the new
    snapshot rather than writing them again, and writes beside them the row numbers it dropped
    (``dropped-NNNNN``: changed and removed rows) and the rows it added (``delta-part-NNNNN`` and
    ``delta-hashes-NNNNN``: changed and added rows). The partition is the file's rows less the
    dropped ones, then the added ones; order within a partition means nothing.
    """
    rows = pl.scan_parquet(part_file(folder, i, what))
    dropped = part_file(folder, i, DROPPED)
    if dropped.exists():
        gone = pl.read_parquet(dropped).to_series()
        rows = rows.with_row_index("__r").filter(~pl.col("__r").is_in(gone.implode())).drop("__r")
    delta = part_file(folder, i, f"delta-{what}")
    return pl.concat([rows, pl.scan_parquet(delta)]) if delta.exists() else rows


def _slice_rows(path: Path) -> int | None:
    """Rows per slice when reading the snapshot's changed rows: whole row groups, one per thread
    (None for a file written before its layout was recorded, or in partitions: read in one go)."""
    if path.is_dir():
        return None
    group_rows = pl.read_parquet_metadata(path).get(_GROUP_ROWS)
    return int(group_rows) * max(2, pl.thread_pool_size()) if group_rows else None


def _write_atomic(path: Path, write: Callable[[Path], object]) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _write_manifest(folder: Path, feed: str, entries: list[dict[str, Any]]) -> None:
    data = json.dumps({"format": 1, "feed": feed, "snapshots": entries}, indent=1).encode()
    _write_atomic(folder / MANIFEST, lambda tmp: tmp.write_bytes(data))


def _write_cache(folder: Path, snap_id: str, hashes: RowHashes) -> dict[str, Any]:
    path = folder / f"{snap_id}.hashes.parquet"
    _write_atomic(path, lambda tmp: hashes.frame.write_parquet(tmp, compression="zstd"))
    return {"file": path.name, "sha256": file_sha256(path), "signature": hashes.signature}


def _fits(hashes: RowHashes | None, schema: pl.Schema, key: str | Sequence[str], *, rows: int) -> bool:
    """Whether ``hashes`` are what `hash_rows` would compute for ``rows`` rows of this schema."""
    return (
        hashes is not None
        and hashes.frame.height == rows
        and hashes.signature == row_hash_signature(schema, key=key)
    )


def file_sha256(path: Path) -> str:
    """The sha256 of a file, read in chunks."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _read(path: Path, reader: Callable[[Path], _T]) -> _T:
    try:
        return reader(path)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise SnapshotError(f"snapshot file {path} cannot be read: {exc}") from exc


def _read_manifest(folder: Path) -> list[dict[str, Any]]:
    path = folder / MANIFEST
    if not path.exists():
        orphans = sorted(p.name for p in folder.glob("*.parquet")) if folder.exists() else []
        if orphans:
            msg = f"snapshot manifest {path} is missing but {len(orphans)} snapshot files exist"
            raise SnapshotError(msg)
        return []
    try:
        entries = json.loads(path.read_bytes())["snapshots"]
    except (ValueError, KeyError, TypeError) as exc:
        raise SnapshotError(f"snapshot manifest {path} is not valid: {exc}") from exc
    if not isinstance(entries, list):
        raise SnapshotError(f"snapshot manifest {path} is not valid: 'snapshots' is not a list")
    return entries


def _find(entries: list[dict[str, Any]], ref: SnapshotRef) -> dict[str, Any]:
    for entry in entries:
        if entry["id"] == ref.id:
            return entry
    raise SnapshotError(f"snapshot {ref.id!r} is not in the manifest of feed {ref.feed!r}")


def _ref(feed: str, folder: Path, entry: dict[str, Any]) -> SnapshotRef:
    try:
        cache = entry.get("hash_cache")
        return SnapshotRef(
            id=entry["id"],
            feed=feed,
            path=folder / entry["file"],
            rows=int(entry["rows"]),
            content_hash=entry["content_hash"],
            created=_parse(entry["created"]),
            status=entry["status"],
            kind=entry["kind"],
            hash_cache=folder / cache["file"] if cache else None,
            promoted=_parse(entry["promoted"]) if entry.get("promoted") else None,
        )
    except (KeyError, TypeError, ValueError) as exc:
        msg = f"snapshot manifest {folder / MANIFEST} has an invalid entry: {exc!r}"
        raise SnapshotError(msg) from exc


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _parse(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(dt.UTC)

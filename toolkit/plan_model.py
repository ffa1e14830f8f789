"""A plan: batches ready to send and what they do (`Plan`, `PlanSummary`), the guard and the plan id,
and the plan on disk: one body file per batch, ``manifest.json`` with every body's sha256,
``rejected.parquet``.

Loading checks every body against its recorded sha256 and batch id, so a plan that was edited or
truncated after it was previewed is refused (PlanError) rather than sent. Plain data and files: no
planning here (:mod:`toolkit.planning` makes plans, :mod:`toolkit.feeds` is the entry point).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import orjson
import polars as pl

from toolkit.batches import Batch
from toolkit.config import Feed, KindOption
from toolkit.entities import get_entity
from toolkit.errors import GuardRefused, PlanError

if TYPE_CHECKING:
    from toolkit.diff import Diff
    from toolkit.snapshots import SnapshotRef

__all__ = [
    "FeedKind",
    "KindOption",
    "Plan",
    "PlanSummary",
    "describe",
    "guard",
    "load_plan",
    "plan_id",
    "save_plan",
]

FeedKind = Literal["change", "full"]


@dataclass(frozen=True)
class PlanSummary:
    """What a plan does, in numbers (``as_dict()`` gives plain JSON values)."""

    kind: FeedKind
    reason: str
    added: int = 0
    changed: int = 0
    removed: int = 0
    deactivated: int = 0
    unchanged: int = 0
    rejected: int = 0
    left_for_full: int = 0
    baseline_items: int = 0
    items: int = 0
    field_counts: dict[str, int] = field(default_factory=dict)
    batches: int = 0
    requests: int = 0
    min_requests: int = 0
    """The fewest requests the items could take: per endpoint and FullFile flag, items over
    ``max_items`` and bytes over ``max_bytes`` (``grouping`` says why a plan takes more)."""
    bytes: int = 0
    eta_seconds: float = 0.0
    grouping: str = "none"
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        return {**out, "field_counts": dict(self.field_counts), "notes": list(self.notes)}


@dataclass(frozen=True)
class Plan:
    """Batches ready to send, with the snapshot to promote once every job of the plan succeeded."""

    id: str
    feed: str
    entity: str
    profile: str
    kind: FeedKind
    created: datetime
    saving: SnapshotRef | Future[SnapshotRef] | None = field(compare=False)
    """The new snapshot, or its write still under way; read it through `snapshot`."""
    baseline: SnapshotRef | None
    batches: tuple[Batch, ...] = field(repr=False)
    summary: PlanSummary
    rejected: pl.DataFrame = field(repr=False)
    allow_mass_deactivation: bool = False
    override_reason: str | None = None
    diff: Diff | None = field(default=None, repr=False, compare=False)
    """The diff the plan was made from: in memory only (a loaded plan has None)."""
    origins: pl.DataFrame | pl.LazyFrame | None = field(default=None, repr=False, compare=False)
    """Where the rows of the plan's items came from: the row key, ``_source`` (file) and ``_row``
    (line or row number); saved as ``origins.parquet``. Maps a failed item back to its source row.
    A loaded plan with more than `ORIGINS_IN_MEMORY` of them has a LazyFrame over the file."""

    @property
    def snapshot(self) -> SnapshotRef | None:
        """The new snapshot, promoted once every job of the plan succeeded.

        ``plan_feed`` returns as soon as the batches are made, while the snapshot is still being
        written (1M rows take one to two seconds); this waits for the write and raises its error, if any.
        Recording, saving and promoting a plan all go through here, so nothing is sent before the
        snapshot is on disk.
        """
        saving = self.saving
        return saving.result() if isinstance(saving, Future) else saving

    def preview(self, n: int = 5) -> list[dict[str, Any]]:
        """Per batch: its index, endpoint, header and first ``n`` items, as Python objects."""
        return [
            {"batch": b.index, "endpoint": b.endpoint, "header": b.header, "items": b.items()[:n]}
            for b in self.batches
        ]

    def describe(self) -> str:
        """A few lines for a terminal or a notebook."""
        return describe(self)

    def save(self, directory: str | Path) -> Path:
        """Write body files, ``manifest.json`` (with each body's sha256) and ``rejected.parquet``."""
        return save_plan(self, Path(directory))

    @classmethod
    def load(cls, directory: str | Path) -> Plan:
        """Read a saved plan back; PlanError when a file is missing or a body does not match its hash."""
        return load_plan(Path(directory))


def guard(feed: Feed, kind: FeedKind, *, valid: int, baseline: int, deactivating: int, allow: bool) -> None:
    """Refuse (GuardRefused) an empty source or a plan deactivating too much of the baseline."""
    ratio = deactivating / baseline if baseline else 0.0
    limit = feed.policies.max_deactivation_ratio
    counts = {
        "valid": valid,
        "baseline": baseline,
        "deactivating": deactivating,
        "ratio": round(ratio, 4),
        "max_deactivation_ratio": limit,
    }
    override = "pass allow_mass_deactivation=True (with an override_reason) to send it anyway"
    if valid == 0 and not allow:
        msg = f"feed {feed.name!r}: the source has no valid rows; refusing the {kind} feed; {override}"
        raise GuardRefused(msg, counts=counts)
    if ratio > limit and not allow:
        msg = (
            f"feed {feed.name!r}: the {kind} feed would deactivate {deactivating} of {baseline} "
            f"baseline items ({ratio:.1%}), more than max_deactivation_ratio {limit:.0%}; "
            f"{override}"
        )
        raise GuardRefused(msg, counts=counts)


def plan_id(feed: str, kind: str, content: str, batch_ids: list[str], *, baseline: str | None = None) -> str:
    """Deterministic id of a plan (24 hex digits): the feed, kind, snapshot content, batches and baseline.

    Re-planning the same source against the same baseline gives the same id (so ``resume`` and a
    repeated submit stay idempotent); the same source against another baseline is another plan, even
    when its batches are byte for byte the same (a value that went A -> B -> A -> B).

    >>> plan_id("stock", "change", "abc", ["b1"], baseline="s1") == plan_id("stock", "change", "abc", ["b1"],
    ...                                                                      baseline="s1")
    True
    >>> plan_id("stock", "change", "abc", ["b1"], baseline="s1") == plan_id("stock", "change", "abc", ["b1"],
    ...                                                                      baseline="s2")
    False
    """
    text = "\n".join([feed, kind, content, f"baseline={baseline or ''}", *batch_ids])
    return hashlib.sha256(text.encode()).hexdigest()[:24]


FORMAT = 1
MANIFEST = "manifest.json"
REJECTED = "rejected.parquet"
ORIGINS = "origins.parquet"
_PATHS, _TIMES = {"path", "hash_cache"}, {"created", "promoted"}  # SnapshotRef members to restore


def _ref_json(ref: SnapshotRef | None) -> dict[str, Any] | None:
    if ref is None:
        return None
    out: dict[str, Any] = {}
    for f in dataclasses.fields(ref):
        v = getattr(ref, f.name)
        out[f.name] = v.isoformat() if isinstance(v, datetime) else str(v) if isinstance(v, Path) else v
    return out


def _ref_from_json(data: dict[str, Any] | None) -> SnapshotRef | None:
    if data is None:
        return None
    from toolkit.snapshots import SnapshotRef

    values = dict(data)
    for name, value in data.items():
        if isinstance(value, str) and name in _PATHS:
            values[name] = Path(value)
        elif isinstance(value, str) and name in _TIMES:
            values[name] = datetime.fromisoformat(value)
    return SnapshotRef(**values)


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)


def save_plan(plan: Plan, directory: Path) -> Path:
    """Write the plan into ``directory`` (created if needed); the manifest is written last."""
    (directory / "batches").mkdir(parents=True, exist_ok=True)
    entries = []
    for b in plan.batches:
        name = batch_file(b)
        if b.file is None or b.file.resolve() != (directory / name).resolve():  # else it is written
            _write(directory / name, b.body)
        entries.append(
            {
                "index": b.index,
                "id": b.id,
                "entity": b.entity,
                "endpoint": b.endpoint,
                "header": b.header,
                "item_count": b.item_count,
                "size": b.size,
                "sha256": b.sha256 if b.data is None and b.sha256 else hashlib.sha256(b.body).hexdigest(),
                "file": name,
            }
        )
    plan.rejected.write_parquet(directory / REJECTED)
    if isinstance(plan.origins, pl.LazyFrame):  # the file of a loaded plan, maybe this very one
        tmp = directory / f".{ORIGINS}.tmp"
        plan.origins.sink_parquet(tmp)
        tmp.replace(directory / ORIGINS)
    elif plan.origins is not None:
        plan.origins.write_parquet(directory / ORIGINS)
    manifest = {
        "format": FORMAT,
        "id": plan.id,
        "feed": plan.feed,
        "entity": plan.entity,
        "profile": plan.profile,
        "kind": plan.kind,
        "created": plan.created.isoformat(),
        "snapshot": _ref_json(plan.snapshot),
        "baseline": _ref_json(plan.baseline),
        "allow_mass_deactivation": plan.allow_mass_deactivation,
        "override_reason": plan.override_reason,
        "summary": plan.summary.as_dict(),
        "batches": entries,
    }
    _write(directory / MANIFEST, orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    return directory


def _read_manifest(directory: Path) -> dict[str, Any]:
    path = directory / MANIFEST
    try:
        manifest: dict[str, Any] = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        msg = f"{path}: no plan manifest (expected a directory written by Plan.save)"
        raise PlanError(msg) from None
    except orjson.JSONDecodeError as exc:
        msg = f"{path}: not valid JSON ({exc})"
        raise PlanError(msg) from None
    if manifest.get("format") != FORMAT:
        msg = f"{path}: plan format {manifest.get('format')!r}, expected {FORMAT}"
        raise PlanError(msg)
    return manifest


def batch_file(batch: Batch) -> str:
    """Where a plan keeps ``batch``'s body, relative to its directory."""
    return f"batches/{batch.index:05d}-{batch.id[:12]}.json"


IN_MEMORY = 256 << 20
"""A loaded plan keeps its bodies in memory up to this many bytes, and reads them when sent above it."""


def _read_batch(directory: Path, entry: dict[str, Any], *, keep: bool) -> Batch:
    stored = Batch(
        id=entry["id"],
        index=entry["index"],
        entity=entry["entity"],
        endpoint=entry["endpoint"],
        header=entry["header"],
        data=None,
        item_count=entry["item_count"],
        file=directory / entry["file"],
        sha256=entry["sha256"],
        nbytes=entry["size"],
    )
    body = stored.body  # checked against its sha256 and the batch id, whether kept or not
    return dataclasses.replace(stored, data=body, file=None) if keep else stored


def load_plan(directory: Path) -> Plan:
    """Read a plan saved by :func:`save_plan`, checking every body against its hash and batch id.

    Bodies are kept in memory when they add up to at most `IN_MEMORY` bytes; above it each is read
    (and checked again) when it is sent."""
    m = _read_manifest(directory)
    keep = sum(e["size"] for e in m["batches"]) <= IN_MEMORY
    batches = tuple(_read_batch(directory, e, keep=keep) for e in m["batches"])
    try:
        rejected = pl.read_parquet(directory / REJECTED)
    except FileNotFoundError:
        msg = f"{directory / REJECTED}: rejected rows of the plan are missing"
        raise PlanError(msg) from None
    known = set(PlanSummary.__dataclass_fields__)  # a plan saved by a newer version may say more
    s = {k: v for k, v in m["summary"].items() if k in known}
    summary = PlanSummary(**{**s, "notes": tuple(s.get("notes", ()))})
    return Plan(
        id=m["id"],
        feed=m["feed"],
        entity=m["entity"],
        profile=m["profile"],
        kind=m["kind"],
        created=datetime.fromisoformat(m["created"]),
        saving=_ref_from_json(m["snapshot"]),
        baseline=_ref_from_json(m["baseline"]),
        batches=batches,
        summary=summary,
        rejected=rejected,
        allow_mass_deactivation=m["allow_mass_deactivation"],
        override_reason=m["override_reason"],
        origins=_origins(directory / ORIGINS),
    )


ORIGINS_IN_MEMORY = 5_000_000


def _origins(path: Path) -> pl.DataFrame | pl.LazyFrame | None:
    if not path.exists():
        return None
    rows = pl.scan_parquet(path)
    return rows.collect() if rows.select(pl.len()).collect().item() <= ORIGINS_IN_MEMORY else rows


def _over(s: PlanSummary) -> str:
    """How far the request count is above its lower bound (nothing when it is at it)."""
    if s.requests <= s.min_requests or not s.min_requests:
        return ""
    return f" (lower bound {s.min_requests}, +{(s.requests - s.min_requests) / s.min_requests:.0%})"


def describe(plan: Plan) -> str:
    """The plan's summary as a few lines of text."""
    s = plan.summary
    rows = "SKU rows: " if plan.entity == "products" else ""  # a product item nests its SKU rows
    requests = f"{s.batches} request{'' if s.batches == 1 else 's'}"
    lines = [
        f"plan {plan.id}: {s.kind} feed of {plan.feed} ({plan.entity}) to {plan.profile} — {s.reason}",
        f"  {rows}added {s.added}, changed {s.changed}, removed {s.removed} (deactivated {s.deactivated}, "
        f"left for full {s.left_for_full}), unchanged {s.unchanged}, rejected {s.rejected}",
        f"  {s.items} {get_entity(plan.entity).item} items in {requests}{_over(s)}, {s.bytes:,} bytes, "
        f"~{s.eta_seconds:.0f} s at the rate limit; grouping: {s.grouping}",
    ]
    if s.field_counts:
        top = sorted(s.field_counts.items(), key=lambda kv: -kv[1])[:8]
        lines.append("  changed fields: " + ", ".join(f"{k} {v}" for k, v in top))
    if plan.allow_mass_deactivation:
        lines.append(f"  guard overridden: {plan.override_reason or '(no reason given)'}")
    lines += [f"  note: {n}" for n in s.notes]
    return "\n".join(lines)

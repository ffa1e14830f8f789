"""A plan on disk: one body file per batch, ``manifest.json`` with every body's sha256, ``rejected.parquet``.

Loading checks every body against its recorded sha256 and batch id, so a plan that was edited or
truncated after it was previewed is refused (PlanError) rather than sent.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import polars as pl

from toolkit.batches import Batch, batch_id
from toolkit.entities import get_entity
from toolkit.errors import PlanError

if TYPE_CHECKING:
    from toolkit.feeds import Plan
    from toolkit.snapshots import SnapshotRef

FORMAT = 1
MANIFEST = "manifest.json"
REJECTED = "rejected.parquet"
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
        name = f"batches/{b.index:05d}-{b.id[:12]}.json"
        _write(directory / name, b.body)
        entries.append({"index": b.index, "id": b.id, "entity": b.entity, "endpoint": b.endpoint,
                        "header": b.header, "item_count": b.item_count, "size": b.size,
                        "sha256": hashlib.sha256(b.body).hexdigest(), "file": name})  # fmt: skip
    plan.rejected.write_parquet(directory / REJECTED)
    manifest = {
        "format": FORMAT, "id": plan.id, "feed": plan.feed, "entity": plan.entity,
        "profile": plan.profile, "kind": plan.kind, "created": plan.created.isoformat(),
        "snapshot": _ref_json(plan.snapshot), "baseline": _ref_json(plan.baseline),
        "allow_mass_deactivation": plan.allow_mass_deactivation,
        "override_reason": plan.override_reason, "summary": plan.summary.as_dict(),
        "batches": entries,
    }  # fmt: skip
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


def _read_batch(directory: Path, entry: dict[str, Any]) -> Batch:
    path = directory / entry["file"]
    try:
        body = path.read_bytes()
    except FileNotFoundError:
        msg = f"{path}: body of batch {entry['index']} is missing"
        raise PlanError(msg) from None
    digest = hashlib.sha256(body).hexdigest()
    if digest != entry["sha256"]:
        msg = (f"{path}: body of batch {entry['index']} does not match its hash (expected sha256 "
               f"{entry['sha256']}, found {digest}); the plan was changed after it was saved")  # fmt: skip
        raise PlanError(msg)
    header_json = orjson.dumps(entry["header"]).decode()
    if batch_id(entry["endpoint"], header_json, body) != entry["id"]:
        msg = f"{directory / MANIFEST}: batch {entry['index']} header or endpoint does not match its id"
        raise PlanError(msg)
    return Batch(id=entry["id"], index=entry["index"], entity=entry["entity"],
                 endpoint=entry["endpoint"], header=entry["header"], body=body,
                 item_count=entry["item_count"])  # fmt: skip


def load_plan(directory: Path) -> Plan:
    """Read a plan saved by :func:`save_plan`, checking every body against its hash."""
    from toolkit.feeds import Plan, PlanSummary

    m = _read_manifest(directory)
    batches = tuple(_read_batch(directory, e) for e in m["batches"])
    try:
        rejected = pl.read_parquet(directory / REJECTED)
    except FileNotFoundError:
        msg = f"{directory / REJECTED}: rejected rows of the plan are missing"
        raise PlanError(msg) from None
    s = dict(m["summary"])
    summary = PlanSummary(**{**s, "notes": tuple(s.get("notes", ()))})
    return Plan(
        id=m["id"], feed=m["feed"], entity=m["entity"], profile=m["profile"], kind=m["kind"],
        created=datetime.fromisoformat(m["created"]), saving=_ref_from_json(m["snapshot"]),
        baseline=_ref_from_json(m["baseline"]), batches=batches, summary=summary, rejected=rejected,
        allow_mass_deactivation=m["allow_mass_deactivation"], override_reason=m["override_reason"],
    )  # fmt: skip


def describe(plan: Plan) -> str:
    """The plan's summary as a few lines of text."""
    s = plan.summary
    rows = "SKU rows: " if plan.entity == "products" else ""  # a product item nests its SKU rows
    requests = f"{s.batches} request{'' if s.batches == 1 else 's'}"
    lines = [
        f"plan {plan.id}: {s.kind} feed of {plan.feed} ({plan.entity}) to {plan.profile} — {s.reason}",
        f"  {rows}added {s.added}, changed {s.changed}, removed {s.removed} (deactivated {s.deactivated}, "
        f"left for full {s.left_for_full}), unchanged {s.unchanged}, rejected {s.rejected}",
        f"  {s.items} {get_entity(plan.entity).item} items in {requests}, {s.bytes:,} bytes, "
        f"~{s.eta_seconds:.0f} s at the rate limit; grouping: {s.grouping}",
    ]
    if s.field_counts:
        top = sorted(s.field_counts.items(), key=lambda kv: -kv[1])[:8]
        lines.append("  changed fields: " + ", ".join(f"{k} {v}" for k, v in top))
    if plan.allow_mass_deactivation:
        lines.append(f"  guard overridden: {plan.override_reason or '(no reason given)'}")
    lines += [f"  note: {n}" for n in s.notes]
    return "\n".join(lines)

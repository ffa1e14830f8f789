"""What a plan's failures hold back from the baseline, and the failed items in the source's terms.

A job that failed (or ended Validation failed) holds back every item of its batch; a job that succeeded
with failed items (``Fail > 0``) holds back the items its log names. Held-back items keep their baseline
rows in the snapshot that is promoted, so the next change feed sends exactly them again, and nothing that
Connect already accepted. A failed FullFile batch also holds back the plan's removed items, so their
deactivation is retried.

Each failed item is mapped back through its log row (``ImportedRow``) to the batch item, its key, and the
source file and row it came from (``Plan.origins``). Connect's documentation does not say what
``ImportedRow`` holds; it is read tolerantly: a number is the item's 1-based position in the batch, a JSON
object is read for the key's members, other text is matched against the batch items' key values.

Examples
--------
>>> item_position("3", 5), item_position("7", 5), item_position(None, 5)
(3, None, None)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import polars as pl

from toolkit._element_rows import row_key, with_element_keys
from toolkit.entities import get_entity
from toolkit.payloads import frame_from_items

if TYPE_CHECKING:
    from toolkit.batches import Batch
    from toolkit.connect.models import JobLogEntry
    from toolkit.ledger import Ledger
    from toolkit.plan_model import Plan
    from toolkit.records import JobRecord

__all__ = ["FAILURES", "FAILURE_SCHEMA", "HeldBack", "held_back", "item_failures", "item_position"]

FAILURES = "failures.parquet"
"""The file beside a saved plan that lists its failed items (see `item_failures`)."""

FAILURE_SCHEMA: dict[str, pl.DataType] = {
    "feed": pl.String(),
    "plan_id": pl.String(),
    "job_id": pl.Int64(),
    "batch": pl.Int64(),
    "item": pl.Int64(),
    "key": pl.String(),
    "source": pl.String(),
    "row": pl.Int64(),
    "severity": pl.Int64(),
    "message": pl.String(),
}


@dataclass(frozen=True)
class HeldBack:
    """The row keys a plan's failures hold back, and whether removed items are held back too."""

    keys: pl.DataFrame
    removals: bool = False

    @property
    def empty(self) -> bool:
        return self.keys.is_empty() and not self.removals


def key_columns(plan: Plan) -> list[str]:
    """The row key of the plan's feed (as ``Plan.origins`` has it, else the entity's)."""
    if plan.origins is not None:
        return [c for c in plan.origins.collect_schema().names() if not c.startswith("_")]
    return list(row_key(get_entity(plan.entity), ()))


def item_position(imported_row: str | int | None, items: int) -> int | None:
    """The 1-based position in a batch of ``items`` that an ``ImportedRow`` names, if it is a number."""
    text = str(imported_row).strip() if imported_row is not None else ""
    if not text.isdigit():
        return None
    position = int(text)
    return position if 1 <= position <= items else None


def _keys_of(plan: Plan, items: Sequence[dict[str, Any]]) -> pl.DataFrame:
    """One row per canonical row of ``items`` (a product item: one per SKU), key columns only."""
    entity, key = get_entity(plan.entity), key_columns(plan)
    if not items:
        return pl.DataFrame(schema=dict.fromkeys(key, pl.String()))
    return with_element_keys(entity, frame_from_items(entity, items, columns=key)).select(key)


Item = dict[str, Any]


def _named_item(plan: Plan, items: list[Item], entry: JobLogEntry) -> tuple[int | None, Item | None]:
    """The batch item a log row names (its 1-based position and the item), or (None, None)."""
    position = item_position(entry.imported_row, len(items))
    if position is not None:
        return position, items[position - 1]
    text = str(entry.imported_row or "")
    try:
        named = orjson.loads(text) if text.startswith("{") else None
    except orjson.JSONDecodeError:
        named = None
    key = key_columns(plan)
    for index, item in enumerate(items, 1):
        if _names(item, key, named if isinstance(named, dict) else None, text):
            return index, item
    return None, None


def _names(item: Item, key: list[str], named: Item | None, text: str) -> bool:
    """Whether a log row's ``ImportedRow`` (a JSON object, or text) names ``item`` by its key."""
    present = [k for k in key if item.get(k) not in (None, "")]
    if not present:
        return False
    if named is not None:
        return all(str(named.get(k, "")) == str(item[k]) for k in present if k in named)
    return all(str(item[k]) in text for k in present)


def item_failures(plan: Plan, batch: Batch, job: JobRecord, log: Iterable[JobLogEntry]) -> pl.DataFrame:
    """The failed items of ``job`` (the job of ``batch``): one row per canonical row (`FAILURE_SCHEMA`).

    Log rows of severity warning or error that name an item are failures; the item's key is looked up
    in ``Plan.origins`` for the source file and row (null for a removed item, which has no source row).
    """
    items, named = batch.items(), []
    for entry in log:
        if entry.severity < 2 or entry.imported_row in (None, ""):
            continue
        position, item = _named_item(plan, items, entry)
        named.append((entry, position, _keys_of(plan, [item] if item is not None else [])))
    keys = [k for _, _, k in named if k.height]
    origin = _origins(plan, pl.concat(keys, how="vertical_relaxed") if keys else None)
    rows = []
    for entry, position, found in named:
        found_keys: list[Item | None] = list(found.iter_rows(named=True))
        for key in found_keys or [None]:
            source, row = origin.get(_label(key), (None, None)) if key else (None, None)
            rows.append(
                {
                    "feed": plan.feed,
                    "plan_id": plan.id,
                    "job_id": job.job_id,
                    "batch": batch.index,
                    "item": position,
                    "key": _label(key),
                    "source": source,
                    "row": row,
                    "severity": entry.severity,
                    "message": entry.message,
                }
            )
    return pl.DataFrame(rows, schema=FAILURE_SCHEMA)


def _label(key: dict[str, Any] | None) -> str | None:
    return ", ".join(f"{k}={v}" for k, v in key.items()) if key else None


def _origins(plan: Plan, keys: pl.DataFrame | None) -> dict[str | None, tuple[str, int]]:
    """Key label -> (source file, row) of its first source row, from ``Plan.origins``, for ``keys``
    only (a plan's origins may be millions of rows, a LazyFrame over its file)."""
    if plan.origins is None or keys is None:
        return {}
    key = key_columns(plan)
    schema = plan.origins.collect_schema()
    wanted = keys.select(pl.col(k).cast(schema[k]) for k in key).unique().lazy()
    rows = plan.origins.lazy().join(wanted, on=key, how="semi")
    first = rows.unique(subset=key, keep="first", maintain_order=True).collect()
    return {_label({k: r[k] for k in key}): (r["_source"], r["_row"]) for r in first.iter_rows(named=True)}


def held_back(plan: Plan, failed_batches: Iterable[int], failures: pl.DataFrame) -> HeldBack:
    """The keys held back: every item of the failed batches and every failed item that names one."""
    failed = set(failed_batches)
    items = [i for b in plan.batches if b.index in failed for i in b.items()]
    keys = [_keys_of(plan, items)]
    named = failures.filter(pl.col("key").is_not_null())
    if named.height:
        by_batch = {b.index: b for b in plan.batches}
        picked = [
            by_batch[r["batch"]].items()[r["item"] - 1]
            for r in named.unique(["batch", "item"]).iter_rows(named=True)
            if r["item"] is not None and r["batch"] in by_batch
        ]
        keys.append(_keys_of(plan, picked))
    removals = any(plan.batches[i].header.get("FullFile") for i in failed if i < len(plan.batches))
    return HeldBack(pl.concat(keys, how="vertical_relaxed").unique(), removals=removals)


def read_failures(ledger: Ledger, *, feed: str | None = None) -> pl.DataFrame:
    """Every failed item the ledger's plans recorded (``failures.parquet`` beside each saved plan), oldest
    plan first, in `FAILURE_SCHEMA`."""
    found = [
        pl.read_parquet(Path(p.directory) / FAILURES)
        for p in ledger.plans(feed)
        if p.directory is not None and (Path(p.directory) / FAILURES).exists()
    ]
    return pl.concat(found, how="vertical_relaxed") if found else pl.DataFrame(schema=FAILURE_SCHEMA)

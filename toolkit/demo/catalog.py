"""After the demo: does the catalog Connect holds equal what the toolkit says Norce accepted?

For every feed, the sandbox's items of its entity are read back (``frame_from_items``, active items
only) and compared on the feed's key with the valid rows of the feed's baseline (the last snapshot
whose jobs all succeeded). Two feeds of one entity (ERP and PIM products) each compare their own
columns. Which products are active is said by the feeds that carry the SKU ``Status``. Items that a
change feed cannot remove (price lists, competitor prices, supplier products: removed only by the
next full feed) may still be in Connect: they are counted, not failed. So are values the source
cleared (a campaign's previous price, a delivery date once the goods arrived) that Connect keeps: it
reads a null member as "not sent" (the contract: "SkuPriceList values null or 0 do not overwrite";
the sandbox does so for every entity), so the toolkit's explicit null cannot clear them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from toolkit.config import Settings
from toolkit.diff import Diff, diff_frames
from toolkit.entities import get_entity
from toolkit.payloads import frame_from_items
from toolkit.snapshots import SnapshotStore

__all__ = ["CatalogCheck", "check_catalog", "deactivated_keys"]

Items = Callable[[str], list[dict[str, Any]]]


@dataclass(frozen=True)
class CatalogCheck:
    """One feed's baseline against the catalog read back from Connect."""

    feed: str
    entity: str
    baseline: str | None
    expected: int = 0
    found: int = 0
    missing: int = 0
    changed: int = 0
    extra: int = 0
    left_for_full: int = 0
    kept: int = 0
    kept_fields: tuple[str, ...] = ()
    changed_fields: tuple[str, ...] = ()
    dtypes: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return self.baseline is not None and not (self.missing or self.changed or self.extra or self.dtypes)

    def describe(self) -> str:
        if self.baseline is None:
            return "no accepted snapshot to compare with"
        if self.passed:
            return f"equal ({self.expected} rows)" + "".join(f"; {n}" for n in self.notes())
        parts = [
            f"{n} {what}"
            for n, what in ((self.missing, "missing"), (self.extra, "extra"), (self.changed, "different"))
            if n
        ]
        if self.changed_fields:
            parts.append(f"fields {', '.join(self.changed_fields)}")
        if self.dtypes:
            parts.append(f"dtypes differ: {', '.join(self.dtypes)}")
        return "NOT equal: " + "; ".join(parts + self.notes())

    def notes(self) -> list[str]:
        """The differences Connect's rules explain (not failures)."""
        notes = []
        if self.left_for_full:
            notes.append(
                f"{self.left_for_full} removed item(s) stay active until the next full feed "
                "(this entity is only cleaned up by a full feed)"
            )
        if self.kept:
            notes.append(
                f"{self.kept} rows keep a {' / '.join(self.kept_fields)} value the source cleared "
                "(Connect reads null as not sent, so a cleared value stays)"
            )
        return notes


def check_catalog(settings: Settings, feeds: Sequence[str], items: Items) -> list[CatalogCheck]:
    """Compare each feed's baseline with the catalog ``items(entity)`` returns (the sandbox's)."""
    store = SnapshotStore(settings.state_dir / "snapshots")
    baselines = {f: (ref.id, store.load(ref)) for f in feeds if (ref := store.baseline(f)) is not None}
    status_of = [
        b
        for f, (_, b) in baselines.items()
        if settings.feed(f).entity == "products" and "Status" in b.columns
    ]
    active_skus = (
        pl.concat([_active("products", b).select("PartNo") for b in status_of]).unique()
        if status_of
        else None
    )
    cache: dict[str, list[dict[str, Any]]] = {}
    checks = []
    for feed in feeds:
        entity = settings.feed(feed).entity
        if feed not in baselines:
            checks.append(CatalogCheck(feed, entity, None))
            continue
        if entity not in cache:
            cache[entity] = items(entity)
        snap_id, baseline = baselines[feed]
        checks.append(_compare(settings, feed, snap_id, baseline, cache[entity], active_skus))
    return checks


def _active(entity: str, frame: pl.DataFrame) -> pl.DataFrame:
    if entity == "products" and "Status" in frame.columns:
        return frame.filter(pl.col("Status").ne_missing("Inactive"))
    if "IsActive" in frame.columns:
        return frame.filter(pl.col("IsActive").fill_null(True))
    return frame


def _compare(
    settings: Settings,
    feed: str,
    snap_id: str,
    baseline: pl.DataFrame,
    items: list[dict[str, Any]],
    active_skus: pl.DataFrame | None,
) -> CatalogCheck:
    spec = settings.feed(feed)
    entity = get_entity(spec.entity)
    key = list(spec.key or entity.key)
    columns = [c for c in baseline.columns if not c.startswith("_")]
    marker = "Status" if entity.name == "products" else "IsActive"
    read = columns if marker in columns else [*columns, marker]
    found = _active(entity.name, frame_from_items(entity, items, columns=read)).select(columns)
    expected = _active(entity.name, baseline.select(columns))
    if entity.name == "products" and "Status" not in columns and active_skus is not None:
        expected = expected.join(active_skus, on="PartNo", how="semi")  # active as the ERP says
    diff = diff_frames(expected, found, key=key)
    dtypes = tuple(c for c in columns if expected.schema[c] != found.schema[c])
    extra = diff.added.height
    left = extra if entity.removal == "full_feed" else 0
    kept = _kept_cleared(diff)
    other = diff.changed.filter(~kept)
    return CatalogCheck(
        feed,
        entity.name,
        snap_id,
        expected=expected.height,
        found=found.height,
        missing=diff.removed.height,
        changed=other.height,
        extra=extra - left,
        left_for_full=left,
        kept=int(kept.sum()),
        kept_fields=_fields(diff.changed.filter(kept)),
        changed_fields=_fields(other),
        dtypes=dtypes,
    )


def _fields(changed: pl.DataFrame) -> tuple[str, ...]:
    return tuple(sorted({f for fs in changed["changed_fields"].to_list() for f in fs}))


def _kept_cleared(diff: Diff) -> pl.Series:
    """Per changed row: True when every field that differs is null in the baseline, set in Connect."""
    found, expected = diff.changed, diff.previous
    kept = pl.Series([True] * found.height, dtype=pl.Boolean)
    for name in diff.field_counts:
        differs = found["changed_fields"].list.contains(name)
        kept &= ~differs | (expected[name].is_null() & found[name].is_not_null())
    return kept


def deactivated_keys(
    settings: Settings, feed: str, keys: Sequence[str], items: list[dict[str, Any]]
) -> list[str]:
    """Which of ``keys`` (as the checks print them: key values joined by ``|``) Connect holds deactivated.

    A row the checks reject must not take the item it names out of the shop: its key is not "removed".
    """
    spec = settings.feed(feed)
    entity = get_entity(spec.entity)
    key = list(spec.key or entity.key)
    marker = "Status" if entity.name == "products" else "IsActive"
    frame = frame_from_items(entity, items, columns=[*key, marker])
    if frame.is_empty() or marker not in frame.columns:
        return []
    inactive = frame.join(_active(entity.name, frame), on=key, how="anti")
    joined = inactive.select(pl.concat_str([pl.col(k).cast(pl.String) for k in key], separator="|"))
    return sorted(set(joined.to_series().to_list()) & set(keys))

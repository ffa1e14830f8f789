"""Products fed by a feed that does not own the structure: which rows it may send, and where.

The structure (the product ``Code`` a SKU is under, and its variant, ``ManufacturerCode`` +
``ManufacturerPartNo``) belongs to one system, the ERP as a rule. A products feed owns it when its
settings say so (``owns_structure``, true by default) and its source has those three columns. Any
other products feed (a PIM told ``owns_structure = false``, a price-only file) only locates SKUs:

- Norce's structure, as far as the ledger knows it, is the baselines of the feeds that own it;
- a row whose placement differs from it is not sent (Connect would move the SKU back to where this
  source has it) and a row whose SKU is not in it is not sent (its owner creates it); neither is
  recorded as sent, so the row goes out once the two agree;
- the rows sent are nested where Norce has their SKUs (a price-only file gets its placement from
  there: Connect's product import finds a SKU by ``ManufacturerCode`` + ``ManufacturerPartNo``);
- such a feed never sends FullFile (it would deactivate what the structure's owner added) and never
  deactivates: a row it leaves out may only be placed elsewhere now, and SKUs come and go with the
  structure's owner.

Without a feed that owns the structure there is nothing to locate by, and the plan is refused with
the columns or the setting to add (the only products feed, told it owns the structure, needs no
``Code``: Connect places a SKU by ``ManufacturerCode`` + ``ManufacturerPartNo``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import polars as pl

from toolkit.errors import ConfigError
from toolkit.plan_parts import PLACEMENT, Rights

if TYPE_CHECKING:
    from toolkit.config import Feed, Settings
    from toolkit.entities import Entity
    from toolkit.snapshots import SnapshotStore

__all__ = ["Located", "locate_rows", "owns_structure"]

_KNOWN = tuple(f"__known_{c}" for c in PLACEMENT)


def owns_structure(feed: Feed, columns: list[str]) -> bool:
    """Whether ``feed`` places SKUs: told so (the default) and its source has every placement column.

    >>> from toolkit.config import Feed
    >>> pim = Feed("pim", "products", "sandbox", 1, "pim.csv", "csv", owns_structure=False)
    >>> columns = ["Code", "ManufacturerCode", "ManufacturerPartNo", "PartNo"]
    >>> owns_structure(pim, columns), owns_structure(replace(pim, owns_structure=True), columns)
    (False, True)
    >>> owns_structure(replace(pim, owns_structure=True), ["PartNo", "StandardPrice"])
    False
    """
    return feed.owns_structure and all(c in columns for c in PLACEMENT)


@dataclass(frozen=True)
class Located:
    """The rows a plan may send, Norce's structure to nest them by, and what the plan says about it.

    ``structure`` is None for a feed that owns the structure (its rows are sent where its source
    places them); else one row per known SKU: ``PartNo`` and its placement columns.
    """

    valid: pl.DataFrame
    structure: pl.DataFrame | None = None
    notes: tuple[str, ...] = ()

    def rights(self, rights: Rights) -> Rights:
        """``rights`` of a feed that does not own the structure: no FullFile, no deactivation."""
        if self.structure is None:
            return rights
        owner = rights.owner or "the feed that owns the structure"
        return replace(rights, full_file=False, owns=False, owner=owner, structure=self.structure)


def locate_rows(
    settings: Settings, feed: Feed, entity: Entity, valid: pl.DataFrame, store: SnapshotStore
) -> Located:
    """The rows of ``feed`` a plan may send: all of them where the feed owns the structure, else
    those placed as Norce's structure has them (see the module docstring).

    Raises `ConfigError` when the feed does not own the structure and no other products feed does.
    """
    if entity.name != "products" or owns_structure(feed, valid.columns):
        return Located(valid)
    owners = [
        f.name
        for f in settings.feeds.values()
        if f.entity == "products" and f.name != feed.name and f.owns_structure
    ]
    addressed = {"ManufacturerCode", "ManufacturerPartNo"} <= set(valid.columns)
    if not owners and feed.owns_structure and addressed:
        return Located(valid)  # the only products feed, without Code: its variants are its products
    if not owners:
        raise ConfigError(_no_owner(feed, valid.columns))
    structure = _structure(store, owners)
    joined = valid.join(structure.rename(dict(zip(PLACEMENT, _KNOWN, strict=True))), on="PartNo", how="left")
    known = pl.col(_KNOWN[-1]).is_not_null()
    own = [(c, k) for c, k in zip(PLACEMENT, _KNOWN, strict=True) if c in valid.columns]
    differs = pl.any_horizontal(pl.col(c).ne_missing(pl.col(k)) for c, k in own) if own else pl.lit(False)
    flags = joined.select(known.alias("known"), (known & differs).alias("misplaced"))
    notes = [
        f"FullFile off: feed {feed.name!r} does not own the product structure ({_why(feed)}); "
        f"SKUs are located as feed {', '.join(owners)} placed them"
    ]
    misplaced, unknown = int(flags["misplaced"].sum()), int((~flags["known"]).sum())
    if misplaced:
        notes.append(
            f"{misplaced} SKUs placed differently than in Norce's structure: left to the structure's owner"
        )
    if unknown:
        notes.append(
            f"{unknown} SKUs not in Norce's structure as feed {', '.join(owners)} sent it: left "
            "to the structure's owner, sent once it has them"
        )
    sendable = flags["known"] & ~flags["misplaced"]
    return Located(valid.filter(sendable), structure, tuple(notes))


def _structure(store: SnapshotStore, owners: list[str]) -> pl.DataFrame:
    """``PartNo`` and its placement in the baselines of ``owners`` (the first owner that has a SKU)."""
    frames = []
    for name in owners:
        ref = store.baseline(name)
        if ref is None:
            continue
        lazy = store.scan(ref)
        if all(c in lazy.collect_schema() for c in ("PartNo", *PLACEMENT)):
            frames.append(lazy.select("PartNo", *(pl.col(c).cast(pl.String) for c in PLACEMENT)))
    empty = pl.DataFrame(schema=dict.fromkeys(("PartNo", *PLACEMENT), pl.String))
    if not frames:
        return empty
    return pl.concat([f.collect() for f in frames]).unique("PartNo", keep="first", maintain_order=True)


def _why(feed: Feed) -> str:
    return "owns_structure = false" if not feed.owns_structure else "its source lacks a placement column"


def _no_owner(feed: Feed, columns: list[str]) -> str:
    missing = [c for c in PLACEMENT[1:] if c not in columns]
    if feed.owns_structure:
        return (
            f"products feed {feed.name!r}: the source has no {', '.join(missing)}, and no other "
            "products feed owns the structure to locate its SKUs by (Connect's product import "
            "finds a SKU by ManufacturerCode + ManufacturerPartNo); add those columns to the "
            "source, or a products feed with them (owns_structure = true, the default)"
        )
    return (
        f"products feed {feed.name!r} has owns_structure = false, but no other products feed owns "
        "the structure to locate its SKUs by; set owns_structure = true on this feed, or add the "
        "feed that places the SKUs (Code, ManufacturerCode, ManufacturerPartNo)"
    )

"""Pure: a diff -> the groups of items a plan sends, and what it says about what it does not send.

Rules that keep a plan within what Connect accepts and what the feed may decide:

- A value cleared in the source is sent as ``null`` only where the contract's member can be null; a
  cleared value of a value-typed member (``OnhandValue``, a SKU's ``Status``) is left out, so Norce
  keeps its value, and the plan says so.
- No request lists a non-nullable member that one of its items lacks (`toolkit.batches.presence_groups`).
- Only a feed that owns the deactivation field (:class:`Rights`) deactivates removed items and sends
  returning ones active; another feed of the same entity leaves removals to the owner.
- Removed items are deactivated explicitly (``IsActive: false``, SKU ``Status: Inactive``) wherever the
  contract does not document what FullFile does; entities without such a field keep removed items
  pending in the baseline until a FullFile import covers them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import polars as pl

from toolkit.batches import (
    FULL_FILE_DEACTIVATES,
    FULL_FILE_SCOPE,
    Group,
    field_groups,
    full_file_groups,
    presence_groups,
    union_groups,
)
from toolkit.batches import count_requests as _count
from toolkit.config import Policies
from toolkit.diff import Diff
from toolkit.entities import Entity
from toolkit.payloads import item_columns

__all__ = [
    "PLACEMENT",
    "Parts",
    "Rights",
    "change_parts",
    "cleared_columns",
    "full_groups",
    "full_parts",
    "full_rows",
    "lacking_fields",
    "still_active",
]

# Columns that place a SKU in the product structure: a change moves it (or renumbers its product).
PLACEMENT = ("Code", "ManufacturerCode", "ManufacturerPartNo")


@dataclass(frozen=True)
class Rights:
    """What a feed may decide about the items it stops or starts sending.

    ``owns``: the feed owns the deactivation field (it maps it, or no other feed of the entity does),
    so it deactivates removed items and sends added ones active. ``full_file``: FullFile may be sent
    (not on a first full feed nobody asked for, nor while rejected rows could stand for any item).
    """

    owns: bool = True
    full_file: bool = True
    owner: str = ""  # who deactivates instead, when not ``owns``
    # a feed that does not own the product structure: PartNo -> Norce's placement (toolkit.plan_structure)
    structure: pl.DataFrame | None = field(default=None, compare=False, repr=False)


@dataclass
class Parts:
    """The groups of a plan and the counts that go with them."""

    groups: list[Group] = field(default_factory=list)
    deactivated: int = 0
    left_for_full: int = 0
    deactivating: int = 0  # what the guard weighs: removed items that are still active
    grouping: str = "none"
    notes: list[str] = field(default_factory=list)
    pending: pl.DataFrame | None = None  # removed rows kept in the baseline until FullFile covers them


def still_active(entity: Entity, removed: pl.DataFrame) -> pl.DataFrame:
    """The removed rows whose item is still active in Norce."""
    if entity.removal == "sku_status" and "Status" in removed.columns:
        return removed.filter(pl.col("Status").ne_missing("Inactive"))
    if "IsActive" in removed.columns:
        return removed.filter(pl.col("IsActive").fill_null(True))
    return removed


def _switch(entity: Entity) -> tuple[str, object, object] | None:
    """The deactivation column with its inactive and active values, or None where there is none."""
    if entity.removal == "sku_status":
        return "Status", "Inactive", "Active"
    if entity.removal == "is_active":
        return "IsActive", False, True
    return None


def _deactivation(entity: Entity, rows: pl.DataFrame) -> Group | None:
    switch = _switch(entity)
    if rows.is_empty() or switch is None:
        return None
    frame = rows.with_columns(pl.lit(switch[1]).alias(switch[0]))
    return Group(frame, (switch[0],), (), label="deactivated")


def _activated(entity: Entity, rows: pl.DataFrame, rights: Rights) -> pl.DataFrame:
    """Added (or returning) rows sent active where the feed owns the field but the source lacks it:
    an item this feed deactivated earlier would otherwise stay inactive."""
    switch = _switch(entity)
    if switch is None or not rights.owns or switch[0] in rows.columns:
        return rows
    return rows.with_columns(pl.lit(switch[2]).alias(switch[0]))


def cleared_columns(entity: Entity, diff: Diff) -> tuple[str, ...]:
    """Nullable columns that some changed row turned from a value into null (sent as null)."""
    ch = diff.changed
    cols = [
        c for c in ch.columns if c not in diff.key and c != "changed_fields" and entity.column(c).nullable
    ]
    if ch.is_empty() or not cols:
        return ()
    hits = ch.select(
        (pl.col(c).is_null() & pl.col("changed_fields").list.contains(c)).any().alias(c) for c in cols
    )
    return tuple(c for c in cols if hits[c][0])


def _kept_values(entity: Entity, changed: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, int]]:
    """Changed rows without the non-nullable fields they cleared (Norce keeps those values), rows left
    with no change dropped; and how many values each such column kept."""
    strict = [
        c
        for c in changed.columns
        if c != "changed_fields" and not entity.column(c).is_key and not entity.column(c).nullable
    ]
    kept: dict[str, int] = {}
    for c in strict:
        hit = pl.col(c).is_null() & pl.col("changed_fields").list.contains(c)
        count = int(changed.select(hit.sum()).item())
        if count:
            kept[c] = count
            without = pl.col("changed_fields").list.eval(pl.element().filter(pl.element() != c))
            changed = changed.with_columns(
                pl.when(hit).then(without).otherwise("changed_fields").alias("changed_fields")
            )
    if kept:
        changed = changed.filter(pl.col("changed_fields").list.len() > 0)
    return changed, kept


def _kept_note(kept: dict[str, int]) -> str:
    said = ", ".join(f"{c} ({n})" for c, n in kept.items())
    return (
        f"values cleared in the source keep their value in Norce, as Connect cannot set them to "
        f"null: {said}; send a value to change them"
    )


def _encoded(entity: Entity, groups: list[Group]) -> list[Group]:
    return [g if g.json is not None else replace(g, json=g.encoded(entity)) for g in groups]


def _split(entity: Entity, groups: list[Group]) -> list[Group]:
    return [part for g in groups for part in presence_groups(entity, g)]


def change_parts(entity: Entity, diff: Diff, policies: Policies, rights: Rights | None = None) -> Parts:
    """Added items whole, changed items by changed fields, removed ones deactivated or left."""
    rights = rights or Rights()
    parts = Parts()
    diff = _located_diff(diff, rights.structure)
    added = _activated(entity, diff.added, rights)
    added_groups = [] if added.is_empty() else _split(entity, [Group(added, None, (), label="added")])
    deactivation = _removals(entity, diff.removed, rights, parts)
    fixed = _encoded(entity, [*added_groups, *([deactivation] if deactivation else [])])
    changed, kept = _kept_values(entity, diff.changed)
    if kept:
        parts.notes.append(_kept_note(kept))
    changed, moved = _moves(entity, changed, parts, located=rights.structure is not None)
    fixed = [*fixed[: len(added_groups)], *moved, *fixed[len(added_groups) :]]
    parts.grouping, groups = _changed_groups(
        entity, changed, policies, fixed=_count(entity, fixed, policies=policies)
    )
    at = len(added_groups) + len(moved)
    parts.groups = _located_groups(entity, [*fixed[:at], *groups, *fixed[at:]], rights.structure)
    return parts


def _placed(rows: pl.DataFrame, structure: pl.DataFrame | None) -> pl.DataFrame:
    """``rows`` with the placement Norce has for their SKUs (those it does not have left out), for
    a feed that does not own the structure; unchanged for one that does (``structure`` None)."""
    if structure is None:
        return rows
    own = [c for c in PLACEMENT if c in rows.columns]
    return rows.drop(own).join(structure, on="PartNo", how="inner", maintain_order="left")


def _located_diff(diff: Diff, structure: pl.DataFrame | None) -> Diff:
    if structure is None:
        return diff
    return replace(
        diff,
        added=_placed(diff.added, structure),
        changed=_placed(diff.changed, structure),
        removed=_placed(diff.removed, structure),
    )


def _located_groups(entity: Entity, groups: list[Group], structure: pl.DataFrame | None) -> list[Group]:
    """A feed that does not own the structure lists no ``Code``: its product codes only locate."""
    if structure is None:
        return groups
    out = []
    for g in groups:
        fields = g.fields if g.fields is not None else tuple(item_columns(entity, g.frame.columns))
        out.append(
            replace(
                g,
                fields=tuple(f for f in fields if f not in PLACEMENT),
                clear=tuple(c for c in g.clear if c not in PLACEMENT),
            )
        )
    return out


def _moves(
    entity: Entity, changed: pl.DataFrame, parts: Parts, *, located: bool = False
) -> tuple[pl.DataFrame, list[Group]]:
    """SKUs whose product or variant changed, sent whole at their new place (the feed's every field),
    as a move Connect processes (``Variants``/``Skus`` listed); the other changed rows. For a feed
    that does not own the structure (``located``) the new place is where Norce has them already."""
    placing = [c for c in PLACEMENT if c in changed.columns and entity.name == "products"]
    if not placing or changed.is_empty():
        return changed, []
    hit = pl.any_horizontal(pl.col("changed_fields").list.contains(c) for c in placing)
    moved = changed.filter(hit)
    if moved.is_empty():
        return changed, []
    if located:
        parts.notes.append(
            f"{moved.height} SKUs placed anew in the source, as Norce's structure has them: sent whole there"
        )
    else:
        parts.notes.append(
            f"moved {moved.height} SKUs to another variant or product: sent whole at their new place"
        )
    groups = _encoded(entity, _split(entity, [Group(moved.drop("changed_fields"), None, (), label="moved")]))
    return changed.filter(~hit), groups


def _removals(entity: Entity, removed: pl.DataFrame, rights: Rights, parts: Parts) -> Group | None:
    """A change feed's removed items: deactivated, kept pending for a full feed, or left to the owner."""
    active = still_active(entity, removed)
    if active.is_empty():
        return None
    if not rights.owns:
        parts.notes.append(_left_to_owner(entity, active.height, rights))
        return None
    parts.deactivating = active.height
    deactivation = _deactivation(entity, active)
    if deactivation is not None:
        parts.deactivated = active.height
        return deactivation
    _pending(entity, active, parts, why="a full feed removes them")
    return None


def _left_to_owner(entity: Entity, count: int, rights: Rights) -> str:
    switch = _switch(entity)
    column = switch[0] if switch else "deactivation"
    return f"{count} removed items left to {rights.owner or 'the feed that owns their ' + column}"


def _pending(entity: Entity, rows: pl.DataFrame, parts: Parts, *, why: str) -> None:
    """Removed items nothing in this plan removes: kept in the baseline (so the next full feed still
    sees them as removed) where a FullFile import can remove them, else only counted."""
    parts.left_for_full += rows.height
    if not entity.has_full_file:
        parts.notes.append(
            f"{rows.height} removed items stay in Norce: {entity.item} has no IsActive, Status or FullFile"
        )
        return
    before = [] if parts.pending is None else [parts.pending]
    parts.pending = pl.concat([*before, rows], how="diagonal_relaxed")
    parts.notes.append(
        f"{rows.height} removed items stay pending in the baseline until {why} "
        f"({entity.item} has no IsActive or Status)"
    )


def _union(entity: Entity, changed: pl.DataFrame, policies: Policies) -> list[Group]:
    """Union groups that send no null a row did not clear: rows that cleared a value go by their own
    field set (their nulls are the change); in the others a null is left out, never sent."""
    fields = [c for c in changed.columns if c != "changed_fields"]
    cleared = pl.any_horizontal(
        pl.col(c).is_null() & pl.col("changed_fields").list.contains(c) for c in fields
    )
    clearing = changed.filter(cleared)
    plain = [replace(g, clear=()) for g in union_groups(changed.filter(~cleared), policies, "changed")]
    return _split(entity, [*field_groups(clearing, "changed"), *plain])


def _changed_groups(
    entity: Entity, changed: pl.DataFrame, policies: Policies, fixed: int
) -> tuple[str, list[Group]]:
    """By changed-field set unless that costs more than ``max_extra_requests`` over one union header
    per batch. Every set needs at least one request, so many sets settle it without encoding them."""
    if changed.is_empty():
        return "none", []
    union = _encoded(entity, _union(entity, changed, policies))
    n_union = _count(entity, union, policies=policies)
    allowed = policies.max_extra_requests * (fixed + n_union)
    n_sets = changed["changed_fields"].list.join("\x1f").n_unique()
    if n_sets - n_union > allowed:
        why = f"the changed items' {n_sets} field sets would take at least {n_sets} requests, not {n_union}"
        return f"union per batch ({why})", union
    by_fields = _encoded(entity, field_groups(changed, "changed"))
    n_fields = _count(entity, by_fields, policies=policies)
    if n_fields - n_union <= allowed:
        return f"by changed fields ({len(by_fields)} set{'' if len(by_fields) == 1 else 's'})", by_fields
    why = f"by field sets the changed items would take {n_fields} requests, not {n_union}"
    return f"union per batch ({why})", union


def full_parts(
    entity: Entity,
    valid: pl.DataFrame,
    diff: Diff,
    policies: Policies,
    rights: Rights | None = None,
    *,
    lacking: Sequence[str] | None = None,
) -> Parts:
    """Every item with every field; FullFile where the header has it, the feed may send it and a batch
    holds whole scopes; removed items deactivated explicitly where FullFile is not documented to.

    ``lacking``: the non-nullable fields some item lacks, when ``valid`` is not every row (a streamed
    plan passes no rows here and sends them itself; `full_groups`)."""
    rights = rights or Rights()
    parts = Parts(grouping="full")
    frame = full_rows(entity, valid, diff, rights)
    diff = _located_diff(diff, rights.structure)
    full_file = entity.has_full_file and rights.full_file and rights.owns
    group, extra = full_groups(entity, frame, cleared_columns(entity, diff), parts, lacking=lacking)
    active = still_active(entity, diff.removed)
    if not rights.owns:
        parts.groups = _located_groups(entity, [group, *extra], rights.structure)
        if active.height:
            parts.notes.append(_left_to_owner(entity, active.height, rights))
        return parts
    parts.deactivating = active.height
    groups, outside = [group], active
    if full_file:
        groups, outside = _full_file(entity, group, active, policies, parts)
    parts.groups = [*groups, *extra]
    _full_removals(entity, outside, parts)
    parts.groups = _located_groups(entity, parts.groups, rights.structure)
    return parts


def full_rows(entity: Entity, valid: pl.DataFrame, diff: Diff, rights: Rights) -> pl.DataFrame:
    """The rows a full feed sends: placed (a feed that does not own the structure) and sent active
    where the feed owns the deactivation field but the source lacks it."""
    valid, diff = _placed(valid, rights.structure), _located_diff(diff, rights.structure)
    frame = _activated(entity, valid, rights) if entity.removal == "is_active" else valid
    if entity.removal == "sku_status" and rights.owns and "Status" not in valid.columns:
        frame = _with_added_active(entity, frame, diff)
    return frame


def lacking_fields(entity: Entity, frame: pl.DataFrame) -> list[str]:
    """The non-nullable fields of ``frame``'s items that some item lacks (null)."""
    fields = item_columns(entity, frame.columns)
    strict = [c for c in fields if not entity.column(c).nullable and not entity.column(c).is_key]
    return [c for c in strict if frame[c].null_count()]


def full_groups(
    entity: Entity,
    frame: pl.DataFrame,
    clear: tuple[str, ...],
    parts: Parts,
    *,
    lacking: Sequence[str] | None = None,
) -> tuple[Group, list[Group]]:
    """The full feed's main group, and the requests that set the non-nullable fields some items lack
    (``lacking``; default: those ``frame``'s items lack).

    The main group (the FullFile one) lists no non-nullable field an item lacks: Connect would write
    its default there. Those fields go in requests of their own, for the items that have them."""
    fields = item_columns(entity, frame.columns)
    lacking = list(lacking_fields(entity, frame) if lacking is None else lacking)
    if not lacking:
        return Group(frame, None, clear, label="full"), []
    main = Group(frame, tuple(f for f in fields if f not in lacking), clear, label="full")
    having = frame.filter(pl.any_horizontal(pl.col(c).is_not_null() for c in lacking))
    extra = presence_groups(entity, Group(having, tuple(lacking), (), label="full"))
    parts.notes.append(
        f"{', '.join(lacking)} sent in requests of their own, for the items that "
        "have them: Connect cannot take them as null, and writes a default where absent"
    )
    return main, [g for g in extra if not g.frame.is_empty()]


def _with_added_active(entity: Entity, frame: pl.DataFrame, diff: Diff) -> pl.DataFrame:
    """SKUs new to this feed sent ``Status: Active`` (the source has no Status), the others without."""
    added = diff.added.select(diff.key).with_columns(pl.lit("Active").alias("Status"))
    return frame.join(added, on=list(diff.key), how="left", nulls_equal=True)


def _full_file(
    entity: Entity, group: Group, active: pl.DataFrame, policies: Policies, parts: Parts
) -> tuple[list[Group], pl.DataFrame]:
    """FullFile groups of whole scopes, and the removed items no FullFile request removes."""
    groups, covered = full_file_groups(entity, group, policies)
    if entity.name not in FULL_FILE_DEACTIVATES:
        return groups, active  # FullFile sent, but removed items are deactivated explicitly
    scope = list(FULL_FILE_SCOPE.get(entity.name, ()))
    if scope:
        outside = active.join(covered, on=scope, how="anti", nulls_equal=True)
    else:
        outside = active.clear() if not covered.is_empty() else active
    if outside.height and _switch(entity) is None and not scope:
        # only FullFile removes these: one request holding every item (Connect documents no size limit)
        groups = [replace(group, full_file=True, whole=True, json=None)]
        parts.notes.append(
            f"sent as one FullFile request of {group.frame.height} items, over max_items "
            f"{policies.max_items}, as only FullFile removes {outside.height} removed "
            "items"
        )
        return groups, outside.clear()
    if any(not g.full_file for g in groups):
        limits = f"max_items {policies.max_items}, max_bytes {policies.max_bytes}"
        parts.notes.append(f"FullFile off where a scope does not fit one batch ({limits})")
    return groups, outside


def _full_removals(entity: Entity, outside: pl.DataFrame, parts: Parts) -> None:
    deactivation = _deactivation(entity, outside)
    parts.deactivated = parts.deactivating - (0 if deactivation else outside.height)
    if deactivation is not None:
        parts.groups.append(deactivation)
    elif outside.height:
        _pending(entity, outside, parts, why="a FullFile import covers them")

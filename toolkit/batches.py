"""Pure: groups of rows that share one header -> import requests (batches) within the feed's limits.

A :class:`Group` is rows plus the fields their items carry; every batch of a group gets the header of
exactly those fields. Batches are cut by item count and body bytes, whichever comes first, and named
by the sha256 of endpoint, header and body, so the same plan always has the same batch ids.

A FullFile import deactivates what it does not contain *within its scope* (on-hands: the warehouse
locations it holds; SKU prices: its price lists; other entities: everything). A FullFile batch must
therefore hold whole scopes: scopes that do not fit in one batch are sent without FullFile, and their
removed items are deactivated explicitly by the caller.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import polars as pl

from toolkit.config import Policies
from toolkit.entities import Entity
from toolkit.errors import PlanError
from toolkit.payloads import build_header, encode_items, item_columns, join_items

__all__ = [
    "FULL_FILE_DEACTIVATES",
    "FULL_FILE_SCOPE",
    "Batch",
    "Group",
    "batch_id",
    "count_requests",
    "field_groups",
    "full_file_groups",
    "limits_split",
    "make_batches",
    "presence_groups",
    "union_groups",
]

# The columns bounding what one FullFile import deactivates (contract section 4; sandbox alike).
FULL_FILE_SCOPE: dict[str, tuple[str, ...]] = {
    "onhands": ("WarehouseCode", "LocationCode"),
    "sku_prices": ("PriceListCode",),
}
# Imports whose FullFile the contract documents as deactivating what is missing (reference section 4).
# For the others (SKU prices, relations: undocumented; products: "removed from the variant cluster" in
# one text, "inactivated" in another) removed items are deactivated explicitly, FullFile or not.
FULL_FILE_DEACTIVATES = frozenset({"onhands", "competitor_skus", "supplier_products"})


def batch_id(endpoint: str, header_json: str, body: bytes) -> str:
    """sha256 hex of ``endpoint \\n header_json \\n body``.

    >>> batch_id("Product/ImportOnhands", '{"AccountId":1}', b"[]")[:12]
    '6b7cf6ba9587'
    """
    digest = hashlib.sha256(f"{endpoint}\n{header_json}\n".encode())
    digest.update(body)  # not concatenated: no copy of the body
    return digest.hexdigest()


@dataclass(frozen=True)
class Batch:
    """One import request: endpoint, header and a JSON array body of ``item_count`` items.

    The body is in memory (``data``) or in a file of a saved plan (``file``, read when asked for and
    checked against its sha256 and the batch id then): a plan of millions of items never holds its
    bodies (`toolkit.streaming`).
    """

    id: str
    index: int
    entity: str
    endpoint: str
    header: dict[str, Any]
    data: bytes | None = field(repr=False)
    item_count: int
    group: int = field(default=0, compare=False)
    """Which of the plan's item groups (one header, one kind of change) the batch is cut from."""
    file: Path | None = field(default=None, compare=False, repr=False)
    sha256: str | None = field(default=None, compare=False, repr=False)
    nbytes: int = field(default=0, compare=False, repr=False)
    """The body's size when it is in ``file``."""

    @property
    def body(self) -> bytes:
        """The JSON array of items, as sent (read from ``file`` when not in memory)."""
        if self.data is not None:
            return self.data
        if self.file is None:
            msg = f"batch {self.index} has neither a body nor a file"
            raise PlanError(msg)
        return read_body(self.file, self)

    @property
    def header_json(self) -> str:
        """The header as sent in ``X-StormConnect-Header``: one line of JSON."""
        return orjson.dumps(self.header).decode()

    @property
    def size(self) -> int:
        """Body size in bytes."""
        return len(self.data) if self.data is not None else self.nbytes

    def items(self) -> list[dict[str, Any]]:
        """The items of the body as Python objects."""
        items: list[dict[str, Any]] = orjson.loads(self.body)
        return items


def read_body(path: Path, batch: Batch) -> bytes:
    """The body of ``batch`` in ``path``, checked against its sha256 and batch id (PlanError if not)."""
    try:
        body = path.read_bytes()
    except FileNotFoundError:
        msg = f"{path}: body of batch {batch.index} is missing"
        raise PlanError(msg) from None
    digest = hashlib.sha256(body).hexdigest()
    if batch.sha256 is not None and digest != batch.sha256:
        msg = (
            f"{path}: body of batch {batch.index} does not match its hash (expected sha256 "
            f"{batch.sha256}, found {digest}); the plan was changed after it was saved"
        )
        raise PlanError(msg)
    if batch_id(batch.endpoint, batch.header_json, body) != batch.id:
        msg = f"{path}: batch {batch.index}'s body, header or endpoint does not match its id"
        raise PlanError(msg)
    return body


@dataclass(frozen=True)
class Group:
    """Rows whose items carry the same ``fields`` (None: every column) under one header.

    ``json`` caches the encoded items (one per row for flat entities) when already computed.
    ``whole`` sends the group as one request whatever ``max_items``/``max_bytes`` say (a FullFile
    import that must hold every item to remove what is missing).
    """

    frame: pl.DataFrame = field(repr=False)
    fields: tuple[str, ...] | None
    clear: tuple[str, ...] = ()
    full_file: bool = False
    label: str = "items"
    json: pl.Series | None = field(default=None, repr=False)
    whole: bool = False

    def encoded(self, entity: Entity) -> pl.Series:
        if self.json is not None:
            return self.json
        return encode_items(entity, self.frame, fields=self.fields, clear=self.clear)


def _sizes(json: pl.Series) -> np.ndarray:
    return json.str.len_bytes().to_numpy().astype(np.int64) + 1  # each item plus its comma


def limits_split(json: pl.Series, policies: Policies) -> list[tuple[int, int]]:
    """(offset, length) slices: at most max_items items and max_bytes bytes of body each."""
    sizes = _sizes(json)
    too_big = np.flatnonzero(sizes + 1 > policies.max_bytes)
    if too_big.size:
        msg = (
            f"item {int(too_big[0])} of a batch is {int(sizes[too_big[0]]) - 1} bytes, more than "
            f"max_bytes ({policies.max_bytes}); raise max_bytes"
        )
        raise PlanError(msg)
    out, start, n = [], 0, len(sizes)
    while start < n:
        window = np.cumsum(sizes[start : start + policies.max_items]) + 1  # "[" + items, "," -> "]"
        take = int(np.searchsorted(window, policies.max_bytes, side="right"))
        out.append((start, take))
        start += take
    return out


def _cuts(group: Group, json: pl.Series, policies: Policies) -> list[tuple[int, int]]:
    return [(0, len(json))] if group.whole else limits_split(json, policies)


def count_requests(entity: Entity, groups: Sequence[Group], *, policies: Policies) -> int:
    """How many requests ``groups`` need."""
    return sum(len(_cuts(g, g.encoded(entity), policies)) for g in groups)


def make_batches(
    entity: Entity, groups: Sequence[Group], *, account: int, policies: Policies, flags: Sequence[str] = ()
) -> tuple[Batch, ...]:
    """Every group cut into batches within ``policies.max_items``/``max_bytes``, numbered from 0;
    ``flags`` are listed in every header (see `toolkit.payloads.build_header`)."""
    cuts: list[tuple[dict[str, Any], str, pl.Series]] = []
    of_group: list[int] = []
    for number, group in enumerate(groups):
        json = group.encoded(entity)
        # the header lists the group's fields (identity members carried along are not written)
        fields = group.fields if group.fields is not None else item_columns(entity, group.frame.columns)
        header = build_header(entity, account=account, fields=fields, full_file=group.full_file, flags=flags)
        header_json = orjson.dumps(header).decode()
        slices = _cuts(group, json, policies)
        cuts += [(header, header_json, json.slice(o, n)) for o, n in slices]
        of_group += [number] * len(slices)

    def body_and_id(cut: tuple[dict[str, Any], str, pl.Series]) -> tuple[bytes, str]:
        body = join_items(cut[2])
        return body, batch_id(entity.endpoint, cut[1], body)

    # Joining a body (polars) and hashing it (hashlib) both release the GIL: one batch per core.
    workers = min(len(cuts), os.cpu_count() or 1)
    if workers > 1:
        with ThreadPoolExecutor(workers, thread_name_prefix="batches") as pool:
            made = list(pool.map(body_and_id, cuts))
    else:
        made = [body_and_id(c) for c in cuts]
    return tuple(
        Batch(
            id=digest,
            index=i,
            entity=entity.name,
            endpoint=entity.endpoint,
            header=header,
            data=body,
            item_count=len(items),
            group=of_group[i],
        )
        for i, ((header, _, items), (body, digest)) in enumerate(zip(cuts, made, strict=True))
    )


def presence_groups(entity: Entity, group: Group) -> list[Group]:
    """``group`` split so that no request lists a non-nullable member an item lacks.

    A member listed in the header but absent from an item is deserialized by Connect as its C#
    default (0, false, the first enum value) and written; a null there fails the batch. Rows whose
    value of such a listed field is null go to a group that does not list it.
    """
    fields = group.fields if group.fields is not None else tuple(item_columns(entity, group.frame.columns))
    strict = [c for c in fields if not entity.column(c).nullable and not entity.column(c).is_key]
    if not strict or group.frame.is_empty():
        return [group]
    nulls = group.frame.select(pl.col(c).is_null().alias(c) for c in strict)
    if not nulls.select(pl.any_horizontal(pl.all()).any()).item():
        return [group]
    pattern = nulls.select(pl.concat_str(pl.all().cast(pl.Int8).cast(pl.String)).alias("__nulls"))
    frame = group.frame.with_columns(pattern["__nulls"])
    out = []
    for part in frame.partition_by("__nulls", maintain_order=True):
        lacking = {c for c, flag in zip(strict, part["__nulls"][0], strict=True) if flag == "1"}
        kept = tuple(f for f in fields if f not in lacking)
        out.append(
            replace(
                group,
                frame=part.drop("__nulls"),
                fields=kept,
                json=None,
                clear=tuple(c for c in group.clear if c not in lacking),
            )
        )
    return out


def union_groups(changed: pl.DataFrame, policies: Policies, label: str) -> list[Group]:
    """Changed rows in slices of ``max_items``, each with the union of its rows' changed fields."""
    out = []
    for start in range(0, changed.height, policies.max_items):
        part = changed.slice(start, policies.max_items)
        union = part["changed_fields"].explode().unique(maintain_order=True).drop_nulls().to_list()
        out.append(Group(part.drop("changed_fields"), tuple(union), tuple(union), label=label))
    return out


def field_groups(changed: pl.DataFrame, label: str) -> list[Group]:
    """Changed rows grouped by their set of changed fields (in order of first appearance)."""
    if changed.is_empty():
        return []
    keyed = changed.with_columns(pl.col("changed_fields").list.join("\x1f").alias("__set"))
    out = []
    for part in keyed.partition_by("__set", maintain_order=True, include_key=False):
        fields = tuple(part["changed_fields"][0].to_list())
        out.append(Group(part.drop("changed_fields"), fields, fields, label=label))
    return out


def full_file_groups(entity: Entity, group: Group, policies: Policies) -> tuple[list[Group], pl.DataFrame]:
    """A full feed's group as FullFile groups of whole scopes, each fitting one batch, plus one group
    without FullFile for scopes too large for a batch. Also returns the scopes FullFile covers (the
    scope columns' distinct values; for an unscoped entity one row when it is covered, else none)."""
    scope = list(FULL_FILE_SCOPE.get(entity.name, ()))
    if not scope:
        json = group.encoded(entity)
        fits = len(limits_split(json, policies)) <= 1
        covered = pl.DataFrame({"covered": [True] if fits else []}, schema={"covered": pl.Boolean})
        return [replace(group, json=json, full_file=fits)], covered
    frame = group.frame.with_row_index("__scope")  # scope id: the row index where it first appears
    frame = frame.with_columns(pl.col("__scope").min().over(scope)).sort("__scope", maintain_order=True)
    json = encode_items(entity, frame.drop("__scope"), fields=group.fields, clear=group.clear)
    packs, large = _pack_scopes(frame["__scope"].to_numpy(), _sizes(json), policies)
    groups = [
        replace(group, frame=frame.slice(o, n).drop("__scope"), json=json.slice(o, n), full_file=True)
        for o, n in packs
    ]
    if large.any():
        rows = pl.Series(large)
        groups.append(
            replace(group, frame=frame.filter(rows).drop("__scope"), json=json.filter(rows), full_file=False)
        )
    fit = frame.filter(~pl.Series(large)) if large.size else frame
    return groups, fit.select(scope).unique(maintain_order=True)


def _pack_scopes(
    scope: np.ndarray, sizes: np.ndarray, policies: Policies
) -> tuple[list[tuple[int, int]], np.ndarray]:
    """Consecutive whole scopes packed into (offset, length) slices within the limits; rows of
    scopes too large for one batch are flagged in the returned mask (and left out of the slices)."""
    starts = np.flatnonzero(np.r_[True, scope[1:] != scope[:-1]]) if scope.size else scope
    ends = np.r_[starts[1:], scope.size].astype(np.int64)
    counts, nbytes = ends - starts, np.add.reduceat(sizes, starts) if scope.size else sizes
    large = np.zeros(scope.size, dtype=bool)
    packs: list[tuple[int, int]] = []
    cur_start, cur_n, cur_bytes = -1, 0, 1
    for s, c, b in zip(starts.tolist(), counts.tolist(), nbytes.tolist(), strict=True):
        if c > policies.max_items or b + 1 > policies.max_bytes:
            large[s : s + c] = True
            continue
        if cur_n and (
            cur_n + c > policies.max_items or cur_bytes + b > policies.max_bytes or cur_start + cur_n != s
        ):
            packs.append((cur_start, cur_n))
            cur_n, cur_bytes = 0, 1
        if not cur_n:
            cur_start = s
        cur_n, cur_bytes = cur_n + c, cur_bytes + b
    if cur_n:
        packs.append((cur_start, cur_n))
    return packs, large

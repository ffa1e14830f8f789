"""Turn the items of one import into validated rows, column by column (no per-row SQL).

``prepare`` checks keys, member types and enum values of every item and keeps only the members the
header lists (keys always). Values are converted column-wise: enum names become numbers, booleans and
dates are checked, nulls mean "absent". Nested lists (cultures, warehouses, ...) become JSON text.

Examples
--------
>>> from toolkit.entities import ENTITIES
>>> from toolkit.sandbox.spec import parse_header
>>> e = ENTITIES["onhands"]
>>> h = parse_header(e, '{"AccountId": 1, "SkuOnhandFieldsThatAreSet": ["OnhandValue"]}')
>>> p = prepare(e, h, [{"PartNo": "A", "WarehouseCode": "W", "LocationCode": "L",
...                     "OnhandValue": 5, "IncomingValue": 9}])
>>> p.columns, p.rows, p.errors
(('PartNo', 'WarehouseCode', 'LocationCode', 'OnhandValue'), [('A', 'W', 'L', 5)], [])
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from functools import cache
from itertools import repeat
from typing import Any

import orjson

from toolkit.entities import Entity
from toolkit.sandbox.spec import SUB_ENUMS, Header, Member, Nested, members, nested, nested_fields

Row = tuple[Any, ...]
Doc = dict[str, Any]
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


@dataclass
class Prepared:
    """Validated rows of one import, ready for the store (``errors`` empty) or refused."""

    entity: Entity
    header: Header
    total: int
    columns: tuple[str, ...] = ()
    data: list[list[Any]] = field(default_factory=list)  # one list per column
    row_numbers: list[int] = field(default_factory=list)  # 1-based item position (ImportedRow)
    errors: list[tuple[int, str]] = field(default_factory=list)
    nested: tuple[str, ...] = ()
    items: list[dict[str, Any]] | None = None  # products keep the converted items instead of rows

    @property
    def rows(self) -> list[Row]:
        return list(zip(*self.data, strict=True))


def written_members(entity: Entity, header: Header) -> list[Member]:
    """Keys, plus every member whose enabling field is listed (or that needs none)."""
    return [
        m
        for m in members(entity)
        if m.is_key or m.enabled_by is None or m.enabled_by[1] in header.listed(m.enabled_by[0])
    ]


def prepare(entity: Entity, header: Header, items: Sequence[Any]) -> Prepared:
    """Validate and convert the items of a flat entity; the last item wins for a repeated key."""
    errors = (
        []
        if set(map(type, items)) <= {dict}
        else [
            (i + 1, f"item {i + 1} is not a JSON object")
            for i, it in enumerate(items)
            if not isinstance(it, dict)
        ]
    )
    if errors:
        return Prepared(entity, header, len(items), errors=errors)
    cols = written_members(entity, header)
    data = [_convert(m, _member(items, m.name), errors) for m in cols]
    nests = [(n, f) for n in nested(entity) if (f := nested_fields(entity, n, header)) is not None]
    data += [_nested_column(n, f, _member(items, n.name), errors) for n, f in nests]
    names = tuple(m.name for m in cols) + tuple(n.name for n, _ in nests)
    keys = list(zip(*data[: sum(m.is_key for m in cols)], strict=True))
    latest = dict(zip(keys, range(len(keys)), strict=True))
    numbers: Sequence[int] = range(1, len(items) + 1)
    if len(latest) < len(keys):  # a repeated key: the last item wins
        keep = sorted(latest.values())
        data = [[column[i] for i in keep] for column in data]
        numbers = [i + 1 for i in keep]
    return Prepared(
        entity,
        header,
        len(items),
        names,
        data,
        list(numbers),
        sorted(errors),
        nested=tuple(n.name for n, _ in nests),
    )


def _member(items: Sequence[dict[str, Any]], name: str) -> list[Any]:
    return list(map(dict.get, items, repeat(name)))


def _convert(member: Member, values: list[Any], errors: list[tuple[int, str]]) -> list[Any]:
    if member.is_key and None in values:
        if member.kind == "int":  # QuantityBreak defaults to 1
            values = [1 if v is None else v for v in values]
        else:
            errors += [
                (i + 1, f"item {i + 1}: missing key {member.name}") for i, v in enumerate(values) if v is None
            ]
    if member.kind == "enum":
        assert member.enum is not None
        return _enum_column(member, member.enum, values, errors)
    allowed = _TYPES.get(member.kind)
    if allowed is None or set(map(type, values)) <= allowed:  # no value to look at one by one
        return values
    check = _CHECKS[member.kind]
    bad = [i for i, v in enumerate(values) if v is not None and not check(v)]
    for i in bad:
        errors.append(
            (i + 1, f"item {i + 1}: {member.name} must be {_EXPECT[member.kind]}, found {values[i]!r}")
        )
    if member.kind == "date":
        return [v[:10] if isinstance(v, str) else v for v in values]
    if member.kind == "int":
        return [int(v) if type(v) is float else v for v in values]
    return values


def _enum_column(
    member: Member, enum: type[IntEnum], values: list[Any], errors: list[tuple[int, str]]
) -> list[Any]:
    lookup = enum_lookup(enum)
    out = []
    for i, v in enumerate(values):
        key = v.lower() if isinstance(v, str) else v
        if v is not None and (isinstance(v, bool) or key not in lookup):
            errors.append((i + 1, f"item {i + 1}: {member.name} {v!r} is not a {enum.__name__}"))
        out.append(lookup.get(key) if v is not None and not isinstance(v, bool) else None)
    return out


@cache
def enum_lookup(enum: type[IntEnum]) -> dict[Any, int]:
    """Names (lower-cased), numbers and numeric strings of an enum, all mapped to the number."""
    table: dict[Any, int] = {m.name.lower(): int(m) for m in enum}
    table.update({int(m): int(m) for m in enum})
    table.update({str(int(m)): int(m) for m in enum})
    return table


def _nested_column(
    nest: Nested, subs: frozenset[str], values: list[Any], errors: list[tuple[int, str]]
) -> list[str | None]:
    out: list[str | None] = []
    for i, v in enumerate(values):
        if v is None:
            out.append(None)
        elif not isinstance(v, list) or not all(isinstance(e, dict) for e in v):
            errors.append((i + 1, f"item {i + 1}: {nest.name} must be an array of objects"))
            out.append(None)
        else:
            out.append(orjson.dumps([_element(nest, subs, e, i + 1, errors) for e in v]).decode())
    return out


def _element(
    nest: Nested, subs: frozenset[str], element: dict[str, Any], row: int, errors: list[tuple[int, str]]
) -> dict[str, Any]:
    if nest.mode == "merge" and any(element.get(k) is None for k in nest.match):
        errors.append((row, f"item {row}: an element of {nest.name} has no {'/'.join(nest.match)}"))
    kept = {k: v for k, v in element.items() if v is not None and (k in nest.match or k in subs)}
    for name, enum in SUB_ENUMS.items():
        if name in kept:
            lookup = enum_lookup(enum)
            raw = kept[name]
            kept[name] = lookup.get(raw.lower() if isinstance(raw, str) else raw)
            if kept[name] is None:
                errors.append((row, f"item {row}: {nest.name}.{name} {raw!r} is not a {enum.__name__}"))
    return kept


def merge_elements(nest: Nested, old: list[Doc], new: list[Doc]) -> list[Doc]:
    """Merge a nested list: matched elements are updated member by member.

    >>> n = Nested("Cultures", ("CultureCode",), None, None)
    >>> merge_elements(n, [{"CultureCode": "sv", "Name": "a", "Title": "t"}, {"CultureCode": "en"}],
    ...                [{"CultureCode": "sv", "Name": "b"}])
    [{'CultureCode': 'sv', 'Name': 'b', 'Title': 't'}, {'CultureCode': 'en'}]
    """
    index = {tuple(e.get(k) for k in nest.match): e for e in old}
    merged = {
        tuple(e.get(k) for k in nest.match): {**index.get(tuple(e.get(k) for k in nest.match), {}), **e}
        for e in new
    }
    if nest.mode == "replace":
        return list(merged.values())
    return [merged.get(k, e) for k, e in index.items()] + [e for k, e in merged.items() if k not in index]


def _is_int(v: Any) -> bool:
    return (type(v) is int) or (type(v) is float and v.is_integer())


_NONE = type(None)
_TYPES: dict[str, set[type]] = {
    "str": {str, _NONE},
    "int": {int, _NONE},
    "num": {int, float, _NONE},
    "bool": {bool, _NONE},
}
_CHECKS: dict[str, Callable[[Any], bool]] = {
    "str": lambda v: type(v) is str,
    "int": _is_int,
    "num": lambda v: type(v) in (int, float),
    "bool": lambda v: type(v) is bool,
    "date": lambda v: type(v) is str and _DATE.match(v) is not None,
    "enum": lambda v: True,
    "any": lambda v: True,
}
_EXPECT = {
    "str": "a string",
    "int": "an integer",
    "num": "a number",
    "bool": "true or false",
    "date": "a date YYYY-MM-DD",
    "enum": "an enum name or number",
    "any": "a value",
}

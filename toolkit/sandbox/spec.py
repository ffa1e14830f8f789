"""How the sandbox reads a Connect request: the header, and the stored members of each entity.

Everything is derived from the registry in :mod:`toolkit.entities`: the header members an import
accepts, the enum behind each ``...FieldsThatAreSet`` list, and, for the flat entities, the members
stored as columns (``Member``) and the nested lists stored as JSON (``Nested``).

Examples
--------
>>> from toolkit.entities import ENTITIES
>>> h = parse_header(ENTITIES["onhands"], '{"AccountId": 1, "SkuOnhandFieldsThatAreSet": [3, "IsActive"]}')
>>> sorted(h.fields["SkuOnhandFieldsThatAreSet"]), h.full_file
(['IsActive', 'OnhandValue'], False)
>>> [m.name for m in members(ENTITIES["onhands"])][:4]
['PartNo', 'WarehouseCode', 'LocationCode', 'OnhandValue']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from functools import cache
from typing import Literal

import orjson
import polars as pl

from toolkit.entities import (
    BASE_HEADER_MEMBERS,
    VALUE_ENUMS,
    Entity,
    WarehouseType,
    enum_value,
)

Kind = Literal["str", "int", "num", "bool", "date", "enum", "any"]
_EXTRA_MEMBERS = {
    "products": ("IgnoreSkuPriceListFieldsWhenEmpty",),
    "sku_prices": ("IgnoreSkuPriceListFieldsWhenEmpty",),
}


class RequestError(Exception):
    """A request the sandbox refuses, with the HTTP status and a message naming the problem.

    ``body`` replaces the default JSON answer (``{"StatusCode": status, "Message": message}``), e.g. with
    the JobResponse of an import refused for contract violations.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        body: dict[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.headers, self.body = status, message, headers or {}, body


@dataclass(frozen=True)
class Header:
    """A parsed ``X-StormConnect-Header``: field lists hold canonical enum names."""

    account_id: int
    full_file: bool
    fields: dict[str, frozenset[str]]
    raw: dict[str, object] = field(default_factory=dict)

    def listed(self, member: str) -> frozenset[str]:
        return self.fields.get(member, frozenset())


@dataclass(frozen=True)
class Member:
    """A scalar member stored in its own column; ``enabled_by`` is (field list, enum name)."""

    name: str
    kind: Kind
    is_key: bool = False
    enabled_by: tuple[str, str] | None = None
    enum: type[IntEnum] | None = None


@dataclass(frozen=True)
class Nested:
    """A nested list stored as JSON and merged element by element (``match`` members)."""

    name: str
    match: tuple[str, ...]
    flag: tuple[str, str] | None  # (field list, name) that enables the list; None: the sub list does
    sub_list: str | None  # lists which sub members are written; None: all of ``always``
    always: tuple[str, ...] = ()  # sub members written whenever present
    mode: Literal["merge", "replace"] = "merge"


def parse_header(entity: Entity, text: str | None) -> Header:
    """Parse and check the header of one import; raises RequestError(400) naming the problem."""
    if text is None or not text.strip():
        raise RequestError(400, "missing X-StormConnect-Header (a one-line JSON object)")
    try:
        raw = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise RequestError(400, f"X-StormConnect-Header is not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise RequestError(400, f"X-StormConnect-Header must be a JSON object, found {_kind(raw)}")
    account = raw.get("AccountId")
    if account is None:
        raise RequestError(400, f"X-StormConnect-Header ({entity.header_type}) has no AccountId")
    if isinstance(account, bool) or not isinstance(account, int):
        raise RequestError(400, f"X-StormConnect-Header AccountId must be an integer, found {account!r}")
    full_file = raw.get("FullFile")
    if full_file is not None and not entity.has_full_file:
        raise RequestError(400, f"{entity.header_type} has no FullFile member ({entity.endpoint})")
    if full_file is not None and not isinstance(full_file, bool):
        raise RequestError(400, f"X-StormConnect-Header FullFile must be true or false, found {full_file!r}")
    fields = {m: _field_names(entity, m, v) for m, v in raw.items() if _is_field_list(entity, m)}
    return Header(account, bool(full_file), {k: v for k, v in fields.items() if v is not None}, raw)


def _is_field_list(entity: Entity, member: str) -> bool:
    allowed = {*BASE_HEADER_MEMBERS, "FullFile", *_EXTRA_MEMBERS.get(entity.name, ())}
    if member in allowed:
        return False
    if member in {fl.member for fl in entity.field_lists}:
        return True
    msg = f"{entity.header_type} has no member {member!r} (X-StormConnect-Header of {entity.endpoint})"
    raise RequestError(400, msg)


def _field_names(entity: Entity, member: str, values: object) -> frozenset[str] | None:
    if values is None:
        return None
    if not isinstance(values, list):
        raise RequestError(400, f"header member {member} must be a JSON array, found {_kind(values)}")
    enum = entity.field_list(member).enum
    names = []
    for v in values:
        try:
            if isinstance(v, bool) or not isinstance(v, (int, str)):
                raise ValueError(v)
            names.append(enum_value(enum, v).name)
        except ValueError:
            msg = f"header member {member}: unknown field {v!r}; expected a name or number of {enum.__name__}"
            raise RequestError(400, msg) from None
    return frozenset(names)


def _kind(value: object) -> str:
    return {dict: "an object", list: "an array", str: "a string", type(None): "null", bool: "a boolean"}.get(
        type(value), "a number"
    )


def _dtype_kind(dtype: pl.DataType) -> Kind:
    if dtype == pl.String():
        return "str"
    if dtype == pl.Int64():
        return "int"
    if dtype == pl.Boolean():
        return "bool"
    if dtype == pl.Date():
        return "date"
    return "num" if isinstance(dtype, pl.Decimal) else "any"


# Canonical columns that are not scalar item members, by entity: handled as Nested.
_NOT_SCALAR = {"price_lists": {"Warehouses"}, "customers": {"CompanyCode"}}


@cache
def members(entity: Entity) -> tuple[Member, ...]:
    """The scalar members of a flat entity, keys first, in column order."""
    out = []
    for col in entity.columns:
        if col.qualifier or "." in col.name or col.name in _NOT_SCALAR.get(entity.name, ()):
            continue
        enum = VALUE_ENUMS[col.values] if col.values else None
        kind: Kind = "enum" if enum else _dtype_kind(col.dtype)
        enabled = (col.field_list, col.field) if col.field and col.field_list else None
        out.append(Member(col.name, kind, col.is_key, enabled, enum))
    return tuple(out)


@cache
def nested(entity: Entity) -> tuple[Nested, ...]:
    """The nested lists a flat entity stores (as JSON, one column each)."""
    if entity.name == "relations":
        return (
            Nested(
                "Cultures",
                ("CultureCode",),
                ("RelationFieldsThatAreSet", "Cultures"),
                "RelationCultureFieldsThatAreSet",
            ),
        )
    if entity.name == "price_lists":
        return (
            Nested(
                "Warehouses",
                ("Code",),
                ("PriceListFieldsThatAreSet", "Warehouses"),
                "WarehouseFieldsThatAreSet",
                mode="replace",
            ),
        )
    if entity.name == "customers":
        return (
            Nested(
                "Companies",
                ("Code",),
                ("CustomerFieldsThatAreSet", "Companies"),
                None,
                always=("Id", "OrganizationNo", "Name", "IsPrimary"),
                mode="replace",
            ),
        )
    if entity.name == "supplier_products":
        return (
            Nested(
                "OnHand", ("WarehouseCode", "LocationCode"), None, "OnhandFieldsThatAreSet", always=("Name",)
            ),
            Nested(
                "PriceList",
                ("PriceListCode",),
                None,
                "PriceFieldsThatAreSet",
                always=("CurrencyCode", "QtyBreak"),
            ),
        )
    return ()


# Enum-valued sub members of nested lists (other sub members are stored as sent).
SUB_ENUMS: dict[str, type[IntEnum]] = {"Type": WarehouseType}


def nested_fields(entity: Entity, nest: Nested, header: Header) -> frozenset[str] | None:
    """Sub members written for ``nest`` under ``header``; None when the list is not enabled."""
    if nest.flag is not None and nest.flag[1] not in header.listed(nest.flag[0]):
        return None
    subs = header.listed(nest.sub_list) if nest.sub_list else frozenset()
    if nest.flag is None and not subs:
        return None
    return frozenset({*subs, *nest.always})

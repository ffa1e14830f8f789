"""Norce's official Connect contract as lookup tables, read from the vendored ``contract.json``.

``contract.json`` is a byte-identical copy of the reference contract generated from Norce's C#
contracts (``source.commit`` names the upstream commit). This module turns it into the tables the
validator in :mod:`toolkit.sandbox.contract` walks: a :class:`Type` per member of every model and
header, every enum's names and numbers, and per import its levels (``...FieldsThatAreSet`` lists with
their parent flags) and required keys. It deliberately does not import ``toolkit.entities``: the
payloads come from that registry, so checking them against it would let a misreading of the contract
pass on both sides.

Examples
--------
>>> imp = compiled_import("Product/ImportOnhands")
>>> imp.header, imp.model, imp.levels[""].list_name
('SkuOnhandHeader', 'Product.Models.SkuOnhand', 'SkuOnhandFieldsThatAreSet')
>>> model_members("Product.Models.SkuOnhand")["OnhandValue"].label, source_commit()[:7]
('a decimal number', '69a13d0')
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

Condition = tuple[str, str] | None  # (list, value) that must be listed; None: FullFile must be true


@dataclass(frozen=True, slots=True)
class Type:
    """The type of one member: ``kind`` as the contract names it, with its enum, model or items."""

    kind: str
    nullable: bool
    label: str
    enum: str | None = None
    model: str | None = None
    items: Type | None = None


@dataclass(frozen=True, slots=True)
class Enum:
    """An enum's names (by lower-cased name, as Connect reads names case-insensitively) and numbers."""

    name: str
    by_name: Mapping[str, str]
    numbers: Mapping[int, str]

    def canonical(self, value: object) -> str | None:
        """The enum name ``value`` (a name in any case, or a number) stands for; None if none."""
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return self.numbers.get(value)
        return self.by_name.get(value.lower()) if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class Level:
    """One level of an import: the objects at ``path`` and the header list that governs them."""

    path: str
    list_name: str
    enum: str
    member_flags: Mapping[str, frozenset[str]]
    value_members: Mapping[str, str]
    identity: frozenset[str]
    parent: str | None  # the enclosing level's path; None at the root
    via: str  # the first member on the way from the parent level to this one


@dataclass(frozen=True, slots=True)
class KeyRule:
    """Members required (all of them, or any one) at a path, optionally only under conditions."""

    members: tuple[str, ...]
    any_of: bool
    when: tuple[Condition, ...] = ()


@dataclass(frozen=True, slots=True)
class Import:
    """One import endpoint: its header type, item model, levels and required keys, by path."""

    endpoint: str
    header: str
    model: str
    levels: Mapping[str, Level]
    keys: Mapping[str, tuple[KeyRule, ...]]

    def levels_of(self, list_name: str) -> list[Level]:
        return [lv for lv in self.levels.values() if lv.list_name == list_name]


@cache
def contract() -> dict[str, Any]:
    """The vendored contract, parsed once."""
    text = resources.files("toolkit.sandbox").joinpath("contract.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def source_commit() -> str:
    """The StormCommerce/Storm.Connect.Contracts commit the contract was generated from."""
    return str(contract()["source"]["commit"])


def endpoints() -> tuple[str, ...]:
    return tuple(contract()["imports"])


@cache
def enum(name: str) -> Enum:
    """An enum of the contract; names listed as commented out in the C# source are not members."""
    values: dict[str, int] = contract()["enums"][name]["values"]
    return Enum(name, {n.lower(): n for n in values}, {v: n for n, v in values.items()})


@cache
def model_members(model: str) -> dict[str, Type]:
    """The members of an item model, by name."""
    return {n: _type(m) for n, m in contract()["models"][model]["members"].items()}


@cache
def header_members(header: str) -> dict[str, Type]:
    """The members of a header type, by name."""
    return {n: _type(m) for n, m in contract()["headers"][header]["members"].items()}


_LABELS = {
    "string": "a string",
    "int": "an Int32 integer",
    "decimal": "a decimal number",
    "bool": "true or false",
    "datetime": "an ISO-8601 date-time string",
    "guid": "a GUID string",
    "timespan": "a time-span string",
    "list": "an array",
}


def _type(m: Mapping[str, Any]) -> Type:
    kind, enum_name, model = m["kind"], m.get("enum"), m.get("model")
    if kind == "enum":
        label = f"a {enum_name} name or number"
    elif kind in ("object", "model"):
        kind, label = "object", f"a {str(model).rsplit('.', 1)[-1]} object"
    else:
        label = _LABELS.get(kind, kind)
    items = _type(m["items"]) if "items" in m else None
    return Type(kind, bool(m["nullable"]), label, enum_name, model, items)


@cache
def compiled_import(endpoint: str) -> Import:
    """The tables of one import endpoint (``Product/ImportProducts``, ...)."""
    raw = contract()["imports"][endpoint]
    paths = [lv["path"] for lv in raw["levels"]]
    levels = {lv["path"]: _level(lv, paths) for lv in raw["levels"]}
    keys: dict[str, list[KeyRule]] = {}
    for rule in raw["keys"]:
        any_of = "any_of" in rule
        when = tuple(_condition(c) for c in rule.get("when", ()))
        keys.setdefault(rule["path"], []).append(
            KeyRule(tuple(rule["any_of" if any_of else "all_of"]), any_of, when)
        )
    return Import(endpoint, raw["header"], raw["item_model"], levels, {p: tuple(r) for p, r in keys.items()})


def _level(raw: Mapping[str, Any], paths: list[str]) -> Level:
    path = raw["path"]
    parents = [p for p in paths if p != path and (p == "" or path.startswith(p + "."))]
    parent = max(parents, key=len) if parents else None
    rest = path[len(parent) + 1 :] if parent else path
    via = rest.split(".", 1)[0].removesuffix("[]")
    flags = {m: frozenset(f) for m, f in raw["member_flags"].items()}
    identity = frozenset(raw["identity"])
    return Level(path, raw["list"], raw["enum"], flags, dict(raw["value_members"]), identity, parent, via)


def _condition(raw: Mapping[str, Any]) -> Condition:
    if raw.get("full_file"):
        return None
    return (str(raw["list"]), str(raw["value"]))

"""An import checked against Norce's official Connect contract, independently of ``toolkit.entities``.

The tables come from the vendored ``contract.json`` (see :mod:`toolkit.sandbox.contract_schema`),
never from the registry the payloads are built from. :func:`validate_import` returns every
:class:`Violation` of one request:

- header: a JSON object of the import's header type, members of that type only, ``AccountId`` an
  integer, each member of its kind; values of ``...FieldsThatAreSet`` lists are enum names (any case,
  as Connect's string-enum reading is case-insensitive) or numbers the enum defines; deprecated names
  are accepted;
- a listed field of a nested level whose parent flag is missing (``SkuFieldsThatAreSet`` without
  ``Skus`` in ``VariantFieldsThatAreSet``, or ``Variants`` missing from ``ProductFieldsThatAreSet``);
- body: a JSON array of objects; every member exists in its model, recursively; its JSON type matches
  the contract's kind (an Int32 integer, a decimal number, true or false, an ISO-8601 string, a GUID
  string, an enum name or defined number, an object, an array); ``null`` only where the member is
  nullable (a C# value type cannot take it, so Connect fails the whole batch);
- a member that needs a flag but whose level's list names none of its enabling values. Connect itself
  ignores such a member (nothing is written); with ``unlisted="error"`` (the default) it is reported,
  so a payload that means to change a value but does not say so fails instead of silently doing
  nothing. A ``null`` value counts as absent (serializers that write every member send it). Members
  that identify an item (the level's identity, or a key rule at its path, such as a product's
  ``Code``, the variant-cluster key) may be sent unlisted: they find the item, they do not write it;
- the converse, with ``unlisted="error"`` too: a value-type member (not nullable: a number, a boolean,
  an enum) whose flag is listed but that an item lacks. Connect deserializes its C# default (0, false,
  the first enum value) and writes it over the item's value, which a payload never means;
- required keys (``imports[..].keys``) missing or empty where their objects occur.

The sandbox refuses a request with violations with HTTP 400 (Connect documents 400 for a body it
cannot deserialize into its C# types), before any job exists.

Examples
--------
>>> header = {"AccountId": 1, "SkuOnhandFieldsThatAreSet": ["OnhandValue"]}
>>> items = [{"PartNo": "S1", "WarehouseCode": "W", "LocationCode": "L", "OnhandValue": None}]
>>> [str(v) for v in validate_import("Product/ImportOnhands", header, items)]
['$[0].OnhandValue: expected a decimal number, found null (the member is not nullable)']
>>> validate_import("Product/ImportOnhands", header, [{**items[0], "OnhandValue": 5}])
[]
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, Literal

import orjson

from toolkit.sandbox.contract_schema import (
    Import,
    KeyRule,
    Level,
    Type,
    compiled_import,
    endpoints,
    enum,
    header_members,
    model_members,
)

Unlisted = Literal["error", "ignore"]
_INT32 = (-(2**31), 2**31 - 1)
_DECIMAL_MAX = 79228162514264337593543950335
_HEX = "[0-9a-fA-F]"
_GUID = re.compile(rf"^[{{(]?{_HEX}{{8}}(-?{_HEX}{{4}}){{3}}-?{_HEX}{{12}}[}})]?$")


@dataclass(frozen=True)
class Violation:
    """One breach of the contract: where (``$[0].Variants[0].Skus[0].StandardPrice``) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass(frozen=True)
class _Header:
    listed: Mapping[str, frozenset[str]]
    full_file: bool


def validate_import(
    endpoint: str, header: Mapping[str, Any] | str | None, items: Any, *, unlisted: Unlisted = "error"
) -> list[Violation]:
    """Every contract violation of one import request, header first, then items in order.

    Parameters
    ----------
    endpoint
        The import's path below the Connect base, e.g. ``Product/ImportProducts``.
    header
        The ``X-StormConnect-Header``: its JSON text, the parsed object, or None when missing.
    items
        The parsed JSON body.
    unlisted
        ``"error"`` reports a member sent without its enabling value in the level's list;
        ``"ignore"`` accepts it, as Connect does (it writes nothing).

    Examples
    --------
    >>> h = {"AccountId": 1, "SkuFieldsThatAreSet": ["Status"]}
    >>> body = [{"ManufacturerCode": "M", "Variants": [{"ManufacturerPartNo": "V",
    ...          "Skus": [{"PartNo": "S", "Status": "Actve"}]}]}]
    >>> for v in validate_import("Product/ImportProducts", h, body)[:2]:
    ...     print(v.path, "|", v.message.split(" but ")[0])
    header.SkuFieldsThatAreSet | lists ['Status'] for Variants[].Skus[]
    $[0].Variants[0].Skus[0].Status | expected a SkuStatus name or number, found string 'Actve'
    """
    if endpoint not in endpoints():
        msg = f"unknown import endpoint {endpoint!r}; expected one of {', '.join(endpoints())}"
        raise ValueError(msg)
    imp = compiled_import(endpoint)
    out: list[Violation] = []
    parsed = _check_header(imp, header, out)
    _check_parent_flags(imp, parsed, out)
    if not isinstance(items, list):
        item = imp.model.rsplit(".", 1)[-1]
        out.append(Violation("$", f"expected a JSON array of {item} items, found {_found(items)}"))
        return out
    walker = _Walker(imp, parsed, out, unlisted=unlisted)
    for i, item in enumerate(items):
        walker.element(item, _item_type(imp.model), "", f"$[{i}]")
    return out


@cache
def _item_type(model: str) -> Type:
    return Type("object", False, f"a {model.rsplit('.', 1)[-1]} object", model=model)


# --- header --------------------------------------------------------------------------------------
def _check_header(imp: Import, header: Mapping[str, Any] | str | None, out: list[Violation]) -> _Header:
    empty = _Header({}, False)
    expected = f"expected a {imp.header} JSON object"
    if header is None:
        out.append(Violation("header", f"{expected}, found no X-StormConnect-Header"))
        return empty
    if isinstance(header, str):
        try:
            header = orjson.loads(header)
        except orjson.JSONDecodeError as exc:
            out.append(Violation("header", f"{expected}, found invalid JSON ({exc})"))
            return empty
    if not isinstance(header, Mapping):
        out.append(Violation("header", f"{expected}, found {_found(header)}"))
        return empty
    members = header_members(imp.header)
    walker = _Walker(imp, empty, out, unlisted="ignore", levels=False)
    walker.members(header, members, imp.header, None, "header")
    if "AccountId" not in header:
        out.append(
            Violation(
                "header.AccountId",
                "expected an Int32 integer (the account that runs the import; required), found nothing",
            )
        )
    return _Header(_listed(header, members), header.get("FullFile") is True)


def _listed(header: Mapping[str, Any], members: Mapping[str, Type]) -> dict[str, frozenset[str]]:
    listed: dict[str, frozenset[str]] = {}
    for name, t in members.items():
        values = header.get(name)
        if t.kind == "list" and t.items is not None and t.items.enum and isinstance(values, list):
            e = enum(t.items.enum)
            listed[name] = frozenset(c for c in map(e.canonical, values) if c is not None)
    return listed


def _check_parent_flags(imp: Import, header: _Header, out: list[Violation]) -> None:
    for list_name, values in header.listed.items():
        levels = [lv for lv in imp.levels_of(list_name) if lv.parent is not None]
        writes = sorted(v for v in values if any(v in lv.value_members for lv in levels))
        missing = [_missing_parents(imp, lv, header) for lv in levels]
        if writes and all(missing):
            lacks = " and ".join(f"{p.list_name} lists none of {sorted(f)}" for p, f in missing[0])
            msg = f"lists {writes} for {levels[0].path} but {lacks} (parent flags): Connect ignores them"
            out.append(Violation(f"header.{list_name}", msg))


def _missing_parents(imp: Import, level: Level, header: _Header) -> list[tuple[Level, frozenset[str]]]:
    """The levels above ``level`` whose list lacks the flag leading down to it, nearest first."""
    missing, current = [], level
    while current.parent is not None:
        parent = imp.levels[current.parent]
        flags = parent.member_flags.get(current.via)
        if flags and not flags & header.listed.get(parent.list_name, frozenset()):
            missing.append((parent, flags))
        current = parent
    return missing


# --- body ----------------------------------------------------------------------------------------
def _value_type(t: Type) -> bool:
    """A C# value type: absent from the JSON, Connect deserializes its default and writes it."""
    return not t.nullable and t.kind not in ("object", "list")


@dataclass(frozen=True, slots=True)
class _Node:
    """What the walk needs at one object pattern, looked up once per pattern and request."""

    members: Mapping[str, Type]
    owner: str
    level: Level | None
    blocked: frozenset[str]  # members that need a flag none of whose values is listed
    rules: tuple[KeyRule, ...]
    defaulted: frozenset[str] = frozenset()  # listed value-type members: absent, Connect writes a default


class _Walker:
    """One recursive walk over parsed JSON, appending violations to ``out``."""

    def __init__(
        self, imp: Import, header: _Header, out: list[Violation], *, unlisted: Unlisted, levels: bool = True
    ) -> None:
        self.out, self.header = out, header
        self.levels = dict(imp.levels) if levels else {}
        self.keys = dict(imp.keys) if levels else {}
        self.check_unlisted = unlisted == "error"
        self.nodes: dict[str, _Node] = {}

    def node(self, model: str, pattern: str) -> _Node:
        level, blocked, defaulted = self.levels.get(pattern), frozenset[str](), frozenset[str]()
        members = model_members(model)
        if level is not None and self.check_unlisted:
            listed = self.header.listed.get(level.list_name, frozenset())
            keys = {m for rule in self.keys.get(pattern, ()) for m in rule.members} | level.identity
            blocked = frozenset(m for m, f in level.member_flags.items() if not f & listed and m not in keys)
            defaulted = frozenset(
                m
                for m, f in level.member_flags.items()
                if f & listed and m not in keys and m in members and _value_type(members[m])
            )
        rules = tuple(r for r in self.keys.get(pattern, ()) if not r.when or any(map(self.holds, r.when)))
        node = _Node(members, model.rsplit(".", 1)[-1], level, blocked, rules, defaulted)
        self.nodes[pattern] = node
        return node

    def element(self, value: Any, t: Type, pattern: str, path: str) -> None:
        """Check one value whose path is already built (list elements, objects, array items)."""
        if value is None:
            if not t.nullable:
                self.add(path, f"expected {t.label}, found null (the member is not nullable)")
        elif t.kind == "object":
            if isinstance(value, dict):
                node = self.nodes.get(pattern) or self.node(str(t.model), pattern)
                self.object(value, node, pattern, path)
            else:
                self.add(path, f"expected {t.label}, found {_found(value)}")
        elif t.kind == "list":
            self.array(value, t, pattern, path)
        else:
            problem = _scalar_problem(value, t)
            if problem:
                self.add(path, problem)

    def array(self, value: Any, t: Type, pattern: str, path: str) -> None:
        items, inner = t.items, f"{pattern}[]"
        if not isinstance(value, list) or items is None:
            self.add(path, f"expected {t.label}, found {_found(value)}")
        elif items.kind == "object":  # the common case, without a call per element to find its kind
            node = self.nodes.get(inner) or self.node(str(items.model), inner)
            for j, e in enumerate(value):
                if type(e) is dict:
                    self.object(e, node, inner, f"{path}[{j}]")
                else:
                    self.element(e, items, inner, f"{path}[{j}]")
        else:
            for j, e in enumerate(value):
                self.element(e, items, inner, f"{path}[{j}]")

    def object(self, value: dict[str, Any], node: _Node, pattern: str, path: str) -> None:
        self.members(value, node.members, node.owner, pattern, path)
        if node.level is not None and not node.blocked.isdisjoint(value):
            self.flags(value, node.level, node.blocked, path)
        if node.defaulted and not node.defaulted <= value.keys():
            self.absent(value, node, path)
        if node.rules:
            self.required(value, node.rules, path)

    def members(
        self,
        value: Mapping[str, Any],
        members: Mapping[str, Type],
        owner: str,
        pattern: str | None,
        path: str,
    ) -> None:
        for name, v in value.items():
            t = members.get(name)
            if t is None:
                self.add(f"{path}.{name}", f"{owner} has no member {name!r}{_hint(name, members)}")
            elif not _fits(v, t):  # valid scalars, the bulk of a body, end here
                child = name if not pattern else f"{pattern}.{name}"
                self.element(v, t, child, f"{path}.{name}")

    def flags(self, value: Mapping[str, Any], level: Level, blocked: frozenset[str], path: str) -> None:
        for name in (n for n in value if n in blocked and value[n] is not None):
            flags = sorted(level.member_flags[name])
            self.add(
                f"{path}.{name}",
                f"member present but not listed: {level.list_name} lists none "
                f"of {flags}, so Connect would not write it",
            )

    def absent(self, value: Mapping[str, Any], node: _Node, path: str) -> None:
        assert node.level is not None
        for name in sorted(node.defaulted - value.keys()):
            self.add(
                f"{path}.{name}",
                f"member listed in {node.level.list_name} but absent: Connect would write the default of "
                f"{node.members[name].label} (0, false, the first enum value) over the item's value",
            )

    def required(self, value: Mapping[str, Any], rules: tuple[KeyRule, ...], path: str) -> None:
        for rule in rules:  # those whose conditions hold under this header
            if rule.any_of:
                if all(_is_empty(value.get(m)) for m in rule.members):
                    self.add(path, f"expected one of the keys {', '.join(rule.members)}, found none")
                continue
            for m in rule.members:
                if _is_empty(value.get(m)):
                    found = _found(value[m]) if m in value else "nothing"
                    self.add(f"{path}.{m}", f"expected the required key {m}, found {found}")

    def holds(self, condition: tuple[str, str] | None) -> bool:
        if condition is None:
            return self.header.full_file
        return condition[1] in self.header.listed.get(condition[0], frozenset())

    def add(self, path: str, message: str) -> None:
        self.out.append(Violation(path, message))


def _fits(value: Any, t: Type) -> bool:
    """A quick yes for the common valid scalars; False means "look closer" (containers, nulls, errors)."""
    kind, cls = t.kind, type(value)
    if kind == "string":
        return cls is str
    if kind == "decimal":
        return (cls is float or cls is int) and -_DECIMAL_MAX <= value <= _DECIMAL_MAX
    if kind == "bool":
        return cls is bool
    if kind == "int":
        return cls is int and _INT32[0] <= value <= _INT32[1]
    return False


def _scalar_problem(value: Any, t: Type) -> str | None:
    """None when ``value`` (not null) fits the scalar kind of ``t``, else the message."""
    kind = t.kind
    if kind == "string" or kind == "timespan":
        ok = isinstance(value, str)
    elif kind == "int":
        if type(value) is int and not _INT32[0] <= value <= _INT32[1]:
            return f"expected {t.label}, found number {value} (outside the Int32 range)"
        ok = type(value) is int
    elif kind == "decimal":
        ok = type(value) in (int, float) and math.isfinite(value) and abs(value) <= _DECIMAL_MAX
    elif kind == "bool":
        ok = type(value) is bool
    elif kind == "enum":
        ok = enum(str(t.enum)).canonical(value) is not None
    elif kind == "datetime":
        ok = isinstance(value, str) and _is_datetime(value)
    elif kind == "guid":
        ok = isinstance(value, str) and _GUID.match(value) is not None
    else:
        ok = True
    return None if ok else f"expected {t.label}, found {_found(value)}"


def _is_datetime(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _hint(name: str, members: Mapping[str, Type]) -> str:
    same = [m for m in members if m.lower() == name.lower()]
    return f" (did you mean {same[0]!r}?)" if same else ""


def _found(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return f"number {value}"
    if isinstance(value, str):
        return f"string {value[:60]!r}" + ("..." if len(value) > 60 else "")
    return "an object" if isinstance(value, dict) else "an array"


def failed_items(violations: list[Violation], total: int) -> int:
    """How many of ``total`` items fail: those with a violation, or all when the header fails.

    Examples
    --------
    >>> failed_items([Violation("$[0].A", "x"), Violation("$[0].B", "y"), Violation("$[3]", "z")], 5)
    2
    >>> failed_items([Violation("header.AccountId", "x")], 5)
    5
    """
    if any(not v.path.startswith("$[") for v in violations):
        return total
    return len({v.path.split("]", 1)[0] for v in violations})

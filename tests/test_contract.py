"""The registry and the payloads against Norce's Connect contract (issue 15, acceptance 1 and 5).

The truth here is the vendored ``toolkit/sandbox/contract.json`` (Norce's C# contracts as data) and
the validator built from it (:func:`toolkit.sandbox.contract.validate_import`), which never reads
``toolkit.entities``. The first half walks the registry against the contract: endpoints, header
types, field lists and their enums, every mapped column's member, its kind, enum and nullability.
The second half (``test_contract_plans.py``) plans random valid days and validates every batch.
That the vendored file names its source commit and equals the shared reference is tested in
``tests/sandbox/test_sandbox_contract.py``; nothing here reads ``../shared``.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from typing import Any

import polars as pl
import pytest

from toolkit.entities import ENTITIES, VALUE_ENUMS, Entity, split_qualified
from toolkit.payloads.members import member_of
from toolkit.sandbox.contract_schema import contract

CONTRACT = contract()
IMPORTS: Mapping[str, Any] = CONTRACT["imports"]
MODELS: Mapping[str, Any] = CONTRACT["models"]
ENUMS: Mapping[str, Any] = CONTRACT["enums"]

# Where a registry level's objects sit in the item (products nest Product -> Variants -> Skus).
LEVEL_PATHS = {"item": "", "product": "", "variant": "Variants[]", "sku": "Variants[].Skus[]"}
# Members that are objects (or lists of objects) the column's value goes inside, and where.
INNER = {
    "StandardPrice": "PriceSale",
    "MainImage": "Url",
    "Companies": "Code",
    "Categories": "Code",
    "Warehouses": "Code",
    "VatRates": "Rate",
}
# Compatible contract kinds per canonical dtype (an enum also needs Column.values, a GUID kind="guid").
KINDS: dict[str, set[str]] = {
    "String": {"string", "enum", "guid"},
    "Int64": {"int", "decimal"},
    "Decimal": {"decimal"},
    "Boolean": {"bool"},
    "Date": {"datetime"},
    "List": {"string"},
}


def _join(*parts: str) -> str:
    return ".".join(p for p in parts if p)


def _model_at(model: str, path: str) -> str:
    """The model of the objects at ``path`` (``Variants[].Skus[]``) below ``model``."""
    for step in filter(None, path.split(".")):
        member = MODELS[model]["members"][step.removesuffix("[]")]
        model = member.get("model") or member["items"]["model"]
    return model


def _non_deprecated(name: str) -> dict[str, int]:
    spec = ENUMS[name]
    gone = {*spec["deprecated"], *spec["deprecated_per_reference"], *spec["commented_out"]}
    return {n: v for n, v in spec["values"].items() if n not in gone}


def _pairs(enum: type[IntEnum]) -> dict[str, int]:
    return {m.name: m.value for m in enum}


def target(ent: Entity, name: str) -> tuple[str, str, str, dict[str, Any]]:
    """Where a column is written: (container path, member there, full path, the leaf's contract spec).

    The container is the object whose field list governs the column (``Cultures[]`` for a culture
    text, ``OnHand[]`` for ``OnHand.Value``); the member is the one a field enables there; the leaf is
    the member that holds the value (``PriceSale`` inside ``StandardPrice``).
    """
    col, base = ent.column(name), split_qualified(name)[0]
    member, container = member_of(ent, name), LEVEL_PATHS[col.level]
    item = IMPORTS[ent.endpoint]["item_model"]
    if "." in base:
        container, member = f"{member}[]", base.split(".", 1)[1]
        leaf_path = container
    elif col.qualifier == "culture":
        container, member = _join(container, "Cultures[]"), str(col.field)
        leaf_path = container
    elif member in INNER:
        outer = MODELS[_model_at(item, container)]["members"].get(member)
        assert outer is not None, f"{ent.item} has no member {member!r} at {container or 'the item'}"
        leaf_path = _join(container, member + ("[]" if outer["kind"] == "list" else ""))
    else:
        leaf_path = container
    leaf = INNER.get(member, member) if "." not in base and col.qualifier != "culture" else member
    members = MODELS[_model_at(item, leaf_path)]["members"]
    assert leaf in members, f"{ent.name}.{name}: {_model_at(item, leaf_path)} has no member {leaf!r}"
    return container, member, _join(leaf_path, leaf), members[leaf]


def _ids(ent_cols: list[tuple[str, str]]) -> list[str]:
    return [f"{e}.{c}" for e, c in ent_cols]


COLUMNS: list[tuple[str, str]] = [(e.name, c.name) for e in ENTITIES.values() for c in e.columns]


# --- entities, headers and field lists -------------------------------------------------------------
@pytest.mark.parametrize("entity", sorted(ENTITIES))
def test_each_import_exists_with_its_header_type_and_item(entity: str) -> None:
    ent = ENTITIES[entity]
    assert ent.endpoint in IMPORTS, f"{entity}: the contract has no import {ent.endpoint!r}"
    imp = IMPORTS[ent.endpoint]
    assert imp["header"] == ent.header_type, f"{entity}: header {imp['header']}, registry {ent.header_type}"
    assert imp["item_model"].rsplit(".", 1)[-1] == ent.item
    has_full_file = "FullFile" in CONTRACT["headers"][ent.header_type]["members"]
    assert ent.has_full_file == has_full_file, f"{ent.header_type} FullFile member: {has_full_file}"


@pytest.mark.parametrize("entity", sorted(ENTITIES))
def test_each_field_list_is_a_header_member_of_its_enum(entity: str) -> None:
    ent = ENTITIES[entity]
    members = CONTRACT["headers"][ent.header_type]["members"]
    for fl in ent.field_lists:
        spec = members.get(fl.member)
        assert spec is not None, f"{ent.header_type} has no member {fl.member!r}"
        assert spec["kind"] == "list", f"{ent.header_type}.{fl.member} is {spec['kind']}, not a list"
        assert spec["items"]["enum"] == fl.enum.__name__, (
            f"{ent.header_type}.{fl.member} holds {spec['items']['enum']}, the registry {fl.enum.__name__}"
        )


@pytest.mark.parametrize("entity", sorted(ENTITIES))
def test_field_enum_values_exist_in_the_contract_with_the_same_numbers(entity: str) -> None:
    for fl in ENTITIES[entity].field_lists:
        contract_values = ENUMS[fl.enum.__name__]["values"]
        wrong = {
            n: (v, contract_values.get(n)) for n, v in _pairs(fl.enum).items() if contract_values.get(n) != v
        }
        assert not wrong, f"{fl.enum.__name__}: registry number vs contract number {wrong}"
        missing = set(_non_deprecated(fl.enum.__name__)) - set(_pairs(fl.enum))
        assert not missing, f"{fl.enum.__name__} lacks the contract's {sorted(missing)}"


# --- every column against its member -------------------------------------------------------------
@pytest.mark.parametrize(("entity", "name"), COLUMNS, ids=_ids(COLUMNS))
def test_each_column_is_a_member_of_its_level_with_a_compatible_kind(entity: str, name: str) -> None:
    ent = ENTITIES[entity]
    col = ent.column(name)
    _, _, path, spec = target(ent, name)
    dtype = col.dtype.base_type().__name__
    kinds = KINDS[dtype]
    assert spec["kind"] in kinds, f"{entity}.{name} ({dtype}) -> {path}: contract kind {spec['kind']}"
    if spec["kind"] == "guid" or col.kind == "guid":
        assert (spec["kind"], col.kind) == ("guid", "guid"), f"{entity}.{name} -> {path} GUID mismatch"
    if dtype == "List":
        assert "[]" in path.rsplit(".", 1)[0] or path.endswith("[]"), f"{entity}.{name} -> {path}: no list"


@pytest.mark.parametrize(("entity", "name"), COLUMNS, ids=_ids(COLUMNS))
def test_each_enum_typed_member_has_the_contracts_enum(entity: str, name: str) -> None:
    ent = ENTITIES[entity]
    col = ent.column(name)
    _, _, path, spec = target(ent, name)
    if spec["kind"] != "enum":
        assert col.values is None, f"{entity}.{name} -> {path} is {spec['kind']}, but values={col.values}"
        return
    assert col.values is not None, f"{entity}.{name} -> {path} is the enum {spec['enum']}: no Column.values"
    ours, theirs = _pairs(VALUE_ENUMS[col.values]), _non_deprecated(spec["enum"])
    assert ours == theirs, f"{entity}.{name}: {col.values} {ours} vs the contract's {spec['enum']} {theirs}"


@pytest.mark.parametrize(("entity", "name"), COLUMNS, ids=_ids(COLUMNS))
def test_each_column_is_nullable_exactly_where_its_member_is(entity: str, name: str) -> None:
    col = ENTITIES[entity].column(name)
    _, _, path, spec = target(ENTITIES[entity], name)
    ours = getattr(col, "nullable", True)
    assert ours == spec["nullable"], (
        f"{entity}.{name} -> {path}: nullable={ours}, contract {spec['nullable']}"
    )


@pytest.mark.parametrize(("entity", "name"), COLUMNS, ids=_ids(COLUMNS))
def test_each_field_enables_its_member_at_its_level(entity: str, name: str) -> None:
    ent = ENTITIES[entity]
    col = ent.column(name)
    if col.field is None:
        return
    container, member, path, _ = target(ent, name)
    levels = [lv for lv in IMPORTS[ent.endpoint]["levels"] if lv["path"] == container]
    assert levels, f"{entity}.{name}: the contract has no level at {container!r}"
    (level,) = levels
    assert level["list"] == col.field_list, f"{entity}.{name} -> {path}: listed in {level['list']}"
    enables = (
        col.field in level["member_flags"].get(member, ()) or level["value_members"].get(col.field) == member
    )
    assert enables, f"{entity}.{name}: {col.field_list} value {col.field!r} does not enable {member!r}"


def test_the_walk_covers_every_column_and_dtype() -> None:
    assert len(COLUMNS) > 100
    assert {ENTITIES[e].column(c).dtype.base_type().__name__ for e, c in COLUMNS} <= set(KINDS)
    assert isinstance(ENTITIES["products"].column("Categories").dtype, pl.List)

"""The flat entities in SQLite: one table each, one column per member, set-based upserts.

An import is loaded into a temporary table with one ``executemany`` and applied with a handful of
set-based statements: skip rows for unknown SKUs (and price lists), count updates, merge nested
lists, upsert (``coalesce`` keeps members the item leaves null), and for a FullFile deactivate the
missing items within the scope the contract gives.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

import orjson

from toolkit.entities import Entity
from toolkit.sandbox import parties, supplier
from toolkit.sandbox.import_log import Log as Log  # products and store import it from here
from toolkit.sandbox.prepare import Prepared, merge_elements
from toolkit.sandbox.spec import members, nested

_SQL_TYPES = {
    "str": "TEXT",
    "int": "INTEGER",
    "num": "REAL",
    "bool": "INTEGER",
    "date": "TEXT",
    "enum": "INTEGER",
    "any": "",
}
# FullFile: (column that marks deactivation, key columns whose values in the import bound the scope)
FULL_FILE: dict[str, tuple[str, tuple[str, ...]]] = {
    "onhands": ("IsActive", ("WarehouseCode", "LocationCode")),
    "sku_prices": ("IsActive", ("PriceListCode",)),
    "relations": ("IsActive", ()),
    "competitor_skus": ("_active", ()),
    "supplier_products": ("_active", ()),
}
# Rows whose member refers to an unknown item are skipped: (member, table, column, what).
_REFERENCES: dict[str, tuple[tuple[str, str, str, str], ...]] = {
    "onhands": (("PartNo", "skus", "part_no", "SKU"),),
    "sku_prices": (
        ("PartNo", "skus", "part_no", "SKU"),
        ("PriceListCode", "price_lists", "Code", "price list"),
    ),
}


@dataclass
class Counts:
    """True counts of one applied import."""

    inserts: int = 0
    updates: int = 0
    fail: int = 0


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def schema(entity: Entity) -> str:
    """The CREATE TABLE statement of a flat entity."""
    cols = [f"{q(m.name)} {_SQL_TYPES[m.kind]}{' NOT NULL' if m.is_key else ''}" for m in members(entity)]
    cols += [f"{q(n.name)} TEXT" for n in nested(entity)]
    keys = ", ".join(q(m.name) for m in members(entity) if m.is_key)
    cols += ["_active INTEGER NOT NULL DEFAULT 1", f"PRIMARY KEY ({keys})"]
    return f"CREATE TABLE IF NOT EXISTS {q(entity.name)} ({', '.join(cols)}) WITHOUT ROWID"


def _keys(entity: Entity) -> list[str]:
    return [m.name for m in members(entity) if m.is_key]


def _match(entity: Entity, left: str, right: str) -> str:
    return " AND ".join(f"{left}.{q(k)} = {right}.{q(k)}" for k in _keys(entity))


def apply_flat(conn: sqlite3.Connection, prepared: Prepared, log: Log) -> Counts:
    """Apply validated rows to the entity's table, inside the caller's transaction."""
    entity, table = prepared.entity, q(prepared.entity.name)
    cols = ", ".join(q(c) for c in prepared.columns)
    conn.execute("DROP TABLE IF EXISTS temp._in")
    conn.execute(f"CREATE TEMP TABLE _in (_row INTEGER PRIMARY KEY, {cols})")
    # one JSON array of rows parsed by SQLite is ~3x faster than binding every value (executemany)
    rows = orjson.dumps(list(zip(prepared.row_numbers, *prepared.data, strict=True))).decode()
    values = ", ".join(f"json_extract(value, '$[{i}]')" for i in range(len(prepared.columns) + 1))
    conn.execute(f"INSERT INTO _in SELECT {values} FROM json_each(?)", (rows,))
    if entity.name in parties.ENTITIES:
        parties.resolve(conn, prepared, log)
        parties.apply_links(conn, prepared, log)
    counts = Counts()
    scope = _full_file_scope(conn, prepared)
    counts.fail = _skip_unknown(conn, entity, log)
    counts.updates = conn.execute(
        f"SELECT count(*) FROM _in WHERE EXISTS (SELECT 1 FROM {table} t WHERE {_match(entity, 't', '_in')})"
    ).fetchone()[0]
    counts.inserts = conn.execute("SELECT count(*) FROM _in").fetchone()[0] - counts.updates
    sent = supplier.sent_elements(conn, prepared) if entity.name == supplier.ENTITY else {}
    for name in prepared.nested:
        _merge_nested(conn, entity, name)
    _upsert(conn, prepared)
    if entity.name == supplier.ENTITY:
        counts.updates += supplier.apply_elements(conn, prepared, sent, log)
    if scope is not None:
        counts.updates += _deactivate_missing(conn, entity, scope, log)
    conn.execute("DROP TABLE temp._in")
    return counts


def _skip_unknown(conn: sqlite3.Connection, entity: Entity, log: Log) -> int:
    skipped = 0
    for member, table, column, what in _REFERENCES.get(entity.name, ()):
        missing = conn.execute(
            f"SELECT _row, {q(member)} FROM _in WHERE NOT EXISTS "
            f"(SELECT 1 FROM {q(table)} r WHERE r.{q(column)} = _in.{q(member)}) ORDER BY _row"
        ).fetchall()
        for row, value in missing:
            log(2, f"row {row}: unknown {what} {value!r} ({member}); row skipped", row)
        conn.executemany("DELETE FROM _in WHERE _row = ?", [(r,) for r, _ in missing])
        skipped += len(missing)
    return skipped


def _merge_nested(conn: sqlite3.Connection, entity: Entity, name: str) -> None:
    nest = next(n for n in nested(entity) if n.name == name)
    pairs = conn.execute(
        f"SELECT _in._row, _in.{q(name)}, t.{q(name)} FROM _in JOIN {q(entity.name)} t "
        f"ON {_match(entity, 't', '_in')} WHERE _in.{q(name)} IS NOT NULL AND t.{q(name)} IS NOT NULL"
    ).fetchall()
    merged = [
        (orjson.dumps(merge_elements(nest, orjson.loads(old), orjson.loads(new))).decode(), row)
        for row, new, old in pairs
    ]
    conn.executemany(f"UPDATE _in SET {q(name)} = ? WHERE _row = ?", merged)


def _upsert(conn: sqlite3.Connection, prepared: Prepared) -> None:
    entity = prepared.entity
    keys = _keys(entity)
    cols = ", ".join(q(c) for c in prepared.columns)
    sets = [
        f"{q(c)} = coalesce(excluded.{q(c)}, {q(entity.name)}.{q(c)})"
        for c in prepared.columns
        if c not in keys
    ]
    conn.execute(
        f"INSERT INTO {q(entity.name)} ({cols}, _active) SELECT {cols}, 1 FROM _in WHERE true "
        f"ON CONFLICT ({', '.join(q(k) for k in keys)}) DO UPDATE SET {', '.join([*sets, '_active = 1'])}"
    )


def _full_file_scope(conn: sqlite3.Connection, prepared: Prepared) -> tuple[str, ...] | None:
    """Remember the scope of a FullFile before rows are skipped; None when not a FullFile."""
    if not prepared.header.full_file or prepared.entity.name not in FULL_FILE:
        return None
    _, scope = FULL_FILE[prepared.entity.name]
    if scope:
        cols = ", ".join(q(c) for c in scope)
        conn.execute("DROP TABLE IF EXISTS temp._scope")
        conn.execute(f"CREATE TEMP TABLE _scope AS SELECT DISTINCT {cols} FROM _in")
    return scope


def _deactivate_missing(conn: sqlite3.Connection, entity: Entity, scope: tuple[str, ...], log: Log) -> int:
    flag, _ = FULL_FILE[entity.name]
    table = q(entity.name)
    where = [
        f"NOT EXISTS (SELECT 1 FROM _in WHERE {_match(entity, '_in', table)})",
        f"coalesce({q(flag)}, 1) != 0",
    ]
    if scope:
        cols = ", ".join(q(c) for c in scope)
        where.append(f"({cols}) IN (SELECT {cols} FROM _scope)")
    n = conn.execute(f"UPDATE {table} SET {q(flag)} = 0 WHERE {' AND '.join(where)}").rowcount
    if scope:
        conn.execute("DROP TABLE temp._scope")
    log(1, f"FullFile: {n} {entity.name} missing from the import deactivated", None)
    return n


def read_flat(conn: sqlite3.Connection, entity: Entity) -> list[dict[str, Any]]:
    """Every stored item of a flat entity in the import item shape, ordered by key."""
    ms, ns = members(entity), nested(entity)
    names = [m.name for m in ms] + [n.name for n in ns]
    order = ", ".join(q(k) for k in _keys(entity))
    select = ", ".join(q(c) for c in names)
    cur = conn.execute(f"SELECT {select}, _active FROM {q(entity.name)} ORDER BY {order}")
    bools = {m.name for m in ms if m.kind == "bool"}
    blobs = {n.name for n in ns}
    mark_active = FULL_FILE.get(entity.name, ("",))[0] == "_active"
    out = []
    for row in cur:
        item = {
            c: (bool(v) if c in bools else orjson.loads(v) if c in blobs else v)
            for c, v in zip(names, row, strict=False)
            if v is not None
        }
        if mark_active:
            item["IsActive"] = bool(row[-1])
        out.append(item)
    return out

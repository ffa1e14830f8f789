"""The sandbox's SQLite catalog: the nine entities, jobs and job logs, on one guarded connection.

In memory by default; a file when ``path`` is given (then the catalog and the jobs survive a
restart). Every use of the connection holds ``store.lock``; ``transaction()`` commits or rolls
back as one unit.

Examples
--------
>>> import orjson
>>> from toolkit.entities import ENTITIES
>>> from toolkit.sandbox.spec import parse_header
>>> store = Store()
>>> e = ENTITIES["companies"]
>>> h = parse_header(e, '{"AccountId": 1, "CompanyFieldsThatAreSet": ["Name"]}')
>>> p = prepare_import(e, h, [{"Code": "C1", "Name": "Acme", "VatNo": "SE1"}])
>>> with store.transaction():
...     counts = store.apply(p, lambda *a: None)
>>> (counts.inserts, counts.updates), store.items("companies")
((1, 0), [{'Code': 'C1', 'Name': 'Acme'}])
>>> store.close()
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from toolkit.entities import ENTITIES, Entity
from toolkit.sandbox import flat, jobs, parties, products, supplier
from toolkit.sandbox.flat import Counts, Log
from toolkit.sandbox.prepare import Prepared, prepare
from toolkit.sandbox.spec import Header

FLAT = tuple(name for name in ENTITIES if name != "products")


def prepare_import(entity: Entity, header: Header, items: Sequence[Any]) -> Prepared:
    """Validate the items of one import (products nested, the others flat)."""
    if entity.name == "products":
        return products.prepare_products(entity, header, items)
    prepared = prepare(entity, header, items)
    if entity.name in parties.ENTITIES:  # matching and link lists read members prepare does not keep
        prepared.items = list(items)
    return prepared


class Store:
    """The catalog and the jobs, in one SQLite database."""

    def __init__(self, path: str | Path | None = None, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path) if path else None
        self.lock = threading.RLock()
        self.conn = sqlite3.connect(
            str(path) if path else ":memory:", check_same_thread=False, isolation_level=None
        )
        if self.path:
            self.conn.execute("PRAGMA journal_mode = WAL")
            self.conn.execute("PRAGMA synchronous = NORMAL")
        self.conn.execute("PRAGMA temp_store = MEMORY")
        with self.transaction():
            for stmt in self._schema():
                self.conn.execute(stmt)
            products.migrate(self.conn)
            for stmt in parties.MIGRATE:
                self.conn.execute(stmt)
        self.jobs = jobs.Jobs(self.conn, clock)

    @staticmethod
    def _schema() -> list[str]:
        return [*products.SCHEMA, *(flat.schema(ENTITIES[n]) for n in FLAT), parties.SCHEMA, *jobs.SCHEMA]

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            self.conn.execute("BEGIN")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def apply(self, prepared: Prepared, log: Log) -> Counts:
        """Apply a validated import; call inside ``transaction()``."""
        if prepared.entity.name == "products":
            return products.apply_products(self.conn, prepared, log)
        return flat.apply_flat(self.conn, prepared, log)

    def items(self, entity: str) -> list[dict[str, Any]]:
        """The stored items of an entity in the import item shape, deactivated ones included."""
        with self.lock:
            if entity == "products":
                return products.read_products(self.conn)
            items = flat.read_flat(self.conn, ENTITIES[entity])
            if entity == "customers":
                links = parties.links_of(self.conn)
                items = [{**i, "Companies": links[i["Code"]]} if i["Code"] in links else i for i in items]
            return supplier.with_active(items) if entity == supplier.ENTITY else items

    def counts(self) -> dict[str, int]:
        with self.lock:
            out = {n: self.conn.execute(f"SELECT count(*) FROM {flat.q(n)}").fetchone()[0] for n in FLAT}
            out["products"] = self.conn.execute("SELECT count(*) FROM skus").fetchone()[0]
        return out

    def reset(self) -> None:
        """Empty the catalog and the jobs (job ids keep counting up)."""
        with self.transaction() as conn:
            for table in ("products", "variants", "skus", "company_links", "jobs", "job_logs", *FLAT):
                conn.execute(f"DELETE FROM {flat.q(table)}")

    def close(self) -> None:
        with self.lock:
            self.conn.close()

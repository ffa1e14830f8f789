"""Items per second the sandbox applies to its catalog, for the flat entities onhands and sku_prices.

For each entity and size the same JSON body is applied twice (first run inserts, second updates):

- ``toolkit``: the sandbox's path: orjson parse, column-wise validation (``prepare``), the rows
  loaded into a temporary table by one ``json_each`` statement, then set-based upsert /
  unknown-SKU / count statements;
- ``naive``: the obvious per-item loop over the same SQLite: for each item look up the SKU, read the
  stored row, merge the listed fields in Python and write it back (two to three statements per item).

Also measured once: a 50,000-item onhands import end to end through a real server (POST until the
job is Succeeded). Reported: items/s, the toolkit/naive ratio and peak RSS of the process.

Run: ``.venv/bin/python bench/bench_sandbox.py`` (50k and 200k items) or ``--quick`` (20k).
Results go to ``bench/results/bench_sandbox.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import resource
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from toolkit.entities import ENTITIES  # noqa: E402
from toolkit.sandbox import serve  # noqa: E402
from toolkit.sandbox.spec import parse_header  # noqa: E402
from toolkit.sandbox.store import Store, prepare_import  # noqa: E402

CASES: dict[str, tuple[dict[str, Any], list[str]]] = {
    "onhands": (
        {"AccountId": 1, "SkuOnhandFieldsThatAreSet": ["OnhandValue", "IncomingValue", "IsActive"]},
        ["PartNo", "WarehouseCode", "LocationCode"],
    ),
    "sku_prices": (
        {"AccountId": 1, "SkuPriceListFieldsThatAreSet": ["PriceSale", "CostPurchase", "IsActive"]},
        ["PartNo", "PriceListCode", "QuantityBreak"],
    ),
}


def _items(entity: str, n: int, version: int) -> list[dict[str, Any]]:
    if entity == "onhands":
        return [
            {
                "PartNo": f"S{i}",
                "WarehouseCode": f"W{i % 3}",
                "LocationCode": "L1",
                "OnhandValue": i + version,
                "IncomingValue": 2,
                "IsActive": True,
            }
            for i in range(n)
        ]
    return [
        {
            "PartNo": f"S{i}",
            "PriceListCode": f"PL{i % 2}",
            "QuantityBreak": 1,
            "PriceSale": 10.5 + version,
            "CostPurchase": 3.0,
            "IsActive": True,
            "CurrencyCode": "SEK",
        }
        for i in range(n)
    ]


def _seed(conn: sqlite3.Connection, n: int) -> None:
    conn.executemany("INSERT INTO skus VALUES (?, 'V', '{}')", ((f"S{i}",) for i in range(n)))
    conn.executemany('INSERT INTO price_lists ("Code") VALUES (?)', [("PL0",), ("PL1",)])


def run_toolkit(entity: str, bodies: list[bytes], n: int) -> list[float]:
    store = Store(clock=time.time)
    _seed(store.conn, n)
    header = parse_header(ENTITIES[entity], orjson.dumps(CASES[entity][0]).decode())
    seconds = []
    for body in bodies:
        start = time.perf_counter()
        prepared = prepare_import(ENTITIES[entity], header, orjson.loads(body))
        with store.transaction():
            counts = store.apply(prepared, lambda *a: None)
        seconds.append(time.perf_counter() - start)
        assert counts.inserts + counts.updates == n, counts
    store.close()
    return seconds


def run_naive(entity: str, bodies: list[bytes], n: int) -> list[float]:
    header, key = CASES[entity]
    fields = next(v for k, v in header.items() if k.endswith("FieldsThatAreSet"))
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("CREATE TABLE skus (part_no TEXT PRIMARY KEY, mpn TEXT, data TEXT)")
    conn.execute('CREATE TABLE price_lists ("Code" TEXT PRIMARY KEY)')
    conn.execute("CREATE TABLE items (k TEXT PRIMARY KEY, data TEXT)")
    _seed(conn, n)
    seconds = []
    for body in bodies:
        start = time.perf_counter()
        conn.execute("BEGIN")
        for item in json.loads(body):
            if conn.execute("SELECT 1 FROM skus WHERE part_no = ?", (item["PartNo"],)).fetchone() is None:
                continue
            k = json.dumps([item.get(c) for c in key])
            row = conn.execute("SELECT data FROM items WHERE k = ?", (k,)).fetchone()
            doc = json.loads(row[0]) if row else {c: item.get(c) for c in key}
            doc.update({f: item[f] for f in fields if item.get(f) is not None})
            conn.execute("INSERT OR REPLACE INTO items VALUES (?, ?)", (k, json.dumps(doc)))
        conn.execute("COMMIT")
        seconds.append(time.perf_counter() - start)
    conn.close()
    return seconds


def run_http(n: int) -> float:
    """Seconds from POSTing an n-item onhands import to its job being Succeeded."""
    body = orjson.dumps(_items("onhands", n, 0))
    with serve() as server, httpx.Client(base_url=server.base_url, timeout=120) as http:
        _seed(server._sandbox.store.conn, n)
        token = http.post(
            "/identity/1.0/connect/token",
            data={
                "client_id": server.client_id,
                "client_secret": server.client_secret,
                "grant_type": "client_credentials",
            },
        ).json()["access_token"]
        headers = {
            "Authorization": f"Bearer {token}",
            "X-StormConnect-Header": orjson.dumps(CASES["onhands"][0]).decode(),
        }
        start = time.perf_counter()
        r = http.post("/commerce/connect/4.0/Product/ImportOnhands", content=body, headers=headers)
        job_id = r.json()["JobId"]
        while not (
            job := http.get("/commerce/connect/4.0/Job/Get", params={"id": job_id}, headers=headers).json()
        )["IsFinished"]:
            time.sleep(0.005)
        assert job["StatusId"] == 2 and job["Inserts"] == n, job
        return time.perf_counter() - start


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20k items only")
    args = parser.parse_args(argv)
    sizes = [20_000] if args.quick else [50_000, 200_000]
    rows = []
    for entity in CASES:
        for n in sizes:
            bodies = [orjson.dumps(_items(entity, n, v)) for v in (0, 1)]
            fast, naive = run_toolkit(entity, bodies, n), run_naive(entity, bodies, n)
            for phase, f, s in zip(("insert", "update"), fast, naive, strict=True):
                rows.append(
                    {
                        "entity": entity,
                        "items": n,
                        "phase": phase,
                        "toolkit_items_per_s": round(n / f),
                        "naive_items_per_s": round(n / s),
                        "ratio": round(s / f, 2),
                        "peak_rss_mb": round(_peak_mb()),
                    }
                )
                print(rows[-1], flush=True)
    http_n = 20_000 if args.quick else 50_000
    http_s = run_http(http_n)
    result = {
        "quick": args.quick,
        "rows": rows,
        "http_onhands": {"items": http_n, "seconds": round(http_s, 3), "items_per_s": round(http_n / http_s)},
        "peak_rss_mb": round(_peak_mb()),
    }
    print(result["http_onhands"])
    _write(result)
    return 0


def _write(result: dict[str, Any]) -> None:
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_sandbox.json").write_text(json.dumps(result, indent=2))
    lines = [
        "# bench_sandbox: items applied per second",
        "",
        "| entity | items | phase | toolkit items/s | naive items/s | ratio | peak RSS MB |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['entity']} | {r['items']} | {r['phase']} | {r['toolkit_items_per_s']} | "
        f"{r['naive_items_per_s']} | {r['ratio']} | {r['peak_rss_mb']} |"
        for r in result["rows"]
    ]
    h = result["http_onhands"]
    lines += [
        "",
        f"End to end over HTTP: {h['items']} onhands accepted and applied in {h['seconds']} s "
        f"({h['items_per_s']} items/s); peak RSS {result['peak_rss_mb']} MB.",
    ]
    (out / "bench_sandbox.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())

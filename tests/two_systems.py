"""Products fed by two systems (issue 23): an ERP feed (structure, status, prices, EANs) and a PIM feed
(texts, categories, brand) of one sandbox, under two system accounts. Days are planned, every body is
checked against the vendored contract, sent, waited for and promoted, keyed by feed name; the catalog
is read back per SKU, with its product's texts, to compare with what the two sources say."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
from fixtures.settings import feed, write_settings

from toolkit.config import Settings
from toolkit.connect import ConnectClient
from toolkit.entities import SkuStatus
from toolkit.feeds import Plan, plan_feed
from toolkit.sandbox.contract import validate_import
from toolkit.snapshots import SnapshotStore

IDENTITY = ["Code", "ManufacturerCode", "ManufacturerPartNo", "PartNo"]
ERP_FIELDS = ["Status", "StandardPrice", "EanCode"]
PIM_FIELDS = ["ManufacturerName", "Name[sv-SE]", "Description[sv-SE]", "Categories", "VariantName[sv-SE]"]
ERP_SCHEMA = pl.Schema(
    {
        **dict.fromkeys(IDENTITY, pl.String()),
        "Status": pl.String(),
        "StandardPrice": pl.Decimal(18, 2),
        "EanCode": pl.String(),
    }
)
PIM_SCHEMA = pl.Schema(
    {**dict.fromkeys([*IDENTITY, *PIM_FIELDS], pl.String()), "Categories": pl.List(pl.String())}
)
T0 = datetime(2025, 5, 1, 6, tzinfo=UTC)
INACTIVE = int(SkuStatus["Inactive"])


def two_feeds(root: Path, sandbox: Any, *, erp: str = "", pim: str = "") -> Settings:
    """``erp`` (account ERP) and ``pim`` (account PIM) products feeds from ``root/src``, with extra
    policy lines; neither is held back by the deactivation guard."""
    (root / "src").mkdir(parents=True, exist_ok=True)
    guard = "max_deactivation_ratio = 1.0\n"
    return write_settings(
        root,
        feed("erp", "products", "src/erp.parquet", policies=guard + erp),
        feed("pim", "products", "src/pim.parquet", account="PIM", policies=guard + pim),
        environ=sandbox.environ(),
    )


def erp_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """The ERP's file: identity, Status, StandardPrice (SEK) and EanCode per SKU."""
    return pl.DataFrame([{c: r.get(c) for c in ERP_SCHEMA} for r in rows], schema=ERP_SCHEMA, orient="row")


def pim_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """The PIM's file: identity, brand name, Swedish name and description, categories and the
    variant's Swedish name per SKU."""
    return pl.DataFrame([{c: r.get(c) for c in PIM_SCHEMA} for r in rows], schema=PIM_SCHEMA, orient="row")


def run_day(
    settings: Settings,
    client: ConnectClient,
    name: str,
    frame: pl.DataFrame,
    *,
    kind: str = "change",
    day: int = 1,
) -> Plan:
    """Plan ``frame`` as feed ``name``'s source, send it (each body contract-checked first), promote it."""
    frame.write_parquet(settings.feeds[name].source_path)
    store = SnapshotStore(settings.state_dir / "snapshots")
    plan = plan_feed(settings, name, kind=kind, store=store, now=T0 + timedelta(days=day))  # type: ignore[arg-type]
    for batch in plan.batches:
        assert validate_import(batch.endpoint, batch.header, batch.items()) == [], batch.header
    jobs = [client.import_items(b.entity, b.body, b.header).job_id for b in plan.batches]
    finished = client.wait_for_jobs(jobs, timeout=60.0, poll_interval=0.05)
    failed = {
        i: [e.message for e in client.job_log(i)] for i, j in finished.items() if not j.succeeded or j.fail
    }
    assert not failed, failed
    warned = [e.message for i in jobs for e in client.job_log(i) if e.severity == 2]
    assert not warned, warned  # a list the sandbox ignored: a move or a field that did not happen
    assert plan.snapshot is not None
    store.promote(plan.snapshot)
    return plan


def skus(sandbox: Any) -> dict[str, dict[str, Any]]:
    """Per SKU in the sandbox: its place, status, price, EAN and its product's texts."""
    out: dict[str, dict[str, Any]] = {}
    for product in sandbox.items("products"):
        texts = _texts(product)
        for variant in product["Variants"]:
            place = {"Code": product["Code"], "ManufacturerPartNo": variant["ManufacturerPartNo"]}
            name = _sv(variant).get("Name")
            for sku in variant["Skus"]:
                values = {k: sku.get(k) for k in ERP_FIELDS}
                out[sku["PartNo"]] = {**place, **values, **texts, "VariantName": name}
    return out


def _sv(doc: dict[str, Any]) -> dict[str, Any]:
    return next((c for c in doc.get("Cultures") or [] if c.get("CultureCode") == "sv-SE"), {})


def _texts(product: dict[str, Any]) -> dict[str, Any]:
    sv = _sv(product)
    categories = [c["Code"] if isinstance(c, dict) else c for c in product.get("Categories") or []]
    return {
        "ManufacturerName": product.get("ManufacturerName"),
        "Name": sv.get("Name"),
        "Description": sv.get("Description"),
        "Categories": sorted(categories) or None,
    }


def expected(erp: pl.DataFrame, pim: pl.DataFrame) -> dict[str, dict[str, Any]]:
    """What the two sources say per SKU: the ERP's place, status, price and EAN, the PIM's texts of
    the SKU's product (by Code) and variant (by ManufacturerPartNo), none where the PIM has no row of it."""
    texts = {r["Code"]: r for r in pim.unique("Code", keep="first").iter_rows(named=True)}
    variants = pim.select("ManufacturerPartNo", "VariantName[sv-SE]").unique("ManufacturerPartNo")
    names = dict(variants.iter_rows())
    out = {}
    for r in erp.iter_rows(named=True):
        t = texts.get(r["Code"], {})
        status, price, categories = r["Status"], r["StandardPrice"], t.get("Categories")
        out[r["PartNo"]] = {
            "Code": r["Code"],
            "ManufacturerPartNo": r["ManufacturerPartNo"],
            "Status": int(SkuStatus[status]) if status else None,
            "StandardPrice": float(price) if price is not None else None,
            "EanCode": r["EanCode"],
            "ManufacturerName": t.get("ManufacturerName"),
            "Name": t.get("Name[sv-SE]"),
            "Description": t.get("Description[sv-SE]"),
            "Categories": sorted(categories) if categories else None,
            "VariantName": names.get(r["ManufacturerPartNo"]),
        }
    return out

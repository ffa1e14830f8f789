"""Days of feeds against a real sandbox for the nested-list tests (issue 24): write the source, plan,
check every request against the vendored contract, send, wait, promote; read the catalog back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
from fixtures.settings import feed, write_settings

from toolkit.config import Settings
from toolkit.connect import ConnectClient
from toolkit.feeds import Plan, plan_feed
from toolkit.payloads import build_header, build_items
from toolkit.sandbox.contract import validate_import
from toolkit.snapshots import SnapshotStore

APP_KEY = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"


def settings_for(root: Path, sandbox: Any, entity: str, *, extra: str = "") -> Settings:
    (root / "src").mkdir(parents=True, exist_ok=True)
    table = feed(entity, entity, f"src/{entity}.parquet", policies="max_deactivation_ratio = 1.0")
    table = table.replace(f"[feeds.{entity}.policies]", f"{extra}[feeds.{entity}.policies]")  # feed keys
    return write_settings(root, table, environ=sandbox.environ())


def run_day(
    settings: Settings,
    client: ConnectClient,
    entity: str,
    frame: pl.DataFrame,
    *,
    kind: str = "change",
    day: int = 1,
) -> Plan:
    """Plan ``frame`` as the feed's source, send it (each body contract-checked first), promote it."""
    frame.write_parquet(settings.path.parent / "src" / f"{entity}.parquet")
    store = SnapshotStore(settings.state_dir / "snapshots")
    now = datetime(2025, 4, 30, 12, tzinfo=UTC) + timedelta(days=day)
    plan = plan_feed(settings, entity, kind=kind, store=store, now=now)  # type: ignore[arg-type]
    for batch in plan.batches:
        assert validate_import(batch.endpoint, batch.header, batch.items()) == [], batch.header
    jobs = [client.import_items(b.entity, b.body, b.header).job_id for b in plan.batches]
    finished = client.wait_for_jobs(jobs, timeout=60.0, poll_interval=0.05)
    failed = {
        i: [e.message for e in client.job_log(i)] for i, j in finished.items() if not j.succeeded or j.fail
    }
    assert not failed, failed
    assert plan.snapshot is not None
    store.promote(plan.snapshot)
    return plan


def send(client: ConnectClient, entity: str, items: list[dict[str, Any]], header: dict[str, Any]) -> None:
    """One import another system makes."""
    job = client.import_items(entity, items, header).job_id
    assert client.wait_for_jobs([job], timeout=60.0, poll_interval=0.05)[job].succeeded


def companies(client: ConnectClient, codes: list[str]) -> None:
    frame = pl.DataFrame({"Code": codes, "ApplicationKey": [APP_KEY] * len(codes)})
    send(
        client,
        "companies",
        build_items("companies", frame),
        build_header("companies", account=10000, fields=frame.columns),
    )


def elements(sandbox: Any) -> dict[str, set[tuple[Any, ...]]]:
    """Per supplier product: its active elements as (member, key..., values...)."""
    out: dict[str, set[tuple[Any, ...]]] = {}
    for item in sandbox.items("supplier_products"):
        got = out.setdefault(item["SupplierPartNo"], set())
        got |= {
            ("OnHand", e["WarehouseCode"], e.get("LocationCode"), e.get("Value"))
            for e in item.get("OnHand", [])
            if e["IsActive"]
        }
        got |= {
            ("PriceList", e["PriceListCode"], e.get("CostPurchase"))
            for e in item.get("PriceList", [])
            if e["IsActive"]
        }
    return out


def links(sandbox: Any) -> dict[str, dict[str, bool]]:
    """Per customer: each linked company and whether it is the primary link."""
    return {
        c["Code"]: {e["Code"]: e.get("IsPrimary") is True for e in c.get("Companies") or []}
        for c in sandbox.items("customers")
    }

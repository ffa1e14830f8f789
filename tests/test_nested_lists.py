"""Issue 24 against the real sandbox: supplier elements that move, empty and multiply; customer-company
links made elsewhere kept; removed price lists ended. Every request passes the contract check."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from nested_days import companies, elements, links, run_day, send, settings_for

from toolkit.connect import ConnectClient

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Any]:
    from toolkit.sandbox import serve

    with serve(client_secret="nested-lists-secret-24", rate_limit=100_000) as server:
        yield server


@pytest.fixture
def client(sandbox: Any) -> Iterator[ConnectClient]:
    sandbox.reset()
    with ConnectClient(sandbox.profile(rate_limit_per_minute=100_000)) as c:
        yield c


def _supplier(rows: list[tuple[str, str | None, int | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={"SupplierPartNo": pl.String, "OnHand.WarehouseCode": pl.String, "OnHand.Value": pl.Int64},
        orient="row",
    ).with_columns(pl.lit("L1").alias("OnHand.LocationCode"), pl.lit("Hammer").alias("ProductName"))


def test_case1_a_moved_warehouse_is_sent_whole_and_the_old_one_deactivated(
    tmp_path: Path, sandbox: Any, client: ConnectClient
) -> None:
    settings = settings_for(tmp_path, sandbox, "supplier_products")
    run_day(settings, client, "supplier_products", _supplier([("SP1", "W1", 5)]), kind="full", day=1)
    plan = run_day(settings, client, "supplier_products", _supplier([("SP1", "W2", 5)]), day=2)
    assert elements(sandbox) == {"SP1": {("OnHand", "W2", "L1", 5)}}
    assert any("1 OnHand elements that left their product deactivated" in n for n in plan.summary.notes)
    run_day(settings, client, "supplier_products", _supplier([("SP1", "W3", 7)]), kind="full", day=3)
    assert elements(sandbox) == {"SP1": {("OnHand", "W3", "L1", 7)}}


def test_case2_a_product_that_loses_its_stock_does_not_block_the_others(
    tmp_path: Path, sandbox: Any, client: ConnectClient
) -> None:
    settings = settings_for(tmp_path, sandbox, "supplier_products")
    day1 = _supplier([("SP1", "W1", 5), ("SP2", "W1", 3)])
    run_day(settings, client, "supplier_products", day1, kind="full", day=1)
    run_day(settings, client, "supplier_products", _supplier([("SP1", None, None), ("SP2", "W1", 4)]), day=2)
    assert elements(sandbox) == {"SP1": set(), "SP2": {("OnHand", "W1", "L1", 4)}}
    again = run_day(
        settings, client, "supplier_products", _supplier([("SP1", None, None), ("SP2", "W1", 4)]), day=3
    )
    assert again.batches == ()
    full = run_day(
        settings,
        client,
        "supplier_products",
        _supplier([("SP1", None, None), ("SP2", "W1", 4)]),
        kind="full",
        day=4,
    )
    assert all(e.get("WarehouseCode") for b in full.batches for i in b.items() for e in i.get("OnHand", []))


def test_case3_company_links_made_elsewhere_are_kept(
    tmp_path: Path, sandbox: Any, client: ConnectClient
) -> None:
    settings = settings_for(tmp_path, sandbox, "customers")
    companies(client, ["F1", "F2", "F3"])
    customers = pl.DataFrame({"Code": ["C1"], "FirstName": ["Ann"], "CompanyCode": ["F1"]})
    run_day(settings, client, "customers", customers, kind="full", day=1)
    send(
        client,
        "customers",
        [{"Code": "C1", "IsCompanyListDelta": True, "Companies": [{"Code": "F3"}]}],
        {"AccountId": 10005, "CustomerFieldsThatAreSet": ["Companies", "SearchOnlyByCode"]},
    )
    plan = run_day(settings, client, "customers", customers.with_columns(CompanyCode=pl.lit("F2")), day=2)
    assert links(sandbox)["C1"] == {"F2": True, "F1": False, "F3": False}
    assert any("1 customers left a company" in n for n in plan.summary.notes)
    cleared = customers.with_columns(CompanyCode=pl.lit(None, pl.String))
    run_day(settings, client, "customers", cleared, day=3)
    assert links(sandbox)["C1"] == {"F2": False, "F1": False, "F3": False}
    run_day(settings, client, "customers", cleared, kind="full", day=4)  # the weekly full feed
    assert "F3" in links(sandbox)["C1"]


def test_case3_a_feed_that_owns_the_links_replaces_them(
    tmp_path: Path, sandbox: Any, client: ConnectClient
) -> None:
    settings = settings_for(tmp_path, sandbox, "customers", extra='company_links = "owned"\n')
    companies(client, ["F1", "F2", "F3"])
    customers = pl.DataFrame({"Code": ["C1"], "FirstName": ["Ann"], "CompanyCode": ["F1"]})
    run_day(settings, client, "customers", customers, kind="full", day=1)
    send(
        client,
        "customers",
        [{"Code": "C1", "IsCompanyListDelta": True, "Companies": [{"Code": "F3"}]}],
        {"AccountId": 10005, "CustomerFieldsThatAreSet": ["Companies", "SearchOnlyByCode"]},
    )
    run_day(settings, client, "customers", customers.with_columns(CompanyCode=pl.lit("F2")), day=2)
    assert links(sandbox)["C1"] == {"F2": True}


def test_case4_a_removed_price_list_is_ended_not_promised_to_a_full_feed(
    tmp_path: Path, sandbox: Any, client: ConnectClient
) -> None:
    settings = settings_for(tmp_path, sandbox, "price_lists")
    lists = pl.DataFrame(
        {"Code": ["PL1", "PL2"], "Name": ["Base", "Campaign"], "CurrencyCode": ["SEK", "SEK"]}
    )
    run_day(settings, client, "price_lists", lists, kind="full", day=1)
    plan = run_day(settings, client, "price_lists", lists.head(1), day=2)
    assert (plan.summary.deactivated, plan.summary.left_for_full) == (1, 0)
    ends = {i["Code"]: i.get("EndDate") for i in sandbox.items("price_lists")}
    assert ends["PL1"] is None and str(ends["PL2"]).startswith("2025-05-02")
    back = run_day(settings, client, "price_lists", lists, day=3)  # PL2 comes back: sent open again
    assert back.summary.added == 1
    # (the sandbox stores a null as absent, so the reopening is checked on the request)
    assert {"Code": "PL2", "EndDate": None} in [i for b in back.batches for i in b.items()]


def test_case5_two_warehouses_of_one_supplier_product_are_one_item(
    tmp_path: Path, sandbox: Any, client: ConnectClient
) -> None:
    settings = settings_for(tmp_path, sandbox, "supplier_products")
    day1 = _supplier([("SP1", "W1", 5), ("SP1", "W2", 3)])
    plan = run_day(settings, client, "supplier_products", day1, kind="full", day=1)
    assert plan.summary.rejected == 0 and sum(b.item_count for b in plan.batches) == 1
    assert elements(sandbox) == {"SP1": {("OnHand", "W1", "L1", 5), ("OnHand", "W2", "L1", 3)}}
    run_day(settings, client, "supplier_products", _supplier([("SP1", "W1", 5), ("SP1", "W2", 9)]), day=2)
    assert elements(sandbox) == {"SP1": {("OnHand", "W1", "L1", 5), ("OnHand", "W2", "L1", 9)}}

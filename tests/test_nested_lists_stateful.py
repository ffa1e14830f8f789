"""Issue 24 acceptance 1: days of supplier stock and prices, customer-company links and price lists
against the sandbox, drawn by hypothesis, with other systems' imports in between. After every day the
catalog equals the source, keeping what the other imports made; every request passes the contract."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from nested_days import companies, elements, links, run_day, send, settings_for

from toolkit.connect import ConnectClient
from toolkit.payloads import build_header, build_items

pytestmark = pytest.mark.slow

PARTS, WAREHOUSES, SUPPLIER_LISTS = ["SP1", "SP2", "SP3"], ["W1", "W2", "W3"], ["SPL1", "SPL2"]
CUSTOMERS, COMPANIES = ["C1", "C2", "C3"], ["F1", "F2", "F3", "F4"]
OTHER = {"AccountId": 10005, "CustomerFieldsThatAreSet": ["Companies", "SearchOnlyByCode"]}
STOCK_HEADER = {"AccountId": 10022, "FullFile": False, "OnhandFieldsThatAreSet": ["Value", "IsActive"]}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Any]:
    from toolkit.sandbox import serve

    with serve(client_secret="nested-stateful-secret", rate_limit=1_000_000) as server:
        yield server


class NestedDays(RuleBasedStateMachine):
    server: Any = None

    def __init__(self) -> None:
        super().__init__()
        self.server.reset()
        self.root = Path(tempfile.mkdtemp(prefix="nested-days-"))
        self.client = ConnectClient(self.server.profile(rate_limit_per_minute=1_000_000))
        self.settings = {
            e: settings_for(self.root / e, self.server, e)
            for e in ("supplier_products", "customers", "price_lists")
        }
        self.stock: dict[tuple[str, str], int] = {("SP1", "W1"): 5, ("SP2", "W2"): 3}
        self.cost: dict[str, tuple[str, int]] = {"SP1": ("SPL1", 10)}
        self.company: dict[str, str | None] = {"C1": "F1", "C2": None, "C3": "F2"}
        self.lists, self.next_list = ["PL1", "PL2"], 3
        self.other_stock: set[tuple[str, str]] = set()  # (part, "X<n>") elements another system made
        self.other_links: dict[str, set[str]] = {}
        self.ever: dict[str, set[str]] = {}
        self.day = 0
        self._prerequisites()
        self._run_days(kind="full")

    def teardown(self) -> None:
        self.client.close()
        shutil.rmtree(self.root, ignore_errors=True)

    def _prerequisites(self) -> None:
        companies(self.client, COMPANIES)
        frame = pl.DataFrame({"Code": SUPPLIER_LISTS, "CurrencyCode": ["SEK", "SEK"]})
        send(
            self.client,
            "price_lists",
            build_items("price_lists", frame),
            build_header("price_lists", account=10000, fields=frame.columns),
        )

    def _supplier_rows(self) -> pl.DataFrame:
        Row = tuple[str, str | None, int | None]
        rows: list[Row] = [(p, w, v) for (p, w), v in sorted(self.stock.items())]
        rows += [(p, None, None) for p in PARTS if not any(k[0] == p for k in self.stock)]
        frame = pl.DataFrame(
            rows,
            schema={"SupplierPartNo": pl.String, "OnHand.WarehouseCode": pl.String, "OnHand.Value": pl.Int64},
            orient="row",
        )
        costs = pl.DataFrame(
            [(p, *c) for p, c in self.cost.items()],
            orient="row",
            schema={
                "SupplierPartNo": pl.String,
                "PriceList.PriceListCode": pl.String,
                "PriceList.CostPurchase": pl.Int64,
            },
        )
        frame = frame.join(costs, on="SupplierPartNo", how="left")
        return frame.with_columns(
            pl.lit("L1").alias("OnHand.LocationCode"),
            pl.lit("Hammer").alias("ProductName"),
            pl.col("PriceList.CostPurchase").cast(pl.Decimal(18, 4)),
        )

    def _run_days(self, *, kind: str = "change") -> None:
        self.day += 1
        customers = pl.DataFrame(
            {"Code": CUSTOMERS, "FirstName": ["Ann"] * 3, "CompanyCode": [self.company[c] for c in CUSTOMERS]}
        )
        lists = pl.DataFrame(
            {"Code": self.lists, "Name": self.lists, "CurrencyCode": ["SEK"] * len(self.lists)}
        )
        for entity, frame in (
            ("price_lists", lists),
            ("supplier_products", self._supplier_rows()),
            ("customers", customers),
        ):
            run_day(self.settings[entity], self.client, entity, frame, kind=kind, day=self.day)
        for c, f in self.company.items():
            self.ever.setdefault(c, set()).update({f} if f else set())

    @rule(part=st.sampled_from(PARTS), warehouse=st.sampled_from(WAREHOUSES), value=st.integers(0, 9))
    def set_stock(self, part: str, warehouse: str, value: int) -> None:
        self.stock[(part, warehouse)] = value

    @rule(part=st.sampled_from(PARTS), old=st.sampled_from(WAREHOUSES), new=st.sampled_from(WAREHOUSES))
    def move_stock(self, part: str, old: str, new: str) -> None:
        if (part, old) in self.stock and (part, new) not in self.stock:
            self.stock[(part, new)] = self.stock.pop((part, old))

    @rule(part=st.sampled_from(PARTS), warehouse=st.sampled_from(WAREHOUSES))
    def drop_stock(self, part: str, warehouse: str) -> None:
        self.stock.pop((part, warehouse), None)

    @rule(
        part=st.sampled_from(PARTS), code=st.none() | st.sampled_from(SUPPLIER_LISTS), cost=st.integers(1, 99)
    )
    def set_cost(self, part: str, code: str | None, cost: int) -> None:
        if code is None:
            self.cost.pop(part, None)
        else:
            self.cost[part] = (code, cost)

    @rule(customer=st.sampled_from(CUSTOMERS), company=st.none() | st.sampled_from(COMPANIES[:3]))
    def move_customer(self, customer: str, company: str | None) -> None:
        self.company[customer] = company

    @rule(customer=st.sampled_from(CUSTOMERS), company=st.sampled_from(COMPANIES))
    def other_system_links(self, customer: str, company: str) -> None:
        send(
            self.client,
            "customers",
            [{"Code": customer, "IsCompanyListDelta": True, "Companies": [{"Code": company}]}],
            OTHER,
        )
        self.other_links.setdefault(customer, set()).add(company)

    @rule(part=st.sampled_from(PARTS))
    def other_system_stock(self, part: str) -> None:
        warehouse = f"X{len(self.other_stock)}"
        send(
            self.client,
            "supplier_products",
            [
                {
                    "SupplierPartNo": part,
                    "OnHand": [
                        {"WarehouseCode": warehouse, "LocationCode": "L1", "Value": 1, "IsActive": True}
                    ],
                }
            ],
            STOCK_HEADER,
        )
        self.other_stock.add((part, warehouse))

    @rule(remove=st.booleans())
    def change_lists(self, remove: bool) -> None:
        if remove and len(self.lists) > 1:
            self.lists.pop(0)
        else:
            self.lists.append(f"PL{self.next_list}")  # removed lists never return (see test_nested_lists)
            self.next_list += 1

    @rule()
    def next_day(self) -> None:
        self._run_days()

    @rule()
    def full_day(self) -> None:
        self._run_days(kind="full")

    @invariant()
    def catalog_equals_source(self) -> None:
        if not self.day:
            return
        self._run_days()  # the source as it stands, sent (nothing new when nothing changed)
        want = {
            p: {("OnHand", w, "L1", v) for (q, w), v in self.stock.items() if q == p}
            | {("OnHand", w, "L1", 1) for q, w in self.other_stock if q == p}
            | ({("PriceList", *self.cost[p])} if p in self.cost else set())
            for p in PARTS
        }
        assert elements(self.server) == want
        got = links(self.server)
        for c in CUSTOMERS:
            primary = [f for f, is_primary in got.get(c, {}).items() if is_primary]
            assert primary == ([self.company[c]] if self.company[c] else []), (c, got)
            assert self.other_links.get(c, set()) <= set(got.get(c, {})), (c, got)
            assert set(got.get(c, {})) <= self.ever.get(c, set()) | self.other_links.get(c, set()), (c, got)
        open_lists = {
            i["Code"]
            for i in self.server.items("price_lists")
            if i["Code"] not in SUPPLIER_LISTS and not i.get("EndDate")
        }
        assert open_lists == set(self.lists)


def test_nested_lists_day_after_day(sandbox: Any) -> None:
    NestedDays.server = sandbox
    case = NestedDays.TestCase
    case.settings = settings(
        max_examples=6, stateful_step_count=6, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    case().runTest()

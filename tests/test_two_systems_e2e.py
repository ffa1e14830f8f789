"""Issue 23 cases 1-4 against the sandbox: products fed by an ERP (structure, status, prices, EANs) and a
PIM (texts, categories, brand) under two system accounts. Every request is contract-checked before it
is sent and no job may fail or log an ignored list; the catalog is read back and compared with what
the two sources say (``two_systems.expected``)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from two_systems import INACTIVE, erp_frame, expected, pim_frame, run_day, skus, two_feeds

from toolkit.config import Settings
from toolkit.connect import ConnectClient
from toolkit.feeds import Plan

pytestmark = pytest.mark.slow

# P1: variants V1 (S1, S2) and V2 (S3); P2: variant V4 (S4), whose product has no description
PLACES = [("P1", "V1", "S1"), ("P1", "V1", "S2"), ("P1", "V2", "S3"), ("P2", "V4", "S4")]
TEXTS = {"P1": ("Tält", "Ett tält för två", ["tents", "outdoor"]), "P2": ("Kåsa", None, ["kitchen"])}


def erp_rows(places: list[tuple[str, str, str]] = PLACES, **where: dict[str, Any]) -> list[dict[str, Any]]:
    """The ERP's rows (P2's SKUs have no EAN); ``where``: other values of one SKU by PartNo."""
    return [
        {
            "Code": c,
            "ManufacturerCode": "ACME",
            "ManufacturerPartNo": v,
            "PartNo": p,
            "Status": "Active",
            "StandardPrice": Decimal(10 + i),
            "EanCode": None if c == "P2" else f"73100000{i:05d}",
            **where.get(p, {}),
        }
        for i, (c, v, p) in enumerate(places)
    ]


def pim_rows(places: list[tuple[str, str, str]] = PLACES) -> list[dict[str, Any]]:
    def texts(code: str) -> dict[str, Any]:
        name, description, categories = TEXTS.get(code.rstrip("X"), (f"Produkt {code}", None, ["misc"]))
        return {
            "ManufacturerName": "Acme",
            "Name[sv-SE]": name,
            "Description[sv-SE]": description,
            "Categories": categories,
        }

    return [
        {
            "Code": c,
            "ManufacturerCode": "ACME",
            "ManufacturerPartNo": v,
            "PartNo": p,
            **texts(c),
            "VariantName[sv-SE]": f"Variant {v}",
        }
        for c, v, p in places
    ]


@pytest.fixture(scope="module")
def server() -> Iterator[Any]:
    from toolkit.sandbox import serve

    with serve(client_secret="two-systems-e2e-secret", rate_limit=100_000) as sandbox:
        yield sandbox


class Shop:
    """One sandbox, reset, with the ERP and PIM feeds; day 1 sends both sources as full feeds."""

    def __init__(
        self,
        server: Any,
        root: Path,
        *,
        policies: str = "",
        rows: list[dict[str, Any]] | None = None,
        check: bool = True,
    ) -> None:
        server.reset()
        self.server = server
        self.settings: Settings = two_feeds(root, server, erp=policies, pim=policies)
        self.client = ConnectClient(server.profile(rate_limit_per_minute=100_000))
        self.erp, self.pim = erp_frame(rows or erp_rows()), pim_frame(pim_rows())
        self.day = 1
        self.send("erp", self.erp, kind="full")
        self.send("pim", self.pim, kind="full")
        if check:
            self.catalog_is_the_sources()

    def send(self, name: str, frame: pl.DataFrame, *, kind: str = "change") -> Plan:
        if name == "erp":
            self.erp = frame
        else:
            self.pim = frame
        return run_day(self.settings, self.client, name, frame, kind=kind, day=self.day)

    def catalog_is_the_sources(self) -> None:
        assert skus(self.server) == expected(self.erp, self.pim)


@pytest.fixture
def shop(server: Any) -> Iterator[Shop]:
    root = Path(tempfile.mkdtemp(prefix="two-systems-"))
    made = Shop(server, root)
    yield made
    made.client.close()
    shutil.rmtree(root, ignore_errors=True)


def _place(frame: pl.DataFrame, part: str, **values: str) -> pl.DataFrame:
    return frame.with_columns(
        pl.when(pl.col("PartNo") == part).then(pl.lit(v)).otherwise(pl.col(c)).alias(c)
        for c, v in values.items()
    )


# --- case 1: a SKU that moves to another variant (or product) is moved --------------------------------
@pytest.mark.parametrize(
    "to",
    [{"ManufacturerPartNo": "V2"}, {"ManufacturerPartNo": "V9"}, {"Code": "P3", "ManufacturerPartNo": "V3"}],
    ids=["existing-variant", "new-variant", "new-product-and-variant"],
)
def test_case_1_an_erp_move_moves_the_sku(shop: Shop, to: dict[str, str]) -> None:
    shop.day = 2
    plan = shop.send("erp", _place(shop.erp, "S2", **to))
    got = skus(shop.server)["S2"]
    assert (got["Code"], got["ManufacturerPartNo"]) == (to.get("Code", "P1"), to["ManufacturerPartNo"])
    assert (got["Status"], got["StandardPrice"], got["EanCode"]) == (1, 11.0, "7310000000001")
    assert {p: s["ManufacturerPartNo"] for p, s in skus(shop.server).items() if p != "S2"} == {
        "S1": "V1",
        "S3": "V2",
        "S4": "V4",
    }
    assert any(n.startswith("moved 1 SKUs") for n in plan.summary.notes)
    variant = {"VariantName[sv-SE]": f"Variant {to['ManufacturerPartNo']}"}
    shop.send("pim", _place(shop.pim, "S2", **to, **variant))  # the PIM follows: its texts go there too
    shop.catalog_is_the_sources()


# --- case 2: new ERP SKUs before the PIM has texts survive the PIM's full feed -----------------------
def test_case_2_a_pim_full_feed_leaves_new_erp_skus_active(shop: Shop) -> None:
    shop.day = 2
    shop.send("erp", erp_frame(erp_rows([*PLACES, ("P1", "V2", "S5"), ("P5", "V5", "S6")])))
    shop.day = 8
    plan = shop.send("pim", shop.pim, kind="full")  # weekly, without texts for S5 and S6
    assert not any(b.header.get("FullFile") for b in plan.batches)
    assert plan.summary.deactivated == 0 and all(
        "Status" not in b.header.get("SkuFieldsThatAreSet", ()) for b in plan.batches
    )
    assert (skus(shop.server)["S5"]["Status"], skus(shop.server)["S6"]["Status"]) == (1, 1)
    shop.catalog_is_the_sources()
    shop.day = 9
    for name, frame in (("erp", shop.erp), ("pim", shop.pim)):  # quiet days change nothing
        assert shop.send(name, frame).batches == ()
    shop.catalog_is_the_sources()


# --- case 3: union requests never send null for a field an item did not change ----------------------
@pytest.fixture
def union_shop(server: Any) -> Iterator[Shop]:
    root = Path(tempfile.mkdtemp(prefix="two-systems-union-"))
    # S4 has no Status nor EAN; grouping by changed-field set may cost no extra request: union requests
    made = Shop(
        server, root, policies="max_extra_requests = 0\n", rows=erp_rows(S4={"Status": None}), check=False
    )
    yield made
    made.client.close()
    shutil.rmtree(root, ignore_errors=True)


def _nulls(plan: Plan) -> list[tuple[str, str]]:
    """(item, member) of every null a plan sends, at every level."""
    found: list[tuple[str, str]] = []

    def walk(doc: Any, where: str) -> None:
        if isinstance(doc, list):
            for d in doc:
                walk(d, where)
        elif isinstance(doc, dict):
            here = str(doc.get("PartNo") or doc.get("ManufacturerPartNo") or doc.get("CultureCode") or where)
            found.extend((here, k) for k, v in doc.items() if v is None)
            for v in doc.values():
                walk(v, here)

    walk([i for b in plan.batches for i in b.items()], "")
    return found


def test_case_3_union_requests_send_no_null_for_unchanged_fields(union_shop: Shop) -> None:
    shop = union_shop
    shop.day = 2
    erp = erp_frame(
        erp_rows(
            S1={"Status": "Coming", "EanCode": "7310000009999"},
            S2={"EanCode": "7310000009998"},
            S3={"StandardPrice": Decimal(98)},
            S4={"Status": None, "StandardPrice": Decimal(99)},
        )
    )
    plan = shop.send("erp", erp)  # three field sets; S4 (no Status, no EAN) changes only its price
    assert plan.summary.grouping.startswith("union") and _nulls(plan) == []
    (s4,) = [
        s
        for b in plan.batches
        for i in b.items()
        for v in i["Variants"]
        for s in v["Skus"]
        if s["PartNo"] == "S4"
    ]
    assert s4 == {"PartNo": "S4", "StandardPrice": {"PriceSale": 99.0}}
    pim = shop.pim.with_columns(
        pl.when(pl.col("Code") == "P1")
        .then(pl.lit("Nytt tält"))
        .otherwise(pl.col("Description[sv-SE]"))
        .alias("Description[sv-SE]"),
        pl.when(pl.col("Code") == "P2")
        .then(pl.lit("Kåsa i trä"))
        .otherwise(pl.col("Name[sv-SE]"))
        .alias("Name[sv-SE]"),
    )
    plan = shop.send("pim", pim)  # P1 changes its description, P2 (which has none) its name
    assert plan.summary.grouping.startswith("union") and _nulls(plan) == []
    shop.catalog_is_the_sources()
    assert skus(shop.server)["S4"]["Description"] is None and skus(shop.server)["S1"]["Status"] == 2


# --- case 4: a product renumbered by both systems gets the PIM's texts and the ERP's fields ----------
@pytest.mark.parametrize("order", [("erp", "pim"), ("pim", "erp")], ids=["erp-first", "pim-first"])
def test_case_4_a_renumbered_product_keeps_its_texts_and_fields(shop: Shop, order: tuple[str, str]) -> None:
    shop.day = 2
    places = [(c + "X" if c == "P1" else c, v, p) for c, v, p in PLACES]
    renumbered = {"erp": erp_frame(erp_rows(places)), "pim": pim_frame(pim_rows(places))}
    for name in order:
        shop.send(name, renumbered[name])
    got = skus(shop.server)
    assert {p for p, s in got.items() if s["Code"] == "P1X"} == {"S1", "S2", "S3"}
    assert got["S1"]["Name"] == "Tält" and got["S1"]["Categories"] == ["outdoor", "tents"]
    assert got["S3"]["StandardPrice"] == 12.0 and got["S3"]["Status"] == 1
    shop.catalog_is_the_sources()
    assert INACTIVE not in {s["Status"] for s in got.values()}

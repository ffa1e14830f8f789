"""Issue 23 acceptance 1: days of an ERP and a PIM products feed against the sandbox, drawn by
hypothesis: SKUs moved to other variants, products renumbered, new ERP SKUs before the PIM has their
texts, removals, returns, PIM text edits and full feeds of either system in either order. After every
day the catalog equals what the two sources say (structure, status, texts) and every request passed
the contract check (``two_systems.run_day``)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from two_systems import INACTIVE, erp_frame, expected, pim_frame, run_day, skus, two_feeds

from toolkit.connect import ConnectClient

pytestmark = pytest.mark.slow

ORDERS = st.sampled_from([("erp", "pim"), ("pim", "erp")])


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Any]:
    from toolkit.sandbox import serve

    with serve(client_secret="two-systems-stateful-secret", rate_limit=1_000_000) as server:
        yield server


class TwoSystems(RuleBasedStateMachine):
    server: Any = None

    def __init__(self) -> None:
        super().__init__()
        self.server.reset()
        self.root = Path(tempfile.mkdtemp(prefix="two-systems-days-"))
        self.client = ConnectClient(self.server.profile(rate_limit_per_minute=1_000_000))
        self.settings = two_feeds(self.root, self.server)
        # PartNo -> [Code, ManufacturerPartNo]: where the ERP has each SKU, removed ones included
        self.place = {
            "S1": ["P1", "P1-V1"],
            "S2": ["P1", "P1-V1"],
            "S3": ["P1", "P1-V2"],
            "S4": ["P2", "P2-V1"],
        }
        self.removed: set[str] = set()
        self.known = set(self.place)  # SKUs the PIM has texts for
        self.texts = {"P1": "Tält", "P2": "Kåsa"}
        self.day, self.next_part = 0, 5
        # the texts the PIM last sent per product and per variant: Norce keeps them when the PIM's file
        # stops naming a product or variant (its SKUs moved away or are not yet the PIM's)
        self.said: dict[str, dict[str, Any]] = {}
        self._days(("erp", "pim"), full={"erp", "pim"})

    def teardown(self) -> None:
        self.client.close()
        shutil.rmtree(self.root, ignore_errors=True)

    def _frames(self) -> dict[str, Any]:
        active = [p for p in sorted(self.place) if p not in self.removed]
        rows = [
            {
                "Code": self.place[p][0],
                "ManufacturerCode": "ACME",
                "ManufacturerPartNo": self.place[p][1],
                "PartNo": p,
                "Status": "Active",
                "StandardPrice": Decimal(int(p[1:])),
                "EanCode": None,
                "ManufacturerName": "Acme",
                "Name[sv-SE]": self.texts.get(self.place[p][0]),
                "Description[sv-SE]": None,
                "Categories": ["outdoor"],
                "VariantName[sv-SE]": f"Variant {self.place[p][1]}",
            }
            for p in active
        ]
        return {"erp": erp_frame(rows), "pim": pim_frame([r for r in rows if r["PartNo"] in self.known])}

    def _days(self, order: tuple[str, str], *, full: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.day += 1
        frames = self._frames()
        for name in order:
            run_day(
                self.settings,
                self.client,
                name,
                frames[name],
                kind="full" if name in full else "change",
                day=self.day,
            )
        for row in frames["pim"].iter_rows(named=True):
            self.said[row["Code"]] = {
                "Name": row["Name[sv-SE]"],
                "ManufacturerName": "Acme",
                "Categories": ["outdoor"],
            }
            self.said[row["ManufacturerPartNo"]] = {"VariantName": row["VariantName[sv-SE]"]}

    def _codes(self) -> list[str]:
        return sorted({self.place[p][0] for p in self.place if p not in self.removed})

    @rule(data=st.data(), variant=st.integers(1, 3))
    def erp_moves_a_sku(self, data: st.DataObject, variant: int) -> None:
        part = data.draw(st.sampled_from(sorted(self.place)))
        self.place[part][1] = f"{self.place[part][0]}-V{variant}"

    @rule(data=st.data())
    def both_renumber_a_product(self, data: st.DataObject) -> None:
        code = data.draw(st.sampled_from(self._codes()))
        renamed = f"{code}X"
        if code in self.texts:
            self.texts[renamed] = self.texts.pop(code)
        for place in self.place.values():
            place[0] = renamed if place[0] == code else place[0]

    @rule(data=st.data(), new_product=st.booleans())
    def erp_adds_a_sku_before_the_pim_has_texts(self, data: st.DataObject, new_product: bool) -> None:
        part = f"S{self.next_part}"
        code = f"P{self.next_part}" if new_product else data.draw(st.sampled_from(self._codes()))
        self.next_part += 1
        self.place[part] = [code, f"{code}-V1"]

    @rule()
    def pim_catches_up(self) -> None:
        self.known = set(self.place)
        for code in self._codes():
            self.texts.setdefault(code, f"Produkt {code}")

    @rule(data=st.data())
    def erp_removes_a_sku(self, data: st.DataObject) -> None:
        active = sorted(p for p in self.place if p not in self.removed)
        if len(active) > 2:
            self.removed.add(data.draw(st.sampled_from(active)))

    @rule(data=st.data())
    def a_removed_sku_returns(self, data: st.DataObject) -> None:
        if self.removed:
            self.removed.discard(data.draw(st.sampled_from(sorted(self.removed))))

    @rule(data=st.data(), name=st.sampled_from(["Tält", "Kåsa", "Ryggsäck"]))
    def pim_edits_a_text(self, data: st.DataObject, name: str) -> None:
        self.texts[data.draw(st.sampled_from(self._codes()))] = name

    @rule(order=ORDERS)
    def next_day(self, order: tuple[str, str]) -> None:
        self._days(order)

    @rule(order=ORDERS, full=st.sampled_from([{"erp"}, {"pim"}, {"erp", "pim"}]))
    def weekly_full_feeds(self, order: tuple[str, str], full: set[str]) -> None:
        self._days(order, full=full)

    @invariant()
    def catalog_is_what_the_sources_say(self) -> None:
        self._days(("erp", "pim") if self.day % 2 else ("pim", "erp"))  # the sources as they stand, sent
        frames = self._frames()
        got, want = skus(self.server), expected(frames["erp"], frames["pim"])
        for sku in want.values():
            sku.update(self.said.get(sku["Code"], {}), **self.said.get(sku["ManufacturerPartNo"], {}))
        assert {p: got.get(p) for p in want} == want
        assert {p: got[p]["Status"] for p in self.removed} == dict.fromkeys(self.removed, INACTIVE)


def test_two_systems_day_after_day(sandbox: Any) -> None:
    TwoSystems.server = sandbox
    case = TwoSystems.TestCase
    case.settings = settings(
        max_examples=8, stateful_step_count=6, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    case().runTest()

"""Issue 23 acceptance 3: the demo's two products feeds (products-erp, account ERP; products-pim,
account PIM) send no field the other system owns, over the demo's week (days 1-4 of data/sample,
full feeds on days 1 and 3, change feeds on days 2 and 4), in headers and in bodies.

A feed owns the canonical columns its mapping names, less the identity columns both map (Code,
ManufacturerCode, ManufacturerPartNo, PartNo), which only locate items.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from toolkit.config import Settings
from toolkit.demo.workspace import Workspace, day_source
from toolkit.feeds import KindOption, Plan, plan_feed
from toolkit.payloads import header_lists
from toolkit.snapshots import SnapshotStore

FEEDS = ("products-erp", "products-pim")
IDENTITY = frozenset({"Code", "ManufacturerCode", "ManufacturerPartNo", "PartNo"})
WEEK: tuple[tuple[int, KindOption], ...] = ((1, "full"), (2, "change"), (3, "full"), (4, "change"))
LISTS = ("Variants", "Skus", "Cultures", "Categories", "VatRates", "AdditionalImages")


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, dict[str, list[Plan]]]:
    """The demo's settings and each products feed's plans over the week, each promoted as if sent."""
    settings = Workspace(tmp_path_factory.mktemp("demo-ownership")).write_settings(rate_limit=60)
    store = SnapshotStore(settings.state_dir / "snapshots")
    plans: dict[str, list[Plan]] = {name: [] for name in FEEDS}
    for day, kind in WEEK:
        for name in FEEDS:
            plan = plan_feed(
                settings,
                name,
                kind=kind,
                source=day_source(settings, name, day),
                store=store,
                now=datetime(2025, 3, 2, 6, tzinfo=UTC) + timedelta(days=day),
                allow_mass_deactivation=True,
                override_reason="ownership test",
            )
            assert plan.snapshot is not None, (name, day)
            store.promote(plan.snapshot)
            plans[name].append(plan)
    return settings, plans


def owned(settings: Settings, name: str) -> set[str]:
    return set(settings.feeds[name].mapping.values()) - IDENTITY


def _pairs(columns: set[str]) -> set[tuple[str, str]]:
    lists = header_lists("products", sorted(columns))
    return {(member, f) for member, fields in lists.items() for f in fields}


def _members(doc: Any, path: str = "") -> set[tuple[str, str]]:
    """(list path, member) of everything a body holds, e.g. ("Variants.Skus", "Status")."""
    out: set[tuple[str, str]] = set()
    if isinstance(doc, list):
        for d in doc:
            out |= _members(d, path)
    elif isinstance(doc, dict):
        for k, v in doc.items():
            out.add((path, k))
            if isinstance(v, list) and k in LISTS:
                out |= _members(v, f"{path}.{k}".lstrip("."))
    return out


@pytest.mark.parametrize(("name", "other"), [FEEDS, FEEDS[::-1]], ids=["erp", "pim"])
def test_headers_list_no_field_the_other_system_owns(
    week: tuple[Settings, dict[str, list[Plan]]], name: str, other: str
) -> None:
    settings, plans = week
    theirs = _pairs(owned(settings, other)) - _pairs(owned(settings, name) | IDENTITY)
    assert theirs, other  # the other system owns something this one must not list
    listed = {
        (m, f)
        for p in plans[name]
        for b in p.batches
        for m, fs in b.header.items()
        if m.endswith("FieldsThatAreSet")
        for f in fs
    }
    assert listed & theirs == set()


@pytest.mark.parametrize(("name", "other"), [FEEDS, FEEDS[::-1]], ids=["erp", "pim"])
def test_bodies_hold_no_member_the_other_system_sends(
    week: tuple[Settings, dict[str, list[Plan]]], name: str, other: str
) -> None:
    _, plans = week
    located = {
        ("", "Code"),
        ("", "ManufacturerCode"),
        ("", "Variants"),
        ("Variants", "ManufacturerPartNo"),
        ("Variants", "Skus"),
        ("Variants.Skus", "PartNo"),
    }
    sent = {n: set().union(*(_members(b.items()) for p in plans[n] for b in p.batches)) for n in FEEDS}
    assert sent[other] - located, other
    assert (sent[name] & sent[other]) - located == set()


def test_the_week_moves_and_edits_both_feeds(week: tuple[Settings, dict[str, list[Plan]]]) -> None:
    """The plans above are not vacuous: both feeds send changes after day 1."""
    _, plans = week
    for name in FEEDS:
        assert any(p.summary.kind == "change" and p.summary.items for p in plans[name]), name

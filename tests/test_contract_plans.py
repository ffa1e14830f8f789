"""Issue 15, acceptance 1: plans of random valid days are accepted by the Connect contract.

For each of the nine entities, hypothesis draws valid canonical days (`fixtures.contract_days`);
the toolkit's own checks pass them (a rejected row of a later day keeps its baseline row, as
planning does); full plans (``full_parts``) and change plans (``change_parts`` over ``diff_frames``)
are cut into batches by ``make_batches`` with the default Policies, and every batch must pass
:func:`toolkit.sandbox.contract.validate_import` (built from the vendored contract only) with zero
violations. Each example checks that it is not vacuous: the full plan sends every item, and a
requested clear shows in the diff (or was rejected by the checks naming its column).
"""

from __future__ import annotations

import inspect
from typing import Any

import polars as pl
import pytest
from fixtures.contract_days import Day, days, next_days
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolkit.batches import Batch, Group, make_batches
from toolkit.checks import validate
from toolkit.config import Policies
from toolkit.diff import Diff, diff_frames
from toolkit.entities import ENTITIES, Entity
from toolkit.planning import change_parts, full_parts, rejected_keys
from toolkit.sandbox.contract import validate_import

POLICIES = Policies()
ACCOUNT = 10000
PLANS = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def checked(ent: Entity, day: Day, baseline: pl.DataFrame | None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The rows the checks pass, plus the baseline rows of rejected items; and the rejections."""
    frame = day.frame()
    frame = frame.with_columns(
        pl.lit(None, pl.String).alias("_source"),
        pl.int_range(1, frame.height + 1, dtype=pl.Int64).alias("_row"),
    )
    check = validate(ent, frame, policies=Policies(max_reject_ratio=1.0))
    valid = check.valid.select(c for c in check.valid.columns if not c.startswith("_"))
    if baseline is None or check.rejected.is_empty():
        return valid, check.rejected
    held = baseline.join(
        rejected_keys(frame, check.rejected, key=list(ent.key)), on=list(ent.key), how="semi"
    )
    return pl.concat([valid, held.select(valid.columns).cast(valid.schema)]), check.rejected


def batches_of(ent: Entity, groups: list[Group]) -> tuple[Batch, ...]:
    """The plan's requests; customers and companies keyed by Code list SearchOnlyByCode where the
    planner takes header flags."""
    kw: dict[str, Any] = {}
    if ent.name in ("customers", "companies") and "flags" in inspect.signature(make_batches).parameters:
        kw["flags"] = ("SearchOnlyByCode",)
    batches: tuple[Batch, ...] = make_batches(ent, groups, account=ACCOUNT, policies=POLICIES, **kw)
    return batches


def violations(ent: Entity, batches: tuple[Batch, ...]) -> list[str]:
    out = []
    for b in batches:
        found = validate_import(ent.endpoint, b.header, b.items())
        out += [f"batch {b.index} {b.header_json}: {v}" for v in found]
    return out


def _said(found: list[str]) -> str:
    return f"{len(found)} contract violations, first ones:\n" + "\n".join(found[:12])


def _assert_not_vacuous(ent: Entity, day: Day, diff: Diff, rejected: pl.DataFrame) -> None:
    changed = diff.changed
    for name in set(day.cleared):
        cleared = changed.filter(pl.col(name).is_null() & pl.col("changed_fields").list.contains(name))
        named = rejected.filter(pl.col("column") == name).height if "column" in rejected.columns else 0
        assert cleared.height or named, f"{ent.name}: the clear of {name} is neither in the diff nor rejected"
    if day.product_only and rejected.is_empty():
        fields = set(changed["changed_fields"].explode().drop_nulls().to_list())
        assert changed.height and all(ent.column(f).level == "product" for f in fields), fields


def _sendable(ent: Entity, diff: Diff) -> bool:
    """Some changed value can be sent: a new value, or a cleared one whose member takes null (a
    cleared value-typed member is kept in Norce, not sent)."""
    long = diff.changed.select("changed_fields").with_row_index("_i").explode("changed_fields")
    for i, name in long.drop_nulls().iter_rows():
        if diff.changed[name][i] is not None or getattr(ent.column(name), "nullable", True):
            return True
    return False


def _valid_first_day(ent: Entity, day: Day) -> pl.DataFrame:
    valid, rejected = checked(ent, day, None)
    assert rejected.is_empty(), f"the generated day is not valid: {rejected['reason'].to_list()[:5]}"
    return valid


@pytest.mark.parametrize("entity", sorted(ENTITIES))
@PLANS
@given(data=st.data())
def test_full_plans_of_random_valid_days_are_accepted_by_the_contract(
    entity: str, data: st.DataObject
) -> None:
    ent = ENTITIES[entity]
    valid = _valid_first_day(ent, data.draw(days(entity)))
    diff = diff_frames(valid.clear(), valid, key=list(ent.key))
    batches = batches_of(ent, full_parts(ent, valid, diff, POLICIES).groups)
    key = ("Code",) if entity == "products" else ent.key
    sent = {tuple(item[k] for k in key) for b in batches for item in b.items()}
    assert len(sent) == valid.select(key).n_unique()  # every item sent: not vacuous
    found = violations(ent, batches)
    assert not found, _said(found)


@pytest.mark.parametrize("entity", sorted(ENTITIES))
@PLANS
@given(data=st.data())
def test_change_plans_of_random_next_days_are_accepted_by_the_contract(
    entity: str, data: st.DataObject
) -> None:
    """Values changed and cleared, product-level-only changes, rows added and removed; the full plan
    of the same day (removed items deactivated explicitly) is checked too."""
    ent = ENTITIES[entity]
    first = data.draw(days(entity))
    baseline = _valid_first_day(ent, first)
    second = data.draw(next_days(first))
    current, rejected = checked(ent, second, baseline)
    diff = diff_frames(baseline, current, key=list(ent.key))
    _assert_not_vacuous(ent, second, diff, rejected)
    change = batches_of(ent, change_parts(ent, diff, POLICIES).groups)
    if diff.added.height or _sendable(ent, diff):
        assert any(b.item_count for b in change), "a diff with changes gave no batch with items"
    found = violations(ent, change)
    found += [
        f"full plan: {v}"
        for v in violations(ent, batches_of(ent, full_parts(ent, current, diff, POLICIES).groups))
    ]
    assert not found, _said(found)

"""diff_frames: property tests against a plain-Python oracle, null semantics, keys, caches, partitions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import toolkit.rowhash as rowhash
from toolkit.diff import Diff, diff_frames, diff_partitioned
from toolkit.rowhash import hash_rows

SCHEMA = pl.Schema(
    {
        "k": pl.String,
        "s": pl.String,
        "i": pl.Int64,
        "d": pl.Decimal(10, 2),
        "day": pl.Date,
        "tags": pl.List(pl.String),
        "dim": pl.Struct({"w": pl.Int64, "unit": pl.String}),
    }
)
COLUMNS = [c for c in SCHEMA.names() if c != "k"]

_text = st.text(alphabet="ab", max_size=2)
_values = {
    "s": st.none() | _text,
    "i": st.none() | st.integers(-2, 2),
    "d": st.none() | st.sampled_from([Decimal("0.00"), Decimal("1.10"), Decimal("-1.05")]),
    "day": st.none() | st.dates(dt.date(2024, 1, 1), dt.date(2024, 1, 3)),
    "tags": st.none() | st.lists(st.none() | _text, max_size=2),
    "dim": st.none()
    | st.fixed_dictionaries({"w": st.none() | st.integers(0, 1), "unit": st.none() | st.just("cm")}),
}
_row = st.fixed_dictionaries(_values)
_keys = st.text(alphabet="abcdefgh", min_size=1, max_size=2)


def frame(rows: dict[str, dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame([{"k": k, **r} for k, r in rows.items()], schema=SCHEMA, orient="row")


@st.composite
def pairs(draw: st.DrawFn) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    base = draw(st.dictionaries(_keys, _row, max_size=12))
    cur: dict[str, dict[str, Any]] = {}
    for k, old in base.items():
        action = draw(st.sampled_from(["keep", "drop", "edit"]))
        if action == "keep":
            cur[k] = old
        elif action == "edit":
            new = draw(_row)
            cur[k] = {c: draw(st.sampled_from([old[c], new[c]])) for c in old}
    for k, r in draw(st.dictionaries(_keys, _row, max_size=5)).items():
        cur.setdefault(k, r)
    order = draw(st.permutations(list(cur)))
    return base, {k: cur[k] for k in order}


def apply(base: pl.DataFrame, d: Diff) -> pl.DataFrame:
    gone = pl.concat([d.removed["k"], d.changed["k"]])
    kept = base.filter(~pl.col("k").is_in(gone.implode()))
    changed = d.changed.drop("changed_fields").select(base.columns)
    return pl.concat([kept, changed, d.added.select(base.columns)]).sort("k")


def expected_fields(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return [c for c in COLUMNS if old[c] != new[c]]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pairs())
def test_applying_the_diff_to_the_baseline_gives_the_current_frame(pair: Any) -> None:
    base_rows, cur_rows = pair
    base, cur = frame(base_rows), frame(cur_rows)
    d = diff_frames(base, cur, key="k")
    assert_frame_equal(apply(base, d), cur.sort("k"))
    common = base_rows.keys() & cur_rows.keys()
    want = {k: expected_fields(base_rows[k], cur_rows[k]) for k in common}
    want = {k: v for k, v in want.items() if v}
    got = dict(zip(d.changed["k"].to_list(), d.changed["changed_fields"].to_list(), strict=True))
    assert got == want
    assert d.unchanged == len(common) - len(want)
    assert d.previous["k"].to_list() == d.changed["k"].to_list()
    assert_frame_equal(
        d.previous,
        base.filter(pl.col("k").is_in(list(want)))
        .sort("k")
        .select(d.previous.columns)
        .sort("k")
        .pipe(_order_like, d.changed["k"]),
    )
    assert set(d.added["k"]) == cur_rows.keys() - base_rows.keys()
    assert set(d.removed["k"]) == base_rows.keys() - cur_rows.keys()


def _order_like(frame: pl.DataFrame, keys: pl.Series) -> pl.DataFrame:
    return pl.DataFrame({"k": keys}).join(frame, on="k", how="left", maintain_order="left")


@settings(max_examples=40, deadline=None)
@given(pairs(), st.integers(1, 4))
def test_cached_hashes_lazy_inputs_and_partitions_give_the_same_diff(pair: Any, parts: int) -> None:
    base, cur = frame(pair[0]), frame(pair[1])
    plain = diff_frames(base, cur, key="k")
    cached = diff_frames(base.lazy(), cur.lazy(), key="k", baseline_hashes=hash_rows(base, key="k"))
    _assert_same(plain, cached)
    both = diff_frames(
        base.lazy(),
        cur,
        key="k",
        baseline_hashes=hash_rows(base, key="k"),
        current_hashes=hash_rows(cur, key="k"),
    )
    _assert_same(plain, both)
    sliced = diff_frames(
        base.lazy(), cur, key="k", baseline_hashes=hash_rows(base, key="k"), baseline_slice_rows=parts
    )
    _assert_same(plain, sliced)
    split = diff_partitioned(base.lazy(), cur.lazy(), key="k", parts=parts)
    _assert_same(plain, split, ordered=False)


def _assert_same(a: Diff, b: Diff, *, ordered: bool = True) -> None:
    assert a.counts == b.counts
    assert a.field_counts == b.field_counts
    for name in ("added", "removed", "changed", "previous"):
        left, right = getattr(a, name), getattr(b, name)
        if not ordered:
            left, right = left.sort("k"), right.sort("k")
        assert_frame_equal(left, right, check_dtypes=left.height > 0)


@pytest.mark.parametrize(
    ("old", "new", "changed"),
    [
        (None, "x", True),
        ("x", None, True),
        (None, None, False),
        ("", None, True),
        ([], None, True),
        ([None], [], True),
        ([None], [None], False),
        (["a", "b"], ["ab"], True),
    ],
)
def test_null_semantics(old: Any, new: Any, changed: bool) -> None:
    is_list = isinstance(old, list) or isinstance(new, list)
    dtype = pl.List(pl.String) if is_list else pl.String
    base = pl.DataFrame({"k": [1], "v": [old]}, schema={"k": pl.Int64, "v": dtype})
    cur = pl.DataFrame({"k": [1], "v": [new]}, schema={"k": pl.Int64, "v": dtype})
    assert diff_frames(base, cur, key="k").counts["changed"] == int(changed)


def test_decimals_dates_and_structs_compare_exactly() -> None:
    base = pl.DataFrame(
        {
            "k": [1, 2, 3],
            "p": [Decimal("1.0000"), Decimal("2.0001"), None],
            "day": [dt.date(2024, 1, 1)] * 3,
            "s": [{"a": 1}, {"a": None}, None],
        },
        schema_overrides={"p": pl.Decimal(18, 4)},
    )
    cur = base.with_columns(
        p=pl.Series([Decimal("1.0000"), Decimal("2.0002"), None], dtype=pl.Decimal(18, 4)),
        day=pl.Series([dt.date(2024, 1, 1), dt.date(2024, 1, 1), dt.date(2024, 1, 2)]),
        s=pl.Series([{"a": 1}, {"a": 0}, None]),
    )
    d = diff_frames(base, cur, key="k")
    assert d.changed.select("k", "changed_fields").rows() == [(2, ["p", "s"]), (3, ["day"])]
    assert d.field_counts == {"p": 1, "day": 1, "s": 1}


def test_columns_on_one_side_are_all_null_on_the_other() -> None:
    base = pl.DataFrame({"k": [1, 2], "gone": ["x", None], "v": [1, 1]})
    cur = pl.DataFrame({"k": [1, 2], "v": [1, 1], "new": [None, 5]})
    d = diff_frames(base, cur, key="k")
    assert d.changed.rows() == [(1, 1, None, None, ["gone"]), (2, 1, 5, None, ["new"])]
    assert d.changed.columns == ["k", "v", "new", "gone", "changed_fields"]
    assert d.previous.rows() == [(1, 1, None, "x"), (2, 1, None, None)]


def test_metadata_columns_are_ignored_and_dropped() -> None:
    base = pl.DataFrame({"k": [1, 2], "v": [1, 2], "_row": [1, 2], "_source": ["a", "a"]})
    cur = pl.DataFrame({"k": [1, 3], "v": [1, 3], "_row": [7, 8], "_source": ["b", "b"]})
    d = diff_frames(base, cur, key="k")
    assert d.counts == {"added": 1, "removed": 1, "changed": 0, "unchanged": 1}
    assert d.added.columns == ["k", "v"] and d.removed.columns == ["k", "v"]


def test_fields_limit_the_comparison() -> None:
    base = pl.DataFrame({"k": [1, 2], "a": [1, 1], "b": [1, 1]})
    cur = pl.DataFrame({"k": [1, 2], "a": [1, 2], "b": [2, 1]})
    d = diff_frames(base, cur, key="k", fields=["a"])
    assert d.changed.rows() == [(2, 2, ["a"])] and d.unchanged == 1
    with pytest.raises(ValueError, match="'zz' is in neither frame"):
        diff_frames(base, cur, key="k", fields=["zz"])


def test_multi_column_keys_and_differing_integer_dtypes() -> None:
    base = pl.DataFrame(
        {"p": ["a", "a"], "q": [1, 2], "v": [1, 2]}, schema_overrides={"q": pl.Int32, "v": pl.Int32}
    )
    cur = pl.DataFrame({"p": ["a", "a"], "q": [2, 3], "v": [3, 4]})
    d = diff_frames(base, cur, key=["p", "q"])
    assert d.changed.rows() == [("a", 2, 3, ["v"])] and d.changed.schema["v"] == pl.Int64
    assert d.added.rows() == [("a", 3, 4)] and d.removed.rows() == [("a", 1, 1)]


def test_incomparable_dtypes_name_the_column() -> None:
    base = pl.DataFrame({"k": [1], "v": [[1]]})
    cur = pl.DataFrame({"k": [1], "v": [dt.date(2024, 1, 1)]})
    with pytest.raises(ValueError, match="column 'v'"):
        diff_frames(base, cur, key="k")


@pytest.mark.parametrize("side", ["baseline", "current"])
def test_duplicate_and_null_keys_are_refused_naming_the_key(side: str) -> None:
    good = pl.DataFrame({"PartNo": ["a", "b"], "v": [1, 2]})
    dup = pl.DataFrame({"PartNo": ["a", "a"], "v": [1, 2]})
    null = pl.DataFrame({"PartNo": ["a", None], "v": [1, 2]})
    for bad, problem in ((dup, "not unique"), (null, "null")):
        frames = (bad, good) if side == "baseline" else (good, bad)
        with pytest.raises(ValueError, match=rf"\['PartNo'\].*{problem}.*{side}|{problem}.*{side}"):
            diff_frames(*frames, key="PartNo")
    with pytest.raises(ValueError, match="no key column 'SKU'"):
        diff_frames(good, good, key="SKU")


def test_outputs_follow_row_order() -> None:
    base = pl.DataFrame({"k": [5, 4, 3, 2, 1], "v": [0] * 5})
    cur = pl.DataFrame({"k": [9, 1, 8, 3, 2], "v": [0, 1, 0, 1, 1]})
    d = diff_frames(base, cur, key="k")
    assert d.added["k"].to_list() == [9, 8]
    assert d.removed["k"].to_list() == [5, 4]
    assert d.changed["k"].to_list() == d.previous["k"].to_list() == [1, 3, 2]


def test_only_key_columns() -> None:
    d = diff_frames(pl.DataFrame({"k": [1, 2]}), pl.DataFrame({"k": [2, 3]}), key="k")
    assert d.counts == {"added": 1, "removed": 1, "changed": 0, "unchanged": 1}
    assert d.changed.columns == ["k", "changed_fields"]


def test_hashes_of_another_frame_are_an_error() -> None:
    base = pl.DataFrame({"k": [1, 2, 3], "v": [1, 2, 3]})
    short = hash_rows(base.head(2), key="k")
    with pytest.raises(ValueError, match="baseline_hashes hold 2 rows, the baseline 3"):
        diff_frames(base, base, key="k", baseline_hashes=short)
    with pytest.raises(ValueError, match="current_hashes hold 2 rows, the current 3"):
        diff_frames(base, base, key="k", current_hashes=short)
    longer = hash_rows(pl.concat([base, base.with_columns(pl.col("k") + 3)]), key="k")
    for slices in (None, 2):
        with pytest.raises(ValueError, match="baseline_hashes do not fit the baseline"):
            diff_frames(
                base.lazy(), base.head(0), key="k", baseline_hashes=longer, baseline_slice_rows=slices
            )


def test_stale_cached_hashes_are_not_used() -> None:
    base = pl.DataFrame({"k": [1, 2], "v": [1, 2]})
    cur = pl.DataFrame({"k": [1, 2], "v": [1, 3], "w": [None, None]})
    stale = hash_rows(base, key="k")
    bad = type(stale)(
        stale.frame.with_columns(pl.lit(0, pl.UInt64).alias("__row_hash")),
        {**stale.signature, "polars": "0.0.0"},
    )
    assert diff_frames(base, cur, key="k", baseline_hashes=bad).changed["k"].to_list() == [2]
    assert diff_frames(base, cur, key="k", baseline_hashes=stale).changed["k"].to_list() == [2]


def test_key_hash_collisions_fall_back_to_exact_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    real = rowhash.combine_hashes

    def colliding(exprs: Any, seed: int) -> pl.Expr:
        return real(exprs, seed) if len(exprs) > 1 else pl.lit(7, pl.UInt64).alias("h")

    monkeypatch.setattr(rowhash, "combine_hashes", colliding)
    one = diff_frames(pl.DataFrame({"k": ["a"], "v": [1]}), pl.DataFrame({"k": ["b"], "v": [1]}), key="k")
    assert one.counts == {"added": 1, "removed": 1, "changed": 0, "unchanged": 0}
    base = pl.DataFrame({"k": ["a", "b", "c"], "v": [1, 2, 3]})
    cur = pl.DataFrame({"k": ["c", "b", "d"], "v": [3, 0, 4]})
    many = diff_frames(base, cur, key="k")
    assert many.counts == {"added": 1, "removed": 1, "changed": 1, "unchanged": 1}
    stored = diff_frames(base.lazy(), cur, key="k", baseline_hashes=hash_rows(base, key="k"))
    _assert_same(many, stored)

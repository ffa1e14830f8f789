"""Promote a plan's snapshot whole, or partly when some of its batches or items failed.

A partial baseline is the plan's snapshot with the held-back items (``toolkit.held_back``) put back as the
current baseline has them: new items that failed are left out (the next plan adds them again), changed
ones keep their old rows (the next change feed sends the change again), and with a failed FullFile batch
the removed items stay (their deactivation is retried). Everything Connect accepted moves on.

Examples
--------
>>> import polars as pl
>>> new = pl.DataFrame({"PartNo": ["A", "B", "C"], "OnhandValue": [1, 9, 3]})
>>> old = pl.DataFrame({"PartNo": ["A", "B", "D"], "OnhandValue": [1, 2, 4]})
>>> held = pl.DataFrame({"PartNo": ["B", "C"]})  # B's change and C's addition failed
>>> partial_rows(new, old, held, key=["PartNo"], removals=False).sort("PartNo").rows()
[('A', 1), ('B', 2)]
>>> partial_rows(new, old, held, key=["PartNo"], removals=True).sort("PartNo").rows()  # a FullFile failed
[('A', 1), ('B', 2), ('D', 4)]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import polars as pl

__all__ = ["partial_rows"]


Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)


def partial_rows(
    new: Frame, old: Frame | None, held: pl.DataFrame, *, key: Sequence[str], removals: bool
) -> Frame:
    """The rows of a partial baseline: ``new`` with the ``held`` keys as ``old`` has them.

    With ``removals``, the rows of ``old`` missing from ``new`` stay too. LazyFrames give a LazyFrame:
    a snapshot larger than memory is streamed (`SnapshotStore.save` sinks it).
    """
    key = list(key)
    schema = new.collect_schema()
    held_keys = held.select(pl.col(k).cast(schema[k]) for k in key).unique()
    keys = held_keys.lazy() if isinstance(new, pl.LazyFrame) else held_keys
    kept = new.join(keys, on=key, how="anti", nulls_equal=True)
    if old is None:
        return kept
    names = old.collect_schema().names()
    old = old.select(c for c in schema.names() if c in names)
    back = old.join(keys, on=key, how="semi", nulls_equal=True)
    if removals:
        gone = old.join(new.select(key), on=key, how="anti", nulls_equal=True)
        back = pl.concat([back, gone.join(back.select(key), on=key, how="anti", nulls_equal=True)])
    return pl.concat([kept, back], how="diagonal_relaxed").select(schema.names())

"""Sources refused as a whole before a plan is made from them (``planning.build_plan`` calls
`refuse_source` once the baseline is known).

- Schema drift: a column the baseline has is missing from the source (renamed in the export, say).
  A change feed would clear it on every item, so it is a SourceError naming the column, until the
  mapping names the renamed column or the feed option ``drop_columns`` retires it.
- A source that looks cut off: a last line without a line end and with too few fields, no data rows
  at all, or fewer rows than the feed's ``min_rows`` or ``min_ratio`` (of the baseline's rows). The
  items after the cut would be deactivated, so the plan is refused (GuardRefused) unless the guard is
  overridden.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from toolkit._readers import CUT_OFF
from toolkit.errors import GuardRefused, SourceError

if TYPE_CHECKING:
    from toolkit.config import Feed

# as feeds.guard says it; the CLI puts its own flags in its place
OVERRIDE = "pass allow_mass_deactivation=True (with an override_reason) to send it anyway"


def missing_columns(
    frame_columns: Iterable[str], baseline_columns: Iterable[str], *, dropped: Iterable[str] = ()
) -> list[str]:
    """The baseline's data columns that the frame lacks, except those ``dropped`` (retired).

    Examples
    --------
    >>> missing_columns(["PartNo", "Standard Price"], ["PartNo", "StandardPrice", "EanCode"],
    ...                 dropped=["EanCode"])
    ['StandardPrice']
    """
    have, retired = set(frame_columns), set(dropped)
    return [c for c in baseline_columns if not c.startswith("_") and c not in have and c not in retired]


def refuse_source(
    feed: Feed,
    frame: pl.DataFrame,
    baseline: Sequence[str] | None,
    *,
    baseline_rows: int,
    source: str | Path | None,
    allow: bool,
    rows: int | None = None,
) -> None:
    """Raise SourceError on schema drift and GuardRefused for a source that looks cut off.

    ``frame`` is the source as ``read_source`` gives it; ``baseline`` the baseline's columns (None:
    no baseline yet); ``allow`` (the guard's override) lets a cut-off or short source through, never a
    missing column. ``rows``: the source's row count where ``frame`` holds only some of its rows (a
    streamed plan passes its rows with an ``_error``).
    """
    files = _files(frame, feed, source)
    if baseline is not None:
        _require_columns(feed, frame.columns, baseline, files)
    if allow:
        return
    rows, base = frame.height if rows is None else rows, baseline_rows
    problem = _cut_off(frame, files) or _too_few(feed, rows, base, files)
    if problem:
        counts = {"valid": rows, "baseline": base, "deactivating": max(base - rows, 0)}
        raise GuardRefused(f"feed {feed.name!r}: {problem}; {OVERRIDE}", counts=counts)


def _files(frame: pl.DataFrame, feed: Feed, source: str | Path | None) -> str:
    if frame.height and "_source" in frame.columns:
        names = frame["_source"].drop_nulls().unique(maintain_order=True).to_list()
        if names:
            return ", ".join(names)
    return str(source if source is not None else feed.source)


def _require_columns(feed: Feed, columns: Sequence[str], baseline: Sequence[str], files: str) -> None:
    dropped = feed.options.get("drop_columns") or ()
    retired = [*dropped, *(feed.mapping.get(c, c) for c in dropped)]
    missing = missing_columns(columns, baseline, dropped=retired)
    if not missing:
        return
    names, toml = ", ".join(missing), ", ".join(f'"{c}"' for c in missing)
    msg = (
        f"{files}: column(s) {names} of feed {feed.name!r} missing; the baseline has them, and "
        f"sending the file would clear them on every item. If the export renamed them, map the new "
        f"name in the feed's mapping; to stop sending them, set the feed option drop_columns = "
        f"[{toml}]"
    )
    raise SourceError(msg)


def _cut_off(frame: pl.DataFrame, files: str) -> str | None:
    if "_error" not in frame.columns:
        return None
    cut = frame.filter(pl.col("_error").str.ends_with(CUT_OFF))
    if cut.is_empty():
        return None
    source, row, error = cut.select("_source", "_row", "_error").row(0)
    return (
        f"{source or files}: row {row}: {error}; refusing the whole file, as a feed from it would "
        "deactivate the items after the cut"
    )


def _too_few(feed: Feed, rows: int, baseline: int, files: str) -> str | None:
    policies = feed.policies
    if rows == 0 and baseline:  # without a baseline the guard refuses it (nothing to deactivate)
        return (
            f"{files}: no data rows (a header only, or nothing); refusing it, as a feed from it would "
            f"deactivate every item"
        )
    if rows < policies.min_rows:
        return (
            f"{files}: {rows} rows, fewer than the feed's min_rows {policies.min_rows}: the file looks "
            "cut off; refusing it"
        )
    if baseline and rows < policies.min_ratio * baseline:
        return (
            f"{files}: {rows} rows, {rows / baseline:.0%} of the baseline's {baseline}, less than "
            f"the feed's min_ratio {policies.min_ratio:.0%}: the file looks cut off; "
            "refusing it"
        )
    return None

"""A feed read, checked, diffed and planned, as a notebook shows it: :class:`Preview`.

:func:`toolkit.notebook.preview_feed` builds one and :func:`toolkit.notebook.submit_feed` sends its plan;
both modules re-export it from here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from toolkit import charts
from toolkit.config import KindOption, Settings
from toolkit.display import Summary
from toolkit.reports import summary_json, write_summary

if TYPE_CHECKING:
    from toolkit.checks import CheckResult
    from toolkit.diff import Diff
    from toolkit.feeds import Plan

__all__ = ["Preview", "sample_changes"]


@dataclass(frozen=True)
class Preview:
    """A feed read, checked, diffed and planned; ``plan`` is None when ``verdict`` says why."""

    settings: Settings = field(repr=False)
    feed: str
    kind: KindOption
    source: str | None
    check: CheckResult | None = field(default=None, repr=False)
    diff: Diff | None = field(default=None, repr=False)
    plan: Plan | None = field(default=None, repr=False)
    verdict: str = "ok"
    refused: bool = False
    allow_mass_deactivation: bool = False
    override_reason: str | None = None

    @property
    def is_ready(self) -> bool:
        """True when there is a plan to submit."""
        return self.plan is not None

    @property
    def field_counts(self) -> dict[str, int]:
        """Rows changed per field (from the diff, else from the plan's summary)."""
        if self.diff is not None:
            return dict(self.diff.field_counts)
        return dict(self.summary().get("plan", {}).get("field_counts", {}))

    def summary(self) -> Summary:
        """The preview as plain JSON values (verdict, check and diff counts, plan summary); a notebook
        shows it as the few lines of :meth:`describe`."""
        out: dict[str, Any] = {
            "feed": self.feed,
            "kind": self.kind,
            "source": self.source,
            "verdict": self.verdict,
            "refused": self.refused,
        }
        if self.check is not None:
            out["check"] = {**self.check.summary, "rejected": self.check.rejected.height}
        if self.diff is not None:
            out["diff"] = {**self.diff.counts, "field_counts": dict(self.diff.field_counts)}
        if self.plan is not None:
            out["plan"] = {
                "id": self.plan.id,
                "kind": self.plan.kind,
                "batches": len(self.plan.batches),
                **self.plan.summary.as_dict(),
            }
        return Summary(summary_json(out), text=self.describe())

    def describe(self) -> str:
        """The verdict, then one line each for the checks, the changes and the plan."""
        lines = [f"{self.feed} ({self.kind} feed): {self.verdict}"]
        if self.check is not None:
            c = self.check.summary
            problems = ", ".join(f"{n:,} {k}" for k, n in dict(c.get("problems", {})).items())
            lines.append(
                f"checks: {c['rows']:,} rows, {c['valid']:,} valid, {c['rejected_rows']:,} "
                f"rejected ({c['reject_ratio']:.1%})" + (f": {problems}" if problems else "")
            )
        if self.diff is not None:
            counts = ", ".join(f"{n:,} {k}" for k, n in self.diff.counts.items())
            fields = ", ".join(f"{f} {n:,}" for f, n in list(self.field_counts.items())[:5])
            lines.append(f"changes: {counts}" + (f"; per field: {fields}" if fields else ""))
        if self.plan is not None:
            s = self.plan.summary
            lines.append(
                f"plan {self.plan.id}: {s.kind} feed, {len(self.plan.batches):,} batches, "
                f"{s.items:,} items, {s.requests:,} requests (about {s.eta_seconds:,.0f} s), "
                f"deactivates {s.deactivated:,}"
            )
        return "\n".join(lines)

    def write(self, directory: str | Path) -> dict[str, Any]:
        """Write summary.json, rejected.csv, changes.csv and changes_per_field.svg; return the summary."""
        directory = Path(directory)
        summary = self.summary()
        write_summary(directory, "summary.json", summary)
        if self.check is not None:
            self.check.rejected.write_csv(directory / "rejected.csv")
        if self.diff is not None:
            sample_changes(self.diff, key=self.key).write_csv(directory / "changes.csv")
        charts.save(charts.changes_per_field(self.field_counts), directory / "changes_per_field.svg")
        return summary

    @property
    def key(self) -> tuple[str, ...]:
        from toolkit.entities import get_entity

        feed = self.settings.feed(self.feed)
        return feed.key or get_entity(feed.entity).key

    def __str__(self) -> str:
        return f"preview of {self.feed} ({self.kind}): {self.verdict}"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # how IPython shows it
        printer.text(str(self))


def sample_changes(diff: Diff, *, key: Sequence[str], n: int = 10) -> pl.DataFrame:
    """The first ``n`` changed rows as long rows: key columns, field, old and new value (as text).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> d = SimpleNamespace(
    ...     changed=pl.DataFrame({"PartNo": ["A"], "OnhandValue": [5], "changed_fields": [["OnhandValue"]]}),
    ...     previous=pl.DataFrame({"PartNo": ["A"], "OnhandValue": [3]}))
    >>> sample_changes(d, key=["PartNo"]).rows()
    [('A', 'OnhandValue', '3', '5')]
    """
    key = list(key)
    new, old = diff.changed.head(n), diff.previous.head(n)
    fields = sorted({f for fs in new["changed_fields"].to_list() for f in fs}, key=str)
    parts = [
        pl.DataFrame(
            {
                **{k: new[k] for k in key},
                "field": [f] * new.height,
                "old": old[f].cast(pl.String),
                "new": new[f].cast(pl.String),
                "changed": new["changed_fields"].list.contains(f),
            }
        )
        for f in fields
    ]
    if not parts:
        return pl.DataFrame(
            schema={**{k: pl.String for k in key}, "field": pl.String, "old": pl.String, "new": pl.String}
        )
    return pl.concat(parts).filter("changed").drop("changed").sort(key, maintain_order=True)

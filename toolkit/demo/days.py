"""One day of the demo: for each feed, notebook 01 previews that day's file and notebook 02 submits it.

Feeds go in dependency groups (price lists and products before prices, stock, relations and
competitors; companies before customers); the feeds of a group run side by side, each feed's preview
and submit one after the other in the same kernel. What each notebook wrote into its ``output_dir``
(summary.json, rejected.csv) becomes a :class:`FeedDay`, the raw material of the summary.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from toolkit.config import Settings
from toolkit.demo.kernels import KernelPool, NotebookRun, RunResult
from toolkit.demo.workspace import Workspace, day_source, read_manifest

__all__ = ["PREVIEW", "SUBMIT", "FeedDay", "feed_runs", "run_day"]

PREVIEW = "01-preview-feed.ipynb"
SUBMIT = "02-submit-feed.ipynb"
JOB_TIMEOUT = 300  # seconds notebook 02 waits for a feed's jobs


@dataclass(frozen=True)
class FeedDay:
    """What the notebooks of one feed did on one day (``preview``/``submit``: their summary.json)."""

    day: int
    feed: str
    entity: str
    source: Path
    preview: dict[str, Any] = field(default_factory=dict)
    submit: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, tuple[str, str]] = field(default_factory=dict)
    rejected: pl.DataFrame = field(default_factory=pl.DataFrame, repr=False)
    seconds: float = 0.0

    @property
    def plan(self) -> dict[str, Any]:
        plan: dict[str, Any] = self.preview.get("plan") or {}
        return plan

    @property
    def kind(self) -> str:
        return str(self.plan.get("kind") or self.preview.get("kind") or "?")

    @property
    def refused(self) -> bool:
        return bool(self.preview.get("refused"))

    @property
    def verdict(self) -> str:
        return str(self.preview.get("verdict", "no preview"))

    @property
    def statuses(self) -> list[str]:
        return list((self.submit.get("statuses") or {}).values())

    @property
    def job_ids(self) -> list[int]:
        return [int(j) for j in self.submit.get("job_ids") or []]

    def line(self) -> str:
        """One line for the terminal."""
        head = f"day {self.day}  {self.feed:<13}"
        if self.refused:
            return f"{head} REFUSED by the guard ({_short(self.verdict)})"
        if "submit" in self.errors or "preview" in self.errors:
            which = "submit" if "submit" in self.errors else "preview"
            ename, evalue = self.errors[which]
            return f"{head} {which} notebook failed: {ename}: {_short(evalue)}"
        p = self.plan
        jobs = ", ".join(f"{self.statuses.count(s)} {s}" for s in sorted(set(self.statuses))) or "no jobs"
        rejected = f", {self.rejected.height} rows rejected" if self.rejected.height else ""
        calls = "request " if p.get("batches") == 1 else "requests"  # "1 request", aligned with "2 requests"
        return (
            f"{head} {self.kind:<6} {p.get('items', 0):>5} items  {p.get('batches', 0):>2} {calls}  "
            f"{jobs}{rejected}  ({self.seconds:.1f} s)"
        )


def _short(text: str, limit: int = 110) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def feed_runs(ws: Workspace, settings: Settings, day: int, feed: str) -> tuple[NotebookRun, NotebookRun]:
    """Notebook 01 (preview) and notebook 02 (submit) of ``feed`` on ``day``, headless."""
    common = {
        "settings_path": str(settings.path.resolve()),
        "interactive": False,
        "feed": feed,
        "kind": "auto",
        "source": str(day_source(settings, feed, day, sample=ws.sample)),
    }
    preview = NotebookRun(
        ws.notebooks / PREVIEW,
        ws.executed(day, f"01-preview-feed-{feed}.ipynb"),
        {**common, "output_dir": str(ws.results(day, feed, "preview"))},
        f"day {day} {feed} preview",
    )
    submit = NotebookRun(
        ws.notebooks / SUBMIT,
        ws.executed(day, f"02-submit-feed-{feed}.ipynb"),
        {
            **common,
            "submit": True,
            "timeout_seconds": JOB_TIMEOUT,
            "business_day": business_day(ws, day),
            "output_dir": str(ws.results(day, feed, "submit")),
        },
        f"day {day} {feed} submit",
    )
    return preview, submit


def business_day(ws: Workspace, day: int) -> str:
    """The date of ``day``'s exports in the sample's manifest (the business day its feeds record)."""
    return str(read_manifest(ws.sample)["days"][f"day{day}"].get("date", ""))


def run_day(
    pool: KernelPool,
    ws: Workspace,
    settings: Settings,
    day: int,
    groups: Sequence[Sequence[str]],
    *,
    echo: Callable[[str], None] = print,
) -> list[FeedDay]:
    """Preview and submit every feed of ``groups`` for ``day``, a group at a time."""
    done: list[FeedDay] = []
    for group in groups:
        chains = [feed_runs(ws, settings, day, feed) for feed in group]
        results = pool.map(chains, on_done=lambda rs: echo(collect(ws, settings, day, rs).line()))
        done.extend(collect(ws, settings, day, rs) for rs in results)
    return done


def collect(ws: Workspace, settings: Settings, day: int, results: Sequence[RunResult]) -> FeedDay:
    """The FeedDay of a feed's preview and submit runs, from the files they wrote."""
    preview, submit = results
    feed = str(preview.run.parameters["feed"])
    errors = {name: r.error for name, r in (("preview", preview), ("submit", submit)) if r.error}
    path = ws.results(day, feed, "preview") / "rejected.csv"
    rejected = pl.read_csv(path, infer_schema=False) if path.is_file() else pl.DataFrame()
    return FeedDay(
        day,
        feed,
        settings.feed(feed).entity,
        Path(str(preview.run.parameters["source"])),
        preview=_json(ws.results(day, feed, "preview") / "summary.json"),
        submit=_json(ws.results(day, feed, "submit") / "summary.json"),
        errors=errors,
        rejected=rejected,
        seconds=preview.seconds + submit.seconds,
    )


def _json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data

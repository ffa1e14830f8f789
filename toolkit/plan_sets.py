"""Every feed at once, reviewed once: plan them all, show one table with totals, send what was shown.

``plan_feeds`` plans each feed of the settings in dependency order (see :func:`toolkit.daily.feed_groups`),
keeping a feed's error instead of raising it; ``plans_table`` is one row per feed plus a totals row (add,
change, deactivate, rejected, requests, ETA), with deactivations marked ``!``; ``send_plans`` submits
exactly those plans, a dependency group at a time, waiting for each group's jobs (and promoting each
feed's snapshot when its jobs succeeded) before the next group starts. A feed that fails does not stop
the others.

Examples
--------
>>> from types import SimpleNamespace as NS
>>> s = NS(kind="change", added=2, changed=1, deactivated=1, rejected=0, requests=1, eta_seconds=1.0)
>>> planned = [PlannedFeed("stock", plan=NS(summary=s)), PlannedFeed("prices", error=ValueError("bad"))]
>>> plans_table(planned).row(-1)
('total', '', '2', '1', '1 !', '0', '1', '1s')
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from toolkit.daily import FeedResult, feed_groups, wait_feed
from toolkit.errors import ToolkitError
from toolkit.progress import format_eta

if TYPE_CHECKING:
    from toolkit.config import Settings
    from toolkit.feeds import KindOption, Plan
    from toolkit.runs import Progress, Submission

__all__ = ["PlannedFeed", "plan_feeds", "plans_table", "send_plans"]

COLUMNS = ("feed", "kind", "add", "change", "deactivate", "rejected", "requests", "ETA")


@dataclass(frozen=True)
class PlannedFeed:
    """One feed of `plan_feeds`: its plan, or the error that stopped planning it."""

    feed: str
    plan: Plan | None = None
    error: BaseException | None = None


def plan_feeds(
    settings: Settings, *, kind: KindOption = "auto", feeds: Iterable[str] | None = None
) -> list[PlannedFeed]:
    """Plan every feed (or ``feeds``) in the order ``send_plans`` sends them; nothing is sent."""
    from toolkit.feeds import plan_feed

    names = list(feeds) if feeds is not None else list(settings.feeds)
    planned: list[PlannedFeed] = []
    for feed in (f for group in feed_groups(settings, names) for f in group):
        try:
            planned.append(PlannedFeed(feed, plan=plan_feed(settings, feed, kind=kind)))
        except ToolkitError as exc:  # the other feeds are still planned
            planned.append(PlannedFeed(feed, error=exc))
    return planned


def _mark(n: int) -> str:
    return f"{n} !" if n else "0"  # a deactivation is what a reviewer must not miss


def plans_table(planned: Iterable[PlannedFeed]) -> pl.DataFrame:
    """One row per feed (a feed that could not be planned says why) and a ``total`` row, as text."""
    rows: list[tuple[str, ...]] = []
    totals = dict.fromkeys(("added", "changed", "deactivated", "rejected", "requests"), 0)
    eta = 0.0
    for p in planned:
        if p.plan is None:
            rows.append((p.feed, f"not planned: {type(p.error).__name__}", "", "", "", "", "", ""))
            continue
        s = p.plan.summary
        for name in totals:
            totals[name] += int(getattr(s, name))
        eta += float(s.eta_seconds)
        rows.append(
            (
                p.feed,
                s.kind,
                str(s.added),
                str(s.changed),
                _mark(s.deactivated),
                str(s.rejected),
                str(s.requests),
                format_eta(s.eta_seconds),
            )
        )
    t = totals
    rows.append(
        (
            "total",
            "",
            str(t["added"]),
            str(t["changed"]),
            _mark(t["deactivated"]),
            str(t["rejected"]),
            str(t["requests"]),
            format_eta(eta),
        )
    )
    return pl.DataFrame(rows, schema=list(COLUMNS), orient="row")


def send_plans(
    settings: Settings,
    planned: Iterable[PlannedFeed],
    *,
    progress: Progress | None = None,
    timeout: float = 3600.0,
    poll_interval: float = 5.0,
) -> list[FeedResult]:
    """Submit the plans (feeds that could not be planned keep their error), a group at a time."""
    by_feed = {p.feed: p for p in planned}
    results: list[FeedResult] = []
    for group in feed_groups(settings, list(by_feed)):
        sent: list[Submission] = []
        for feed in group:
            p = by_feed[feed]
            if p.plan is None:
                error = p.error if isinstance(p.error, ToolkitError) else ToolkitError(str(p.error))
                results.append(FeedResult(feed, error=error))
                continue
            try:
                sent.append(_submit(settings, p.plan, progress))
            except ToolkitError as exc:
                results.append(FeedResult(feed, error=exc))
        results += [
            wait_feed(settings, s, timeout=timeout, poll_interval=poll_interval, progress=progress)
            for s in sent
        ]
    return results


def _submit(settings: Settings, plan: Plan, progress: Progress | None) -> Submission:
    from toolkit.apply import check_baseline
    from toolkit.runs import open_run, submit

    with open_run(settings, plan.feed) as run, run.ledger.lock(plan.feed):
        check_baseline(plan, run.store)  # nothing else sent this feed since it was shown
        return submit(plan, run.client, run.ledger, progress=progress)

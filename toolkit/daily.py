"""Every feed of norce.toml in one run, in dependency order: what a nightly job calls.

Feeds are run in groups (`feed_groups`): products and price lists before the prices, stock, relations
and competitor prices whose rows name their SKUs and price lists, companies before customers
(`toolkit.entities.REFERS_TO`). Each feed of a group is planned and sent, then the group's jobs are
waited for (and each feed's snapshot promoted when its jobs succeeded) before the next group starts,
since Connect skips rows that name an SKU or price list it does not know yet.

A feed that fails (checks, guard, a job) does not stop the others: its baseline stays where it was, so
its changes go out again next time, and rows of later feeds that needed its items are skipped by
Connect and sent again once they can be.

Examples
--------
>>> from types import SimpleNamespace as NS
>>> entities = {"prices": "sku_prices", "stock": "onhands", "erp": "products", "lists": "price_lists"}
>>> settings = NS(feed=lambda name: NS(entity=entities[name]))
>>> feed_groups(settings, ["prices", "stock", "erp", "lists"])
[['erp', 'lists'], ['prices', 'stock']]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from toolkit.entities import REFERS_TO
from toolkit.errors import ToolkitError
from toolkit.outcomes import Outcome, wait_for_jobs
from toolkit.runs import Progress, Submission, open_run, plan_and_submit

if TYPE_CHECKING:
    from toolkit.config import Settings
    from toolkit.feeds import KindOption, Plan

__all__ = ["FeedResult", "feed_groups", "submit_all", "wait_feed"]


@dataclass(frozen=True)
class FeedResult:
    """What one feed of `submit_all` came to: an Outcome (its jobs waited for), None when nothing was
    sent because ``confirm`` said no, or the error that stopped it (``result`` then holds what was
    sent before, if anything)."""

    feed: str
    result: Outcome | Submission | None = None
    error: ToolkitError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and getattr(self.result, "succeeded", True) is not False

    def __str__(self) -> str:
        if self.error is not None:
            return f"{self.feed}: {type(self.error).__name__}: {self.error}"
        return f"{self.feed}: nothing sent" if self.result is None else str(self.result)


def feed_groups(settings: Settings, feeds: Iterable[str]) -> list[list[str]]:
    """``feeds`` in groups that can run side by side; a group needs only the groups before it.

    ``settings`` needs ``feed(name).entity`` (and ``owns_structure``: a products feed that does not own
    the structure goes after the ones that do, whose baselines place its SKUs). Feeds keep their given
    order within a group.
    """
    names = list(feeds)
    entity = {name: settings.feed(name).entity for name in names}
    owner = {name: getattr(settings.feed(name), "owns_structure", True) for name in names}
    level: dict[str, int] = {}

    def depth(name: str) -> int:
        if name not in level:
            needed = [
                n
                for n in names
                if entity[n] in REFERS_TO.get(entity[name], ())
                or (entity[n] == entity[name] and owner[n] and not owner[name])
            ]
            level[name] = 1 + max((depth(n) for n in needed), default=-1)
        return level[name]

    groups: list[list[str]] = [[] for _ in range(1 + max(map(depth, names), default=-1))]
    for name in names:
        groups[level[name]].append(name)
    return groups


def submit_all(
    settings: Settings,
    *,
    feeds: Iterable[str] | None = None,
    kind: KindOption = "auto",
    confirm: Callable[[Plan], bool] | None = None,
    progress: Progress | None = None,
    timeout: float = 3600.0,
    poll_interval: float = 5.0,
) -> list[FeedResult]:
    """Plan, send and wait for every feed of ``settings`` (or ``feeds``), a dependency group at a time.

    ``confirm(plan)`` is asked for each feed (None: no question). Returns one `FeedResult` per feed,
    in the order they ran; errors are kept in them, never raised.
    """
    results: list[FeedResult] = []
    for group in feed_groups(settings, feeds if feeds is not None else list(settings.feeds)):
        sent: list[Submission] = []
        for feed in group:
            try:
                sub = plan_and_submit(settings, feed, kind=kind, confirm=confirm, progress=progress)
            except ToolkitError as exc:
                results.append(FeedResult(feed, error=exc))
                continue
            if sub is None:
                results.append(FeedResult(feed))
            else:
                sent.append(sub)  # not waited for: the group's jobs are, below
        results += [
            wait_feed(settings, s, timeout=timeout, poll_interval=poll_interval, progress=progress)
            for s in sent
        ]
    return results


def wait_feed(
    settings: Settings,
    sub: Submission,
    *,
    timeout: float,
    poll_interval: float,
    progress: Progress | None = None,
) -> FeedResult:
    """Wait for the feed's jobs and promote what they accepted (under its lock); errors are kept, not raised.

    ``progress`` gets a ``job`` event per status change (the CLI shows a line per finished job).
    """
    try:
        with open_run(settings, sub.feed) as run:
            outcome = wait_for_jobs(
                sub,
                run.client,
                run.ledger,
                run.store,
                timeout=timeout,
                poll_interval=poll_interval,
                progress=progress,
            )
    except ToolkitError as exc:
        return FeedResult(sub.feed, sub, exc)
    return FeedResult(sub.feed, outcome)

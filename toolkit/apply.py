"""Send a plan saved earlier (``norce-feeds plan FEED --out DIR``) exactly as it was reviewed.

``apply_plan`` loads the plan directory (every body checked against its sha256, see
:mod:`toolkit.plan_files`), checks under the feed's lock that the feed's baseline is still the one the
plan was made against, and submits the very batches that were saved: same bodies, same batch ids. A
baseline that moved since (another plan of the feed was sent and promoted) makes the saved plan stale:
its change feed would undo or repeat what went out meanwhile, so it is refused with both baseline ids.

Examples
--------
>>> from toolkit.apply import BaselineMoved
>>> issubclass(BaselineMoved, PlanError)
True
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from toolkit.errors import PlanError

if TYPE_CHECKING:
    from toolkit.config import Settings
    from toolkit.feeds import Plan
    from toolkit.outcomes import Outcome
    from toolkit.runs import Progress, Submission
    from toolkit.snapshots import SnapshotStore

__all__ = ["BaselineMoved", "apply_plan", "check_baseline"]


class BaselineMoved(PlanError):
    """A saved plan's baseline is no longer the feed's baseline: the plan is stale, plan again."""


def check_baseline(plan: Plan, store: SnapshotStore) -> None:
    """Raise BaselineMoved unless the feed's baseline in ``store`` is the one ``plan`` was made against.

    Examples
    --------
    >>> import tempfile
    >>> from types import SimpleNamespace as NS
    >>> from toolkit.snapshots import SnapshotStore
    >>> check_baseline(NS(id="p1", feed="stock", baseline=None), SnapshotStore(tempfile.mkdtemp()))
    """
    current = store.baseline(plan.feed)
    planned_id = plan.baseline.id if plan.baseline is not None else None
    current_id = current.id if current is not None else None
    if planned_id != current_id:
        msg = (
            f"plan {plan.id} of feed {plan.feed!r} was made against baseline {planned_id or 'none'}, "
            f"but the feed's baseline is now {current_id or 'none'}; refusing to send a stale plan: "
            f"run `norce-feeds plan {plan.feed} --out DIR` again and review it"
        )
        raise BaselineMoved(msg)


def apply_plan(
    settings: Settings,
    directory: str | Path,
    *,
    confirm: Callable[[Plan], bool] | None = None,
    wait: bool = False,
    progress: Progress | None = None,
    timeout: float = 3600.0,
    poll_interval: float = 5.0,
) -> Submission | Outcome | None:
    """Send the plan saved in ``directory``: its own batches, after checking its baseline.

    Parameters
    ----------
    settings
        The settings of the feed the plan belongs to (profile, state directory).
    directory
        A directory written by ``Plan.save`` (``norce-feeds plan FEED --out DIR``).
    confirm
        Asked with the loaded plan before anything is sent (None: no question); False sends nothing.
    wait, progress, timeout, poll_interval
        As for ``plan_and_submit``.

    Returns
    -------
    The Submission, the Outcome with ``wait``, or None when ``confirm`` said no.

    Raises
    ------
    PlanError
        The directory holds no plan, or a body does not match its recorded hash.
    BaselineMoved
        The feed's baseline is not the one the plan was made against.
    """
    from toolkit.feeds import Plan
    from toolkit.runs import open_run, submit, wait_for_jobs

    plan = Plan.load(directory)
    settings.feed(plan.feed)  # a plan of a feed these settings do not know is an error, not a guess
    with open_run(settings, plan.feed) as run, run.ledger.lock(plan.feed):
        check_baseline(plan, run.store)
        if confirm is not None and not confirm(plan):
            return None
        sub = submit(plan, run.client, run.ledger, progress=progress)
        if not wait:
            return sub
        return wait_for_jobs(
            sub,
            run.client,
            run.ledger,
            run.store,
            timeout=timeout,
            poll_interval=poll_interval,
            progress=progress,
        )

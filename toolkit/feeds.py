"""Plan a feed: a minimal change feed or a guarded full feed, as batches you can preview before sending.

``plan_feed`` reads the source, checks it, diffs it against the baseline (the last snapshot Connect
accepted), turns the difference into batches and stores the source as a snapshot (written in the
background: `Plan.snapshot` waits for it):

- a **change feed** sends added items with every mapped field, changed items with their keys and the
  changed fields only (grouped by their set of changed fields unless that costs more than
  ``max_extra_requests`` extra requests; then one union header per batch), and deactivates removed
  items explicitly (``IsActive`` false; SKU ``Status`` Inactive) or leaves them for the next full feed;
- a **full feed** sends every item with every mapped field, with ``FullFile`` where the header has it
  (see :mod:`toolkit.batches` for the scopes a FullFile batch must hold whole).

A feed with the policy ``stream = true`` is planned a partition at a time (:mod:`toolkit.streaming`):
the same plan, for sources larger than memory.

A guard refuses a plan that would deactivate more than ``max_deactivation_ratio`` of the baseline, or
whose source is empty, unless ``allow_mass_deactivation`` is given (the plan records it).
Nothing is sent here; :mod:`toolkit.runs` submits plans.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from toolkit.batches import Batch, Group
from toolkit.config import Feed, Settings
from toolkit.errors import ConfigError
from toolkit.plan_model import FeedKind, KindOption, Plan, PlanSummary, guard, plan_id
from toolkit.planning import build_plan
from toolkit.snapshots import SnapshotStore
from toolkit.streaming import plan_in_store
from toolkit.workspace import Workspace

if TYPE_CHECKING:
    from toolkit.checks import CheckResult

__all__ = ["Batch", "FeedKind", "Group", "KindOption", "Plan", "PlanSummary", "guard", "plan_feed", "plan_id"]


def plan_feed(
    settings: Settings,
    feed: str | Feed,
    *,
    kind: KindOption = "auto",
    source: str | Path | None = None,
    now: datetime | None = None,
    allow_mass_deactivation: bool = False,
    override_reason: str | None = None,
    store: SnapshotStore | None = None,
    checked: tuple[pl.DataFrame, CheckResult] | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> Plan:
    """Plan one feed: read, check, diff, guard, batch and snapshot (nothing is sent).

    Parameters
    ----------
    settings, feed
        The settings and the feed (or its name).
    kind
        ``"auto"`` (full when there is no baseline or ``full_every`` has passed since the last full
        feed, else change), ``"change"`` or ``"full"``.
    source
        A file or glob to read instead of the feed's ``source``.
    now
        The time to plan at (default: now, UTC).
    allow_mass_deactivation, override_reason
        Let a plan through the guard; both are recorded in the plan.
    store
        The snapshot store (default: ``settings.state_dir / "snapshots"``).
    checked
        The source already read (``read_source``) and validated (``validate``, with any policies):
        used instead of reading it again; the feed's reject policy is enforced here all the same.
    progress
        Told each step as it starts (``{"event": "plan", "step": 2, "steps": 5, "what": "checking 10,000,000
        rows"}``); ``toolkit.progress.ProgressBar`` shows them.

    Raises
    ------
    CheckFailed
        More rows rejected than the feed's policy allows.
    GuardRefused
        The plan would deactivate too much of the baseline, or the source is empty.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from toolkit.config import load_settings
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (root / "norce.toml").write_text('''
    ... [profiles.sandbox]
    ... base_url = "http://127.0.0.1:8765"
    ... client_id = "sandbox"
    ... scope = "sandbox"
    ... [feeds.stock]
    ... entity = "onhands"
    ... account = "ERP"
    ... source = "stock.csv"
    ... ''')
    >>> _ = (root / "stock.csv").write_text("PartNo,WarehouseCode,LocationCode,OnhandValue\\nA,W1,L1,5\\n")
    >>> plan = plan_feed(load_settings(root / "norce.toml", environ={}), "stock")
    >>> plan.kind, plan.summary.added, plan.preview(1)[0]["header"]  # doctest: +NORMALIZE_WHITESPACE
    ('full', 1, {'AccountId': 10000, 'FullFile': False,
                 'SkuOnhandFieldsThatAreSet': ['OnhandValue', 'IsActive']})
    >>> plan.preview(1)[0]["items"]  # doctest: +NORMALIZE_WHITESPACE
    [{'PartNo': 'A', 'WarehouseCode': 'W1', 'LocationCode': 'L1', 'OnhandValue': 5, 'IsActive': True}]
    >>> note = plan.summary.notes[-1]  # the first full feed: no baseline tells what FullFile would deactivate
    >>> note.startswith('first full feed: sent without FullFile')
    True
    """
    f = settings.feed(feed) if isinstance(feed, str) else feed
    if f.account is None:
        msg = (
            f"{settings.path} [feeds.{f.name}]: no 'account'; Connect requires an AccountId "
            "(a system account name such as 'ERP', or its number)"
        )
        raise ConfigError(msg)
    if store is None:
        store = Workspace.of(settings).store()
    when = now or datetime.now(UTC)
    common: dict[str, Any] = {"kind": kind, "source": source, "now": when, "allow": allow_mass_deactivation}
    common |= {"reason": override_reason, "store": store, "progress": progress}
    if f.policies.stream and checked is None:  # larger than memory: a partition at a time
        return plan_in_store(settings, f, plans=Workspace.of(settings).plans_dir, **common)
    return build_plan(settings, f, checked=checked, **common)

"""A ledger that lost its record of submitted plans (deleted, emptied, restored from an old backup).

``submit`` leaves a ``submitted.json`` marker in each plan directory it sends from. A marked plan the
ledger does not know means the ledger forgot a submission: planning again would resend batches Connect
already accepted, so ``submit`` refuses (`refuse_lost`) and ``resume`` adopts the newest such plan
(`adopt_lost`): its batches are recorded ``unknown``, sent when the marker was written, so each is
looked up in Job/List before anything is sent again.

Examples
--------
>>> import tempfile, pathlib
>>> from toolkit.ledger import Ledger
>>> with Ledger(pathlib.Path(tempfile.mkdtemp()) / "ledger.sqlite") as ledger:
...     lost_plans(ledger, "stock")
[]
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from toolkit.ledger import StateDamaged
from toolkit.sending import load_plan_dir

if TYPE_CHECKING:
    from toolkit.feeds import Plan
    from toolkit.ledger import Ledger
    from toolkit.records import PlanRecord

__all__ = ["MARKER", "adopt_lost", "lost_plans", "mark_submitted", "refuse_lost"]

MARKER = "submitted.json"


def mark_submitted(directory: Path, plan: Plan, at: datetime) -> None:
    """Write the marker of a plan about to be sent (once; the first sending time is what counts)."""
    path = directory / MARKER
    if path.exists():
        return
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"plan_id": plan.id, "feed": plan.feed, "at": at.isoformat()}))
    tmp.replace(path)


def lost_plans(ledger: Ledger, feed: str) -> list[tuple[Path, datetime]]:
    """Directories of ``feed``'s marked plans that the ledger does not know, oldest first."""
    found = []
    for path in (ledger.directory / "plans").glob(f"*/{MARKER}"):
        try:
            mark = json.loads(path.read_text())
            at = datetime.fromisoformat(mark["at"]).astimezone(UTC)
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if mark.get("feed") == feed and not ledger.has_plan(str(mark.get("plan_id"))):
            found.append((path.parent, at))
    return sorted(found, key=lambda item: item[1])


def refuse_lost(ledger: Ledger, feed: str) -> None:
    """StateDamaged when the ledger forgot a submission of ``feed``."""
    lost = lost_plans(ledger, feed)
    if lost:
        msg = (
            f"ledger {ledger.path} has no record of {len(lost)} submitted plan(s) of feed {feed!r} "
            f"(newest {lost[-1][0].name}): it was deleted, emptied or restored from an older copy; "
            f"run `norce-feeds resume {feed}`, which looks their batches up in Job/List before "
            "sending anything"
        )
        raise StateDamaged(msg)


def adopt_lost(ledger: Ledger, feed: str) -> PlanRecord | None:
    """Record ``feed``'s forgotten plans again (the newest open, its batches ``unknown``); its record."""
    lost = lost_plans(ledger, feed)
    if not lost:
        return None
    for directory, _ in lost:  # oldest first: each newer one supersedes the older
        ledger.record_plan(load_plan_dir(directory, feed=feed), directory=directory)
    directory, at = lost[-1]
    ledger.mark_recovered(directory.name, at)
    return ledger.plan(directory.name)

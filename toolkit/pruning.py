"""Free the disk that old plans hold: ``norce-feeds prune``.

Every submitted plan keeps its directory under ``<state_dir>/plans/`` (bodies, manifest, origins,
failures), and a streamed plan writes there before it is sent: a full plan of 100M price rows is 15 GB.
`prune_plans` removes the directories that nothing will read again: those of finished plans
(succeeded or superseded, or failed) last touched before ``older_than`` (default: Connect's 14-day
restart window, within which ``restart`` may resend a batch from them), and those of plans never
submitted whose files are as old. It never removes an open plan's directory (planned, sending,
submitted: ``resume`` sends from it), nor the latest plan of a feed.

Examples
--------
>>> import pathlib, tempfile
>>> from toolkit.config import load_settings
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> _ = (root / "norce.toml").write_text('''
... [profiles.sandbox]
... base_url = "https://127.0.0.1:8443"
... client_id = "c"
... scope = "s"
... ''')
>>> prune_plans(load_settings(root / "norce.toml", environ={}))
Pruned(removed=(), kept=0, freed_bytes=0)
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from toolkit.config import Settings
from toolkit.ledger import OPEN_PLAN_STATES
from toolkit.restarts import RESTART_WINDOW
from toolkit.workspace import Workspace

__all__ = ["Pruned", "prune_plans"]


@dataclass(frozen=True)
class Pruned:
    """The plan directories removed (or that would be, with ``dry_run``), those kept, the bytes freed."""

    removed: tuple[Path, ...]
    kept: int
    freed_bytes: int


def prune_plans(
    settings: Settings,
    *,
    older_than: timedelta = RESTART_WINDOW,
    now: datetime | None = None,
    dry_run: bool = False,
) -> Pruned:
    """Remove the plan directories nothing will read again (see the module docstring)."""
    ws = Workspace.of(settings)
    plans = ws.plans_dir
    if not plans.is_dir():
        return Pruned((), 0, 0)
    cutoff = (now or datetime.now(UTC)) - older_than
    keep = _kept_by_ledger(ws, cutoff)
    removed, kept, freed = [], 0, 0
    for folder in sorted(p for p in plans.iterdir() if p.is_dir() and not p.name.startswith(".")):
        touched = datetime.fromtimestamp(folder.stat().st_mtime, UTC)
        if folder.name in keep or touched >= cutoff:
            kept += 1
            continue
        freed += sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
        removed.append(folder)
        if not dry_run:
            shutil.rmtree(folder, ignore_errors=True)
    return Pruned(tuple(removed), kept, freed)


def _kept_by_ledger(ws: Workspace, cutoff: datetime) -> set[str]:
    """Plan ids whose directories stay: open plans, plans touched since ``cutoff``, each feed's latest."""
    if not ws.ledger_path.exists():
        return set()
    with ws.ledger() as ledger:
        records = ledger.plans()
    keep = {r.id for r in records if r.state in OPEN_PLAN_STATES or r.updated_at >= cutoff}
    latest: dict[str, str] = {}
    for r in records:  # oldest first: the last one seen per feed is its latest
        latest[r.feed] = r.id
    return keep | set(latest.values())

"""Where a project's state lives, and the one place that opens what lives there.

Everything the toolkit keeps between runs sits under the settings' ``state_dir``::

    <state_dir>/ledger.sqlite        plans, batches, jobs, locks (``toolkit.ledger``)
    <state_dir>/snapshots/<feed>/    snapshots and the baseline (``toolkit.snapshots``)
    <state_dir>/plans/<plan id>/     every plan as submitted (``Plan.save``)
    <state_dir>/budget/<key>.json    the request budget shared by processes (``toolkit.connect``)

Runs, status, reports, notebooks and the CLI ask a ``Workspace`` for these paths and objects instead of
spelling the layout themselves.

Examples
--------
>>> from pathlib import Path
>>> ws = Workspace(Path("/srv/norce/.norce"))
>>> ws.ledger_path.as_posix(), ws.plan_dir("p1").as_posix()
('/srv/norce/.norce/ledger.sqlite', '/srv/norce/.norce/plans/p1')
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from toolkit.connect import ConnectClient
from toolkit.ledger import Ledger
from toolkit.snapshots import SnapshotStore

if TYPE_CHECKING:
    from toolkit.config import Profile, Settings

__all__ = ["Workspace"]


@dataclass(frozen=True)
class Workspace:
    """The state directory of a project: its layout, and the ledger, snapshot store and clients over it."""

    state_dir: Path

    @classmethod
    def of(cls, settings: Settings) -> Workspace:
        """The workspace of ``settings`` (its ``state_dir``)."""
        return cls(settings.state_dir)

    @property
    def ledger_path(self) -> Path:
        return self.state_dir / "ledger.sqlite"

    @property
    def snapshots_dir(self) -> Path:
        return self.state_dir / "snapshots"

    @property
    def plans_dir(self) -> Path:
        return self.state_dir / "plans"

    def plan_dir(self, plan_id: str) -> Path:
        """Where the plan ``plan_id`` is saved when it is submitted."""
        return self.plans_dir / plan_id

    def ledger(self) -> Ledger:
        """The ledger (open it with ``with``: it holds a SQLite connection)."""
        return Ledger(self.ledger_path)

    def store(self) -> SnapshotStore:
        """The snapshot store of every feed."""
        return SnapshotStore(self.snapshots_dir)

    def client(self, profile: Profile) -> ConnectClient:
        """A Connect client for ``profile`` caching its tokens here (open it with ``with``)."""
        return ConnectClient(profile, state_dir=self.state_dir)

    @contextmanager
    def session(self, profile: Profile) -> Iterator[tuple[ConnectClient, Ledger, SnapshotStore]]:
        """The client of ``profile``, the ledger and the snapshot store, open together and closed together."""
        with self.client(profile) as client, self.ledger() as ledger:
            yield client, ledger, self.store()

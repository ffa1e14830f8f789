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

A guard refuses a plan that would deactivate more than ``max_deactivation_ratio`` of the baseline, or
whose source is empty, unless ``allow_mass_deactivation`` is given (the plan records it).
Nothing is sent here; :mod:`toolkit.runs` submits plans.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import polars as pl

from toolkit.batches import Batch, Group
from toolkit.config import Feed, Settings
from toolkit.errors import ConfigError, GuardRefused

if TYPE_CHECKING:
    from toolkit.checks import CheckResult
    from toolkit.diff import Diff
    from toolkit.snapshots import SnapshotRef, SnapshotStore

__all__ = ["Batch", "FeedKind", "Group", "Plan", "PlanSummary", "guard", "plan_feed", "plan_id"]

FeedKind = Literal["change", "full"]
KindOption = Literal["auto", "change", "full"]


@dataclass(frozen=True)
class PlanSummary:
    """What a plan does, in numbers (``as_dict()`` gives plain JSON values)."""

    kind: FeedKind
    reason: str
    added: int = 0
    changed: int = 0
    removed: int = 0
    deactivated: int = 0
    unchanged: int = 0
    rejected: int = 0
    left_for_full: int = 0
    baseline_items: int = 0
    items: int = 0
    field_counts: dict[str, int] = field(default_factory=dict)
    batches: int = 0
    requests: int = 0
    bytes: int = 0
    eta_seconds: float = 0.0
    grouping: str = "none"
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        return {**out, "field_counts": dict(self.field_counts), "notes": list(self.notes)}


@dataclass(frozen=True)
class Plan:
    """Batches ready to send, with the snapshot to promote once every job of the plan succeeded."""

    id: str
    feed: str
    entity: str
    profile: str
    kind: FeedKind
    created: datetime
    saving: SnapshotRef | Future[SnapshotRef] | None = field(compare=False)
    """The new snapshot, or its write still under way; read it through `snapshot`."""
    baseline: SnapshotRef | None
    batches: tuple[Batch, ...] = field(repr=False)
    summary: PlanSummary
    rejected: pl.DataFrame = field(repr=False)
    allow_mass_deactivation: bool = False
    override_reason: str | None = None
    diff: Diff | None = field(default=None, repr=False, compare=False)
    """The diff the plan was made from: in memory only (a loaded plan has None)."""

    @property
    def snapshot(self) -> SnapshotRef | None:
        """The new snapshot, promoted once every job of the plan succeeded.

        ``plan_feed`` returns as soon as the batches are made, while the snapshot is still being
        written (1M rows take one to two seconds); this waits for the write and raises its error, if any.
        Recording, saving and promoting a plan all go through here, so nothing is sent before the
        snapshot is on disk.
        """
        saving = self.saving
        return saving.result() if isinstance(saving, Future) else saving

    def preview(self, n: int = 5) -> list[dict[str, Any]]:
        """Per batch: its index, endpoint, header and first ``n`` items, as Python objects."""
        return [{"batch": b.index, "endpoint": b.endpoint, "header": b.header,
                 "items": b.items()[:n]} for b in self.batches]  # fmt: skip

    def describe(self) -> str:
        """A few lines for a terminal or a notebook."""
        from toolkit.plan_files import describe

        return describe(self)

    def save(self, directory: str | Path) -> Path:
        """Write body files, ``manifest.json`` (with each body's sha256) and ``rejected.parquet``."""
        from toolkit.plan_files import save_plan

        return save_plan(self, Path(directory))

    @classmethod
    def load(cls, directory: str | Path) -> Plan:
        """Read a saved plan back; PlanError when a file is missing or a body does not match its hash."""
        from toolkit.plan_files import load_plan

        return load_plan(Path(directory))


def plan_feed(settings: Settings, feed: str | Feed, *, kind: KindOption = "auto",
              source: str | Path | None = None, now: datetime | None = None,
              allow_mass_deactivation: bool = False, override_reason: str | None = None,
              store: SnapshotStore | None = None,
              checked: tuple[pl.DataFrame, CheckResult] | None = None) -> Plan:  # fmt: skip
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
    from toolkit.planning import build_plan

    f = settings.feed(feed) if isinstance(feed, str) else feed
    if f.account is None:
        msg = (f"{settings.path} [feeds.{f.name}]: no 'account'; Connect requires an AccountId "
               "(a system account name such as 'ERP', or its number)")  # fmt: skip
        raise ConfigError(msg)
    if store is None:
        from toolkit.snapshots import SnapshotStore

        store = SnapshotStore(settings.state_dir / "snapshots")
    return build_plan(settings, f, kind=kind, source=source, now=now or datetime.now(UTC),
                      allow=allow_mass_deactivation, reason=override_reason, store=store,
                      checked=checked)  # fmt: skip


def guard(feed: Feed, kind: FeedKind, *, valid: int, baseline: int, deactivating: int,
          allow: bool) -> None:  # fmt: skip
    """Refuse (GuardRefused) an empty source or a plan deactivating too much of the baseline."""
    ratio = deactivating / baseline if baseline else 0.0
    limit = feed.policies.max_deactivation_ratio
    counts = {"valid": valid, "baseline": baseline, "deactivating": deactivating,
              "ratio": round(ratio, 4), "max_deactivation_ratio": limit}  # fmt: skip
    override = "pass allow_mass_deactivation=True (with an override_reason) to send it anyway"
    if valid == 0 and not allow:
        msg = f"feed {feed.name!r}: the source has no valid rows; refusing the {kind} feed; {override}"
        raise GuardRefused(msg, counts=counts)
    if ratio > limit and not allow:
        msg = (f"feed {feed.name!r}: the {kind} feed would deactivate {deactivating} of {baseline} "
               f"baseline items ({ratio:.1%}), more than max_deactivation_ratio {limit:.0%}; "
               f"{override}")  # fmt: skip
        raise GuardRefused(msg, counts=counts)


def plan_id(feed: str, kind: str, content: str, batch_ids: list[str], *,
            baseline: str | None = None) -> str:
    """Deterministic id of a plan (24 hex digits): the feed, kind, snapshot content, batches and baseline.

    Re-planning the same source against the same baseline gives the same id (so ``resume`` and a
    repeated submit stay idempotent); the same source against another baseline is another plan, even
    when its batches are byte for byte the same (a value that went A -> B -> A -> B).

    >>> plan_id("stock", "change", "abc", ["b1"], baseline="s1") == plan_id("stock", "change", "abc", ["b1"],
    ...                                                                      baseline="s1")
    True
    >>> plan_id("stock", "change", "abc", ["b1"], baseline="s1") == plan_id("stock", "change", "abc", ["b1"],
    ...                                                                      baseline="s2")
    False
    """
    text = "\n".join([feed, kind, content, f"baseline={baseline or ''}", *batch_ids])
    return hashlib.sha256(text.encode()).hexdigest()[:24]

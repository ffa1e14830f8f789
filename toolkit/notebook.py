"""What the notebooks call: preview a feed, submit it, report on jobs; headless or behind widgets.

Each function returns a result object with ``summary()`` (plain JSON values) and ``write(directory)``
(summary.json plus charts), so ``papermill ... -p interactive False`` produces files, and the widgets
of :mod:`toolkit.widgets` call the very same functions when a button is clicked.

- :func:`preview_feed` reads, checks, diffs and plans a feed (nothing is sent). A guard refusal or
  failed checks become the preview's verdict instead of an exception, so a notebook can show them.
- :func:`submit_feed` sends a preview's plan (``submit=True``) or reports what it would send, waits for
  the jobs and promotes the snapshot when they all succeeded.
- :func:`job_report` (from :mod:`toolkit.reports`) reads job outcomes from the ledger.

Secrets never pass through here: the client reads them from the profile (the environment).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from toolkit.config import KindOption, Settings
from toolkit.errors import CheckFailed, ConfigError, GuardRefused, PlanError
from toolkit.notebook_submit import EXIT_CODES, Ending, SubmitResult, submit_feed
from toolkit.preview import Preview, sample_changes
from toolkit.reports import given
from toolkit.workspace import Workspace

if TYPE_CHECKING:
    from toolkit.checks import CheckResult
    from toolkit.diff import Diff
    from toolkit.feeds import Plan

__all__ = [
    "EXIT_CODES",
    "Ending",
    "Preview",
    "SubmitResult",
    "find_settings",
    "preview_feed",
    "sample_changes",
    "submit_feed",
]


def find_settings(path: str | Path = "", *, start: str | Path | None = None) -> Path:
    """The settings file a notebook means: ``path`` (default ``norce.toml``) looked up from the working
    directory upward, as the CLI finds it; an absolute path is taken as it is.

    So ``settings_path = ""`` works from the repository root (papermill) and from ``notebooks/``
    (JupyterLab), and a path relative to the repository works from either.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp()); (root / "norce.toml").touch(); (root / "notebooks").mkdir()
    >>> find_settings("", start=root / "notebooks") == root / "norce.toml"
    True
    """
    here = Path(start or Path.cwd()).resolve()
    wanted = Path(path or "norce.toml")
    if wanted.is_absolute():
        return wanted
    for folder in (here, *here.parents):
        if (folder / wanted).is_file():
            return folder / wanted
    msg = (
        f"{wanted}: settings file not found in {here} or any folder above it (expected norce.toml "
        "with [profiles] and [feeds]; give settings_path)"
    )
    raise ConfigError(msg)


def _first_feed(settings: Settings, feed: str | None) -> str:
    if feed:
        return settings.feed(feed).name
    if not settings.feeds:
        msg = f"{settings.path}: no feeds; add a [feeds.<name>] table"
        raise PlanError(msg)
    return sorted(settings.feeds)[0]


def preview_feed(
    settings: Settings,
    feed: str | None = None,
    *,
    kind: KindOption = "auto",
    source: str | None = None,
    allow_mass_deactivation: bool = False,
    override_reason: str | None = None,
    now: datetime | None = None,
) -> Preview:
    """Read, check, diff and plan ``feed`` (the first feed when empty); nothing is sent.

    The check and diff are those of the current source against the feed's baseline; the plan is
    ``toolkit.feeds.plan_feed``'s. A ``GuardRefused`` (mass deactivation, empty source) or
    ``CheckFailed`` becomes the preview's ``verdict`` with ``plan`` None.
    """
    from toolkit.checks import validate
    from toolkit.feeds import plan_feed
    from toolkit.sources import read_source

    name = _first_feed(settings, feed)
    _require_reason(name, allow_mass_deactivation, override_reason)
    spec, path = settings.feed(name), given(source)
    # the preview shows every rejected row; plan_feed enforces the feed's reject policy
    lenient = replace(spec.policies, max_reject_ratio=1.0, on_reject="skip")
    frame = read_source(spec, path=path)
    check = validate(spec.entity, frame, policies=lenient)
    base = Preview(
        settings,
        name,
        kind,
        path,
        check=check,
        allow_mass_deactivation=allow_mass_deactivation,
        override_reason=given(override_reason),
    )
    try:  # the source is read and checked once: the plan takes those rows
        plan = plan_feed(
            settings,
            name,
            kind=kind,
            source=path,
            now=now,
            allow_mass_deactivation=allow_mass_deactivation,
            override_reason=given(override_reason),
            checked=(frame, check),
        )
    except GuardRefused as exc:
        return _replace(
            base, diff=_diff(settings, name, check), verdict=f"guard refused: {exc}", refused=True
        )
    except CheckFailed as exc:
        return _replace(base, diff=_diff(settings, name, check), verdict=f"checks failed: {exc}")
    diff = plan.diff if plan.baseline is not None else None  # None: no baseline to diff against yet
    return _replace(base, plan=plan, diff=diff, verdict=_verdict(plan))


def _require_reason(feed: str, allow: bool, reason: str | None) -> None:
    """The CLI's rule, here too: an override says why (the reason is recorded in the ledger)."""
    if allow and not (reason or "").strip():
        msg = (
            f"feed {feed!r}: overriding the guard (allow_mass_deactivation) needs a non-empty "
            f"override_reason, recorded in the ledger; found {reason!r}"
        )
        raise ConfigError(msg)


def _replace(preview: Preview, **changes: Any) -> Preview:
    return replace(preview, **changes)


def _verdict(plan: Plan) -> str:
    if plan.allow_mass_deactivation and plan.override_reason:
        s = plan.summary
        return (
            f"ok (guard overridden: {plan.override_reason}; deactivates {s.deactivated:,} of "
            f"{s.baseline_items:,} baseline items)"
        )
    return "ok" if plan.batches else "ok (nothing to send)"


def _diff(settings: Settings, feed: str, check: CheckResult) -> Diff | None:
    """The current valid rows against the feed's baseline; None when there is no baseline yet."""
    from toolkit.diff import diff_frames
    from toolkit.entities import get_entity

    spec = settings.feed(feed)
    store = Workspace.of(settings).store()
    ref = store.baseline(feed)
    if ref is None:
        return None
    data = check.valid.select(pl.exclude("^_.*$"))
    return diff_frames(store.load(ref), data, key=list(spec.key or get_entity(spec.entity).key))

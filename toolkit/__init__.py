"""toolkit: feed a Norce Commerce shop through Norce Commerce Connect.

Load snapshots with polars, check them with pandera, diff them against the last accepted baseline,
plan minimal change feeds or guarded full feeds, submit them within Connect's request budget, and
track the asynchronous jobs.

The notebook helpers (``preview_feed``, ``submit_feed``, ``job_report``) need the ``lab`` extra and the
sandbox (``serve``) the ``sandbox`` extra; they are imported on first use, so a pipeline that only
plans and submits never imports JupyterLab, altair or uvicorn.

Examples
--------
>>> import toolkit
>>> toolkit.get_entity("onhands").endpoint
'Product/ImportOnhands'
"""

from __future__ import annotations

import importlib
from typing import Any

from toolkit.checks import CheckResult, validate
from toolkit.config import Feed, Policies, Profile, Secret, Settings, load_settings, settings_from
from toolkit.connect import ConnectClient, ImportResponse, Job, JobLogEntry, RequestBudget, RetryPolicy
from toolkit.daily import FeedResult, feed_groups, submit_all
from toolkit.diff import Diff, diff_frames, diff_partitioned
from toolkit.entities import ENTITIES, SYSTEM_ACCOUNTS, Entity, JobStatus, get_entity
from toolkit.errors import (
    AuthError,
    CheckFailed,
    ConfigError,
    ConnectAPIError,
    FeedLocked,
    GuardRefused,
    JobFailed,
    JobTimeout,
    LedgerError,
    OutcomeUnknown,
    PlanError,
    RateLimited,
    SnapshotError,
    SourceError,
    ToolkitError,
)
from toolkit.feeds import Batch, Plan, PlanSummary, plan_feed
from toolkit.ledger import Ledger, Reason
from toolkit.outcomes import job_table
from toolkit.payloads import build_header, build_items, frame_from_items, serialize_items
from toolkit.plan_frames import plan_frames
from toolkit.runs import (
    Outcome,
    Submission,
    job_outcomes,
    open_run,
    plan_and_submit,
    restart_failed,
    resume,
    resume_feed,
    submit,
    wait_for_jobs,
)
from toolkit.snapshots import SnapshotRef, SnapshotStore
from toolkit.sources import read_source, scan_source
from toolkit.status import feed_status
from toolkit.workspace import Workspace

__version__ = "0.1.0"

# name -> module, imported on first use (optional extras)
_LAZY = {
    "JobReport": "toolkit.reports",
    "Preview": "toolkit.notebook",
    "SandboxServer": "toolkit.sandbox",
    "SubmitResult": "toolkit.notebook",
    "job_report": "toolkit.reports",
    "preview_feed": "toolkit.notebook",
    "serve": "toolkit.sandbox",
    "submit_feed": "toolkit.notebook",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        try:
            module = importlib.import_module(_LAZY[name])
        except ModuleNotFoundError as exc:  # name the extra to install, not just the module
            from toolkit.extras import missing_extra_message

            msg = missing_extra_message(exc, what=f"toolkit.{name}")
            if msg is None:
                raise
            raise ModuleNotFoundError(msg, name=exc.name) from exc
        value = getattr(module, name)
        globals()[name] = value
        return value
    msg = f"module 'toolkit' has no attribute {name!r}"
    raise AttributeError(msg)


__all__ = [
    "ENTITIES",
    "SYSTEM_ACCOUNTS",
    "AuthError",
    "Batch",
    "CheckFailed",
    "CheckResult",
    "ConfigError",
    "ConnectAPIError",
    "ConnectClient",
    "Diff",
    "Entity",
    "Feed",
    "FeedLocked",
    "FeedResult",
    "GuardRefused",
    "ImportResponse",
    "Job",
    "JobFailed",
    "JobLogEntry",
    "JobReport",
    "JobStatus",
    "JobTimeout",
    "Ledger",
    "LedgerError",
    "Outcome",
    "OutcomeUnknown",
    "Plan",
    "PlanError",
    "PlanSummary",
    "Policies",
    "Preview",
    "Profile",
    "RateLimited",
    "Reason",
    "RequestBudget",
    "RetryPolicy",
    "SandboxServer",
    "Secret",
    "Settings",
    "SnapshotError",
    "SnapshotRef",
    "SnapshotStore",
    "SourceError",
    "Submission",
    "SubmitResult",
    "ToolkitError",
    "Workspace",
    "build_header",
    "build_items",
    "diff_frames",
    "diff_partitioned",
    "feed_groups",
    "feed_status",
    "frame_from_items",
    "get_entity",
    "job_outcomes",
    "job_report",
    "job_table",
    "load_settings",
    "open_run",
    "plan_and_submit",
    "plan_feed",
    "plan_frames",
    "preview_feed",
    "read_source",
    "restart_failed",
    "resume",
    "resume_feed",
    "scan_source",
    "serialize_items",
    "serve",
    "settings_from",
    "submit",
    "submit_all",
    "submit_feed",
    "validate",
    "wait_for_jobs",
]

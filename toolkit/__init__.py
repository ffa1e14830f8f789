"""toolkit: feed a Norce Commerce shop through Norce Commerce Connect.

Load snapshots with polars, check them with pandera, diff them against the last accepted baseline,
plan minimal change feeds or guarded full feeds, submit them within Connect's request budget, and
track the asynchronous jobs.
"""

from __future__ import annotations

from toolkit.config import Feed, Policies, Profile, Secret, Settings, load_settings
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

__version__ = "0.1.0"

__all__ = [
    "ENTITIES",
    "SYSTEM_ACCOUNTS",
    "AuthError",
    "CheckFailed",
    "ConfigError",
    "ConnectAPIError",
    "Entity",
    "Feed",
    "FeedLocked",
    "GuardRefused",
    "JobFailed",
    "JobStatus",
    "JobTimeout",
    "LedgerError",
    "OutcomeUnknown",
    "PlanError",
    "Policies",
    "Profile",
    "RateLimited",
    "Secret",
    "Settings",
    "SnapshotError",
    "SourceError",
    "ToolkitError",
    "get_entity",
    "load_settings",
]

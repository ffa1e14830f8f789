"""The toolkit's exceptions, one tree so callers can catch broadly or narrowly.

ToolkitError
 ├── ConfigError            norce.toml, .env or environment is wrong
 ├── SourceError            a source file cannot be read or mapped
 ├── CheckFailed            too many rows rejected (or any, with on_reject = "fail")
 ├── SnapshotError          a snapshot or manifest is missing or corrupt
 ├── GuardRefused           a plan would deactivate too much, or the source is empty
 ├── PlanError              a saved plan is incomplete or its bodies do not match their hashes
 ├── LedgerError            the ledger cannot record or answer
 │    └── FeedLocked        another run holds the feed's lock
 └── ConnectAPIError        Connect (or the sandbox) answered with an error
      ├── AuthError         the token endpoint refused the credentials
      ├── RateLimited       429 after every retry
      ├── OutcomeUnknown    the request was sent but no answer came back
      ├── JobFailed         a job ended Failed or Validation failed
      └── JobTimeout        a job did not finish in time

Messages name the object, what was expected and what was found. They never carry a secret or a token.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuthError",
    "CheckFailed",
    "ConfigError",
    "ConnectAPIError",
    "FeedLocked",
    "GuardRefused",
    "JobFailed",
    "JobTimeout",
    "LedgerError",
    "OutcomeUnknown",
    "PlanError",
    "RateLimited",
    "SnapshotError",
    "SourceError",
    "ToolkitError",
]


class ToolkitError(Exception):
    """Root of every error the toolkit raises on purpose."""


class ConfigError(ToolkitError):
    """Settings are missing or wrong; the message names the file, the table and the key."""


class SourceError(ToolkitError):
    """A source file cannot be read, decoded or mapped."""


class CheckFailed(ToolkitError):
    """Validation rejected more rows than the feed's policy allows.

    ``summary`` holds the counts and a few examples; ``rejected`` every rejected row with its reason
    (the ``CheckResult.rejected`` frame), so nothing is lost when the check stops a plan.
    """

    def __init__(self, message: str, *, summary: Any = None, rejected: Any = None) -> None:
        super().__init__(message)
        self.summary = summary
        self.rejected = rejected


class SnapshotError(ToolkitError):
    """A snapshot file or manifest is missing, unreadable or does not match its hash."""


class GuardRefused(ToolkitError):
    """A plan was refused because it would deactivate too much of the shop."""

    def __init__(self, message: str, *, counts: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.counts = counts or {}


class PlanError(ToolkitError):
    """A saved plan cannot be loaded as it was written."""


class LedgerError(ToolkitError):
    """The ledger cannot record or answer."""


class FeedLocked(LedgerError):
    """Another run holds the lock of this feed."""


class ConnectAPIError(ToolkitError):
    """Connect answered with an error status.

    Carries the HTTP ``status`` (None when there was no answer), the ``endpoint`` and the server's
    ``server_message``.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        endpoint: str | None = None,
        server_message: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.endpoint = endpoint
        self.server_message = server_message


class AuthError(ConnectAPIError):
    """The token endpoint refused the client credentials."""


class RateLimited(ConnectAPIError):
    """Connect kept answering 429 after every retry."""


class OutcomeUnknown(ConnectAPIError):
    """The request was sent but no answer came back: it may or may not have been accepted.

    ``batch`` holds what was sent (for imports), so the caller can look for the job before sending again.
    """

    def __init__(self, message: str, *, endpoint: str | None = None, batch: Any = None) -> None:
        super().__init__(message, endpoint=endpoint)
        self.batch = batch


class JobFailed(ConnectAPIError):
    """A job ended Failed (3) or Validation failed (4); ``job`` and ``log_tail`` say why."""

    def __init__(self, message: str, *, job: Any = None, log_tail: Any = None) -> None:
        super().__init__(message)
        self.job = job
        self.log_tail = list(log_tail or [])


class JobTimeout(ConnectAPIError):
    """A job did not finish within the timeout; ``job`` is its last known state."""

    def __init__(self, message: str, *, job: Any = None) -> None:
        super().__init__(message)
        self.job = job

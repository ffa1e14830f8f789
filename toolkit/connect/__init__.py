"""The Connect client: OAuth2, HTTPS, the request budget, safe retries, the imports and the Job API.

``ConnectClient`` (client.py) builds requests and reads answers; ``ClientCredentials`` (auth.py) is the
OAuth2 flow; ``RequestBudget`` (budget.py) and the transports (transport.py) pace and retry; the
records it returns are in models.py.
"""

from __future__ import annotations

from toolkit.connect.auth import ClientCredentials, forget_tokens
from toolkit.connect.budget import RequestBudget, shared_budget
from toolkit.connect.client import ConnectClient
from toolkit.connect.models import (
    ImportResponse,
    Job,
    JobLogEntry,
    ValidationSummary,
    parse_run_time,
    parse_timestamp,
)
from toolkit.connect.transport import RateLimitTransport, RetryPolicy, RetryTransport

__all__ = [
    "ClientCredentials",
    "ConnectClient",
    "ImportResponse",
    "Job",
    "JobLogEntry",
    "RateLimitTransport",
    "RequestBudget",
    "RetryPolicy",
    "RetryTransport",
    "ValidationSummary",
    "forget_tokens",
    "parse_run_time",
    "parse_timestamp",
    "shared_budget",
]

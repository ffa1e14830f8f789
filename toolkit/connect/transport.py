"""Transports that wrap the real one: the request budget, and retries that never send an import twice.

``RetryTransport(RateLimitTransport(HTTPTransport()))``: every attempt (token requests included) spends
from the budget; a retry happens only where the server surely did not act on the request, or where
acting twice is harmless (GETs, the token request).

What is retried
---------------
- no connection (refused, connect timeout, pool timeout): the request was never sent;
- 408, 429 and 5xx answers (but 501/505) to idempotent requests; ``Retry-After`` (seconds or an HTTP
  date) is honoured on 429 and 503;
- for an import (not idempotent) only the answers that prove it was not taken: 408, 429, 500 (Connect's
  own error answer) and 503. A gateway's 502, 504 or any other 5xx says nothing about whether Connect
  accepted the body behind it: it is returned, and the client raises ``OutcomeUnknown``;
- read timeouts and dropped connections after sending: only for idempotent requests. An import
  that meets one is not sent again; the client raises ``OutcomeUnknown``.

Examples
--------
>>> import httpx
>>> answers = iter([httpx.Response(503, headers={"Retry-After": "2"}), httpx.Response(200)])
>>> waits, told = [], []
>>> retry = RetryTransport(httpx.MockTransport(lambda request: next(answers)),
...                        sleep=waits.append, clock=lambda: 0.0,
...                        on_wait=lambda seconds, why: told.append((seconds, why)))
>>> retry.handle_request(httpx.Request("GET", "https://x.test/Job/Ping")).status_code, waits, told
(200, [2.0], [(2.0, '503 Retry-After')])
"""

from __future__ import annotations

import email.utils
import logging
import random
import ssl
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass

import httpx

from toolkit.connect.budget import Clock, RequestBudget, Sleep, WaitHook

__all__ = ["RateLimitTransport", "RetryPolicy", "RetryTransport", "is_tls_failure", "outcome_unknown"]

logger = logging.getLogger("toolkit.connect")

_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: attempts, total time, and the exponential backoff with jitter.

    The n-th retry waits ``backoff * 2 ** (n - 1)`` seconds (at most ``max_backoff``), shortened by
    up to ``jitter`` of itself at random, or what ``Retry-After`` says. No retry starts after
    ``total`` seconds.

    >>> RetryPolicy().delay(3, draw=0.0)
    2.0
    """

    attempts: int = 5
    total: float = 300.0
    backoff: float = 0.5
    max_backoff: float = 30.0
    jitter: float = 0.5
    statuses: frozenset[int] = frozenset({408, 429, *range(500, 600)} - {501, 505})
    retry_after_statuses: frozenset[int] = frozenset({429, 503})
    not_taken_statuses: frozenset[int] = frozenset({408, 429, 500, 503})
    """Answers that prove a non-idempotent request was not acted on: only these are retried for it."""

    def delay(self, retry: int, *, draw: float | None = None) -> float:
        """Seconds to wait before the ``retry``-th retry (1-based)."""
        base = min(self.max_backoff, self.backoff * 2.0 ** (retry - 1))
        return float(base * (1 - self.jitter * (random.random() if draw is None else draw)))


class RateLimitTransport(httpx.BaseTransport):
    """Spends from ``budget`` before every request (and from ``extra[path]`` for such paths).

    ``on_wait(seconds, why)``, when set, is told of every wait for a budget (``"rate limit 60/min"``).
    """

    def __init__(
        self,
        transport: httpx.BaseTransport,
        budget: RequestBudget,
        *,
        extra: dict[str, RequestBudget] | None = None,
        on_wait: WaitHook | None = None,
    ) -> None:
        self._transport, self._budget, self._extra = transport, budget, dict(extra or {})
        self.on_wait = on_wait

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        other = self._extra.get(request.url.path)
        if other is not None:
            other.acquire(on_wait=self.on_wait, why=f"{other.reason} of {request.url.path}")
        stamp = self._budget.acquire(on_wait=self.on_wait)
        try:
            return self._transport.handle_request(request)
        finally:
            self._budget.settle(stamp)

    def close(self) -> None:
        self._transport.close()


class RetryTransport(httpx.BaseTransport):
    """Retries what is safe to retry; records the attempt count in ``response.extensions``.

    A request may carry its own policy in ``request.extensions["retry_policy"]``.

    Parameters
    ----------
    transport
        The transport to wrap.
    policy
        Attempts, total time and backoff.
    idempotent_paths
        URL paths that are safe to send twice whatever the method (the token endpoint).
    on_wait
        Told ``(seconds, why)`` before each wait: ``"429 Retry-After"``, ``"retry after 503"``,
        ``"retry after ConnectError"``; may be set later as the ``on_wait`` attribute.
    """

    def __init__(
        self,
        transport: httpx.BaseTransport,
        policy: RetryPolicy | None = None,
        *,
        idempotent_paths: Collection[str] = (),
        clock: Clock | None = None,
        sleep: Sleep | None = None,
        on_wait: WaitHook | None = None,
    ) -> None:
        self._transport = transport
        self.policy = policy or RetryPolicy()
        self.on_wait = on_wait
        self._idempotent_paths = frozenset(idempotent_paths)
        self._clock: Clock = clock or time.time
        self._sleep: Sleep = sleep or time.sleep

    def is_idempotent(self, request: httpx.Request) -> bool:
        return request.method in _IDEMPOTENT_METHODS or request.url.path in self._idempotent_paths

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        policy = request.extensions.get("retry_policy") or self.policy
        assert isinstance(policy, RetryPolicy)
        deadline = self._clock() + policy.total
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._transport.handle_request(request)
            except httpx.TransportError as exc:
                backoff = policy.delay(attempt)
                if not self._may_retry_error(request, exc) or not self._has_time(
                    policy, attempt, backoff, deadline
                ):
                    raise
                self._wait(request, attempt, backoff, type(exc).__name__)
                continue
            told = self._retry_wait(policy, response, attempt, self.is_idempotent(request))
            if told is None or not self._has_time(policy, attempt, told[0], deadline):
                response.extensions = {**response.extensions, "attempts": attempt}
                return response
            response.close()
            self._wait(request, attempt, told[0], str(response.status_code), told[1])

    def _may_retry_error(self, request: httpx.Request, exc: Exception) -> bool:
        if is_tls_failure(exc):
            return False
        return isinstance(exc, _NOT_SENT) or self.is_idempotent(request)

    @staticmethod
    def _retry_wait(
        policy: RetryPolicy, response: httpx.Response, attempt: int, idempotent: bool
    ) -> tuple[float, str] | None:
        """Seconds to wait before retrying and why (``"429 Retry-After"``), or None: no retry."""
        status = response.status_code
        if status not in policy.statuses or not (idempotent or status in policy.not_taken_statuses):
            return None
        told = retry_after(response) if status in policy.retry_after_statuses else None
        if told is None:
            return policy.delay(attempt), f"retry after {status}"
        return told, f"{status} Retry-After"

    def _has_time(self, policy: RetryPolicy, attempt: int, wait: float, deadline: float) -> bool:
        return attempt < policy.attempts and self._clock() + wait <= deadline

    def _wait(
        self, request: httpx.Request, attempt: int, wait: float, what: str, why: str | None = None
    ) -> None:
        logger.info(
            "%s %s: %s on attempt %d, retrying in %.2f s",
            request.method,
            request.url.path,
            what,
            attempt,
            wait,
        )
        if self.on_wait is not None:
            self.on_wait(wait, why or f"retry after {what}")
        self._sleep(wait)

    def close(self) -> None:
        self._transport.close()


def retry_after(response: httpx.Response, *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds the server asked to wait (``Retry-After`` as seconds or an HTTP date), else None.

    >>> retry_after(httpx.Response(429, headers={"Retry-After": "3"}))
    3.0
    >>> retry_after(httpx.Response(429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:05 GMT",
    ...                                         "Date": "Wed, 21 Oct 2015 07:28:00 GMT"}))
    5.0
    """
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
        sent = response.headers.get("Date")
        ref = email.utils.parsedate_to_datetime(sent).timestamp() if sent else now()
    except (TypeError, ValueError):
        return None
    return max(0.0, when - ref)


def is_tls_failure(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) is a failed TLS handshake or certificate check."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError) or "CERTIFICATE_VERIFY_FAILED" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def outcome_unknown(response: httpx.Response, policy: RetryPolicy | None = None) -> bool:
    """True when ``response`` to a non-idempotent request leaves its outcome open: a 5xx that does not
    prove the request was not taken (a gateway's 502 or 504, say).

    >>> outcome_unknown(httpx.Response(502)), outcome_unknown(httpx.Response(503))
    (True, False)
    """
    policy = policy or RetryPolicy()
    return response.status_code >= 500 and response.status_code not in policy.not_taken_statuses

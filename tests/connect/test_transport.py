"""Retries (what is safe to send again, and how long to wait) and the rate-limit transport."""

from __future__ import annotations

import ssl
from collections.abc import Callable

import httpx
import pytest
from connect_fakes import FakeClock

from toolkit.connect import RateLimitTransport, RequestBudget, RetryPolicy, RetryTransport
from toolkit.connect.transport import retry_after

URL = "https://connect.test/commerce/connect/4.0/"
Answer = httpx.Response | Exception


class Script:
    """Answers in order, then 200; counts the calls."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if not self.answers:
            return httpx.Response(200, json={"ok": True})
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture
def retrying(clock: FakeClock) -> Callable[..., tuple[RetryTransport, Script]]:
    def make(*answers: Answer, policy: RetryPolicy | None = None) -> tuple[RetryTransport, Script]:
        script = Script(*answers)
        transport = RetryTransport(
            httpx.MockTransport(script),
            policy or RetryPolicy(jitter=0.0),
            idempotent_paths={"/token"},
            clock=clock,
            sleep=clock.sleep,
        )
        return transport, script

    return make


def _post(path: str = "Product/ImportOnhands") -> httpx.Request:
    return httpx.Request("POST", URL + path, content=b"[]")


def _get(path: str = "Job/Get") -> httpx.Request:
    return httpx.Request("GET", URL + path)


@pytest.mark.parametrize("status", [408, 429, 500, 503])
def test_answers_that_were_not_accepted_are_retried_even_for_imports(
    retrying: Callable[..., tuple[RetryTransport, Script]], clock: FakeClock, status: int
) -> None:
    transport, script = retrying(httpx.Response(status), httpx.Response(status))
    response = transport.handle_request(_post())
    assert response.status_code == 200 and script.calls == 3
    assert response.extensions["attempts"] == 3
    assert clock.sleeps == [0.5, 1.0]  # exponential backoff, no jitter in this policy


@pytest.mark.parametrize("status", [502, 504, 520])
def test_a_gateway_error_to_an_import_is_not_retried(
    retrying: Callable[..., tuple[RetryTransport, Script]], status: int
) -> None:
    """A gateway's 502/504 does not prove Connect did not take the body: never sent twice blindly."""
    transport, script = retrying(httpx.Response(status), httpx.Response(status))
    assert transport.handle_request(_post()).status_code == status and script.calls == 1
    again, calls = retrying(httpx.Response(status), httpx.Response(status))
    assert again.handle_request(_get()).status_code == 200 and calls.calls == 3  # a GET is retried


def test_4xx_is_not_retried(retrying: Callable[..., tuple[RetryTransport, Script]]) -> None:
    transport, script = retrying(httpx.Response(400, json={"Message": "bad"}))
    assert transport.handle_request(_post()).status_code == 400
    assert script.calls == 1


def test_retry_after_seconds_and_dates_are_honoured(
    retrying: Callable[..., tuple[RetryTransport, Script]], clock: FakeClock
) -> None:
    date = {"Retry-After": "Wed, 21 Oct 2015 07:28:07 GMT", "Date": "Wed, 21 Oct 2015 07:28:00 GMT"}
    transport, _ = retrying(
        httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(503, headers=date)
    )
    assert transport.handle_request(_post()).status_code == 200
    assert clock.sleeps == [3.0, 7.0]


def test_retry_after_ignores_garbage() -> None:
    assert retry_after(httpx.Response(429, headers={"Retry-After": "soon"})) is None
    assert retry_after(httpx.Response(429)) is None
    assert retry_after(httpx.Response(429, headers={"Retry-After": "-5"})) == 0.0


def test_jitter_shortens_the_backoff_within_bounds() -> None:
    policy = RetryPolicy(backoff=1.0, jitter=0.5, max_backoff=8.0)
    delays = [policy.delay(4) for _ in range(200)]
    assert all(4.0 <= d <= 8.0 for d in delays)
    assert len(set(delays)) > 100
    assert policy.delay(10, draw=0.0) == 8.0  # capped


def test_attempts_are_bounded(retrying: Callable[..., tuple[RetryTransport, Script]]) -> None:
    transport, script = retrying(*[httpx.Response(503)] * 9, policy=RetryPolicy(attempts=3))
    response = transport.handle_request(_get())
    assert (response.status_code, script.calls, response.extensions["attempts"]) == (503, 3, 3)


def test_total_time_is_bounded(
    retrying: Callable[..., tuple[RetryTransport, Script]], clock: FakeClock
) -> None:
    transport, script = retrying(
        *[httpx.Response(429, headers={"Retry-After": "40"})] * 9,
        policy=RetryPolicy(attempts=10, total=100.0),
    )
    assert transport.handle_request(_get()).status_code == 429
    assert script.calls == 3 and sum(clock.sleeps) == 80.0


def test_a_request_can_carry_its_own_policy(
    retrying: Callable[..., tuple[RetryTransport, Script]],
) -> None:
    transport, script = retrying(*[httpx.Response(503)] * 9)
    request = httpx.Request("GET", URL + "Job/Ping", extensions={"retry_policy": RetryPolicy(attempts=1)})
    assert transport.handle_request(request).status_code == 503
    assert script.calls == 1


def test_refused_connections_are_retried_even_for_imports(
    retrying: Callable[..., tuple[RetryTransport, Script]],
) -> None:
    transport, script = retrying(httpx.ConnectError("refused"), httpx.ConnectTimeout("slow"))
    assert transport.handle_request(_post()).status_code == 200
    assert script.calls == 3


@pytest.mark.parametrize(
    "error", [httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteTimeout]
)
def test_an_import_that_may_have_arrived_is_never_sent_twice(
    retrying: Callable[..., tuple[RetryTransport, Script]], error: type[Exception]
) -> None:
    transport, script = retrying(error("lost"))
    with pytest.raises(error):
        transport.handle_request(_post())
    assert script.calls == 1


@pytest.mark.parametrize("request_", [_get(), httpx.Request("POST", "https://connect.test/token")])
def test_idempotent_requests_are_retried_after_timeouts(
    retrying: Callable[..., tuple[RetryTransport, Script]], request_: httpx.Request
) -> None:
    transport, script = retrying(httpx.ReadTimeout("lost"), httpx.RemoteProtocolError("dropped"))
    assert transport.handle_request(request_).status_code == 200
    assert script.calls == 3


def test_tls_failures_are_not_retried(retrying: Callable[..., tuple[RetryTransport, Script]]) -> None:
    error = httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    error.__cause__ = ssl.SSLCertVerificationError("self-signed")
    transport, script = retrying(error)
    with pytest.raises(httpx.ConnectError):
        transport.handle_request(_get())
    assert script.calls == 1


def test_rate_limit_transport_spends_per_attempt_and_extra_for_tokens(clock: FakeClock) -> None:
    budget = RequestBudget(100, clock=clock, sleep=clock.sleep)
    tokens = RequestBudget(3, burst=2, clock=clock, sleep=clock.sleep)
    script = Script(httpx.Response(503))
    limited = RateLimitTransport(httpx.MockTransport(script), budget, extra={"/token": tokens})
    retry = RetryTransport(limited, RetryPolicy(jitter=0.0), clock=clock, sleep=clock.sleep)
    retry.handle_request(_get())
    assert len(budget.spent()) == 2  # both attempts spent a token
    for _ in range(3):
        limited.handle_request(httpx.Request("POST", "https://connect.test/token"))
    assert len(budget.spent()) == 5
    assert clock.sleeps[-1] == pytest.approx(20.0)  # the third token request waited for the bucket

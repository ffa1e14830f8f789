"""Acceptance 5: 60 requests per minute per client, then 429 with Retry-After; the token endpoint's
own limit (3 per minute per address, burst 20). Windows are moved with the injected clock."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.slow
PING = "/commerce/connect/4.0/Job/Ping"


def test_the_61st_request_in_a_minute_gets_429_with_retry_after(api: Any) -> None:
    api.admin("settings", {"rate_limit": 60, "rate_window": 60})  # the defaults
    h = api.auth()
    statuses = [api.http.get(PING, headers=h).status_code for _ in range(60)]
    assert statuses == [200] * 60
    r = api.http.get(PING, headers=h)
    assert r.status_code == 429
    retry = int(r.headers["Retry-After"])
    assert 1 <= retry <= 60
    assert "60 requests per 60 s" in r.json()["Message"]
    # imports count against the same budget
    assert api.post_import("companies", [], api.header()).status_code == 429
    api.server.advance_clock(retry)
    assert api.http.get(PING, headers=h).status_code == 200
    # the admin side is never limited
    assert all(api.http.get("/_sandbox/stats").status_code == 200 for _ in range(5))


def test_limit_and_window_are_configurable(api: Any) -> None:
    api.admin("settings", {"rate_limit": 3, "rate_window": 0.5})
    h = api.auth()
    assert [api.http.get(PING, headers=h).status_code for _ in range(4)] == [200, 200, 200, 429]
    assert api.http.get(PING, headers=h).headers["Retry-After"] == "1"  # at least 1 second
    api.server.advance_clock(0.5)
    assert api.http.get(PING, headers=h).status_code == 200


def test_token_endpoint_allows_a_burst_of_20_then_3_per_minute(api: Any) -> None:
    statuses = [api.token_response().status_code for _ in range(21)]
    assert statuses == [200] * 20 + [429]
    r = api.token_response()
    assert r.status_code == 429 and int(r.headers["Retry-After"]) == 20
    assert r.json()["error"] == "too_many_requests"
    api.server.advance_clock(20)
    assert [api.token_response().status_code for _ in range(2)] == [200, 429]
    api.server.advance_clock(60)
    assert [api.token_response().status_code for _ in range(4)] == [200, 200, 200, 429]

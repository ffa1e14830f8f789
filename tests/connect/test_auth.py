"""OAuth2 client credentials: one token, renewed before expiry and once on 401, never shown."""

from __future__ import annotations

import threading
import time
import urllib.parse
from collections.abc import Callable

import httpx
import pytest
from connect_fakes import SECRET, FakeClock, FakeConnect

from toolkit.config import Profile, Secret
from toolkit.connect import ConnectClient
from toolkit.connect.auth import ClientCredentials
from toolkit.errors import AuthError, RateLimited


def test_the_token_is_fetched_once_and_sent_as_bearer(client: ConnectClient, server: FakeConnect) -> None:
    client.ping()
    client.ping()
    assert server.paths() == ["token", "Job/Ping", "Job/Ping"]
    token = server.requests[0]
    form = dict(urllib.parse.parse_qsl(token.content.decode()))
    assert form == {
        "grant_type": "client_credentials",
        "client_id": "client-1",
        "client_secret": SECRET,
        "scope": "stage",
    }
    assert token.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert token.url == "https://connect.test/identity/1.0/connect/token"
    assert server.requests[1].headers["Authorization"].startswith("Bearer TOKEN")


def test_token_renewed_shortly_before_expiry(
    make_client: Callable[..., ConnectClient], server: FakeConnect, clock: FakeClock
) -> None:
    server.token_ttl = 2.0
    client = make_client()
    for _ in range(10):  # 5 s of calls with 2 s tokens
        assert client.ping()
        clock.advance(0.5)
    assert server.paths().count("token") == 3
    assert server.paths().count("Job/Ping") == 10  # renewed in time: not one 401 and retry


def test_a_401_renews_once_and_retries(client: ConnectClient, server: FakeConnect) -> None:
    client.ping()
    server.tokens.clear()  # the server forgot every token
    assert client.ping()
    assert server.paths() == ["token", "Job/Ping", "Job/Ping", "token", "Job/Ping"]


def test_a_second_401_raises(client: ConnectClient, server: FakeConnect) -> None:
    server.fault("Job/Get", *[httpx.Response(401, json={"Message": "no access"})] * 2)
    with pytest.raises(AuthError, match="401 even with a renewed token: no access") as info:
        client.get_job(1)
    assert server.paths().count("token") == 2
    assert info.value.status == 401 and info.value.endpoint == "Job/Get"


def test_refused_credentials_raise_auth_error_without_the_secret(
    make_client: Callable[..., ConnectClient], profile: Profile
) -> None:
    wrong = Profile(
        profile.name, profile.base_url, "client-1", "stage", client_secret=Secret("wrong-secret-xyz")
    )
    with pytest.raises(AuthError, match="refused the client credentials: 400 invalid_client") as info:
        make_client(profile=wrong).ping()
    assert "wrong-secret-xyz" not in str(info.value)


def test_token_endpoint_429_is_retried_then_rate_limited(client: ConnectClient, server: FakeConnect) -> None:
    server.fault("token", *[httpx.Response(429, headers={"Retry-After": "1"})] * 9)
    with pytest.raises(RateLimited, match="token endpoint"):
        client.get_job(1)
    assert server.paths().count("token") == 5


def test_token_request_goes_through_the_budget(
    make_client: Callable[..., ConnectClient], server: FakeConnect
) -> None:
    client = make_client()
    client.ping()
    assert len(client.budget.spent()) == 2  # the token request and the ping


def test_clients_of_a_profile_share_the_token(
    make_client: Callable[..., ConnectClient], server: FakeConnect
) -> None:
    make_client().ping()
    make_client().ping()
    assert server.paths().count("token") == 1


def test_a_missing_secret_names_the_variable(profile: Profile) -> None:
    bare = Profile("stage-se", profile.base_url, "c", "stage")
    with pytest.raises(Exception, match="NORCE_STAGE_SE_CLIENT_SECRET"):
        ConnectClient(bare)


def test_threads_needing_a_token_share_one_token_request() -> None:
    asked: list[float] = []

    def server(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            asked.append(time.monotonic())
            time.sleep(0.2)  # slow enough that every thread finds no token at first
            return httpx.Response(200, json={"access_token": "t0k", "expires_in": 3600})
        return httpx.Response(200, json=request.headers["Authorization"])

    auth = ClientCredentials(
        "https://x.test/identity/1.0/connect/token", "me", Secret("s"), "stage", cache={}
    )
    client = httpx.Client(transport=httpx.MockTransport(server), auth=auth)
    seen: list[str] = []
    threads = [
        threading.Thread(target=lambda: seen.append(client.get("https://x.test/a").json())) for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == ["Bearer t0k"] * 4 and len(asked) == 1

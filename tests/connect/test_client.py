"""ConnectClient against a fake Connect: imports, the Job API, waiting, errors, and no leaks."""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import httpx
import orjson
import pytest
from connect_fakes import SECRET, TOKEN_MARK, FakeClock, FakeConnect

from toolkit.config import Profile, Secret
from toolkit.connect import ConnectClient, Job, RetryPolicy
from toolkit.entities import ENTITIES, JobStatus
from toolkit.errors import (
    AuthError,
    ConfigError,
    ConnectAPIError,
    JobFailed,
    JobTimeout,
    OutcomeUnknown,
    RateLimited,
)

HEADER = {"AccountId": 10000, "SkuOnhandFieldsThatAreSet": ["OnhandValue"]}
ITEMS = [{"PartNo": "A1", "WarehouseCode": "W", "LocationCode": "L", "OnhandValue": 3}]


@pytest.mark.parametrize("entity", sorted(ENTITIES))
def test_each_import_posts_to_its_endpoint(client: ConnectClient, server: FakeConnect, entity: str) -> None:
    response = client.import_items(entity, [{"Code": "x"}], {"AccountId": 10000})
    assert response.job_id == 1001 and response.validation.total == 1
    request = server.requests[-1]
    assert request.method == "POST"
    assert request.url == f"https://connect.test/commerce/connect/4.0/{ENTITIES[entity].endpoint}"
    assert request.headers["Content-Type"] == "application/json"


def test_items_and_header_on_the_wire(client: ConnectClient, server: FakeConnect) -> None:
    client.import_items(
        "onhands", [{**ITEMS[0], "Price": Decimal("9.50"), "Name": "Sjö"}], {**HEADER, "Note": "Sjö"}
    )
    _, body, header = server.imports[0]
    assert orjson.loads(body) == [{**ITEMS[0], "Price": 9.5, "Name": "Sjö"}]
    raw = server.requests[-1].headers["X-StormConnect-Header"]
    assert "\n" not in raw and raw.isascii() and " " not in raw
    assert header == {**HEADER, "Note": "Sjö"}


def test_a_serialized_body_is_sent_as_is(client: ConnectClient, server: FakeConnect) -> None:
    body = b' [{"PartNo":"A1"}]'
    client.import_items(ENTITIES["onhands"], body, HEADER)
    assert server.imports[0][1] == body
    with pytest.raises(ValueError, match="JSON array"):
        client.import_items("onhands", b'{"PartNo": "A1"}', HEADER)


def test_unknown_entity(client: ConnectClient) -> None:
    with pytest.raises(KeyError, match="unknown entity 'stock'"):
        client.import_items("stock", ITEMS, HEADER)


def test_a_400_raises_at_once_with_the_servers_message(client: ConnectClient, server: FakeConnect) -> None:
    server.fault("Product/ImportOnhands", httpx.Response(400, json={"Message": "AccountId is required"}))
    with pytest.raises(ConnectAPIError, match="answered 400: AccountId is required") as info:
        client.import_items("onhands", ITEMS, {})
    error = info.value
    assert (error.status, error.endpoint, error.server_message) == (
        400,
        "Product/ImportOnhands",
        "AccountId is required",
    )
    assert server.paths().count("Product/ImportOnhands") == 1


def test_a_plain_text_error_body_is_the_message(client: ConnectClient, server: FakeConnect) -> None:
    server.fault("Job/Get", httpx.Response(404, text="Not found here"))
    with pytest.raises(ConnectAPIError, match="answered 404: Not found here"):
        client.get_job(5)


def test_import_retried_when_surely_not_accepted(client: ConnectClient, server: FakeConnect) -> None:
    server.fault(
        "Product/ImportOnhands",
        httpx.ConnectError("refused"),
        httpx.Response(500),
        httpx.Response(429, headers={"Retry-After": "2"}),
        httpx.Response(503),
    )
    assert client.import_items("onhands", ITEMS, HEADER).job_id == 1001
    assert len(server.imports) == 1 and len(server.jobs) == 1


@pytest.mark.parametrize(
    "error", [httpx.ReadTimeout("timed out"), httpx.RemoteProtocolError("Server disconnected")]
)
def test_no_answer_after_sending_raises_outcome_unknown(
    client: ConnectClient, server: FakeConnect, error: Exception
) -> None:
    server.fault("Product/ImportOnhands", error)
    with pytest.raises(OutcomeUnknown, match="look for its job in Job/List") as info:
        client.import_items("onhands", ITEMS, HEADER, batch="batch-7")
    assert info.value.endpoint == "Product/ImportOnhands" and info.value.batch == "batch-7"
    assert server.paths().count("Product/ImportOnhands") == 1


def test_outcome_unknown_carries_the_body_by_default(client: ConnectClient, server: FakeConnect) -> None:
    server.fault("Product/ImportOnhands", httpx.ReadTimeout("timed out"))
    with pytest.raises(OutcomeUnknown) as info:
        client.import_items("onhands", ITEMS, HEADER)
    assert orjson.loads(info.value.batch) == ITEMS


def test_a_restart_is_not_resent_either(client: ConnectClient, server: FakeConnect) -> None:
    job = client.import_items("onhands", ITEMS, HEADER).job_id
    server.fault("Job/Restart", httpx.ReadTimeout("timed out"))
    with pytest.raises(OutcomeUnknown):
        client.restart_job(job)


def test_gets_are_retried_after_timeouts(client: ConnectClient, server: FakeConnect) -> None:
    job_id = client.import_items("onhands", ITEMS, HEADER).job_id
    server.fault("Job/Get", httpx.ReadTimeout("slow"), httpx.Response(502))
    assert client.get_job(job_id).job_id == job_id


def test_429_after_every_retry_is_rate_limited(client: ConnectClient, server: FakeConnect) -> None:
    server.fault("Job/List", *[httpx.Response(429, headers={"Retry-After": "1"})] * 9)
    with pytest.raises(RateLimited) as info:
        client.list_jobs()
    assert info.value.status == 429


def test_no_connection_at_all(make_client: Callable[..., ConnectClient], server: FakeConnect) -> None:
    client = make_client(retry=RetryPolicy(attempts=2))
    server.fault("token", httpx.ConnectError("refused"), httpx.ConnectError("refused"))
    with pytest.raises(ConnectAPIError, match=r"no answer from connect\.test"):
        client.get_job(1)
    server.fault("token", httpx.ConnectError("refused"), httpx.ConnectError("refused"))
    assert client.ping() is False


def test_the_job_api(client: ConnectClient, server: FakeConnect) -> None:
    job_id = client.import_items("onhands", ITEMS, HEADER).job_id
    job = client.get_job(job_id)
    assert isinstance(job, Job) and job.status is JobStatus.Succeeded and job.totals == 1
    assert job.run_time is not None and job.run_time.total_seconds() == 5
    assert [j.job_id for j in client.list_jobs()] == [job_id]
    log = client.job_log(job_id)
    assert [e.severity for e in log] == [1, 3] and log[1].imported_row == "X1"
    assert client.restart_job(job_id).job_id == job_id + 1
    assert client.ping() is True
    assert server.requests[-1].url.path.endswith("/4.0/Job/Ping")


def test_job_prefix_with_api(
    make_client: Callable[..., ConnectClient], profile: Profile, server: FakeConnect
) -> None:
    legacy = Profile(
        profile.name,
        profile.base_url,
        "client-1",
        "stage",
        job_prefix="api/Job/",
        client_secret=profile.client_secret,
    )
    server.fault("api/Job/Get", httpx.Response(200, json={"JobId": 3, "StatusId": 6}))
    assert make_client(profile=legacy).get_job(3).status is JobStatus.Queued
    assert server.requests[-1].url == "https://connect.test/commerce/connect/4.0/api/Job/Get?id=3"


def test_application_id_header(
    make_client: Callable[..., ConnectClient], profile: Profile, server: FakeConnect
) -> None:
    with_app = Profile(
        profile.name,
        profile.base_url,
        "client-1",
        "stage",
        application_id="1234",
        client_secret=profile.client_secret,
    )
    make_client(profile=with_app).ping()
    assert server.requests[-1].headers["application-id"] == "1234"


def test_wait_for_job_polls_until_succeeded(
    client: ConnectClient, server: FakeConnect, clock: FakeClock
) -> None:
    server.polls_to_finish = 4
    job_id = client.import_items("onhands", ITEMS, HEADER).job_id
    job = client.wait_for_job(job_id, timeout=60, poll_interval=2)
    assert job.succeeded and server.paths().count("Job/Get") == 4
    assert clock.sleeps[-3:] == [2, 2, 2]


def test_wait_for_job_failed_carries_the_log_tail(client: ConnectClient, server: FakeConnect) -> None:
    job_id = client.import_items("onhands", ITEMS, HEADER).job_id
    server.outcomes[job_id] = 4
    with pytest.raises(JobFailed, match=r"ended ValidationFailed.*PartNo X1 unknown") as info:
        client.wait_for_job(job_id, timeout=60, poll_interval=1)
    assert info.value.job.job_id == job_id
    assert [e.message for e in info.value.log_tail] == ["started", "PartNo X1 unknown"]


def test_wait_for_job_times_out(client: ConnectClient, server: FakeConnect, clock: FakeClock) -> None:
    server.polls_to_finish = 10**6
    job_id = client.import_items("onhands", ITEMS, HEADER).job_id
    start = clock.now
    with pytest.raises(JobTimeout, match="not finished after 30 s") as info:
        client.wait_for_job(job_id, timeout=30, poll_interval=7)
    assert info.value.job.status is JobStatus.Queued
    assert clock.now - start == pytest.approx(30, abs=1)


def test_wait_for_jobs_uses_one_list_per_round(client: ConnectClient, server: FakeConnect) -> None:
    server.polls_to_finish = 3
    ids = [client.import_items("onhands", ITEMS, HEADER).job_id for _ in range(6)]
    server.hidden = {ids[-1]}  # Job/List no longer shows this one
    jobs = client.wait_for_jobs(ids, timeout=60, poll_interval=1)
    assert list(jobs) == ids and all(j.succeeded for j in jobs.values())
    assert server.paths().count("Job/List") == 3
    assert server.paths().count("Job/Get") == 3  # only for the hidden job


def test_wait_for_jobs_returns_failures_or_raises(client: ConnectClient, server: FakeConnect) -> None:
    ids = [client.import_items("onhands", ITEMS, HEADER).job_id for _ in range(3)]
    server.outcomes[ids[1]] = 3
    jobs = client.wait_for_jobs(ids, timeout=10, poll_interval=1)
    assert [j.status for j in jobs.values()] == [JobStatus.Succeeded, JobStatus.Failed, JobStatus.Succeeded]
    with pytest.raises(JobFailed, match=f"job {ids[1]} ended Failed"):
        client.wait_for_jobs(ids, timeout=10, poll_interval=1, raise_on_failure=True)


@pytest.mark.parametrize(
    "url", ["http://connect.example.com", "http://10.0.0.5:8080", "ftp://connect.example.com"]
)
def test_plain_http_to_a_remote_host_is_refused_before_any_call(url: str) -> None:
    calls: list[httpx.Request] = []
    profile = Profile("p", url, "c", "stage", client_secret=Secret(SECRET))
    with pytest.raises(ConfigError, match=r"refusing .* Connect must be reached over https://"):
        ConnectClient(profile, transport=httpx.MockTransport(calls.append))  # type: ignore[arg-type]
    assert calls == []


@pytest.mark.parametrize("url", ["http://127.0.0.1:8765", "http://localhost:1", "http://[::1]:80"])
def test_plain_http_to_loopback_is_allowed(url: str, clock: FakeClock) -> None:
    server = FakeConnect(clock)
    profile = Profile("p", url, "c", "stage", client_secret=Secret(SECRET))
    with ConnectClient(profile, transport=httpx.MockTransport(server), clock=clock) as client:
        assert client.ping()


def test_an_unreadable_ca_bundle_is_a_config_error(profile: Profile, tmp_path: Path) -> None:
    broken = Profile(
        "p", profile.base_url, "c", "stage", client_secret=Secret(SECRET), ca_bundle=tmp_path / "missing.pem"
    )
    with pytest.raises(ConfigError, match="cannot read CA bundle"):
        ConnectClient(broken)


def test_repr_shows_profile_and_url_only(client: ConnectClient, profile: Profile) -> None:
    client.ping()
    assert repr(client) == "ConnectClient(profile='unit', base_url='https://connect.test')"
    shown = Profile("p", "https://user:pw@connect.test", "c", "stage", client_secret=Secret(SECRET))
    assert "pw" not in repr(ConnectClient(shown))


def test_logs_one_line_per_call_and_never_a_secret(
    client: ConnectClient, server: FakeConnect, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    job_id = client.import_items("onhands", ITEMS, HEADER).job_id
    server.fault("Job/Get", httpx.Response(503, headers={"Retry-After": "1"}))
    client.get_job(job_id)
    server.tokens.clear()
    client.ping()
    lines = [r.getMessage() for r in caplog.records if r.name == "toolkit.connect"]
    assert f"POST Product/ImportOnhands -> 200 attempt 1 in 0 ms job {job_id}" in lines
    assert f"GET Job/Get -> 200 attempt 2 in 1000 ms job {job_id}" in lines
    assert any("Job/Get: 503 on attempt 1" in line for line in lines)
    text = caplog.text + "\n".join(lines)
    assert SECRET not in text and TOKEN_MARK not in text


def test_no_secret_or_token_in_any_error(client: ConnectClient, server: FakeConnect) -> None:
    client.ping()
    token = next(iter(server.tokens))

    def echo(request: httpx.Request) -> httpx.Response:  # a server that echoes what it got
        return httpx.Response(400, text=f"bad request with {request.headers['Authorization']}")

    server.fault("Job/Get", echo)
    with pytest.raises(ConnectAPIError) as info:
        client.get_job(1)
    assert token not in str(info.value) and token not in str(info.value.server_message)
    assert "Bearer ***" in str(info.value)
    server.fault("token", httpx.Response(400, json={"error": "invalid_client"}))
    server.tokens.clear()
    with pytest.raises(AuthError) as auth:
        client.get_job(1)
    assert SECRET not in str(auth.value) and SECRET not in repr(auth.value)

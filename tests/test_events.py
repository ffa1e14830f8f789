"""Issue 18, acceptance 4: the JobCompletedEvent receiver over real HTTP(S), and its settings."""

from __future__ import annotations

import sqlite3
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from toolkit.cli import main
from toolkit.config import Secret, settings_from
from toolkit.errors import ConfigError
from toolkit.events import SECRET_HEADER, check_address, serve
from toolkit.ledger import Ledger

pytestmark = pytest.mark.slow

SECRET = "receiver-test-secret-0c41d9e7"
EVENT = {"ClientId": "shop", "ApplicationId": None, "JobId": 41, "StatusId": 2}


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger(tmp_path / "ledger.sqlite") as opened:
        yield opened


@pytest.fixture
def url(ledger: Ledger) -> Iterator[str]:
    with serve(ledger, profile="stage", secret=Secret(SECRET)) as receiver:
        yield receiver.url


def test_the_secret_in_the_path_or_the_header_is_required(url: str, ledger: Ledger) -> None:
    assert httpx.post(f"{url}/events/{SECRET}x", json=EVENT).status_code == 404
    assert httpx.post(f"{url}/events/", json=EVENT).status_code == 404
    assert httpx.post(f"{url}/events", json=EVENT).status_code == 401
    assert httpx.post(f"{url}/events", json=EVENT, headers={SECRET_HEADER: "wrong"}).status_code == 401
    assert httpx.get(f"{url}/events/{SECRET}").status_code == 405
    assert ledger.job_events_for([41], profile="stage") == {}
    assert httpx.post(f"{url}/events", json=EVENT, headers={SECRET_HEADER: SECRET}).status_code == 200
    assert httpx.post(f"{url}/events/{SECRET}", json=EVENT).json() == {"recorded": True, "repeated": True}
    assert [r.deliveries for r in ledger.job_events_for([41], profile="stage")[41]] == [2]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"not json", 400),
        (b"[]", 422),
        (b'{"ClientId": "shop", "JobId": 41, "StatusId": 6}', 422),
        (b'{"ClientId": "shop", "JobId": "x", "StatusId": 2}', 422),
        (b'{"ClientId": "shop", "StatusId": 3}', 422),
    ],
)
def test_a_body_that_is_not_a_job_completed_event_is_refused(
    url: str, ledger: Ledger, body: bytes, status: int
) -> None:
    answer = httpx.post(f"{url}/events/{SECRET}", content=body)
    assert answer.status_code == status, answer.text
    assert ledger.job_event_ids(profile="stage") == set()


def test_a_later_status_for_the_same_job_is_kept_beside_the_first(url: str, ledger: Ledger) -> None:
    for status in (2, 3, 2):
        assert httpx.post(f"{url}/events/{SECRET}", json={**EVENT, "StatusId": status}).status_code == 200
    records = ledger.job_events_for([41], profile="stage")[41]
    assert [(r.status, r.deliveries) for r in records] == [(2, 2), (3, 1)]


def test_an_event_that_cannot_be_recorded_gets_503_and_the_sandbox_retries_it(
    tmp_path: Path, ledger: Ledger, sandbox_clean: Any
) -> None:
    """The ledger's table is replaced by a view (a write fails): 503; once repaired, the retry lands."""
    broken = sqlite3.connect(ledger.path)
    broken.executescript(
        "ALTER TABLE job_events RENAME TO kept; CREATE VIEW job_events AS SELECT * FROM kept;"
    )
    with serve(ledger, profile="sandbox", secret=Secret(SECRET)) as receiver:
        assert httpx.post(f"{receiver.url}/events/{SECRET}", json=EVENT).status_code == 503
        sandbox_clean.subscribe(f"{receiver.url}/events/{SECRET}")
        try:
            job_id = _run_one_job(sandbox_clean)
            _wait_for(lambda: sandbox_clean.stats()["events"]["retried"] >= 1)
            assert ledger.job_event_ids(profile="sandbox") == set()
            broken.executescript("DROP VIEW job_events; ALTER TABLE kept RENAME TO job_events;")
            _wait_for(lambda: job_id in ledger.job_event_ids(profile="sandbox"))
        finally:
            sandbox_clean.subscribe()
            broken.close()
    assert sandbox_clean.stats()["events"]["delivered"] == 1


def test_https_with_a_certificate(tmp_path: Path, ledger: Ledger) -> None:
    from toolkit.sandbox.tls import write_certificates

    certs = write_certificates(tmp_path / "tls")
    with serve(
        ledger, profile="stage", secret=Secret(SECRET), tls_cert=certs.certfile, tls_key=certs.keyfile
    ) as receiver:
        assert receiver.url.startswith("https://")
        answer = httpx.post(
            f"{receiver.url}/events/{SECRET}",
            json=EVENT,
            verify=ssl.create_default_context(cafile=certs.ca_bundle),
        )
    assert answer.status_code == 200


def test_plain_http_on_a_non_loopback_address_is_refused(ledger: Ledger) -> None:
    refused = pytest.raises(ConfigError, match=r"'0\.0\.0\.0': expected HTTPS")
    with refused, serve(ledger, profile="stage", secret=Secret(SECRET), host="0.0.0.0"):
        pass  # pragma: no cover
    check_address("0.0.0.0", tls=False, behind_proxy=True)  # a reverse proxy terminates HTTPS
    check_address("::1", tls=False, behind_proxy=False)


def test_the_cli_refuses_plain_http_off_loopback_and_a_missing_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = tmp_path / "norce.toml"
    settings.write_text(
        '[profiles.stage]\nbase_url = "https://shop.example"\nclient_id = "c"\nscope = "stage"\n'
        "[profiles.stage.events]\ngrace_seconds = 30\n",
        encoding="utf-8",
    )
    assert main(["events", "--settings", str(settings)]) == 2
    assert "set NORCE_STAGE_EVENTS_SECRET" in capsys.readouterr().err
    monkeypatch.setenv("NORCE_STAGE_EVENTS_SECRET", SECRET)
    assert main(["events", "--settings", str(settings), "--host", "0.0.0.0"]) == 2
    err = capsys.readouterr().err
    assert "expected HTTPS" in err and SECRET not in err


def test_event_settings_are_read_per_profile() -> None:
    data = {
        "profiles": {
            "stage": {
                "base_url": "https://shop.example",
                "client_id": "c",
                "scope": "stage",
                "events": {"secret_env": "HOOK", "grace_seconds": 5, "fetch_counts": False},
            }
        }
    }
    events = settings_from(data, environ={"HOOK": SECRET}).profile("stage").events
    assert events is not None and events.secret == Secret(SECRET) and events.grace_seconds == 5.0
    assert not events.fetch_counts and SECRET not in repr(events)
    data["profiles"]["stage"]["events"] = {"grace": 5}
    with pytest.raises(ConfigError, match="'grace': unknown key; known: check_seconds"):
        settings_from(data)


def _run_one_job(sandbox: Any) -> int:
    from toolkit.connect.client import ConnectClient

    with ConnectClient(sandbox.profile()) as client:
        response = client.import_items(
            "onhands",
            [{"PartNo": "A1", "WarehouseCode": "W1", "LocationCode": "L1", "OnhandValue": 3}],
            _onhand_header(),
        )
    sandbox.wait_idle()
    return int(response.job_id)


def _onhand_header() -> dict[str, Any]:
    return {"AccountId": 10000, "SkuOnhandFieldsThatAreSet": ["OnhandValue"], "FullFile": False}


def _wait_for(condition: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)

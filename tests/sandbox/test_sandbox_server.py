"""serve / run_server: loopback only, state that survives a restart, the CLI, clean shutdown."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from toolkit.errors import ConfigError
from toolkit.sandbox import serve

pytestmark = pytest.mark.slow
HEADER = {"CompanyFieldsThatAreSet": ["Name"]}
KEY = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"  # Company.ApplicationKey, required by the contract


def company(code: str, **members: Any) -> dict[str, Any]:
    return {"Code": code, "ApplicationKey": KEY, **members}


def test_state_file_survives_a_restart(tmp_path: Path, make_api: Any) -> None:
    state = tmp_path / "sandbox.sqlite"
    with serve(state=state, client_secret="one") as first:
        api = make_api(first)
        job = api.run("companies", [company("C1", Name="Acme")], api.header(**HEADER))
        pending = api.post_import("companies", [company("C2", Name="Later")], api.header(**HEADER))
        first.configure(job_delay=30)  # the second job is still queued when the server stops
    with serve(state=state, client_secret="two") as second:
        api = make_api(second)
        assert api.job(job["JobId"])["StatusId"] == 2
        assert api.wait(int(pending.json()["JobId"]))["StatusId"] == 2  # resumed after the restart
        assert api.items("companies") == [company("C1", Name="Acme"), company("C2", Name="Later")]
        again = api.run("companies", [company("C3")], api.header(**HEADER))
        assert again["JobId"] > int(pending.json()["JobId"])


def test_in_memory_state_is_gone_after_a_restart(make_api: Any) -> None:
    with serve() as first:
        api = make_api(first)
        api.run("companies", [company("C1", Name="Acme")], api.header(**HEADER))
    with serve() as second:
        assert make_api(second).items("companies") == []


def test_refuses_a_non_loopback_host() -> None:
    with pytest.raises(ConfigError, match="not a loopback address"), serve(host="0.0.0.0"):
        pass


def test_server_object_profile_environ_and_clean_stop() -> None:
    before = set(threading.enumerate())
    with serve(tls=True, client_secret="hunter22") as server:
        assert "hunter22" not in repr(server)
        profile = server.profile()
        assert (profile.base_url, profile.scope, profile.client_secret.reveal()) == (
            server.base_url,
            "sandbox",
            "hunter22",
        )
        assert profile.ca_bundle == server.ca_bundle and server.ca_bundle.is_file()
        env = server.environ()
        assert env == {
            "NORCE_SANDBOX_BASE_URL": server.base_url,
            "NORCE_SANDBOX_CLIENT_SECRET": "hunter22",
            "NORCE_SANDBOX_CA_BUNDLE": str(server.ca_bundle),
        }
        assert server.profile("stage", rate_limit_per_minute=30).rate_limit_per_minute == 30
        ca = server.ca_bundle
    assert not ca.exists()
    assert not [t for t in set(threading.enumerate()) - before if t.name.startswith("sandbox-")]


def test_generated_secret_when_none_is_given() -> None:
    with serve() as server:
        assert len(server.client_secret) >= 24


def _cli(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "toolkit.cli", "sandbox", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, **env},
    )


def test_cli_prints_the_base_url_first_and_takes_the_secret_from_the_environment() -> None:
    proc = _cli("--tls", env={"NORCE_SANDBOX_CLIENT_SECRET": "from-env"})
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        ca = proc.stdout.readline().strip().removeprefix("CA bundle: ")
        assert url.startswith("https://127.0.0.1:") and Path(ca).is_file()
        import ssl

        with httpx.Client(verify=ssl.create_default_context(cafile=ca)) as http:
            r = http.post(
                url + "/identity/1.0/connect/token",
                data={
                    "client_id": "sandbox",
                    "client_secret": "from-env",
                    "grant_type": "client_credentials",
                },
            )
        assert r.status_code == 200
    finally:
        proc.terminate()
        proc.communicate(timeout=20)


def test_cli_refuses_a_remote_host() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "toolkit.cli", "sandbox", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert r.returncode == 2 and "not a loopback address" in r.stderr

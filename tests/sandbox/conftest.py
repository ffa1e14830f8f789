"""A tiny plain-httpx client for the sandbox tests (they must not depend on toolkit.connect)."""

from __future__ import annotations

import functools
import ssl
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import orjson
import pytest

from toolkit.entities import ENTITIES
from toolkit.sandbox import SandboxServer

CONNECT = "/commerce/connect/4.0/"
TOKEN = "/identity/1.0/connect/token"


@functools.cache
def _context(cafile: str | None) -> ssl.SSLContext:
    """One SSL context per CA file: building one per client costs ~0.2 s."""
    return ssl.create_default_context(cafile=cafile)


class Api:
    """Token, imports, jobs and read-back over real HTTP(S)."""

    def __init__(self, server: SandboxServer, *, timeout: float = 10.0) -> None:
        verify = _context(str(server.ca_bundle) if server.ca_bundle else None)
        self.server = server
        self.http = httpx.Client(base_url=server.base_url, verify=verify, timeout=timeout)
        self._token: str | None = None

    def close(self) -> None:
        self.http.close()

    def token_response(self, **form: str) -> httpx.Response:
        data = {
            "client_id": self.server.client_id,
            "client_secret": self.server.client_secret,
            "grant_type": "client_credentials",
            "scope": "sandbox",
            **form,
        }
        return self.http.post(TOKEN, data=data)

    def token(self) -> str:
        if self._token is None:
            r = self.token_response()
            assert r.status_code == 200, r.text
            self._token = r.json()["access_token"]
        return self._token

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token()}"}

    def post_import(
        self,
        entity: str,
        items: Any,
        header: dict[str, Any] | str | None = None,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        **kw: Any,
    ) -> httpx.Response:
        hdrs = {**self.auth(), **(headers or {})}
        if header is not None:
            text = header if isinstance(header, str) else orjson.dumps(header).decode()
            hdrs["X-StormConnect-Header"] = text
        content = body if body is not None else orjson.dumps(items)
        return self.http.post(CONNECT + ENTITIES[entity].endpoint, content=content, headers=hdrs, **kw)

    def run(self, entity: str, items: list[dict[str, Any]], header: dict[str, Any]) -> dict[str, Any]:
        """Import, wait for the job to finish, return its JobDto."""
        r = self.post_import(entity, items, header)
        assert r.status_code == 200, r.text
        return self.wait(int(r.json()["JobId"]))

    def wait(self, job_id: int, timeout: float = 20.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if job["IsFinished"] or time.monotonic() > deadline:
                return job
            time.sleep(0.02)

    def job(self, job_id: int, prefix: str = "Job/") -> dict[str, Any]:
        r = self.http.get(f"{CONNECT}{prefix}Get", params={"id": job_id}, headers=self.auth())
        assert r.status_code == 200, r.text
        return r.json()

    def log(self, job_id: int) -> list[dict[str, Any]]:
        return self.http.get(f"{CONNECT}Job/GetLog", params={"id": job_id}, headers=self.auth()).json()

    def restart(self, job_id: int) -> httpx.Response:
        return self.http.post(f"{CONNECT}Job/Restart", params={"id": job_id}, headers=self.auth())

    def items(self, entity: str) -> list[dict[str, Any]]:
        r = self.http.get(f"/_sandbox/items/{entity}")
        assert r.status_code == 200, r.text
        return r.json()

    def admin(self, path: str, body: dict[str, Any] | None = None) -> Any:
        r = self.http.post(f"/_sandbox/{path}", json=body or {})
        assert r.status_code == 200, r.text
        return r.json()

    def lenient(self) -> None:
        """Turn the contract check off until the next reset, for a test that sends what Connect
        accepts but ignores (a member not listed, a list without its parent flag)."""
        self.admin("settings", {"contract": "off"})

    @staticmethod
    def header(**fields: Any) -> dict[str, Any]:
        """A header with AccountId 10000 and the given members."""
        return {"AccountId": 10000, **fields}

    def create_skus(self, *part_nos: str, code: str = "P1") -> None:
        """Create SKUs (one product, one variant each) so onhands and prices can refer to them."""
        product = {
            "Code": code,
            "ManufacturerCode": "ACME",
            "Variants": [
                {"ManufacturerPartNo": f"MPN-{p}", "Skus": [{"PartNo": p, "Status": 1}]} for p in part_nos
            ],
        }
        job = self.run(
            "products",
            [product],
            self.header(
                ProductFieldsThatAreSet=["Variants"],
                VariantFieldsThatAreSet=["Skus"],
                SkuFieldsThatAreSet=["Status"],
            ),
        )
        assert job["StatusId"] == 2, job


@pytest.fixture
def api(sandbox_clean: SandboxServer) -> Iterator[Api]:
    """A client of the reset session sandbox; the request limit is lifted (polling jobs on a busy
    machine would exceed 60 a minute), test_sandbox_limits.py sets it back."""
    sandbox_clean.configure(rate_limit=100_000)
    client = Api(sandbox_clean)
    yield client
    client.close()


@pytest.fixture
def make_api() -> Iterator[Callable[[SandboxServer], Api]]:
    """A factory of Api clients for other servers (TLS, file state); closed after the test."""
    made: list[Api] = []

    def make(server: SandboxServer) -> Api:
        made.append(Api(server))
        return made[-1]

    yield make
    for client in made:
        client.close()

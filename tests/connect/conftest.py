"""Fixtures for the client tests: a fake Connect, a fake clock, a profile, a client factory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from connect_fakes import SECRET, FakeClock, FakeConnect

from toolkit.config import Profile, Secret
from toolkit.connect import ConnectClient, forget_tokens


@pytest.fixture(autouse=True)
def fresh_tokens() -> Iterator[None]:
    forget_tokens()
    yield
    forget_tokens()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def server(clock: FakeClock) -> FakeConnect:
    return FakeConnect(clock)


@pytest.fixture
def profile() -> Profile:
    return Profile("unit", "https://connect.test", "client-1", "stage", client_secret=Secret(SECRET))


@pytest.fixture
def make_client(
    profile: Profile, server: FakeConnect, clock: FakeClock
) -> Iterator[Callable[..., ConnectClient]]:
    made: list[ConnectClient] = []

    def make(*, profile: Profile = profile, **kw: Any) -> ConnectClient:
        kw.setdefault("transport", httpx.MockTransport(server))
        client = ConnectClient(profile, clock=clock, sleep=clock.sleep, **kw)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client(make_client: Callable[..., ConnectClient]) -> ConnectClient:
    return make_client()

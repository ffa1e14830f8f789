"""Shared fixtures: a clean environment for every test; sandbox servers shared per session."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


def pytest_ignore_collect(collection_path: Path) -> bool | None:
    """conftest files hold no doctests: collected as modules, two of them would both be "conftest"
    (``pytest tests/connect tests/sandbox`` then failed with an import file mismatch)."""
    return True if collection_path.name == "conftest.py" else None


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No NORCE_* variable of the developer's shell leaks into a test."""
    for name in list(os.environ):
        if name.startswith("NORCE_"):
            monkeypatch.delenv(name)
    yield


# --- sandbox servers, shared per session (toolkit.sandbox) --------------------------------------
@pytest.fixture(scope="session")
def sandbox() -> Iterator[Any]:
    """One plain-HTTP sandbox for the whole session (a random client secret: ``sandbox.client_secret``).

    Use ``sandbox_clean`` instead when a test needs an empty catalog and default settings.
    ``sandbox.profile()`` gives a config.Profile pointing at it, ``sandbox.environ()`` the
    NORCE_SANDBOX_* variables.
    """
    from toolkit.sandbox import serve

    with serve(client_secret=secrets.token_hex(16)) as server:
        yield server


@pytest.fixture
def sandbox_clean(sandbox: Any) -> Any:
    """The session sandbox, reset: empty catalog and jobs, default limits, no faults, clock at now."""
    sandbox.reset()
    return sandbox


@pytest.fixture(scope="session")
def tls_sandbox() -> Iterator[Any]:
    """One HTTPS sandbox for the session; ``tls_sandbox.ca_bundle`` is the CA file to trust."""
    from toolkit.sandbox import serve

    with serve(tls=True, client_secret=secrets.token_hex(16)) as server:
        yield server

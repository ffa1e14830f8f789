"""Shared fixtures: a clean environment for every test; sandbox servers shared per session."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No NORCE_* variable of the developer's shell leaks into a test."""
    for name in list(os.environ):
        if name.startswith("NORCE_"):
            monkeypatch.delenv(name)
    yield

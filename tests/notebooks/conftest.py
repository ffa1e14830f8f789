"""Fixtures for the notebook tests: a tiny workspace, JupyterLab and headless Chromium.

JupyterLab follows /work/shared/recipes/jupyterlab-browser-test.md: one server per session on a free
loopback port with a random token, settings/workspace/runtime dirs inside tmp, shut down over its API.
Its kernels inherit the server's environment, so the NORCE_SANDBOX_* variables of the session sandbox
(tests/conftest.py) are handed to the server process, never written into a notebook.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from nb_workspace import ROOT, parameterized_copy, write_workspace

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A fresh norce.toml (returned) with tiny sources beside it."""
    return write_workspace(tmp_path)


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install it (apt-get install -y chromium) to run browser tests")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    return CHROMIUM


@dataclass(frozen=True)
class Lab:
    """A running JupyterLab: its URL, token and root directory (the workspace)."""

    base_url: str
    token: str
    root: Path
    log: Path

    def url(self, notebook: str) -> str:
        return f"{self.base_url}/lab/tree/{notebook}?token={self.token}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _lab_settings(settings_dir: Path) -> None:
    overrides = {
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
            "fetchNews": "false",
            "checkForUpdates": False,
        },
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    }
    for rel, value in overrides.items():
        path = settings_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value), encoding="utf-8")


def _wait_ready(proc: subprocess.Popen[bytes], base: str, token: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"jupyter lab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base}/api/status", params={"token": token}, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"jupyter lab did not answer within 60 s:\n{log.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen[bytes], base: str, token: str) -> None:
    try:
        httpx.post(f"{base}/api/shutdown", headers={"Authorization": f"token {token}"}, timeout=10)
        proc.wait(timeout=20)
    except (httpx.HTTPError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)


@pytest.fixture(scope="session")
def lab_server() -> Any:
    """`serve_lab`, for test modules (``from conftest import`` would find another directory's conftest)."""
    return serve_lab


@contextmanager
def serve_lab(root: Path, tmp: Path, environ: dict[str, str]) -> Iterator[Lab]:
    """JupyterLab serving ``root``, its kernels given ``environ`` (NORCE_* of the caller's choosing)."""
    _lab_settings(tmp / "settings")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NORCE_")}
    env.update(environ)
    env.update(
        JUPYTERLAB_SETTINGS_DIR=str(tmp / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"),
        JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
    )
    port, token = _free_port(), secrets.token_hex(16)
    cmd = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True",
        "--LabApp.extension_manager=readonly",
    ]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    log = tmp / "lab.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(proc, base, token, log)
        yield Lab(base, token, root, log)
    finally:
        _stop(proc, base, token)


@pytest.fixture(scope="session")
def lab(chromium: Path, sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """JupyterLab over a workspace (norce.toml + sources), its kernels pointed at the sandbox."""
    tmp = tmp_path_factory.mktemp("lab")
    root = tmp / "work"
    write_workspace(root)
    with serve_lab(root, tmp, sandbox.environ()) as server:
        yield server


@pytest.fixture(scope="session")
def browser(chromium: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh page; on failure a screenshot lands in test-artifacts/."""
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    pg = context.new_page()
    yield pg
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"{request.node.name}-last.png"))
    context.close()


@pytest.fixture
def notebook_copy() -> Any:
    """``notebook_copy(name, directory, **parameters)``: a parameterized copy of a notebook."""
    return parameterized_copy


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """test-artifacts/ (git-ignored): screenshots and executed notebooks worth a look."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS

"""Run the sandbox: ``serve`` in a background thread (tests, notebooks, the demo) or ``run_server``
in the foreground (``norce-feeds sandbox``). Both bind loopback only unless told otherwise.
"""

from __future__ import annotations

import secrets
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import uvicorn
from starlette.types import Scope

from toolkit.config import Profile, Secret, is_loopback, secret_variable
from toolkit.errors import ConfigError
from toolkit.sandbox.app import build_app
from toolkit.sandbox.service import Options, Sandbox
from toolkit.sandbox.tls import Certificates, write_certificates

_STARTUP_SECONDS = 20.0


class SandboxServer:
    """A running sandbox: where it is, how to log in, and direct access to its admin side."""

    def __init__(
        self, *, base_url: str, ca_bundle: Path | None, client_id: str, client_secret: str, sandbox: Sandbox
    ) -> None:
        self.base_url, self.ca_bundle, self.client_id = base_url, ca_bundle, client_id
        self.client_secret = client_secret
        self._sandbox = sandbox

    def __repr__(self) -> str:
        return (
            f"SandboxServer(base_url={self.base_url!r}, ca_bundle={self.ca_bundle!r}, "
            f"client_id={self.client_id!r}, client_secret='**********')"
        )

    def profile(self, name: str = "sandbox", **overrides: Any) -> Profile:
        """A settings profile pointing at this sandbox (scope ``sandbox``)."""
        values: dict[str, Any] = {
            "name": name,
            "base_url": self.base_url,
            "client_id": self.client_id,
            "scope": "sandbox",
            "client_secret": Secret(self.client_secret),
            "ca_bundle": self.ca_bundle,
            "source": "sandbox",
        }
        return Profile(**{**values, **overrides})

    def environ(self, profile: str = "sandbox") -> dict[str, str]:
        """``NORCE_<PROFILE>_BASE_URL`` / ``_CLIENT_SECRET`` (and ``_CA_BUNDLE`` with TLS)."""
        prefix = secret_variable(profile).removesuffix("CLIENT_SECRET")
        env = {prefix + "BASE_URL": self.base_url, prefix + "CLIENT_SECRET": self.client_secret}
        if self.ca_bundle is not None:
            env[prefix + "CA_BUNDLE"] = str(self.ca_bundle)
        return env

    def items(self, entity: str) -> list[dict[str, Any]]:
        """The stored items of ``entity`` (as ``GET /_sandbox/items/{entity}``)."""
        return self._sandbox.store.items(entity)

    def stats(self) -> dict[str, Any]:
        return self._sandbox.stats()

    def reset(self) -> None:
        """Empty catalog and jobs; restore settings, faults, limits and the clock."""
        self._sandbox.reset()

    def set_faults(self, **spec: Any) -> dict[str, Any]:
        """Inject faults (see :mod:`toolkit.sandbox.faults`); no arguments turns them off."""
        return self._sandbox.set_faults(spec)

    def subscribe(self, *urls: str) -> None:
        """Send JobCompletedEvents to ``urls`` from now on (none: stop sending); reset restores the
        subscribers ``serve`` was given. Their faults are the ``event_*`` ones of ``set_faults``."""
        self._sandbox.events.subscribe(urls)

    def configure(self, **settings: Any) -> dict[str, Any]:
        """Change rate_limit, rate_window, token_ttl, job_delay, token_per_minute, token_burst or the
        jobs' run time (run_time_scale, run_time_base, run_time_per_item, run_time_jitter, run_time_seed)."""
        return self._sandbox.configure(settings)

    def advance_clock(self, seconds: float) -> str:
        """Move the sandbox's clock forward (token expiry, restart window, rate windows)."""
        return self._sandbox.advance_clock(seconds)

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Block until no job is queued or running."""
        deadline = time.monotonic() + timeout
        while True:
            with self._sandbox.store.lock:
                pending = self._sandbox.store.jobs.next_pending()
            if pending is None:
                return
            if time.monotonic() > deadline:
                msg = f"sandbox job {pending.id} still pending after {timeout:g} s"
                raise TimeoutError(msg)
            time.sleep(0.01)


def _check_host(host: str, allow_remote: bool) -> None:
    if not allow_remote and not is_loopback(host):
        msg = f"sandbox host {host!r} is not a loopback address; pass allow_remote=True (--allow-remote)"
        raise ConfigError(msg)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto IPPROTO_TCP, so that asyncio sets TCP_NODELAY on accepted connections (else each
    # keep-alive answer waits ~40 ms for a delayed ACK)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        msg = (
            f"sandbox: cannot listen on {host}:{port} ({exc.strerror or exc}); is another sandbox "
            "running there? choose another --port"
        )
        raise ConfigError(msg) from None
    return sock


def _dropper(server: uvicorn.Server) -> Callable[[Scope], bool]:
    def drop(scope: Scope) -> bool:
        client = tuple(scope.get("client") or ())
        for conn in list(server.server_state.connections):
            if getattr(conn, "client", None) == client:
                conn.transport.abort()
                return True
        return False

    return drop


def _url(host: str, sock: socket.socket, tls: bool) -> str:
    port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    return f"{'https' if tls else 'http'}://{shown}:{port}"


def _prepare(
    stack: ExitStack, *, tls: bool, state: str | Path | None, host: str, port: int, allow_remote: bool
) -> tuple[socket.socket, Certificates | None]:
    _check_host(host, allow_remote)
    certs = None
    if tls:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="norce-sandbox-tls-")))
        certs = write_certificates(directory)
    sock = _bind(host, port)
    stack.callback(sock.close)
    return sock, certs


def _server(sandbox: Sandbox, certs: Certificates | None, *, quiet: bool) -> uvicorn.Server:
    app = build_app(sandbox)
    config = uvicorn.Config(
        app,
        http="h11",
        loop="asyncio",
        ws="none",
        lifespan="on",
        timeout_graceful_shutdown=1,
        log_level="warning" if quiet else "info",
        access_log=not quiet,
        ssl_certfile=str(certs.certfile) if certs else None,
        ssl_keyfile=str(certs.keyfile) if certs else None,
    )
    server = uvicorn.Server(config)
    app.state.drop_connection = _dropper(server)
    return server


@contextmanager
def serve(
    *,
    tls: bool = False,
    rate_limit: int = 60,
    rate_window: float = 60.0,
    token_ttl: int = 3600,
    job_delay: float = 0.0,
    client_id: str = "sandbox",
    client_secret: str | None = None,
    state: str | Path | None = None,
    seed: int | None = None,
    faults: Mapping[str, Any] | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    allow_remote: bool = False,
    subscribers: Sequence[str] = (),
    subscriber_ca: Path | None = None,
) -> Iterator[SandboxServer]:
    """Run a sandbox on a free loopback port in a background thread, for tests and notebooks.

    Examples
    --------
    >>> import httpx
    >>> with serve(client_secret="s3cret") as sandbox:
    ...     r = httpx.post(sandbox.base_url + "/identity/1.0/connect/token", data={
    ...         "client_id": "sandbox", "client_secret": "s3cret", "grant_type": "client_credentials"})
    >>> r.status_code, r.json()["token_type"]
    (200, 'Bearer')
    >>> sandbox  # doctest: +ELLIPSIS
    SandboxServer(base_url='http://127.0.0.1:...', ..., client_secret='**********')
    """
    secret = client_secret or secrets.token_urlsafe(24)
    with ExitStack() as stack:
        sock, certs = _prepare(stack, tls=tls, state=state, host=host, port=port, allow_remote=allow_remote)
        sandbox = Sandbox(
            client_id=client_id,
            client_secret=secret,
            state=state,
            options=Options(rate_limit, rate_window, token_ttl, job_delay),
            faults=_fault_spec(faults, seed),
            subscribers=subscribers,
            subscriber_ca=subscriber_ca,
        )
        server = _server(sandbox, certs, quiet=True)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="sandbox-http", daemon=True
        )
        thread.start()
        stack.callback(_stop, server, thread)
        _wait_started(server, thread)
        yield SandboxServer(
            base_url=_url(host, sock, tls),
            ca_bundle=certs.ca_bundle if certs else None,
            client_id=client_id,
            client_secret=secret,
            sandbox=sandbox,
        )


def _fault_spec(faults: Mapping[str, Any] | None, seed: int | None) -> dict[str, Any]:
    return {**(faults or {}), **({"seed": seed} if seed is not None else {})}


def _wait_started(server: uvicorn.Server, thread: threading.Thread) -> None:
    deadline = time.monotonic() + _STARTUP_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            msg = "the sandbox server did not start"
            raise RuntimeError(msg)
        time.sleep(0.005)


def _stop(server: uvicorn.Server, thread: threading.Thread) -> None:
    server.should_exit = True
    thread.join(timeout=30)


def run_server(
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    state: str | Path | None = None,
    tls: bool = False,
    rate_limit: int = 60,
    token_ttl: int = 3600,
    job_delay: float = 0.0,
    client_id: str = "sandbox",
    client_secret: str | None = None,
    allow_remote: bool = False,
    rate_window: float = 60.0,
    seed: int | None = None,
    echo: Callable[[str], None] | None = None,
    subscribers: Sequence[str] = (),
    subscriber_ca: Path | None = None,
) -> None:
    """Serve a sandbox in the foreground until interrupted (``norce-feeds sandbox``).

    Prints the base URL on the first line, the CA bundle path on the second (with ``tls``). Without
    ``client_secret`` a random one is generated and shown once on the terminal.
    """
    echo = echo or _print
    with ExitStack() as stack:
        sock, certs = _prepare(stack, tls=tls, state=state, host=host, port=port, allow_remote=allow_remote)
        secret = client_secret or secrets.token_urlsafe(24)
        sandbox = Sandbox(
            client_id=client_id,
            client_secret=secret,
            state=state,
            options=Options(rate_limit, rate_window, token_ttl, job_delay),
            faults={"seed": seed} if seed is not None else None,
            subscribers=subscribers,
            subscriber_ca=subscriber_ca,
        )
        echo(_url(host, sock, tls))
        if certs:
            echo(f"CA bundle: {certs.ca_bundle}")
        if client_secret is None:
            echo(f"client id: {client_id}; generated client secret (shown once): {secret}")
        _server(sandbox, certs, quiet=False).run(sockets=[sock])


def _print(line: str) -> None:
    print(line, flush=True)

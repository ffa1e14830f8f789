"""The JobCompletedEvent receiver: a small webhook that writes Norce's job events into the ledger.

``POST /events/<secret>`` (or ``POST /events`` with the header ``X-Events-Secret: <secret>``) takes
``{ClientId, ApplicationId?, JobId, StatusId}`` and answers **200** only once the event is durably in
the ledger (:mod:`toolkit.job_events`), **503** when it could not be recorded (Norce then retries),
**422** for a body that is not such an event (StatusId other than 2, 3 or 4), **400** for one that is
not JSON. A wrong or missing secret is **404** in the path and **401** in the header; the secret is
compared in constant time and never logged: the receiver takes it out of the request's path before
anything else sees the request (uvicorn's access log, also turned off, would print the path), and it
logs only the job, its status and the profile.

Plain HTTP is served on a loopback address only; anywhere else the receiver wants ``tls_cert`` and
``tls_key``, or ``behind_proxy`` when a reverse proxy terminates HTTPS in front of it (README, "Job
events").

Examples
--------
>>> import httpx, pathlib, tempfile
>>> from toolkit.config import Secret
>>> from toolkit.ledger import Ledger
>>> ledger = Ledger(pathlib.Path(tempfile.mkdtemp()) / "ledger.sqlite")
>>> with serve(ledger, profile="stage", secret=Secret("s3cret-path-part")) as receiver:
...     ok = httpx.post(receiver.url + "/events/s3cret-path-part",
...                     json={"ClientId": "shop", "JobId": 7, "StatusId": 2})
...     wrong = httpx.post(receiver.url + "/events/guess", json={"JobId": 7, "StatusId": 2})
>>> ok.status_code, wrong.status_code, sorted(ledger.job_events_for([7], profile="stage"))
(200, 404, [7])
>>> ledger.close()
"""

from __future__ import annotations

import hmac
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.config import LOGGING_CONFIG

from toolkit.config import Profile, Secret, Settings, is_loopback
from toolkit.errors import ConfigError, ToolkitError
from toolkit.job_events import FINAL_STATUSES, JobEvent
from toolkit.ledger import Ledger

__all__ = [
    "SECRET_HEADER",
    "Receiver",
    "build_receiver",
    "check_address",
    "parse_event",
    "run_receiver",
    "serve",
]

SECRET_HEADER = "X-Events-Secret"
logger = logging.getLogger("toolkit.events")


@dataclass(frozen=True)
class Receiver:
    """A running receiver: its base URL (events go to ``url + "/events/<secret>"``)."""

    url: str


def parse_event(body: bytes) -> JobEvent:
    """A JobCompletedEvent from a request body; ValueError says what is wrong with it.

    >>> parse_event(b'{"ClientId": "shop", "JobId": "12", "StatusId": 3}')
    JobEvent(client_id='shop', application_id=None, job_id=12, status=3)
    >>> parse_event(b'{"ClientId": "shop", "JobId": 12, "StatusId": 6}')
    Traceback (most recent call last):
    ...
    ValueError: JobCompletedEvent: expected StatusId 2, 3 or 4, found 6
    """
    data = orjson.loads(body)
    if not isinstance(data, dict):
        msg = f"JobCompletedEvent: expected a JSON object, found {type(data).__name__}"
        raise ValueError(msg)
    members = {str(k).lower(): v for k, v in data.items()}
    job_id, status = _integer(members, "JobId"), _integer(members, "StatusId")
    if status not in FINAL_STATUSES:
        msg = f"JobCompletedEvent: expected StatusId 2, 3 or 4, found {status}"
        raise ValueError(msg)
    application = members.get("applicationid")
    return JobEvent(
        client_id=str(members.get("clientid") or ""),
        application_id=None if application is None else str(application),
        job_id=job_id,
        status=status,
    )


def _integer(members: dict[str, Any], name: str) -> int:
    value = members.get(name.lower())
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip().isdigit():
        msg = f"JobCompletedEvent: expected {name} as an integer, found {value!r}"
        raise ValueError(msg)
    return int(value)


def build_receiver(ledger: Ledger, *, profile: str, secret: Secret) -> Starlette:
    """The receiver's ASGI app: events for ``profile``, authenticated by ``secret``, into ``ledger``.

    >>> import pathlib, tempfile
    >>> app = build_receiver(Ledger(pathlib.Path(tempfile.mkdtemp()) / "l.sqlite"), profile="p",
    ...                      secret=Secret("x" * 16))
    >>> [r.path for r in app.routes]
    ['/events/{secret}', '/events']
    """
    expected = secret.reveal().encode()
    if len(expected) < 16:
        msg = f"events secret of profile {profile!r}: expected at least 16 characters, found {len(expected)}"
        raise ConfigError(msg)

    async def in_path(request: Request) -> JSONResponse:
        if not hmac.compare_digest(str(request.scope.get(_STASH, "")).encode(), expected):
            return JSONResponse({"error": "not found"}, status_code=404)
        return await _receive(request, ledger, profile)

    async def in_header(request: Request) -> JSONResponse:
        if not hmac.compare_digest(request.headers.get(SECRET_HEADER, "").encode(), expected):
            return JSONResponse({"error": f"missing or wrong {SECRET_HEADER}"}, status_code=401)
        return await _receive(request, ledger, profile)

    return Starlette(
        routes=[
            Route("/events/{secret}", in_path, methods=["POST"]),
            Route("/events", in_header, methods=["POST"]),
        ],
        middleware=[Middleware(_HidePathSecret)],
    )


_STASH = "toolkit.events_secret"
_HIDDEN = "/events/********"


class _HidePathSecret:
    """Moves the secret out of the request's path before anything can log it.

    uvicorn's access log (and any error log) prints ``scope["path"]``; this rewrites the scope in place
    to ``/events/********`` and keeps the secret under a private key for the endpoint to compare, so
    the secret stays out of the logs even when an application's logging setup turns the access log on.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and path.startswith("/events/"):
            scope[_STASH] = path.removeprefix("/events/")
            scope["path"], scope["raw_path"] = _HIDDEN, _HIDDEN.encode()
        await self.app(scope, receive, send)


async def _receive(request: Request, ledger: Ledger, profile: str) -> JSONResponse:
    try:
        event = parse_event(await request.body())
    except orjson.JSONDecodeError:
        return JSONResponse({"error": "the body is not JSON"}, status_code=400)
    except ValueError as exc:
        return JSONResponse({"error": str(exc)}, status_code=422)
    try:
        first = await run_in_threadpool(ledger.record_job_event, event, profile=profile)
    except (ToolkitError, OSError) as exc:
        logger.error("job %s: event not recorded (%s); answering 503", event.job_id, type(exc).__name__)
        return JSONResponse({"error": "the event could not be recorded; send it again"}, status_code=503)
    logger.info(
        "job %s: %s event (status %s) for profile %s",
        event.job_id,
        "recorded" if first else "repeated",
        event.status,
        profile,
    )
    return JSONResponse({"recorded": True, "repeated": not first})


def check_address(host: str, *, tls: bool, behind_proxy: bool) -> None:
    """Refuse plain HTTP on a non-loopback address unless a reverse proxy terminates HTTPS.

    >>> check_address("127.0.0.1", tls=False, behind_proxy=False)
    >>> check_address("0.0.0.0", tls=False, behind_proxy=False)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    toolkit.errors.ConfigError: events receiver on '0.0.0.0': expected HTTPS ... found plain HTTP
    """
    if tls or behind_proxy or is_loopback(host):
        return
    msg = (
        f"events receiver on {host!r}: expected HTTPS (--tls-cert and --tls-key) or --behind-proxy "
        "for a non-loopback address, found plain HTTP"
    )
    raise ConfigError(msg)


def uvicorn_config(
    app: Starlette,
    *,
    tls_cert: Path | None,
    tls_key: Path | None,
    behind_proxy: bool,
    level: str,
    own_logging: bool = True,
) -> uvicorn.Config:
    """uvicorn settings for the receiver: no access log (it would print the secret in the path)."""
    if (tls_cert is None) != (tls_key is None):
        msg = "events receiver: expected both --tls-cert and --tls-key, found only one"
        raise ConfigError(msg)
    return uvicorn.Config(
        app,
        http="h11",
        loop="asyncio",
        ws="none",
        lifespan="off",
        access_log=False,
        log_level=level,
        proxy_headers=behind_proxy,
        server_header=False,
        ssl_certfile=str(tls_cert) if tls_cert else None,
        ssl_keyfile=str(tls_key) if tls_key else None,
        timeout_graceful_shutdown=1,
        log_config=LOGGING_CONFIG if own_logging else None,
    )


@contextmanager
def serve(
    ledger: Ledger,
    *,
    profile: str,
    secret: Secret,
    host: str = "127.0.0.1",
    port: int = 0,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    behind_proxy: bool = False,
    log_level: str = "warning",
) -> Iterator[Receiver]:
    """Run the receiver in a background thread (tests, notebooks); ``port=0`` takes a free one.

    uvicorn's loggers are left to the application's logging setup (they propagate to the root).
    """
    check_address(host, tls=tls_cert is not None, behind_proxy=behind_proxy)
    app = build_receiver(ledger, profile=profile, secret=secret)
    config = uvicorn_config(
        app, tls_cert=tls_cert, tls_key=tls_key, behind_proxy=behind_proxy, level=log_level, own_logging=False
    )
    server = uvicorn.Server(config)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="events-http", daemon=True)
    thread.start()
    try:
        _wait_started(server, thread)
        scheme = "https" if tls_cert else "http"
        shown = f"[{host}]" if ":" in host else host
        yield Receiver(url=f"{scheme}://{shown}:{sock.getsockname()[1]}")
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def _wait_started(server: uvicorn.Server, thread: threading.Thread) -> None:
    deadline = time.monotonic() + 20.0
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            msg = "the events receiver did not start"
            raise RuntimeError(msg)
        time.sleep(0.005)


def run_receiver(
    settings: Settings,
    *,
    profile: str | None = None,
    host: str = "127.0.0.1",
    port: int = 8780,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    behind_proxy: bool = False,
    echo: Callable[[str], None] = print,
) -> None:
    """Serve the receiver of ``profile`` in the foreground until interrupted (``norce-feeds events``).

    ``profile`` may be left out when one profile only has ``[profiles.P.events]``. The first line
    printed says where events go, with the secret's variable in place of the secret.
    """
    chosen = events_profile(settings, profile)
    assert chosen.events is not None
    events = chosen.events
    if events.secret is None:
        msg = (
            f"{chosen.source} [profiles.{chosen.name}.events]: no events secret; set {events.secret_env} "
            "in the environment or in .env (at least 16 characters)"
        )
        raise ConfigError(msg)
    check_address(host, tls=tls_cert is not None, behind_proxy=behind_proxy)
    from toolkit.workspace import Workspace

    with Workspace.of(settings).ledger() as ledger:
        app = build_receiver(ledger, profile=chosen.name, secret=events.secret)
        config = uvicorn_config(
            app, tls_cert=tls_cert, tls_key=tls_key, behind_proxy=behind_proxy, level="info"
        )
        scheme = "https" if tls_cert or behind_proxy else "http"
        echo(f"events of profile {chosen.name}: POST {scheme}://{host}:{port}/events/${events.secret_env}")
        config.host, config.port = host, port
        uvicorn.Server(config).run()


def events_profile(settings: Settings, name: str | None) -> Profile:
    """The profile named ``name`` (which must have events), else the only one with events."""
    if name is not None:
        chosen = settings.profile(name)
        if chosen.events is None:
            msg = f"{chosen.source} [profiles.{name}]: expected an [profiles.{name}.events] table, found none"
            raise ConfigError(msg)
        return chosen
    with_events = [p for p in settings.profiles.values() if p.events is not None]
    if len(with_events) != 1:
        names = ", ".join(p.name for p in with_events) or "none"
        msg = f"{settings.path}: expected one profile with [profiles.P.events] or --profile, found {names}"
        raise ConfigError(msg)
    return with_events[0]

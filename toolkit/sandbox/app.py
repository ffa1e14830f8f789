"""The sandbox's HTTP face: Starlette routes over a :class:`~toolkit.sandbox.service.Sandbox`.

Connect paths (``/commerce/connect/4.0/...``) are rate limited per client, may get injected faults,
and need a bearer token. ``/identity/1.0/connect/token`` has its own limit. ``/_sandbox/...`` is
the admin side (read-back, stats, reset, faults, clock, settings): no token, no limit, no faults.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from toolkit.entities import ENTITIES
from toolkit.sandbox.faults import Area, Decision
from toolkit.sandbox.service import Sandbox
from toolkit.sandbox.spec import RequestError

CONNECT = "/commerce/connect/4.0/"
TOKEN = "/identity/1.0/connect/token"
Endpoint = Callable[[Request], Awaitable[Response]]


class DropConnection(Exception):
    """Close the client's connection without an answer (an injected fault)."""


class _JSON(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def _sandbox(request: Request) -> Sandbox:
    sandbox: Sandbox = request.app.state.sandbox
    return sandbox


async def _gate(request: Request, area: Area) -> tuple[Decision, str]:
    """Rate limit, injected faults, then the bearer token; returns the faults left to apply."""
    sb = _sandbox(request)
    auth = request.headers.get("authorization")
    address = request.client.host if request.client else "unknown"
    sb.check_rate(sb.client_of(auth) or f"address {address}")
    decision = sb.faults.draw(area, request.url.path)
    if decision.drop:
        await request.body()  # take the whole request first: a close with unread bytes is a reset instead
        raise DropConnection
    if decision.status == 500:
        raise RequestError(500, "injected fault: internal server error")
    if decision.status == 429:
        raise RequestError(
            429, "injected fault: too many requests", headers={"Retry-After": str(decision.retry_after)}
        )
    return decision, sb.authenticate(auth)


async def _after(decision: Decision) -> None:
    if decision.latency:
        await asyncio.sleep(decision.latency)
    if decision.drop_after:
        raise DropConnection


def _import_endpoint(entity: str) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        decision, _ = await _gate(request, "imports")
        body = await request.body()
        header = request.headers.get("x-stormconnect-header")
        result = await run_in_threadpool(
            _sandbox(request).submit, entity, header, body, fail_job=decision.fail_job
        )
        await _after(decision)
        return _JSON(result)

    endpoint.__name__ = f"import_{entity}"
    return endpoint


def _job_id(request: Request) -> int:
    raw = request.query_params.get("id")
    try:
        return int(raw or "")
    except ValueError:
        raise RequestError(400, f"query parameter id must be an integer job id, found {raw!r}") from None


def _job_endpoint(action: Callable[[Sandbox, Request], Any]) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        decision, _ = await _gate(request, "jobs")
        result = await run_in_threadpool(action, _sandbox(request), request)
        await _after(decision)
        return _JSON(result)

    return endpoint


_JOB_ACTIONS: dict[str, tuple[str, Callable[[Sandbox, Request], Any]]] = {
    "Get": ("GET", lambda sb, r: sb.job(_job_id(r))),
    "List": ("GET", lambda sb, r: sb.jobs()),
    "GetLog": ("GET", lambda sb, r: sb.job_log(_job_id(r))),
    "Restart": ("POST", lambda sb, r: sb.restart(_job_id(r))),
    "Ping": ("GET", lambda sb, r: True),
}


async def token(request: Request) -> Response:
    sb = _sandbox(request)
    if sb.faults.draw("token", request.url.path).status == 500:
        return _JSON({"error": "server_error"}, status_code=500)
    fields = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
    address = request.client.host if request.client else "unknown"
    try:
        return _JSON(sb.issue_token(fields, address))
    except RequestError as exc:
        code = exc.message if exc.status in (400, 401) else "too_many_requests"
        return _JSON(
            {"error": code, "error_description": exc.message}, status_code=exc.status, headers=exc.headers
        )


async def items(request: Request) -> Response:
    entity = request.path_params["entity"]
    if entity not in ENTITIES:
        raise RequestError(404, f"unknown entity {entity!r}; expected one of {', '.join(sorted(ENTITIES))}")
    return _JSON(await run_in_threadpool(_sandbox(request).store.items, entity))


async def _json_body(request: Request) -> dict[str, Any]:
    body = await request.body()
    try:
        data = orjson.loads(body) if body.strip() else {}
    except orjson.JSONDecodeError as exc:
        raise RequestError(400, f"body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise RequestError(400, "body must be a JSON object")
    return data


async def stats(request: Request) -> Response:
    return _JSON(await run_in_threadpool(_sandbox(request).stats))


async def reset(request: Request) -> Response:
    await run_in_threadpool(_sandbox(request).reset)
    return _JSON({"reset": True})


async def faults(request: Request) -> Response:
    sb = _sandbox(request)
    if request.method == "GET":
        return _JSON(sb.faults.describe())
    return _JSON(sb.set_faults(await _json_body(request)))


async def clock(request: Request) -> Response:
    sb = _sandbox(request)
    if request.method == "POST":
        seconds = (await _json_body(request)).get("advance", 0)
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
            raise RequestError(400, f"advance must be a number of seconds, found {seconds!r}")
        return _JSON({"now": sb.advance_clock(float(seconds))})
    return _JSON({"now": sb.advance_clock(0.0)})


async def settings(request: Request) -> Response:
    sb = _sandbox(request)
    body = await _json_body(request) if request.method == "POST" else {}
    return _JSON(sb.configure(body))


async def _request_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestError)
    body = exc.body if exc.body is not None else {"StatusCode": exc.status, "Message": exc.message}
    return _JSON(body, status_code=exc.status, headers=exc.headers)


class _Edge:
    """Counts answers by path and status, and turns DropConnection into a closed connection."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sandbox: Sandbox = scope["app"].state.sandbox
        started = False

        async def send_and_count(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":  # count before the client can see it
                started = True
                sandbox.record(scope["method"], scope["path"], str(message["status"]))
            await send(message)

        try:
            await self.app(scope, receive, send_and_count)
        except DropConnection:
            sandbox.record(scope["method"], scope["path"], "dropped")
            drop = getattr(scope["app"].state, "drop_connection", None)
            if drop is None or not drop(scope):
                raise
            await asyncio.sleep(0.05)  # let the server see the connection is gone
        except BaseException:
            if not started:
                sandbox.record(scope["method"], scope["path"], "500")
            raise


def _routes() -> list[Route]:
    routes = [Route(TOKEN, token, methods=["POST"])]
    routes += [
        Route(CONNECT + e.endpoint, _import_endpoint(name), methods=["POST"]) for name, e in ENTITIES.items()
    ]
    for prefix in ("Job/", "api/Job/"):
        routes += [
            Route(CONNECT + prefix + action, _job_endpoint(fn), methods=[method])
            for action, (method, fn) in _JOB_ACTIONS.items()
        ]
    routes += [
        Route("/_sandbox/items/{entity}", items, methods=["GET"]),
        Route("/_sandbox/stats", stats, methods=["GET"]),
        Route("/_sandbox/reset", reset, methods=["POST"]),
        Route("/_sandbox/faults", faults, methods=["GET", "POST"]),
        Route("/_sandbox/clock", clock, methods=["GET", "POST"]),
        Route("/_sandbox/settings", settings, methods=["GET", "POST"]),
    ]
    return routes


def build_app(sandbox: Sandbox) -> Starlette:
    """The ASGI app of a sandbox; its lifespan starts the job worker and closes the store.

    Examples
    --------
    >>> from toolkit.sandbox.service import Sandbox
    >>> app = build_app(Sandbox(client_id="sandbox", client_secret="s"))
    >>> sorted(r.path.removeprefix(CONNECT) for r in app.routes if "Job/Get" in r.path)
    ['Job/Get', 'Job/GetLog', 'api/Job/Get', 'api/Job/GetLog']
    >>> app.state.sandbox.close()
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        sandbox.start()
        try:
            yield
        finally:
            await run_in_threadpool(sandbox.close)

    app = Starlette(
        routes=_routes(),
        middleware=[Middleware(_Edge)],
        exception_handlers={RequestError: _request_error},
        lifespan=lifespan,
    )
    app.state.sandbox = sandbox
    return app

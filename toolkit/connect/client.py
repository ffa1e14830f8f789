"""``ConnectClient``: the nine imports and the Job API over one ``httpx.Client``.

The client only builds requests and reads answers. Credentials are an ``httpx.Auth`` flow
(``auth.py``); the request budget and the retries are transports wrapping the real one
(``transport.py``, ``budget.py``), so a test passes ``httpx.MockTransport`` and a fake clock and runs
instantly.

Examples
--------
>>> import httpx
>>> from toolkit.config import Profile, Secret
>>> def connect(request):
...     if request.url.path.endswith("/token"):
...         return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
...     return httpx.Response(200, json={"JobId": "17", "StatusCode": "OK"})
>>> profile = Profile("doc", "https://shop.test", "me", "stage", client_secret=Secret("s"))
>>> with ConnectClient(profile, transport=httpx.MockTransport(connect)) as client:
...     client.import_items("onhands", [{"PartNo": "A1"}], {"AccountId": 10000}).job_id
17
"""

from __future__ import annotations

import ipaddress
import logging
import ssl
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
import orjson

from toolkit.config import Profile
from toolkit.connect.auth import ClientCredentials
from toolkit.connect.budget import Clock, RequestBudget, Sleep, WaitHook, shared_budget
from toolkit.connect.models import ImportResponse, Job, JobLogEntry
from toolkit.connect.transport import (
    RateLimitTransport,
    RetryPolicy,
    RetryTransport,
    is_tls_failure,
    outcome_unknown,
)
from toolkit.connect.wire import body, header_json, rows, server_message
from toolkit.entities import Entity, get_entity
from toolkit.errors import (
    AuthError,
    ConfigError,
    ConnectAPIError,
    JobFailed,
    JobTimeout,
    OutcomeUnknown,
    RateLimited,
)

__all__ = ["ConnectClient"]

logger = logging.getLogger("toolkit.connect")
T = TypeVar("T")
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_PING_RETRY = RetryPolicy(attempts=2, total=10.0)
LOG_TAIL = 20


class ConnectClient:
    """A client for one Connect profile; use it as a context manager.

    Parameters
    ----------
    profile
        Where to connect and with which credentials (``toolkit.config.Profile``).
    transport
        The transport that does the I/O; ``httpx.MockTransport`` in tests. Default: HTTPS with the
        profile's CA bundle, or the system's trust store.
    clock, sleep
        Wall-clock seconds and sleeping, for the budget, backoff, token expiry and job polling.
    state_dir
        Where the request budget file lives, shared by every process using the same directory;
        None shares the budget within this process only.
    retry
        Attempts, total time and backoff (``RetryPolicy``).
    budget
        The request budget; default ``rate_limit_per_minute`` of the profile per 60 s.
    on_wait
        Told ``(seconds, why)`` before the client waits: for the budget (``"rate limit 60/min"``),
        a ``Retry-After`` (``"429 Retry-After"``) or a retry's backoff (``"retry after 503"``). Also
        the ``on_wait`` attribute, which a submission sets while it runs.
    """

    def __init__(
        self,
        profile: Profile,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
        state_dir: str | Path | None = None,
        retry: RetryPolicy | None = None,
        budget: RequestBudget | None = None,
        on_wait: WaitHook | None = None,
    ) -> None:
        _refuse_plain_http(profile)
        self.profile = profile
        self._clock: Clock = clock or time.time
        self._sleep: Sleep = sleep or time.sleep
        self.budget = budget or shared_budget(
            f"{profile.name}@{_host(profile.connect_url)}",
            profile.rate_limit_per_minute,
            state_dir=state_dir,
            clock=clock,
            sleep=sleep,
        )
        token_path = urlsplit(profile.token_url).path
        token_budget = shared_budget(
            f"token@{_host(profile.token_url)}", 3, burst=20, state_dir=state_dir, clock=clock, sleep=sleep
        )
        self._auth = ClientCredentials(
            profile.token_url, profile.client_id, profile.require_secret(), profile.scope, clock=self._clock
        )
        real = transport or httpx.HTTPTransport(verify=_verify(profile))
        self._limited = RateLimitTransport(real, self.budget, extra={token_path: token_budget})
        self._transport = RetryTransport(
            self._limited, retry, idempotent_paths={token_path}, clock=self._clock, sleep=self._sleep
        )
        self.on_wait = on_wait
        headers = {"Accept": "application/json"}
        if profile.application_id:
            headers["application-id"] = profile.application_id
        self._http = httpx.Client(
            base_url=profile.connect_url,
            transport=self._transport,
            auth=self._auth,
            headers=headers,
            timeout=httpx.Timeout(profile.timeout_seconds),
        )

    @property
    def on_wait(self) -> WaitHook | None:
        """Told ``(seconds, why)`` before every wait of this client (None: nobody is told)."""
        return self._transport.on_wait

    @on_wait.setter
    def on_wait(self, hook: WaitHook | None) -> None:
        self._limited.on_wait = self._transport.on_wait = hook

    def __repr__(self) -> str:
        return f"ConnectClient(profile={self.profile.name!r}, base_url={_public(self.profile.base_url)!r})"

    def __enter__(self) -> ConnectClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    # --- imports -----------------------------------------------------------------------------------
    def import_items(
        self,
        entity: str | Entity,
        items_or_body: Iterable[Mapping[str, Any]] | bytes,
        header: Mapping[str, Any],
        *,
        batch: object = None,
    ) -> ImportResponse:
        """POST one batch to the entity's import endpoint; Connect answers with a job id.

        Parameters
        ----------
        entity
            An entity name of ``toolkit.entities.ENTITIES`` (``"onhands"``) or the ``Entity``.
        items_or_body
            The items as dicts, or an already serialized JSON array (bytes).
        header
            The ``X-StormConnect-Header`` object (``AccountId``, ``...FieldsThatAreSet``).
        batch
            What ``OutcomeUnknown.batch`` carries if no answer comes back; the body when None.

        Raises
        ------
        OutcomeUnknown
            The batch was sent but no answer came: look for its job in Job/List before resending.
        ConnectAPIError
            Connect refused the batch (4xx, with the server's message) or kept failing.
        """
        spec = entity if isinstance(entity, Entity) else get_entity(entity)
        content = body(items_or_body)
        headers = {"Content-Type": "application/json", "X-StormConnect-Header": header_json(header)}
        response = self._send(
            "POST",
            spec.endpoint,
            content=content,
            headers=headers,
            unsafe=True,
            batch=content if batch is None else batch,
        )
        return self._parse(response, spec.endpoint, ImportResponse.from_json, job=True)

    # --- jobs --------------------------------------------------------------------------------------
    def get_job(self, job_id: int) -> Job:
        """The job's current state (Job/Get)."""
        path = self._job_path("Get")
        return self._parse(self._send("GET", path, params={"id": job_id}), path, Job.from_json)

    def list_jobs(self) -> list[Job]:
        """Every job Connect still lists (Job/List: jobs since the last log cleanup)."""
        path = self._job_path("List")
        found = self._parse(self._send("GET", path), path, rows)
        return [Job.from_json(row) for row in found]

    def job_log(self, job_id: int) -> list[JobLogEntry]:
        """The job's log rows (Job/GetLog)."""
        path = self._job_path("GetLog")
        found = self._parse(self._send("GET", path, params={"id": job_id}), path, rows)
        return [JobLogEntry.from_json(row) for row in found]

    def restart_job(self, job_id: int) -> ImportResponse:
        """Run a finished job again (Job/Restart; Succeeded or Failed jobs, within two weeks)."""
        path = self._job_path("Restart")
        response = self._send(
            "POST", path, params={"id": job_id}, content=b"", unsafe=True, batch={"restart": job_id}
        )
        return self._parse(response, path, ImportResponse.from_json, job=True)

    def ping(self) -> bool:
        """True when Connect answers Job/Ping; False when it is down or overloaded.

        Raises ``AuthError`` for refused credentials and ``ConnectAPIError`` for a TLS failure or
        another 4xx (a wrong ``job_prefix``, say): those are settings to fix, not an outage.
        """
        path = self._job_path("Ping")
        try:
            response = self._send("GET", path, extensions={"retry_policy": _PING_RETRY})
        except ConnectAPIError as exc:
            if isinstance(exc, AuthError) or is_tls_failure(exc):
                raise
            return False
        if response.status_code == 429 or response.status_code >= 500:
            return False
        self._check(response, path)
        return True

    def wait_for_job(self, job_id: int, *, timeout: float = 600.0, poll_interval: float = 5.0) -> Job:
        """Poll Job/Get until the job is finished; return it when it succeeded.

        Raises
        ------
        JobFailed
            The job ended Failed or Validation failed; carries the job and the tail of its log.
        JobTimeout
            The job was not finished after ``timeout`` seconds; carries its last state.
        """
        return self.wait_for_jobs(
            [job_id], timeout=timeout, poll_interval=poll_interval, raise_on_failure=True
        )[job_id]

    def wait_for_jobs(
        self,
        job_ids: Iterable[int],
        *,
        timeout: float = 600.0,
        poll_interval: float = 5.0,
        raise_on_failure: bool = False,
        on_poll: Callable[[dict[int, Job]], None] | None = None,
    ) -> dict[int, Job]:
        """Poll many jobs until all are finished, with one Job/List per round while several are pending.

        Jobs that Job/List does not show are asked for with Job/Get. Failed jobs are returned like
        the others (check ``Job.succeeded``); with ``raise_on_failure``, ``JobFailed`` is raised
        instead (for the first failed job, naming all) once every job has finished. ``on_poll``
        receives the jobs known after each round (live statuses for a progress view).

        Raises
        ------
        JobTimeout
            Some job was not finished after ``timeout`` seconds; carries the first one's last state.
        """
        ids = list(dict.fromkeys(int(i) for i in job_ids))
        deadline = self._clock() + timeout
        known: dict[int, Job] = {}
        while True:
            known.update(self._poll([i for i in ids if not _done(known.get(i))]))
            if on_poll is not None:
                on_poll(dict(known))
            pending = [i for i in ids if not _done(known.get(i))]
            remaining = deadline - self._clock()
            if not pending:
                break
            if remaining <= 0:
                raise _timeout(pending, known, timeout)
            self._sleep(min(poll_interval, remaining))
        failed = [known[i] for i in ids if not known[i].succeeded]
        if failed and raise_on_failure:
            raise self._failure(failed)
        return {i: known[i] for i in ids}

    # --- internals ---------------------------------------------------------------------------------
    def _job_path(self, operation: str) -> str:
        return f"{self.profile.job_prefix.strip('/')}/{operation}"

    def _poll(self, pending: list[int]) -> dict[int, Job]:
        listed = {job.job_id: job for job in self.list_jobs()} if len(pending) > 1 else {}
        return {i: listed[i] if i in listed else self.get_job(i) for i in pending}

    def _failure(self, failed: list[Job]) -> JobFailed:
        job = failed[0]
        try:
            tail = self.job_log(job.job_id)[-LOG_TAIL:]
        except ConnectAPIError:
            tail = []
        last = next((e.message for e in reversed(tail) if e.severity >= 3), None)
        others = f" ({len(failed)} failed: {', '.join(str(j.job_id) for j in failed)})"
        msg = (
            f"job {job.job_id} ended {job.status.name}: {job.fail or 0} of {job.totals or 0} "
            f"items failed{others if len(failed) > 1 else ''}"
            + (f"; last error: {self._redact(last)}" if last else "")
        )
        return JobFailed(msg, job=job, log_tail=tail)

    def _send(
        self, method: str, path: str, *, unsafe: bool = False, batch: object = None, **kwargs: Any
    ) -> httpx.Response:
        started = self._clock()
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            _log_call(method, path, type(exc).__name__, None, self._clock() - started, None)
            raise self._transport_error(exc, method, path, unsafe=unsafe, batch=batch) from exc
        response.extensions = {**response.extensions, "started": started}
        if unsafe and outcome_unknown(response, self._transport.policy):
            self._log(response, path, None)
            host, said = _host(self.profile.connect_url), self._redact(server_message(response))
            msg = (
                f"{method} {path} was sent to {host} and a gateway answered {response.status_code} "
                f"({said}); it may have been accepted: look for its job in Job/List before sending "
                "it again"
            )
            raise OutcomeUnknown(msg, endpoint=path, batch=batch)
        return response

    def _parse(
        self, response: httpx.Response, path: str, read: Callable[[Any], T], *, job: bool = False
    ) -> T:
        self._check(response, path)
        try:
            result = read(orjson.loads(response.content))
        except (orjson.JSONDecodeError, ValueError, TypeError) as exc:
            msg = f"{path} answered {response.status_code} with an unexpected body: {exc}"
            raise ConnectAPIError(self._redact(msg), status=response.status_code, endpoint=path) from None
        job_id = getattr(result, "job_id", None) if job else response.request.url.params.get("id")
        self._log(response, path, job_id)
        return result

    def _check(self, response: httpx.Response, path: str) -> None:
        if response.is_success:
            return
        self._log(response, path, response.request.url.params.get("id"))
        status, said = response.status_code, self._redact(server_message(response))
        what = f"{response.request.method} {path} answered {status}"
        if status == 401:
            raise AuthError(
                f"{what} even with a renewed token: {said}", status=status, endpoint=path, server_message=said
            )
        if status == 429:
            raise RateLimited(
                f"{what} after every retry: {said}", status=status, endpoint=path, server_message=said
            )
        raise ConnectAPIError(f"{what}: {said}", status=status, endpoint=path, server_message=said)

    def _transport_error(
        self, exc: httpx.TransportError, method: str, path: str, *, unsafe: bool, batch: object
    ) -> ConnectAPIError:
        host = _host(self.profile.connect_url)
        if is_tls_failure(exc):
            msg = (
                f"TLS verification of {host} failed for {path}: {self._redact(str(exc))}; "
                f"set ca_bundle of profile {self.profile.name!r} if the server uses a private CA"
            )
            return ConnectAPIError(msg, endpoint=path)
        if unsafe and not isinstance(exc, _NOT_SENT):
            msg = (
                f"{method} {path} was sent to {host} but no answer came back ({type(exc).__name__}); "
                "it may have been accepted: look for its job in Job/List before sending it again"
            )
            return OutcomeUnknown(msg, endpoint=path, batch=batch)
        msg = f"{method} {path}: no answer from {host} after retries ({type(exc).__name__}: {exc})"
        return ConnectAPIError(self._redact(msg), endpoint=path)

    def _log(self, response: httpx.Response, path: str, job_id: object) -> None:
        started = response.extensions.get("started", self._clock())
        _log_call(
            response.request.method,
            path,
            response.status_code,
            response.extensions.get("attempts"),
            self._clock() - started,
            job_id,
        )

    def _redact(self, text: str) -> str:
        token = self._auth.token
        return text.replace(token, "***") if token else text


def _log_call(
    method: str, path: str, status: object, attempts: object, seconds: float, job_id: object
) -> None:
    logger.info(
        "%s %s -> %s attempt %s in %.0f ms%s",
        method,
        path,
        status,
        attempts or 1,
        seconds * 1000,
        f" job {job_id}" if job_id is not None else "",
    )


def _done(job: Job | None) -> bool:
    return job is not None and job.is_done


def _timeout(pending: list[int], known: dict[int, Job], timeout: float) -> JobTimeout:
    last = known.get(pending[0])
    state = f" (last status {last.status.name})" if last else ""
    msg = f"{len(pending)} job(s) not finished after {timeout:g} s: {pending[:20]}{state}"
    return JobTimeout(msg, job=last)


def _refuse_plain_http(profile: Profile) -> None:
    for url in (profile.connect_url, profile.token_url):
        parts = urlsplit(url)
        if parts.scheme != "https" and not (parts.scheme == "http" and _is_loopback(parts.hostname or "")):
            msg = (
                f"profile {profile.name!r}: refusing {parts.scheme}:// to {parts.hostname!r}; "
                "Connect must be reached over https:// (plain http only to a loopback sandbox)"
            )
            raise ConfigError(msg)


def _is_loopback(host: str) -> bool:
    """Only ``localhost`` and literal loopback addresses: ``foo.localhost`` goes through DNS."""
    host = host.strip("[]")
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _verify(profile: Profile) -> ssl.SSLContext | bool:
    if profile.ca_bundle is None:
        return True
    try:
        return ssl.create_default_context(cafile=str(profile.ca_bundle))
    except (OSError, ssl.SSLError) as exc:
        msg = f"profile {profile.name!r}: cannot read CA bundle {profile.ca_bundle}: {exc}"
        raise ConfigError(msg) from None


def _host(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)


def _public(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{_host(url)}{parts.path}"

"""The sandbox's behaviour, free of HTTP: tokens, imports, jobs, restarts, limits, faults, stats.

``app.py`` maps requests onto these methods; ``server.py`` runs the app. Refusals raise
``RequestError`` with the HTTP status and a message naming the problem.

Every import is checked against Norce's official contract (:mod:`toolkit.sandbox.contract`, built from
the vendored ``contract.json``, not from ``toolkit.entities``) after its body is parsed and before
anything is prepared. An import with violations is answered **400** with a JobResponse-shaped body
(``StatusCode`` "ValidationFailed", ``ValidationSummary.Messages`` the first 100 "path: message") and
no job is created: Connect documents 400 for a body it cannot deserialize into its C# types, and a
payload bug must fail loudly rather than become a job that writes nothing. ``Options.contract`` "off"
skips the check (``POST /_sandbox/settings {"contract": "off"}``).
"""

from __future__ import annotations

import hmac
import math
import secrets
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal, get_args

import orjson

from toolkit.entities import ENTITIES, JobStatus
from toolkit.sandbox.contract import failed_items, validate_import
from toolkit.sandbox.events import EventSender
from toolkit.sandbox.faults import FaultInjector, parse_faults
from toolkit.sandbox.jobs import FAILED, SUCCEEDED, format_time
from toolkit.sandbox.limits import Clock, SlidingWindow, TokenBucket
from toolkit.sandbox.runtime import RunTimeModel
from toolkit.sandbox.spec import RequestError, parse_header
from toolkit.sandbox.store import Store, prepare_import
from toolkit.sandbox.worker import JobWorker

RESTART_DAYS = 14
_MAX_MESSAGES = 100
ContractMode = Literal["strict", "off"]


@dataclass(frozen=True)
class Options:
    """Run-time settings of a sandbox (``POST /_sandbox/settings`` changes them, reset restores)."""

    rate_limit: int = 60
    rate_window: float = 60.0
    token_ttl: int = 3600
    job_delay: float = 0.0
    token_per_minute: float = 3.0
    token_burst: int = 20
    contract: ContractMode = "strict"
    run_time_scale: float = 0.0  # 0: jobs take no time; see toolkit.sandbox.runtime
    run_time_base: float = 10.0  # seconds a job runs at scale 1, whatever its size
    run_time_per_item: float = 0.01  # seconds an item adds at scale 1
    run_time_jitter: float = 0.25  # run times vary by up to this share, drawn per job from the seed
    run_time_seed: int = 0

    def run_time(self) -> RunTimeModel:
        """The jobs' run-time model these settings describe."""
        return RunTimeModel(
            self.run_time_scale,
            self.run_time_base,
            self.run_time_per_item,
            self.run_time_jitter,
            self.run_time_seed,
        )


class Sandbox:
    """One sandbox: catalog, jobs, worker, tokens, limits and faults. Thread-safe."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        state: str | Path | None = None,
        options: Options | None = None,
        faults: Mapping[str, Any] | None = None,
        subscribers: Sequence[str] = (),
        subscriber_ca: Path | None = None,
    ) -> None:
        self.client_id, self._secret = client_id, client_secret
        self.clock = Clock()
        self.store = Store(state, clock=self.clock.now)
        self._initial = options or Options()
        self._initial_faults = dict(faults or {})
        self.faults = FaultInjector(parse_faults(self._initial_faults))
        self._tokens: dict[str, tuple[str, float]] = {}
        self._stats: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()
        self._apply_options(self._initial)
        self.worker = JobWorker(
            self.store, delay=lambda: self.options.job_delay, run_time=lambda: self.options.run_time()
        )
        self.events = EventSender(
            client_id=client_id, faults=self.faults, subscribers=subscribers, ca_bundle=subscriber_ca
        )
        self.worker.on_done = self._job_done

    def _apply_options(self, options: Options) -> None:
        self.options = options
        self.limiter = SlidingWindow(limit=options.rate_limit, window=options.rate_window, clock=self.clock)
        self.token_limiter = TokenBucket(
            per_minute=options.token_per_minute, burst=options.token_burst, clock=self.clock
        )

    def start(self) -> None:
        self.events.start()
        self.worker.start()

    def close(self) -> None:
        self.worker.stop()
        self.events.stop()
        self.store.close()

    # --- auth and limits -----------------------------------------------------------------------
    def issue_token(self, form: Mapping[str, str], address: str) -> dict[str, Any]:
        """The token endpoint: client credentials in, a bearer token out."""
        _retry(self.token_limiter.hit(address), f"token endpoint: too many requests from {address}")
        if form.get("grant_type") != "client_credentials":
            raise RequestError(400, "unsupported_grant_type")
        given_id, given_secret = form.get("client_id", ""), form.get("client_secret", "")
        id_ok = hmac.compare_digest(given_id.encode(), self.client_id.encode())
        if not (hmac.compare_digest(given_secret.encode(), self._secret.encode()) and id_ok):
            raise RequestError(401, "invalid_client")
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = (self.client_id, self.clock.now() + self.options.token_ttl)
        return {
            "access_token": token,
            "expires_in": self.options.token_ttl,
            "token_type": "Bearer",
            "scope": form.get("scope", ""),
        }

    def client_of(self, authorization: str | None) -> str | None:
        """The client a bearer token belongs to, or None when missing, unknown or expired."""
        scheme, _, token = (authorization or "").partition(" ")
        entry = self._tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        return entry[0] if entry and entry[1] > self.clock.now() else None

    def authenticate(self, authorization: str | None) -> str:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise RequestError(401, "missing bearer token (Authorization: Bearer <access_token>)")
        entry = self._tokens.get(token.strip())
        if entry is None:
            raise RequestError(401, "invalid bearer token: unknown to this sandbox")
        if entry[1] <= self.clock.now():
            raise RequestError(401, "bearer token expired: request a new one from the token endpoint")
        return entry[0]

    def check_rate(self, key: str) -> None:
        _retry(
            self.limiter.hit(key),
            f"rate limit: {self.options.rate_limit} requests per {self.options.rate_window:g} s per client",
        )

    # --- imports and jobs ----------------------------------------------------------------------
    def submit(
        self,
        entity_name: str,
        header_text: str | None,
        body: bytes,
        *,
        fail_job: bool = False,
        restarted_from: int | None = None,
    ) -> dict[str, Any]:
        """Check and queue one import; the JobResponse of the contract."""
        entity = ENTITIES[entity_name]
        header = parse_header(entity, header_text)
        try:
            items = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise RequestError(400, f"body is not valid JSON: {exc}") from None
        if not isinstance(items, list):
            raise RequestError(400, f"body must be a JSON array of {entity.item} items, found {_kind(items)}")
        if self.options.contract == "strict":
            _check_contract(entity.endpoint, entity.item, header_text, items)
        prepared = prepare_import(entity, header, items)
        with self.store.transaction():
            job_id = self.store.jobs.create(
                entity=entity.name,
                endpoint=entity.endpoint,
                header=header_text or "",
                payload=body,
                totals=len(items),
                errors=prepared.errors,
                fail_injected=fail_job,
                restarted_from=restarted_from,
            )
        self.worker.enqueue(job_id, prepared)
        failed = sorted({r for r, _ in prepared.errors})
        return {
            "StatusCode": "Ok" if not failed else "ValidationFailed",
            "Description": f"job {job_id} queued: {len(items)} {entity.item} items",
            "JobId": str(job_id),
            "ValidationSummary": {
                "NrOfItemsInTotal": len(items),
                "NrOfValidationFailures": len(failed),
                "Messages": [m for _, m in prepared.errors[:_MAX_MESSAGES]],
            },
        }

    def job(self, job_id: int) -> dict[str, Any]:
        with self.store.lock:
            record = self.store.jobs.get(job_id)
        if record is None:
            raise RequestError(404, f"job {job_id} not found")
        return record.dto()

    def jobs(self) -> list[dict[str, Any]]:
        with self.store.lock:
            return [r.dto() for r in self.store.jobs.all()]

    def job_log(self, job_id: int) -> list[dict[str, Any]]:
        self.job(job_id)
        with self.store.lock:
            return self.store.jobs.logs(job_id)

    def restart(self, job_id: int, *, fail_job: bool = False) -> dict[str, Any]:
        """Run a finished job's payload again as a new job (status 2 or 3, within 14 days)."""
        with self.store.lock:
            record = self.store.jobs.get(job_id)
        if record is None:
            raise RequestError(404, f"job {job_id} not found")
        if record.status not in (SUCCEEDED, FAILED):
            status = JobStatus(record.status).name
            msg = f"job {job_id} is {status}; only Succeeded or Failed jobs can be restarted"
            raise RequestError(400, msg)
        age = self.clock.now() - record.start
        if age > RESTART_DAYS * 86400:
            raise RequestError(
                400,
                f"job {job_id} started {age / 86400:.1f} days ago; its payload is kept "
                f"{RESTART_DAYS} days, so it can no longer be restarted",
            )
        return self.submit(
            record.entity, record.header, record.payload, fail_job=fail_job, restarted_from=job_id
        )

    def _job_done(self, job_id: int) -> None:
        with self.store.lock:
            job = self.store.jobs.get(job_id)
        if job is not None and job.is_finished:
            self.events.job_finished(job_id, job.status)

    # --- admin ---------------------------------------------------------------------------------
    def record(self, method: str, path: str, status: str) -> None:
        with self._lock:
            self._stats[(f"{method} {path}", status)] += 1

    def stats(self) -> dict[str, Any]:
        with self._lock:
            requests: dict[str, dict[str, int]] = {}
            for (path, status), n in sorted(self._stats.items()):
                requests.setdefault(path, {})[status] = n
        with self.store.lock:
            jobs = self.store.jobs.by_status()
        faults = Counter(f["fault"] for f in self.faults.describe()["injected"])
        return {
            "requests": requests,
            "jobs": jobs,
            "items": self.store.counts(),
            "faults": dict(faults),
            "events": self.events.describe(),
            "clock": format_time(self.clock.now()),
            "settings": asdict(self.options),
        }

    def reset(self) -> None:
        """Empty catalog, jobs and stats; restore settings, faults, limits and the clock."""
        self.store.reset()
        self.worker.forget()
        self.events.reset()
        with self._lock:
            self._stats.clear()
        self.clock.reset()
        self._apply_options(self._initial)
        self.faults.configure(parse_faults(self._initial_faults))

    def set_faults(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        try:
            self.faults.configure(parse_faults(dict(spec)))
        except ValueError as exc:
            raise RequestError(400, str(exc)) from None
        return self.faults.describe()

    def configure(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        """Change run-time settings (rate_limit, rate_window, token_ttl, job_delay, token_*, run_time_*)."""
        known = set(asdict(self.options))
        if set(settings) - known:
            msg = f"unknown setting(s) {sorted(set(settings) - known)}; known: {sorted(known)}"
            raise RequestError(400, msg)
        if settings.get("contract", "strict") not in get_args(ContractMode):
            modes = list(get_args(ContractMode))
            msg = f"setting contract must be one of {modes}, found {settings['contract']!r}"
            raise RequestError(400, msg)
        try:
            self._apply_options(replace(self.options, **settings))
        except TypeError as exc:
            raise RequestError(400, str(exc)) from None
        return asdict(self.options)

    def advance_clock(self, seconds: float) -> str:
        self.clock.advance(seconds)
        return format_time(self.clock.now())


def _check_contract(endpoint: str, item: str, header_text: str | None, items: list[Any]) -> None:
    """Refuse (400, no job) an import that breaks the contract, naming the first violations."""
    violations = validate_import(endpoint, header_text, items)
    if not violations:
        return
    failed = failed_items(violations, len(items))
    description = (
        f"{len(violations)} contract violation(s) in {failed} of {len(items)} {item} items; "
        f"no job was created. First: {violations[0]}"
    )
    summary = {
        "NrOfItemsInTotal": len(items),
        "NrOfValidationFailures": failed,
        "Messages": [str(v) for v in violations[:_MAX_MESSAGES]],
    }
    body: dict[str, object] = {
        "StatusCode": "ValidationFailed",
        "Description": description,
        "ValidationSummary": summary,
    }
    raise RequestError(400, description, body=body)


def _retry(wait: float | None, message: str) -> None:
    if wait is not None:
        seconds = max(1, math.ceil(wait))
        raise RequestError(429, f"{message}; retry after {seconds} s", headers={"Retry-After": str(seconds)})


def _kind(value: object) -> str:
    names = {dict: "an object", str: "a string", type(None): "null", bool: "a boolean"}
    return names.get(type(value), "a number")

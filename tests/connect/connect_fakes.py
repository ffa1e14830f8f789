"""A fake Connect for ``httpx.MockTransport`` and a fake clock, so client tests run instantly."""

from __future__ import annotations

import urllib.parse
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import httpx
import orjson

SECRET = "s3cret-VALUE-never-shown"
TOKEN_MARK = "TOKEN-never-shown"
T0 = 1_700_000_000.0


class FakeClock:
    """Wall-clock seconds that move only when someone sleeps (or the test says so)."""

    def __init__(self, now: float = T0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)

    def advance(self, seconds: float) -> None:
        self.now += seconds


Fault = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


class FakeConnect:
    """A small Connect: token endpoint, the imports, the Job API.

    ``fault(path, ...)`` queues answers (responses, exceptions to raise, callables) that the next
    requests to ``path`` (relative to the Connect base, or "token") get instead of the normal one.
    Jobs finish after ``polls_to_finish`` Job/Get or Job/List looks, with ``outcomes[job_id]``
    (default 2, Succeeded). ``hidden`` job ids are left out of Job/List.
    """

    def __init__(self, clock: FakeClock, *, token_ttl: float = 3600.0) -> None:
        self.clock = clock
        self.token_ttl = token_ttl
        self.requests: list[httpx.Request] = []
        self.tokens: dict[str, float] = {}
        self.faults: dict[str, list[Fault]] = defaultdict(list)
        self.jobs: dict[int, dict[str, Any]] = {}
        self.looks: dict[int, int] = defaultdict(int)
        self.outcomes: dict[int, int] = {}
        self.hidden: set[int] = set()
        self.polls_to_finish = 1
        self.imports: list[tuple[str, bytes, dict[str, Any]]] = []

    def fault(self, path: str, *answers: Fault) -> None:
        self.faults[path].extend(answers)

    def paths(self) -> list[str]:
        return [_name(r) for r in self.requests]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        name = _name(request)
        if self.faults.get(name):
            answer = self.faults[name].pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer(request) if callable(answer) else answer
        if name == "token":
            return self._token(request)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if self.tokens.get(token, 0) <= self.clock():
            return httpx.Response(401, json={"Message": "token expired or unknown"})
        if name.split("/")[0] in ("Product", "Customer", "Supplier"):
            return self._import(request, name)
        return self._job(request, name.rsplit("/", 1)[-1])

    def _token(self, request: httpx.Request) -> httpx.Response:
        form = dict(urllib.parse.parse_qsl(request.content.decode()))
        if form.get("client_secret") != SECRET or form.get("grant_type") != "client_credentials":
            return httpx.Response(400, json={"error": "invalid_client"})
        token = f"{TOKEN_MARK}-{len(self.tokens)}"
        self.tokens[token] = self.clock() + self.token_ttl
        return httpx.Response(
            200, json={"access_token": token, "expires_in": self.token_ttl, "token_type": "Bearer"}
        )

    def _import(self, request: httpx.Request, name: str) -> httpx.Response:
        items = orjson.loads(request.content)
        header = orjson.loads(request.headers["X-StormConnect-Header"])
        self.imports.append((name, request.content, header))
        job_id = self._new_job(len(items))
        return httpx.Response(200, json=_job_response(job_id, len(items)))

    def _new_job(self, totals: int) -> int:
        job_id = 1000 + len(self.jobs) + 1
        self.jobs[job_id] = {
            "JobId": job_id,
            "StatusId": 6,
            "Totals": totals,
            "IsFinished": False,
            "Start": "2024-05-01T10:00:00Z",
            "StorageName": f"job{job_id}.json",
        }
        return job_id

    def _look(self, job_id: int) -> dict[str, Any]:
        self.looks[job_id] += 1
        job = self.jobs[job_id]
        if self.looks[job_id] >= self.polls_to_finish and not job["IsFinished"]:
            status = self.outcomes.get(job_id, 2)
            job.update(
                StatusId=status,
                IsFinished=True,
                Stop="/Date(1714557605000)/",
                RunTime="00:00:05.0000000",
                Fail=0 if status == 2 else job["Totals"],
            )
        return job

    def _job(self, request: httpx.Request, operation: str) -> httpx.Response:
        job_id = int(request.url.params.get("id", 0))
        if operation == "Ping":
            return httpx.Response(200, json=True)
        if operation == "List":
            return httpx.Response(200, json=[self._look(i) for i in self.jobs if i not in self.hidden])
        if job_id not in self.jobs:
            return httpx.Response(404, json={"Message": f"no job {job_id}"})
        if operation == "Get":
            return httpx.Response(200, json=self._look(job_id))
        if operation == "GetLog":
            return httpx.Response(
                200,
                json=[
                    {"SeverityId": 1, "Message": "started", "TimeStamp": "2024-05-01T10:00:00"},
                    {"SeverityId": 3, "Message": "PartNo X1 unknown", "ImportedRow": "X1"},
                ],
            )
        if operation == "Restart":
            return httpx.Response(200, json=_job_response(self._new_job(self.jobs[job_id]["Totals"]), 0))
        return httpx.Response(404, json={"Message": f"no operation {operation}"})


def _name(request: httpx.Request) -> str:
    path = request.url.path
    if path.endswith("/connect/token"):
        return "token"
    return path.split("/4.0/", 1)[-1]


def _job_response(job_id: int, total: int) -> dict[str, Any]:
    return {
        "JobId": str(job_id),
        "StatusCode": "OK",
        "Description": "queued",
        "ValidationSummary": {"NrOfItemsInTotal": total, "NrOfValidationFailures": 0, "Messages": []},
    }

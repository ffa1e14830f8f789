"""Requests a minute the Connect client gets through a sandbox limited to 60 a minute.

Two submitters send small onhand imports as fast as they may for the same time against the same
sandbox (reset between them):

- ``toolkit``: ``ConnectClient`` with its request budget (sliding window, shared file);
- ``naive``: a plain httpx loop that only reacts to 429s (waits ``Retry-After``, sends again).

Reported: accepted imports a minute (a "minute" is the sandbox's window, scaled with ``--quick``),
the 429s the server answered, the ratio of the two submitters, and peak RSS of the process (the
sandbox runs in it too).

Run: ``.venv/bin/python bench/bench_client.py`` (3 windows of 60 s per submitter, about 6 minutes)
or ``--quick`` (3 windows of 10 s each). Results go to ``bench/results/bench_client.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from toolkit.connect import ConnectClient, RequestBudget  # noqa: E402
from toolkit.sandbox import serve  # noqa: E402

HEADER = {"AccountId": 10000, "SkuOnhandFieldsThatAreSet": ["OnhandValue"]}
CONNECT = "/commerce/connect/4.0/"
LIMIT = 60


def _body(items: int) -> bytes:
    return orjson.dumps(
        [
            {"PartNo": f"A{i}", "WarehouseCode": "W1", "LocationCode": "L1", "OnhandValue": i}
            for i in range(items)
        ]
    )


def run_toolkit(sandbox: Any, *, limit: int, window: float, duration: float, body: bytes) -> int:
    """Imports accepted by ConnectClient within ``duration`` seconds."""
    accepted = 0
    budget = RequestBudget(limit, window=window)
    with ConnectClient(sandbox.profile(rate_limit_per_minute=limit), budget=budget) as client:
        end = time.monotonic() + duration
        while True:
            if time.monotonic() >= end:
                return accepted
            client.import_items("onhands", body, HEADER)
            accepted += time.monotonic() <= end


def run_naive(sandbox: Any, *, duration: float, body: bytes) -> int:
    """Imports accepted by a plain httpx loop that learns about the limit from 429s."""
    accepted = 0
    with httpx.Client(base_url=sandbox.base_url, timeout=30) as http:
        token = http.post(
            "/identity/1.0/connect/token",
            data={
                "grant_type": "client_credentials",
                "client_id": sandbox.client_id,
                "client_secret": sandbox.client_secret,
                "scope": "sandbox",
            },
        ).json()["access_token"]
        headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "X-StormConnect-Header": json.dumps(HEADER),
        }
        end = time.monotonic() + duration
        while time.monotonic() < end:
            r = http.post(CONNECT + "Product/ImportOnhands", content=body, headers=headers)
            if r.status_code == 429:
                time.sleep(min(float(r.headers.get("Retry-After", "1")), max(0, end - time.monotonic())))
                continue
            r.raise_for_status()
            accepted += time.monotonic() <= end
    return accepted


def _measure(sandbox: Any, name: str, run: Any, *, window: float, duration: float) -> dict[str, Any]:
    sandbox.reset()
    sandbox.configure(rate_limit=LIMIT, rate_window=window)
    started = time.monotonic()
    accepted = run()
    elapsed = time.monotonic() - started
    stats = sandbox.stats()["requests"]
    answers = stats.get(f"POST {CONNECT}Product/ImportOnhands", {})
    too_many = sum(by.get("429", 0) for by in stats.values())
    per_window = accepted / duration * window
    print(
        f"{name:8s} accepted {accepted:4d} in {elapsed:6.1f} s = {per_window:5.1f} per window "
        f"of {window:g} s; 429s: {too_many}; answers: {answers}"
    )
    return {
        "accepted": accepted,
        "elapsed_s": round(elapsed, 2),
        "per_window": round(per_window, 2),
        "per_real_minute": round(accepted / duration * 60, 2),
        "http_429": too_many,
        "answers": answers,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 s windows instead of 60 s")
    parser.add_argument("--windows", type=int, default=3, help="windows of submission per client")
    parser.add_argument("--items", type=int, default=100, help="items per import")
    args = parser.parse_args(argv)
    window = 10.0 if args.quick else 60.0
    duration = window * args.windows
    body = _body(args.items)
    with serve(rate_limit=LIMIT, rate_window=window) as sandbox:
        ours = _measure(
            sandbox,
            "toolkit",
            lambda: run_toolkit(sandbox, limit=LIMIT, window=window, duration=duration, body=body),
            window=window,
            duration=duration,
        )
        naive = _measure(
            sandbox,
            "naive",
            lambda: run_naive(sandbox, duration=duration, body=body),
            window=window,
            duration=duration,
        )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {
        "limit_per_window": LIMIT,
        "window_s": window,
        "submission_s": duration,
        "items": args.items,
        "toolkit": ours,
        "naive": naive,
        "ratio_accepted": round(ours["accepted"] / max(1, naive["accepted"]), 3),
        "peak_rss_mb": round(peak_mb, 1),
        "target": ">= 58 accepted a minute, zero 429s",
        "meets_target": ours["per_window"] >= LIMIT * 58 / 60 and ours["http_429"] == 0,
    }
    _write(result)
    return result


def _write(result: dict[str, Any]) -> None:
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_client.json").write_text(json.dumps(result, indent=2))
    t, n = result["toolkit"], result["naive"]
    md = [
        f"# Connect client vs naive loop: {result['limit_per_window']} per {result['window_s']:g} s, "
        f"{result['submission_s']:g} s each",
        "",
        "| client | accepted | per window | 429s |",
        "|---|---|---|---|",
        f"| toolkit | {t['accepted']} | {t['per_window']} | {t['http_429']} |",
        f"| naive | {n['accepted']} | {n['per_window']} | {n['http_429']} |",
        "",
        f"ratio accepted (toolkit / naive): {result['ratio_accepted']}; "
        f"peak RSS {result['peak_rss_mb']} MB; target met: {result['meets_target']}",
    ]
    (out / "bench_client.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()

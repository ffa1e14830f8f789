"""`norce-feeds plan FEED --out DIR` then `norce-feeds apply DIR`, against the real sandbox over HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fixtures.stock import stock_settings, write_stock

from toolkit.cli import EXIT_GUARD, EXIT_OK, main
from toolkit.config import Settings
from toolkit.ledger import Ledger
from toolkit.snapshots import SnapshotStore

pytestmark = pytest.mark.slow


def stock_workspace(root: Path, sandbox: Any, monkeypatch: pytest.MonkeyPatch, values: list[int]) -> Settings:
    """A stock feed (3 rows per batch) over ``values``; the CLI reads the sandbox from the environment."""
    for key, value in sandbox.environ().items():
        monkeypatch.setenv(key, value)
    return stock_settings(root, sandbox, values)


def manifest(directory: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((directory / "manifest.json").read_text())
    return data


def test_apply_sends_exactly_the_saved_plan(
    tmp_path: Path, sandbox_clean: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = stock_workspace(tmp_path, sandbox_clean, monkeypatch, [1, 2, 3, 4, 5, 6, 7])
    out, toml = tmp_path / "reviewed", str(settings.path)
    assert main(["--settings", toml, "plan", "stock", "--out", str(out)]) == EXIT_OK
    saved = manifest(out)
    said = capsys.readouterr().out
    assert f"plan {saved['id']}, made against baseline none" in said and f"norce-feeds apply {out}" in said
    bodies = {e["id"]: (out / e["file"]).read_bytes() for e in saved["batches"]}
    write_stock(settings, [9, 9, 9, 9, 9, 9, 9])  # the source changes after the review: not re-read
    assert main(["apply", str(out), "--yes", "--wait", "--settings", toml]) == EXIT_OK
    with Ledger(settings.state_dir / "ledger.sqlite") as ledger:
        sent = ledger.batches(saved["id"])
    assert [b.batch_id for b in sent] == [e["id"] for e in saved["batches"]] and len(sent) == 3
    assert all(b.state == "accepted" for b in sent) and set(bodies) == {b.batch_id for b in sent}
    stock = sorted((i["PartNo"], i["OnhandValue"]) for i in sandbox_clean.items("onhands"))
    assert stock == [(f"P{i}", i + 1) for i in range(7)]  # what was reviewed, not the newer file
    assert "baseline is now" in capsys.readouterr().out


def test_apply_refuses_a_plan_whose_baseline_moved(
    tmp_path: Path, sandbox_clean: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = stock_workspace(tmp_path, sandbox_clean, monkeypatch, [1, 2, 3])
    out, toml = tmp_path / "reviewed", str(settings.path)
    assert main(["plan", "stock", "--out", str(out), "--settings", toml]) == EXIT_OK
    write_stock(settings, [4, 5, 6])
    assert main(["submit", "stock", "--yes", "--wait", "--settings", toml]) == EXIT_OK  # baseline moves
    moved = SnapshotStore(settings.state_dir / "snapshots").baseline("stock")
    assert moved is not None
    capsys.readouterr()
    assert main(["apply", str(out), "--yes", "--settings", toml]) == EXIT_GUARD
    err = capsys.readouterr().err
    assert (
        f"plan {manifest(out)['id']} of feed 'stock' was made against baseline none, but the feed's "
        f"baseline is now {moved.id}"
    ) in err, err
    assert sorted(i["OnhandValue"] for i in sandbox_clean.items("onhands")) == [4, 5, 6]  # nothing sent

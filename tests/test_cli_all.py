"""`norce-feeds plan --all` / `submit --all`: one table with a totals row, one question (real sandbox)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from fixtures.settings import feed
from fixtures.stock import stock_settings, write_stock

from toolkit.cli import EXIT_OK, main

pytestmark = pytest.mark.slow


class Terminal(io.StringIO):
    """A stdin that is a terminal, answering ``answer`` and counting the questions asked."""

    def __init__(self, answer: str) -> None:
        super().__init__(answer * 10)
        self.questions = 0

    def isatty(self) -> bool:
        return True

    def readline(self, size: int | None = -1) -> str:
        self.questions += 1
        return super().readline(size)


def two_feeds(tmp_path: Path, sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    for key, value in sandbox.environ().items():
        monkeypatch.setenv(key, value)
    more = feed("stock-b", "onhands", "stock_b.csv", policies="max_items = 3")
    settings = stock_settings(
        tmp_path, sandbox, [1, 2, 3, 4], extra=more, policies="max_items = 3\nmax_deactivation_ratio = 0.5"
    )
    write_stock(settings, [5, 6], name="stock_b.csv")
    return str(settings.path)


def table_rows(out: str) -> dict[str, list[str]]:
    lines = [line.strip("|").split("|") for line in out.splitlines() if line.startswith("| ")]
    return {cells[0].strip(): [c.strip() for c in cells] for cells in lines[1:]}


def test_submit_all_asks_once_under_a_table_with_totals(
    tmp_path: Path, sandbox_clean: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    toml = two_feeds(tmp_path, sandbox_clean, monkeypatch)
    stdin = Terminal("y\n")
    monkeypatch.setattr("sys.stdin", stdin)
    assert main(["submit", "--all", "--settings", toml]) == EXIT_OK
    out = capsys.readouterr().out
    assert stdin.questions == 1 and "send 3 requests of 2 feeds to Connect? [y/N]" in out, out
    rows = table_rows(out)
    header = "| feed | kind | add | change | deactivate | rejected | requests | ETA |"
    assert " ".join(header.split()) in " ".join(out.split())
    assert rows["stock"][1:] == ["full", "4", "0", "0", "0", "2", "0s"]
    assert rows["stock-b"][1:] == ["full", "2", "0", "0", "0", "1", "0s"]
    assert rows["total"][1:] == ["", "6", "0", "0", "0", "3", "0s"]
    assert "(stock): 2/2 jobs succeeded" in out and "(stock-b): 1/1 jobs succeeded" in out
    assert sorted(i["OnhandValue"] for i in sandbox_clean.items("onhands")) == [3, 4, 5, 6]


def test_plan_all_marks_deactivations_in_its_totals(
    tmp_path: Path, sandbox_clean: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    toml = two_feeds(tmp_path, sandbox_clean, monkeypatch)
    assert main(["submit", "--all", "--yes", "--settings", toml]) == EXIT_OK
    settings_dir = Path(toml).parent
    (settings_dir / "stock.csv").write_text(
        "PartNo,WarehouseCode,LocationCode,OnhandValue\nP0,W1,L1,1\nP1,W1,L1,2\nP2,W1,L1,3\n"
    )
    capsys.readouterr()
    assert main(["plan", "--all", "--kind", "change", "--settings", toml]) == EXIT_OK
    rows = table_rows(capsys.readouterr().out)
    assert rows["stock"][4] == "1 !" and rows["stock-b"][4] == "0" and rows["total"][4] == "1 !", rows

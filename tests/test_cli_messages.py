"""The CLI's messages: no terminal without --yes, missing settings, a misspelt feed, a missing extra,
--version, --settings anywhere, and `norce-feeds init`."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from fixtures.settings import feed, write_settings

from toolkit.cli import EXIT_OK, EXIT_USAGE, main
from toolkit.config import load_settings

ROOT = Path(__file__).resolve().parents[1]


def settings_file(root: Path) -> str:
    write_settings(root, feed("stock", "onhands", "stock.csv"))
    (root / "stock.csv").write_text("PartNo,WarehouseCode,LocationCode,OnhandValue\nP1,W1,L1,5\n")
    return str(root / "norce.toml")


def cli(*args: str, block: str | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """norce-feeds in a fresh interpreter, stdin not a terminal; ``block`` makes a module unimportable."""
    code = "import sys\n"
    code += f"sys.modules[{block!r}] = None\n" if block else ""  # as if the extra were not installed
    code += "from toolkit.cli import main\nsys.exit(main(sys.argv[1:]))\n"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )


def test_sending_without_a_terminal_and_without_yes_exits_2(tmp_path: Path) -> None:
    toml = settings_file(tmp_path)
    done = cli("submit", "stock", "--settings", toml)
    assert done.returncode == EXIT_USAGE, done.stdout + done.stderr
    assert "add --yes to send without asking" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "state" / "ledger.sqlite").exists()  # nothing was planned nor sent


@pytest.mark.parametrize("command", [["submit", "--all"], ["apply", "plans/x"], ["submit", "--plan", "x"]])
def test_every_sending_command_needs_yes_without_a_terminal(
    tmp_path: Path, command: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main([*command, "--settings", settings_file(tmp_path)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "error: no terminal to ask whether to send; add --yes to send without asking" in err


def test_missing_settings_name_the_directory_and_how_to_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["plan", "stock"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert f"no settings file norce.toml in {tmp_path.resolve()}" in err and "`norce-feeds init`" in err, err


def test_a_misspelt_feed_gets_a_did_you_mean(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "stok", "--settings", settings_file(tmp_path)]) == EXIT_USAGE
    assert "no feed 'stok' (did you mean 'stock'?); known feeds: stock" in capsys.readouterr().err


def test_settings_go_before_or_after_the_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    toml = settings_file(tmp_path)
    assert main(["--settings", toml, "plan", "stock", "--out", str(tmp_path / "a")]) == EXIT_OK
    assert main(["plan", "stock", "--out", str(tmp_path / "b"), "--settings", toml]) == EXIT_OK
    assert (tmp_path / "a" / "manifest.json").is_file() and (tmp_path / "b" / "manifest.json").is_file()


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.startswith("norce-feeds 0.")


@pytest.mark.parametrize(("module", "extra"), [("starlette", "sandbox"), ("uvicorn", "sandbox")])
def test_a_missing_extra_is_named(module: str, extra: str) -> None:
    done = cli("sandbox", "--port", "0", block=module)
    assert done.returncode == EXIT_USAGE, done.stderr
    assert (
        f'norce-feeds sandbox needs the optional module {module}: pip install "norce-toolkit[{extra}]"'
        in done.stderr
        and "Traceback" not in done.stderr
    )


def test_the_python_api_names_the_lab_extra() -> None:
    code = (
        "import sys\nsys.modules['altair'] = None\nimport toolkit\ntry:\n    toolkit.preview_feed\n"
        "except ModuleNotFoundError as exc:\n    print(exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert (
        'toolkit.preview_feed needs the optional module altair: pip install "norce-toolkit[lab]"'
        in done.stdout
    ), done.stdout + done.stderr


def test_init_writes_a_commented_settings_file_that_plans(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["init", "--feed", "stock=onhands", "--feed", "prices=sku_prices"]) == EXIT_OK
    text = (tmp_path / "norce.toml").read_text()
    assert "# Secrets never go here" in text and "[feeds.prices]" in text
    settings = load_settings(tmp_path / "norce.toml", environ={})
    assert sorted(settings.feeds) == ["prices", "stock"] and settings.warnings == ()
    (tmp_path / "data").mkdir()
    csv = "PartNo,WarehouseCode,LocationCode,OnhandValue\nP1,W1,L1,5\n"
    (tmp_path / "data" / "stock.csv").write_text(csv)
    assert main(["plan", "stock"]) == EXIT_OK
    assert main(["init"]) == EXIT_USAGE and "never overwrites" in capsys.readouterr().err

"""``python -m toolkit.demo --lab`` (``make lab``): JupyterLab on the demo's state, with a sandbox running.

The sandbox restarts on the demo's catalog (``out/sandbox.sqlite``), so the snapshots and the ledger in
``out/state`` still describe what it holds; without a finished demo to reuse, day 1 is run first so that
there is something to look at. JupyterLab serves ``out/notebooks``: the executed notebooks of each day
and, in ``lab/``, the three notebooks parameterized by papermill (``prepare_only``) with
``settings_path`` pointing at the demo's ``norce.toml``, ready to run interactively. The kernels
inherit the NORCE_SANDBOX_* variables from this process. Ctrl-C stops JupyterLab, then the sandbox.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from toolkit.demo.days import PREVIEW, SUBMIT
from toolkit.demo.run import OUTCOMES, DemoOptions, prepare, run_days, sandbox_environment
from toolkit.demo.workspace import Workspace

__all__ = ["lab_command", "prepare_lab_notebooks", "run_lab"]


def run_lab(options: DemoOptions) -> int:
    """Start JupyterLab (127.0.0.1) with a sandbox; run day 1 first when there is no demo state."""
    ws = Workspace(options.out)
    reuse = ws.has_state()
    ctx = prepare(options if reuse else _day_one(options), fresh=not reuse)
    with sandbox_environment(ws, rate_limit=options.rate_limit) as server:
        print(f"Sandbox {server.base_url} (TLS), catalog {ws.sandbox_state}")
        if reuse:
            print(f"Reusing the demo's state in {ws.out} (run `make demo` to start afresh)")
        else:
            print("No demo state yet: running day 1 first")
            run_days(ctx, options, echo=print, outcomes=True)
        notebooks = prepare_lab_notebooks(ws)
        print(f"Notebooks to run interactively: {', '.join(str(n) for n in notebooks)}")
        print("Ctrl-C stops JupyterLab and the sandbox.")
        return _serve_lab(lab_command(ws, open_browser=options.open_browser), cwd=ws.out / "notebooks")


def _day_one(options: DemoOptions) -> DemoOptions:
    from dataclasses import replace

    return replace(options, days=(1,))


def prepare_lab_notebooks(ws: Workspace) -> list[Path]:
    """The three notebooks with the demo's settings injected (papermill ``prepare_only``)."""
    import papermill

    written = []
    for name in (PREVIEW, SUBMIT, OUTCOMES):
        target = ws.out / "notebooks" / "lab" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        output = ws.out / "lab" / Path(name).stem
        papermill.execute_notebook(
            str(ws.notebooks / name),
            str(target),
            prepare_only=True,
            kernel_name="python3",
            language="python",
            progress_bar=False,
            parameters={"settings_path": str(ws.settings_path), "output_dir": str(output)},
        )
        written.append(target)
    return written


def lab_command(ws: Workspace, *, open_browser: bool = True) -> list[str]:
    """``jupyter lab`` on 127.0.0.1, serving ``out/notebooks``, opening ``lab/01-preview-feed.ipynb``."""
    root = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []  # containers
    return [
        sys.executable,
        "-m",
        "jupyterlab",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.root_dir={ws.out / 'notebooks'}",
        f"--ServerApp.open_browser={open_browser}",
        f"--LabApp.default_url=/lab/tree/lab/{PREVIEW}",
        *root,
    ]


def _serve_lab(command: list[str], *, cwd: Path) -> int:
    proc = subprocess.Popen(command, cwd=cwd)
    try:
        return proc.wait()
    except KeyboardInterrupt:  # JupyterLab got the Ctrl-C too; a TERM ends it without the prompt
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        return 0

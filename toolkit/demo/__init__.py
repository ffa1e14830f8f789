"""The demo: four days of a sample shop's feeds, end to end, through the notebooks and the sandbox.

``make demo`` (``python -m toolkit.demo``) starts the sandbox with TLS, runs notebooks 01 (preview) and
02 (submit) headless with papermill for every feed of ``data/sample/day1..day4`` (full feeds on day 1,
change feeds after; day 4's truncated stock export refused by the guard and its bad price rows
rejected), notebook 03 (job outcomes) at the end, reads the sandbox's catalog back and compares it with
the accepted snapshots, and writes ``out/summary.md``. ``make lab`` opens JupyterLab on that state.

- :mod:`toolkit.demo.workspace`: ``out/`` and the demo's copy of norce.toml; dependency order
- :mod:`toolkit.demo.kernels`: papermill on a few long-lived kernels
- :mod:`toolkit.demo.days`: one day's notebooks per feed, and what they wrote
- :mod:`toolkit.demo.catalog`: the catalog check
- :mod:`toolkit.demo.report`: expectations and summary.md
- :mod:`toolkit.demo.run` and :mod:`toolkit.demo.lab`: the two entry points
- :mod:`toolkit.demo.cli`: the command line, which picks one of them
"""

from __future__ import annotations

from toolkit.demo.cli import main
from toolkit.demo.run import DemoOptions, run_demo

__all__ = ["DemoOptions", "main", "run_demo"]

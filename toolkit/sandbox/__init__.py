"""A faithful local Norce Commerce Connect: token endpoint, the nine imports, jobs, limits, faults.

Start one for tests and notebooks with :func:`serve` (a background thread on a free loopback port),
or from a terminal with ``norce-feeds sandbox`` (:func:`run_server`). :func:`build_app` gives the
Starlette app itself. See ``docs`` in :mod:`toolkit.sandbox.app` for the admin paths.
"""

from __future__ import annotations

from toolkit.sandbox.app import build_app
from toolkit.sandbox.server import SandboxServer, run_server, serve

__all__ = ["SandboxServer", "build_app", "run_server", "serve"]

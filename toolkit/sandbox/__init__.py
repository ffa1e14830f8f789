"""A faithful local Norce Commerce Connect: token endpoint, the nine imports, jobs, limits, faults.

Start one for tests and notebooks with :func:`serve` (a background thread on a free loopback port),
or from a terminal with ``norce-feeds sandbox`` (:func:`run_server`). :func:`build_app` gives the
Starlette app itself. See ``docs`` in :mod:`toolkit.sandbox.app` for the admin paths.

What judges a request is the contract, not the registry the payloads come from: every import is checked
by :mod:`toolkit.sandbox.contract` against the vendored ``contract.json`` (Norce's official C# contracts),
looked up by the request's path alone, before anything is stored (``contract = "strict"``, the default).
The other modules read :mod:`toolkit.entities` only to parse and store what passed (keys, columns, nested
lists): a registry error can make the sandbox refuse a valid request, never accept an invalid one.
"""

from __future__ import annotations

from toolkit.sandbox.app import build_app
from toolkit.sandbox.server import SandboxServer, run_server, serve

__all__ = ["SandboxServer", "build_app", "run_server", "serve"]

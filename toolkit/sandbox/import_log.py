"""The log an import writes to while it is applied, below the modules that apply the entities."""

from __future__ import annotations

from collections.abc import Callable

Log = Callable[[int, str, int | None], None]  # severity, message, imported row

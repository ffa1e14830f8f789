"""``python -m toolkit.demo`` (``make demo``) and ``python -m toolkit.demo --lab`` (``make lab``)."""

from __future__ import annotations

import sys

from toolkit.demo.cli import main

if __name__ == "__main__":
    sys.exit(main())

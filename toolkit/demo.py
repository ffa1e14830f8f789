"""The demo: a placeholder until the sample shop and its feeds land; checks the installation."""

from __future__ import annotations

import sys

from toolkit import ENTITIES, load_settings


def main() -> int:
    settings = load_settings("norce.toml")
    print(f"norce-feeds is installed: {len(ENTITIES)} Connect imports, profiles {sorted(settings.profiles)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

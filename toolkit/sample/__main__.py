"""``python -m toolkit.sample --out data/sample --seed 7``: write the sample shop."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from toolkit.sample import generate_sample


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m toolkit.sample", description=__doc__)
    parser.add_argument("--out", default="data/sample", help="directory (default: data/sample)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default: 7)")
    parser.add_argument("--skus", type=int, default=2000, help="SKUs on day 1 (default: 2000)")
    args = parser.parse_args(argv)
    manifest = generate_sample(args.out, seed=args.seed, skus=args.skus)
    counts = ", ".join(f"{v} {k}" for k, v in manifest["counts"].items())
    print(f"wrote {', '.join(manifest['days'])} to {args.out}: {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

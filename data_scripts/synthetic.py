"""The synthetic dataset (articulated figures with ground-truth keypoints): a thin
wrapper over pcutlib.data.synthetic, the same as `pcut make-synthetic`.

    python data_scripts/synthetic.py --out data/synthetic [--videos 200 --frames 32 --size 64 --seed 0]

Generation is deterministic and fast (seconds), so there is nothing to resume: an
existing non-empty --out is refused unless --overwrite is given.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `pcutlib` importable from the checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pcutlib.data.make_synthetic import add_make_synthetic_arguments, run_make_synthetic  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_make_synthetic_arguments(parser)
    parser.add_argument("--dry-run", action="store_true", help="print what would be written, write nothing")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.dry_run:
        print(f"would write {args.videos} videos of {args.frames} frames at {args.size}x{args.size} "
              f"(seed {args.seed}) to {args.out}/train and {args.out}/test")
        return 0
    return run_make_synthetic(args)


if __name__ == "__main__":
    sys.exit(main())

"""``python -m synergywarp.train train ...``: the train command without the full CLI (same arguments)."""

from __future__ import annotations

import argparse
import sys

from synergywarp.errors import SynergyWarpError
from synergywarp.train.cli_commands import add_train_parser


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m synergywarp.train")
    add_train_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except SynergyWarpError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())

"""README tables written by the benchmarks from their JSON: the ``--readme``/``--table-only`` options and the
marked block they replace (``<!-- NAME table: begin -->`` … ``<!-- NAME table: end -->``)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from synergywarp.atomic import write_text_atomic

ROOT = Path(__file__).resolve().parents[1]


def markers(name: str) -> tuple[str, str]:
    """The README's begin and end markers of benchmark ``name``'s table."""
    return f"<!-- {name} table: begin -->", f"<!-- {name} table: end -->"


def replace_table(readme: Path, name: str, table: str) -> None:
    """Replace the text between ``name``'s markers in ``readme`` with ``table`` (atomically)."""
    begin, end_marker = markers(name)
    text = readme.read_text(encoding="utf-8")
    start, end = text.index(begin) + len(begin), text.index(end_marker)
    write_text_atomic(readme, text[:start] + "\n" + table + text[end:])


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    """``--readme`` and ``--table-only`` (the benchmark has ``--out``, its JSON)."""
    parser.add_argument("--readme", type=Path, default=None,
                        help=f"rewrite this file's {name} table (default: README.md when --out is the default)")
    parser.add_argument("--table-only", action="store_true", help="regenerate the README table from --out")


def resolve(parser: argparse.ArgumentParser, args: argparse.Namespace, name: str, default_json: Path,
            table: Callable[[dict[str, Any]], str]) -> bool:
    """Set ``args.readme`` (README.md when ``--out`` is the default JSON: a run into another JSON leaves the
    README's table alone); with ``--table-only`` write the table from ``--out`` and return True."""
    if args.readme is None and args.out.resolve() == default_json.resolve():
        args.readme = ROOT / "README.md"
    if not args.table_only:
        return False
    if args.readme is None:
        parser.error("--table-only with another --out needs --readme")
    replace_table(args.readme, name, table(json.loads(args.out.read_text())))
    print(f"wrote the table into {args.readme}")
    return True

#!/usr/bin/env python
"""Is model B better than model A on a benchmark, or is the difference noise? Paired per-frame differences
between two ``synergywarp eval`` reports, with confidence intervals.

Both reports must come from the same protocol, data and frames (e.g. ``scripts/eval_real.sh`` for two
checkpoints). Rows of their ``per_frame.csv`` are paired by (protocol, method, source clip and frame,
driving clip and frame); for each method and metric the table gives the mean of A, of B, of B − A over
the frames both score, and a 95 % confidence interval of that mean by a bootstrap that resamples
driving clips, not frames (the frames of one clip are alike, so resampling frames would overstate
the certainty). "B better" / "A better" where the interval excludes 0 (in the direction the eval report's
arrows give each metric), "–" where it does not.

    python scripts/compare_reports.py docs/results/real/demo_v2_headrefs/hidden \\
        docs/results/real/demo_live_slim_headrefs/hidden --methods full@0,full@2 --metrics LPIPS,L1,AKD
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from synergywarp.metrics.eval.report import ROW_KEYS
from synergywarp.metrics.eval.score import LOWER_IS_BETTER


class ReportError(ValueError):
    """A report that cannot be compared (missing, unreadable, or sharing no frames with the other)."""


@dataclass(frozen=True)
class PairedDifference:
    """One method and metric: means of A and B, of B − A, its bootstrap 95 % interval, frames and clips."""

    method: str
    metric: str
    mean_a: float
    mean_b: float
    difference: float
    low: float
    high: float
    frames: int
    clips: int

    @property
    def verdict(self) -> str:
        """"B better", "A better" or "–" (the interval contains 0)."""
        if self.low <= 0.0 <= self.high:
            return "–"
        b_lower = self.high < 0.0
        return "B better" if b_lower == LOWER_IS_BETTER.get(self.metric, True) else "A better"


def read_rows(report: Path) -> dict[tuple[str, ...], dict[str, str]]:
    """``report``'s per-frame rows (``per_frame.csv`` in a report folder, or the file) by their pairing key."""
    path = report / "per_frame.csv" if report.is_dir() else report
    if not path.is_file():
        raise ReportError(f"{path} not found; pass a `synergywarp eval --out` folder or its per_frame.csv")
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in ROW_KEYS if c not in (reader.fieldnames or [])]
        if missing:
            raise ReportError(f"{path} is not an eval per-frame table (no column {missing[0]!r})")
        return {tuple(row[c] for c in ROW_KEYS): row for row in reader}


def _value(row: dict[str, str], metric: str) -> float:
    try:
        return float(row.get(metric, "") or "nan")
    except ValueError:
        return math.nan


def paired_difference(rows_a: dict[tuple[str, ...], dict[str, str]], rows_b: dict[tuple[str, ...], dict[str, str]],
                      method: str, metric: str, boots: int = 2000, seed: int = 0) -> PairedDifference | None:
    """B − A over the frames both reports score for ``method`` (finite ``metric`` in both), with a 95 %
    interval from ``boots`` resamples of the driving clips; None when no frame pairs up."""
    by_clip: dict[str, list[tuple[float, float]]] = {}
    for key in sorted(rows_a.keys() & rows_b.keys()):
        if key[1] != method:
            continue
        a, b = _value(rows_a[key], metric), _value(rows_b[key], metric)
        if math.isfinite(a) and math.isfinite(b):
            by_clip.setdefault(key[4], []).append((a, b))
    if not by_clip:
        return None
    clips = sorted(by_clip)
    pairs = np.array([pair for clip in clips for pair in by_clip[clip]])
    sums = np.array([sum(b - a for a, b in by_clip[clip]) for clip in clips])
    counts = np.array([len(by_clip[clip]) for clip in clips], dtype=np.float64)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(clips), size=(boots, len(clips)))
    means = sums[picks].sum(axis=1) / counts[picks].sum(axis=1)  # frame-weighted, as the report's mean
    low, high = np.quantile(means, [0.025, 0.975])
    return PairedDifference(method, metric, float(pairs[:, 0].mean()), float(pairs[:, 1].mean()),
                            float((pairs[:, 1] - pairs[:, 0]).mean()), float(low), float(high), len(pairs),
                            len(clips))


def compare(report_a: Path, report_b: Path, methods: Sequence[str] | None, metrics: Sequence[str],
            boots: int = 2000, seed: int = 0) -> list[PairedDifference]:
    """Every (method, metric) both reports score; ``methods`` None: every method in both."""
    rows_a, rows_b = read_rows(report_a), read_rows(report_b)
    shared = rows_a.keys() & rows_b.keys()
    if not shared:
        raise ReportError(f"{report_a} and {report_b} share no scored frame; were they made with the same "
                          "protocol, data and --max-frames?")
    chosen = list(methods) if methods else sorted({key[1] for key in shared})
    results = [paired_difference(rows_a, rows_b, method, metric, boots, seed)
               for method in chosen for metric in metrics]
    found = [r for r in results if r is not None]
    if not found:
        raise ReportError(f"no frame of methods {', '.join(chosen)} has {', '.join(metrics)} in both reports")
    return found


def table(results: Sequence[PairedDifference]) -> str:
    """Markdown: one row per method and metric."""
    lines = ["| method | metric | A | B | B − A | 95 % interval | frames (clips) | verdict |",
             "|---|---|---:|---:|---:|---:|---:|---|"]
    for r in results:
        lines.append(f"| {r.method} | {r.metric} | {r.mean_a:.4f} | {r.mean_b:.4f} | {r.difference:+.4f} "
                     f"| [{r.low:+.4f}, {r.high:+.4f}] | {r.frames} ({r.clips}) | {r.verdict} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report_a", type=Path, help="the baseline's eval folder (or its per_frame.csv)")
    parser.add_argument("report_b", type=Path, help="the other model's eval folder (or its per_frame.csv)")
    parser.add_argument("--methods", default=None, help="comma-separated rows, e.g. full@0,full@2 (default: all)")
    parser.add_argument("--metrics", default="LPIPS,L1,AKD", help="comma-separated columns (default LPIPS,L1,AKD)")
    parser.add_argument("--boots", type=int, default=2000, help="bootstrap resamples (default 2000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    if args.boots < 100:
        print("error: --boots must be at least 100 for a 95 % interval", file=sys.stderr)
        return 2
    try:
        results = compare(args.report_a, args.report_b, args.methods.split(",") if args.methods else None,
                          [m.strip() for m in args.metrics.split(",") if m.strip()], args.boots, args.seed)
    except ReportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"A = {args.report_a}\nB = {args.report_b}\n")
    print(table(results))
    if args.json is not None:
        rows = [asdict(r) | {"verdict": r.verdict} for r in results]
        args.json.write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

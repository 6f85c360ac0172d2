#!/usr/bin/env python
"""One markdown table from several `synergywarp eval` reports (metrics.json), e.g. two models on the same
frames: the baselines from the first report, the model rows from every report, prefixed by its label.

    python scripts/results_table.py v2=docs/results/real/demo_v2/hidden v1=docs/results/real/demo_v1/hidden \
        --baselines static,geometric --methods explicit,full@0,full@2 --metrics L1,PSNR,LPIPS,LPIPS-mouth
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

LOWER_IS_BETTER = {"PSNR": False, "SSIM": False, "CSIM-dlib": False}


def load(folder: str) -> dict:
    path = Path(folder) / "metrics.json"
    if not path.is_file():
        sys.exit(f"error: no evaluation report at {path} (run synergywarp eval --out {folder})")
    return json.loads(path.read_text())


def row(label: str, method: dict, metrics: list[str]) -> str:
    values = []
    for name in metrics:
        entry = method["metrics"].get(name)
        values.append("–" if entry is None or entry.get("value") is None else f"{entry['value']:.4f}"
                      if abs(entry["value"]) < 10 else f"{entry['value']:.2f}")
    return f"| {label} | " + " | ".join(values) + " |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reports", nargs="+", metavar="LABEL=FOLDER")
    parser.add_argument("--baselines", default="static,geometric", help="methods taken from the first report")
    parser.add_argument("--methods", default="explicit,full@0,full@2", help="methods taken from every report")
    parser.add_argument("--metrics", default="L1,PSNR,SSIM,LPIPS,AKD")
    args = parser.parse_args(argv)
    metrics = args.metrics.split(",")
    reports = []
    for item in args.reports:
        label, sep, folder = item.partition("=")
        if not sep:
            sys.exit(f"error: report {item!r} must be LABEL=FOLDER")
        reports.append((label, load(folder)))
    arrows = ["↑" if not LOWER_IS_BETTER.get(m, True) else "↓" for m in metrics]
    print("| method | " + " | ".join(f"{m} {a}" for m, a in zip(metrics, arrows)) + " |")
    print("|---|" + "---:|" * len(metrics))
    first = {m["name"]: m for m in reports[0][1]["methods"]}
    for name in filter(None, args.baselines.split(",")):
        if name in first:
            print(row(name, first[name], metrics))
    for label, report in reports:
        by_name = {m["name"]: m for m in report["methods"]}
        for name in filter(None, args.methods.split(",")):
            if name in by_name:
                print(row(f"{label}: {name}", by_name[name], metrics))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Train several configs side by side on one machine within a wall-clock budget.

Used for the demo model and the ablation on a lent GPU (docs/MODEL_CARD.md, docs/ABLATION.md):

    python scripts/train_budget.py --data data/synth128 --out runs/gpu --minutes 6.5 \\
        --same-steps demo,explicit,rac_add \\
        demo=configs/demo.yaml learned=configs/demo_learned.yaml \\
        explicit=configs/ablation/explicit.yaml rac_add=configs/ablation/rac_add.yaml

1. Calibration: every run trains concurrently for ``--calibrate-seconds`` (the same contention as
   later) and its steps per second are read off its ``log.csv``. A run that fails stops everything.
2. Each run gets ``steps = speed × budget × margin``; runs named together in ``--same-steps`` get the
   smallest of theirs (an ablation compares equal step counts). The config's step numbers (phase
   switches, lr milestones, checkpoint and sample intervals) are rescaled by ``steps / max_steps``.
3. The runs train concurrently with ``train.max_minutes`` as a hard stop; each exports
   ``OUT/NAME/model_ema.safetensors``. ``OUT/budget.json`` records speeds, steps and times.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml


def parse_runs(items: list[str]) -> dict[str, Path]:
    runs: dict[str, Path] = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not Path(path).is_file():
            raise SystemExit(f"error: expected NAME=CONFIG.yaml with an existing file, got {item!r}")
        runs[name] = Path(path)
    return runs


def scaled_config(path: Path, *, steps: int, minutes: float, workers: int, calibrate: bool,
                  batch_size: int | None = None) -> dict:
    """The config at ``path`` with its step schedule rescaled to ``steps`` and the budget set."""
    cfg = yaml.safe_load(path.read_text())
    train = cfg.setdefault("train", {})
    if batch_size:
        train["batch_size"] = batch_size
    base = int(train.get("max_steps", 1000))
    factor = steps / base

    def scale(value: int) -> int:
        return max(1, round(value * factor))

    train["max_steps"] = steps
    train["max_minutes"] = minutes
    train["progress"] = False
    if calibrate:
        train.update(checkpoint_every=10**7, sample_every=0, lr_milestones=[], log_every=2)
    else:
        train["lr_milestones"] = [scale(m) for m in train.get("lr_milestones", [])]
        for key in ("checkpoint_every", "sample_every"):
            if train.get(key):
                train[key] = scale(int(train[key]))
        train["log_every"] = max(1, min(int(train.get("log_every", 10)), steps // 50 or 1))
    if calibrate and train.get("phases"):  # time the last (costliest: RAC with references) phase
        last = dict(train["phases"][-1])
        last.pop("until_step", None)
        train["phases"] = [last]
    for phase in train.get("phases", []):
        if phase.get("until_step") is not None:
            phase["until_step"] = scale(int(phase["until_step"]))
    cfg.setdefault("dataset", {})["num_workers"] = workers
    return cfg


def launch(runs: dict[str, Path], out: Path, data: Path, configs: dict[str, dict], tag: str
           ) -> dict[str, subprocess.Popen]:
    procs = {}
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}
    for name in runs:
        run_dir = out / tag / name if tag else out / name
        run_dir.mkdir(parents=True, exist_ok=True)
        config_path = run_dir.parent / f"{name}.yaml"
        config_path.write_text(yaml.safe_dump(configs[name], sort_keys=False))
        log = open(run_dir.parent / f"{name}.log", "w")
        procs[name] = subprocess.Popen(
            [sys.executable, "-m", "synergywarp", "train", "--config", str(config_path), "--data", str(data),
             "--out", str(run_dir), "--no-progress"], stdout=log, stderr=subprocess.STDOUT, env=env)
    return procs


def last_step(run_dir: Path) -> int | None:
    path = run_dir / "log.csv"
    if not path.is_file():
        return None
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return int(rows[-1]["step"]) if rows else None


def wait(procs: dict[str, subprocess.Popen], out: Path, tag: str, watch: bool) -> dict[str, list[tuple[float, int]]]:
    """Wait for every process; with ``watch``, (time, step) samples from each run's log.csv."""
    samples: dict[str, list[tuple[float, int]]] = {name: [] for name in procs}
    while any(p.poll() is None for p in procs.values()):
        time.sleep(0.5)
        if watch:
            for name in procs:
                step = last_step(out / tag / name)
                if step is not None and (not samples[name] or samples[name][-1][1] != step):
                    samples[name].append((time.perf_counter(), step))
    failed = [name for name, p in procs.items() if p.returncode != 0]
    for name in failed:
        log = (out / tag / f"{name}.log") if tag else (out / f"{name}.log")
        print(f"run {name} failed (exit {procs[name].returncode}); last lines of {log}:")
        print("\n".join(log.read_text().splitlines()[-25:]))
    if failed:
        raise SystemExit(1)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--minutes", type=float, required=True, help="training budget per run (wall clock)")
    parser.add_argument("--calibrate-seconds", type=float, default=60.0)
    parser.add_argument("--margin", type=float, default=0.95, help="share of the budget the step count aims at")
    parser.add_argument("--workers", type=int, default=3, help="data-loader workers per run")
    parser.add_argument("--batch-size", type=int, help="override every config's train.batch_size")
    parser.add_argument("--same-steps", action="append", default=[], help="comma-separated run names")
    parser.add_argument("runs", nargs="+", help="NAME=CONFIG.yaml")
    args = parser.parse_args()
    runs = parse_runs(args.runs)
    args.out.mkdir(parents=True, exist_ok=True)

    start = time.perf_counter()
    calib = {n: scaled_config(p, steps=10**6, minutes=args.calibrate_seconds / 60, workers=args.workers,
                              calibrate=True, batch_size=args.batch_size) for n, p in runs.items()}
    samples = wait(launch(runs, args.out, args.data, calib, "_calibration"), args.out, "_calibration", watch=True)
    speeds = {}
    for name, points in samples.items():
        points = points[1:] if len(points) > 2 else points  # the first rows include warm-up
        if len(points) < 2:
            raise SystemExit(f"error: run {name} logged too few steps in {args.calibrate_seconds:.0f} s to calibrate")
        (t0, s0), (t1, s1) = points[0], points[-1]
        speeds[name] = (s1 - s0) / (t1 - t0)
    steps = {n: max(10, int(speeds[n] * args.minutes * 60 * args.margin)) for n in runs}
    for group in args.same_steps:
        names = [n for n in group.split(",") if n]
        unknown = [n for n in names if n not in runs]
        if unknown:
            raise SystemExit(f"error: --same-steps names unknown runs {unknown}")
        common = min(steps[n] for n in names)
        for n in names:
            steps[n] = common
    print(f"calibrated in {time.perf_counter() - start:.0f} s: "
          + ", ".join(f"{n} {speeds[n]:.2f} steps/s → {steps[n]} steps" for n in runs), flush=True)

    configs = {n: scaled_config(p, steps=steps[n], minutes=args.minutes, workers=args.workers, calibrate=False,
                                 batch_size=args.batch_size)
               for n, p in runs.items()}
    began = time.perf_counter()
    wait(launch(runs, args.out, args.data, configs, ""), args.out, "", watch=False)
    seconds = time.perf_counter() - began
    done = {n: last_step(args.out / n) for n in runs}
    report = {"minutes": args.minutes, "calibration_steps_per_second": speeds, "planned_steps": steps,
              "trained_steps": done, "wall_seconds": round(seconds, 1),
              "batch_size": {n: configs[n]["train"].get("batch_size") for n in runs},
              "configs": {n: str(p) for n, p in runs.items()}}
    (args.out / "budget.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()

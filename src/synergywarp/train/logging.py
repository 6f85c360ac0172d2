"""Training logs on rank 0: a CSV (``RUN/log.csv``), TensorBoard events (``RUN/tensorboard``) and an
optional tqdm progress bar with the loss and the ETA. Other ranks get a no-op logger."""

from __future__ import annotations

import csv
from pathlib import Path


class TrainLogger:
    """``log(step, {name: float})`` appends a CSV row and TensorBoard scalars.

    On resume, rows after ``resume_step`` (written after the last checkpoint of a crashed run) are
    dropped so that the CSV has each step once. New column names (e.g. a loss term switched on by a
    later phase) rewrite the header.
    """

    def __init__(
        self,
        run_dir: str | Path,
        enabled: bool = True,
        *,
        resume_step: int | None = None,
        total_steps: int = 0,
        progress: bool = False,
        tensorboard: bool = True,
    ):
        self.enabled = enabled
        self.csv_path = Path(run_dir) / "log.csv"
        self.columns: list[str] = []
        self.rows: list[dict[str, str]] = []
        self.writer = None
        self.bar = None
        if not enabled:
            return
        if self.csv_path.exists() and resume_step is not None:
            with open(self.csv_path, newline="") as f:
                reader = csv.DictReader(f)
                self.columns = list(reader.fieldnames or [])
                self.rows = [r for r in reader if r.get("step") and int(r["step"]) <= resume_step]
            self._rewrite()
        elif self.csv_path.exists():
            self.csv_path.unlink()
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(Path(run_dir) / "tensorboard"), purge_step=resume_step)
        if progress:
            from tqdm.auto import tqdm

            start = resume_step or 0
            self.bar = tqdm(total=total_steps, initial=start, desc="train", unit="step", dynamic_ncols=True)

    def _rewrite(self) -> None:
        self.csv_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.csv_path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self.columns)
            writer.writeheader()
            writer.writerows(self.rows)

    def log(self, step: int, values: dict[str, float]) -> None:
        if not self.enabled:
            return
        row = {"step": str(step), **{k: f"{v:.6g}" for k, v in values.items()}}
        new = [k for k in row if k not in self.columns]
        self.rows.append(row)
        if new:
            self.columns += new
            self._rewrite()
        else:
            with open(self.csv_path, "a", newline="") as f:
                csv.DictWriter(f, fieldnames=self.columns).writerow(row)
        if self.writer is not None:
            for name, value in values.items():
                self.writer.add_scalar(name, value, step)
        if self.bar is not None and "loss/total" in values:
            self.bar.set_postfix(loss=f"{values['loss/total']:.4f}", refresh=False)

    def advance(self, steps: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(steps)

    def flush(self) -> None:
        if self.writer is not None:
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def read_log(path: str | Path) -> list[dict[str, float]]:
    """The rows of a ``log.csv`` as floats (empty cells skipped)."""
    with open(path, newline="") as f:
        return [{k: float(v) for k, v in row.items() if v not in (None, "")} for row in csv.DictReader(f)]

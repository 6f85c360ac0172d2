"""The evaluation figure: what the numbers are made of, worst frames included.

Rows are (task, frame) pairs picked from the per-frame LPIPS of a ``focus`` method (by default the
last model method of the run): its ``worst`` frames, then ``typical`` ones (nearest the median).
Columns: the source, up to two references, the driving frame (ground truth when there is one),
then every method's output with its LPIPS. All tiles are ``tile``² (outputs of another size are
resized, so softness shows as it does in the metrics). Outputs are generated again for the picked
frames only (methods are deterministic).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np

from synergywarp.metrics.eval.baselines import Method, TaskInputs
from synergywarp.metrics.eval.protocol import EvalTask

LABEL_HEIGHT = 18


def row_task(row: dict) -> tuple[str, int, str]:
    """The task a per-frame row belongs to: (source clip, source frame, driving clip)."""
    return str(row["source_clip"]), int(row["source_frame"]), str(row["driving_clip"])


def pick_frames(rows: list[dict], worst: int, typical: int) -> list[tuple[dict, str]]:
    """(row, "worst"/"typical") for the ``worst`` highest-LPIPS rows of one method, then ``typical`` rows
    nearest its median LPIPS (no row twice)."""
    scored = [r for r in rows if not math.isnan(float(r.get("LPIPS", math.nan)))]
    if not scored:
        return []
    by_value = sorted(scored, key=lambda r: -float(r["LPIPS"]))
    picked = by_value[:worst]
    median = float(np.median([float(r["LPIPS"]) for r in scored]))
    rest = sorted((r for r in scored if r not in picked), key=lambda r: abs(float(r["LPIPS"]) - median))
    return [(r, "worst") for r in picked] + [(r, "typical") for r in rest[:typical]]


def _tile(image: np.ndarray | None, size: int, label: str) -> np.ndarray:
    tile = np.full((size + LABEL_HEIGHT, size, 3), 255, np.uint8)
    if image is not None:
        shrink = image.shape[0] > size
        tile[LABEL_HEIGHT:] = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA if shrink
                                         else cv2.INTER_CUBIC)
    cv2.putText(tile, label[:24], (3, LABEL_HEIGHT - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return tile


def render_figure(picks: Sequence[tuple[EvalTask, int, str]], methods: Sequence[Method],
                  inputs_for: Callable[[EvalTask], TaskInputs], lpips_of: Callable[[str, str, int], float],
                  max_references: int, tile: int = 160) -> np.ndarray:
    """H×W×3 uint8 grid: one row per (task, frame, row label), columns as in the module docstring."""
    rows = []
    for task, frame, note in picks:
        data = inputs_for(task)
        tiles = [_tile(data.source, tile, f"source {note}")]
        refs_count = min(max_references, max((r for r, _ in task.references), default=0))
        if refs_count:
            ref_images, _ = data.references(refs_count)
            tiles += [_tile(ref_images[k], tile, f"reference {k + 1}") for k in range(min(2, len(ref_images)))]
        tiles += [_tile(None, tile, "") for _ in range(min(2, max_references) - min(2, refs_count))]
        label = "driving (truth)" if task.has_ground_truth else "driving"
        tiles.append(_tile(data.driving((frame,))[0], tile, f"{label} #{frame}"))
        for method in methods:
            output = method.generate(data, (frame,))[0]
            value = lpips_of(method.name, task.key, frame)
            tiles.append(_tile(output, tile, f"{method.name} {value:.3f}" if not math.isnan(value) else method.name))
        rows.append(np.concatenate(tiles, axis=1))
    width = max(row.shape[1] for row in rows)
    rows = [np.pad(row, ((0, 0), (0, width - row.shape[1]), (0, 0)), constant_values=255) for row in rows]
    return np.concatenate(rows, axis=0)


def write_figure(path: Path, image: np.ndarray) -> Path:
    from synergywarp.io import write_image

    write_image(path, image)
    return path

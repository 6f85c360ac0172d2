"""A metric value that carries its name, definition and the network that produced it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class MetricValue:
    """One aggregated metric.

    name: label to print (e.g. ``AKD``, ``AED_id``, ``CSIM-dlib``, ``FID-MobileNetV2``).
    value: the mean over counted items (nan when none counted).
    num_counted / num_skipped: items (frames, images) used / skipped (no face detected...).
    definition: one line saying exactly what was computed. network: what produced the features.
    per_item: length-N float array, nan where skipped (empty for set-level metrics such as FID).
    """

    name: str
    value: float
    num_counted: int
    num_skipped: int
    definition: str
    network: str
    per_item: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def as_dict(self) -> dict:
        """JSON-ready summary (no per-item values; nan becomes None)."""
        return {
            "name": self.name,
            "value": None if math.isnan(self.value) else float(self.value),
            "num_counted": self.num_counted,
            "num_skipped": self.num_skipped,
            "definition": self.definition,
            "network": self.network,
        }


def mean_of_counted(name: str, per_item: np.ndarray, definition: str, network: str) -> MetricValue:
    """Aggregate per-item values (nan = skipped) into a :class:`MetricValue`."""
    per_item = np.asarray(per_item, dtype=np.float64)
    counted = ~np.isnan(per_item)
    value = float(per_item[counted].mean()) if counted.any() else float("nan")
    return MetricValue(name, value, int(counted.sum()), int((~counted).sum()), definition, network, per_item)


def report_path(path: str | Path | None, root: Path | None = None) -> str | None:
    """How a report names an input file or folder: the bundled demo model by its place in the package,
    a path inside ``root`` (default: the working directory, normally the repository) relative to it, any
    other path as the user gave it. Reports then carry no machine-specific prefixes of their own making."""
    if path is None:
        return None
    from synergywarp.assets import BUNDLED_NAMES, PACKAGE_ASSETS

    given = Path(path)
    resolved = given.resolve()
    if resolved.is_relative_to(PACKAGE_ASSETS.resolve()):
        name = "synergywarp/assets/" + resolved.relative_to(PACKAGE_ASSETS.resolve()).as_posix()
        bundled = any(resolved == model.resolve() for model in BUNDLED_NAMES.values())
        return f"{name} (bundled)" if bundled else name
    base = (root or Path.cwd()).resolve()
    if given.is_absolute() and resolved.is_relative_to(base):
        return resolved.relative_to(base).as_posix()
    return str(given)

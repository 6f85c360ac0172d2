"""Which frames of a clip an item uses (docs/DESIGN.md#training) and the evaluation plan (docs/DESIGN.md#evaluation).

Training items take distinct frames for source, driving and R references. References are chosen
by one of three rules:

- ``pose_diverse``: greedy farthest-point sampling in (yaw, pitch) space, starting from the source:
  each next reference is the candidate whose smallest distance (degrees) to the source and to the
  references already chosen is largest (ties broken at random);
- ``random``: R candidates uniformly without replacement;
- ``even``: R candidates evenly spaced through the sorted candidate list.

Candidates are the clip's eligible frames (frames with landmarks when keypoints are used) other
than the source and the driving frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from synergywarp.errors import ConfigError

ReferenceChoice = Literal["pose_diverse", "random", "even"]
REFERENCE_CHOICES: tuple[str, ...] = ("pose_diverse", "random", "even")


def parse_num_references(num_references: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    """``R`` or ``(R_min, R_max)`` (inclusive) → (R_min, R_max); ConfigError when malformed."""
    if isinstance(num_references, (int, np.integer)) and not isinstance(num_references, bool):
        low = high = int(num_references)
    elif isinstance(num_references, (tuple, list)) and len(num_references) == 2 and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in num_references):
        low, high = (int(v) for v in num_references)
    else:
        raise ConfigError(f"num_references must be an int or a (min, max) pair, got {num_references!r}")
    if low < 0 or high < low:
        raise ConfigError(f"num_references must satisfy 0 <= min <= max, got {num_references!r}")
    return low, high


def pose_diverse_references(pose: np.ndarray, source: int, candidates: np.ndarray, count: int,
                            rng: np.random.Generator | None = None) -> np.ndarray:
    """Greedy farthest-point choice of ``count`` frames among ``candidates`` in (yaw, pitch) space.

    pose: T×3 (pitch, yaw, roll) degrees; returns the chosen frame indices in the order picked.
    With ``rng`` ties are broken at random, else by the lower index.
    """
    candidates = np.asarray(candidates, dtype=np.int64)
    if rng is not None:
        candidates = rng.permutation(candidates)
    if count > len(candidates):
        raise ValueError(f"asked for {count} references among {len(candidates)} candidates")
    yaw_pitch = np.asarray(pose, dtype=np.float64)[:, [1, 0]]
    nearest = np.linalg.norm(yaw_pitch[candidates] - yaw_pitch[source], axis=-1)
    chosen: list[int] = []
    available = np.ones(len(candidates), dtype=bool)
    for _ in range(count):
        score = np.where(available, nearest, -np.inf)
        pick = int(np.argmax(score))
        chosen.append(int(candidates[pick]))
        available[pick] = False
        distance = np.linalg.norm(yaw_pitch[candidates] - yaw_pitch[candidates[pick]], axis=-1)
        nearest = np.minimum(nearest, distance)
    return np.asarray(chosen, dtype=np.int64)


def even_references(candidates: np.ndarray, count: int) -> np.ndarray:
    """``count`` frames evenly spaced through the sorted ``candidates``: positions
    ``round((k + 0.5)·n / count)`` for k = 0..count−1 (n candidates), i.e. centred in equal bins."""
    candidates = np.sort(np.asarray(candidates, dtype=np.int64))
    if count > len(candidates):
        raise ValueError(f"asked for {count} references among {len(candidates)} candidates")
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    positions = np.floor((np.arange(count) + 0.5) * len(candidates) / count).astype(np.int64)
    return candidates[positions]


@dataclass(frozen=True)
class FrameSelection:
    """Frame indices of one training item: source, driving and the R references."""

    source: int
    driving: int
    references: np.ndarray  # R int64


def select_frames(rng: np.random.Generator, eligible: np.ndarray, num_references: int,
                  choice: ReferenceChoice, pose: np.ndarray | None = None) -> FrameSelection:
    """Draw distinct source and driving frames among ``eligible`` and pick ``num_references`` more.

    ``pose_diverse`` without ``pose`` falls back to ``random``. The caller ensures
    ``len(eligible) >= 2 + num_references``.
    """
    eligible = np.asarray(eligible, dtype=np.int64)
    source, driving = (int(i) for i in rng.choice(eligible, size=2, replace=False))
    candidates = eligible[(eligible != source) & (eligible != driving)]
    if num_references == 0:
        references = np.zeros(0, dtype=np.int64)
    elif choice == "pose_diverse" and pose is not None:
        references = pose_diverse_references(pose, source, candidates, num_references, rng)
    elif choice == "even":
        references = even_references(candidates, num_references)
    else:
        references = np.asarray(rng.choice(candidates, size=num_references, replace=False), dtype=np.int64)
    return FrameSelection(source, driving, references)


@dataclass(frozen=True)
class SelfReenactmentPlan:
    """Evaluation frames of one clip (docs/DESIGN.md#evaluation): source = frame 0, R references, every frame
    driving."""

    source: int
    references: tuple[int, ...]
    driving: tuple[int, ...]


def self_reenactment_plan(num_frames: int, num_references: int, rule: Literal["even", "pose_diverse"] = "even",
                          *, pose: np.ndarray | None = None, valid: np.ndarray | None = None) -> SelfReenactmentPlan:
    """The deterministic self-reenactment plan of a T-frame clip.

    Source is frame 0 and every frame 0..T−1 is driven. References come from frames 1..T−1 (only
    those with ``valid`` True when given):
    - ``even``: for k = 0..R−1 the candidate nearest to frame ``round((k + 1)·T / (R + 1))`` not
      taken yet (ties: the lower frame), sorted: e.g. T = 100, R = 4 → 20, 40, 60, 80; T = 12,
      R = 2 → 4, 8;
    - ``pose_diverse``: greedy farthest-point in (yaw, pitch) from the source (``pose`` T×3
      required), ties to the lower index.
    ValueError when fewer than R candidates exist.
    """
    if num_references < 0:
        raise ConfigError(f"number of references must be >= 0, got {num_references}")
    candidates = np.arange(1, num_frames, dtype=np.int64)
    if valid is not None:
        candidates = candidates[np.asarray(valid, dtype=bool)[1:num_frames]]
    if num_references > len(candidates):
        raise ValueError(f"a {num_frames}-frame clip has {len(candidates)} possible reference frames, "
                         f"{num_references} requested")
    if rule == "even":
        targets = np.rint((np.arange(num_references) + 1) * num_frames / (num_references + 1))
        chosen: list[int] = []
        for target in targets:  # nearest unused candidate to each target (ties: the lower frame)
            free = np.setdiff1d(candidates, chosen)
            chosen.append(int(free[np.argmin(np.abs(free - target))]))
        references = np.sort(np.asarray(chosen, dtype=np.int64))
    elif rule == "pose_diverse":
        if pose is None:
            raise ConfigError("self_reenactment_plan rule 'pose_diverse' needs the clip's pose (T×3)")
        references = pose_diverse_references(pose, 0, candidates, num_references)
    else:
        raise ConfigError(f"self-reenactment reference rule must be 'even' or 'pose_diverse', got {rule!r}")
    return SelfReenactmentPlan(0, tuple(int(i) for i in references), tuple(range(num_frames)))

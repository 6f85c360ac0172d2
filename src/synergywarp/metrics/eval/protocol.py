"""Evaluation plans (docs/DESIGN.md#evaluation): which source, reference and driving frames each task uses.

Self-reenactment (``self``), one task per clip of the split:
  source = frame 0; references for each R = :func:`synergywarp.data.self_reenactment_plan`
  (rule ``even``: for k = 0..R−1 the usable frame nearest to round((k+1)·T/(R+1)), frames with
  ``valid`` False never chosen); driving = every frame 0..T−1 (``max_frames`` N < T: the N frames
  round(linspace(0, T−1, N)), an even stride that keeps the first and last frame); motion absolute
  (source and driving are the same person in the same crop).
Cross-reenactment (``cross``), one task per row ``source_clip,source_frame,driving_clip`` of a CSV:
  references by the same rule on the source clip with the source frame (and frame 0) excluded;
  driving = the driving clip's frames as above; motion relative (the driving's change since its
  frame 0 applied to the source).
Hidden content (``hidden``), one task per clip of the split that shows something its source hides
  (:mod:`synergywarp.metrics.eval.hidden`): source = the frame with the mouth most closed and the eyes
  least open; scored driving frames = the N frames that open the mouth / eyes most beyond the source;
  references = frames that show it too, from the identity's other clips and reference photos first
  (identity-aware), else from the same clip far from every scored frame; motion absolute.

A reference is ``(clip, frame)``: a clip of the dataset, or ``refs/<identity>/<photo>`` (frame 0) of
the per-identity reference pool that ``synergywarp prepare --stills`` writes.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from synergywarp.data import find_clip, list_clips, load_clip_arrays, self_reenactment_plan
from synergywarp.data.clips import ClipEntry
from synergywarp.errors import ConfigError, InputError

Protocol = Literal["self", "cross", "hidden"]
PROTOCOLS: tuple[str, ...] = ("self", "cross", "hidden")
REFERENCE_RULE: Literal["even", "pose_diverse"] = "even"
ReferenceFrame = tuple[str, int]  # (clip name or refs/<identity>/<photo>, frame index)


@dataclass(frozen=True)
class EvalTask:
    """One source animated by one driving clip.

    references: ((R, ((clip, frame), ...)), ...) for every R evaluated.
    driving_frames: the driving clip's frames scored, in order (self/cross: starting at frame 0).
    """

    protocol: Protocol
    source_clip: str
    source_frame: int
    driving_clip: str
    driving_frames: tuple[int, ...]
    references: tuple[tuple[int, tuple[ReferenceFrame, ...]], ...]

    @property
    def motion_mode(self) -> Literal["absolute", "relative"]:
        """``relative`` for cross-reenactment, else ``absolute`` (same person, same crop)."""
        return "relative" if self.protocol == "cross" else "absolute"

    @property
    def has_ground_truth(self) -> bool:
        """Self-reenactment and hidden content score against the driving frame."""
        return self.protocol != "cross"

    def references_for(self, num_references: int) -> tuple[ReferenceFrame, ...]:
        """The R reference frames ``(clip, frame)`` used by ``full@R``."""
        for count, frames in self.references:
            if count == num_references:
                return frames
        raise KeyError(f"task {self.key} has no plan for R={num_references}")

    @property
    def key(self) -> str:
        """A file-name-safe identifier: ``<source>.<frame>__<driving>`` (self: ``<clip>``)."""
        if self.protocol == "self":
            return safe_name(self.source_clip)
        if self.protocol == "hidden":
            return f"{safe_name(self.source_clip)}.hidden{self.source_frame}"
        return f"{safe_name(self.source_clip)}.{self.source_frame}__{safe_name(self.driving_clip)}"


def safe_name(name: str) -> str:
    """``name`` with anything but letters, digits, ``_.-`` replaced by ``_`` (file names)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def parse_refs(text: str | list[int] | tuple[int, ...]) -> tuple[int, ...]:
    """``"0,1,2,4"`` (or a list) → sorted distinct R values ≥ 0; ConfigError when malformed."""
    items = text.split(",") if isinstance(text, str) else list(text)
    values = []
    for item in items:
        token = str(item).strip()
        if not re.fullmatch(r"\d+", token):
            raise ConfigError(f"--refs must be comma-separated integers ≥ 0 such as 0,1,2,4; got {text!r}")
        values.append(int(token))
    if not values:
        raise ConfigError("--refs needs at least one number of references, e.g. 0,1,2,4")
    return tuple(sorted(set(values)))


def driving_subset(num_frames: int, max_frames: int | None) -> tuple[int, ...]:
    """Every frame, or ``max_frames`` of them at an even stride (first and last kept)."""
    if max_frames is None or max_frames >= num_frames:
        return tuple(range(num_frames))
    if max_frames < 1:
        raise ConfigError(f"--max-frames must be ≥ 1, got {max_frames}")
    picked = np.unique(np.rint(np.linspace(0, num_frames - 1, max_frames)).astype(np.int64))
    return tuple(int(i) for i in picked)


def _clip_length_and_valid(entry: ClipEntry) -> tuple[int, np.ndarray]:
    valid = np.asarray(load_clip_arrays(entry, ("valid",))["valid"], dtype=bool)
    return len(valid), valid


def _references(entry: ClipEntry, refs: tuple[int, ...], valid: np.ndarray,
                source_frame: int) -> tuple[tuple[int, tuple[ReferenceFrame, ...]], ...]:
    usable = valid.copy()
    usable[source_frame] = False
    plans: list[tuple[int, tuple[ReferenceFrame, ...]]] = []
    for count in refs:
        try:
            plan = self_reenactment_plan(len(valid), count, REFERENCE_RULE, valid=usable)
        except ValueError:
            available = int(usable[1:].sum())
            raise InputError(f"clip {entry.name} has {available} frames usable as references; "
                             f"--refs {count} needs at least {count}") from None
        plans.append((count, tuple((entry.name, int(f)) for f in plan.references)))
    return tuple(plans)


def self_plan(root: str | Path, split: str, refs: tuple[int, ...], max_frames: int | None = None,
              max_clips: int | None = None) -> list[EvalTask]:
    """One self-reenactment task per clip of ``root/split`` (sorted by name, first ``max_clips``)."""
    entries = list_clips(root, split)[:max_clips] if max_clips else list_clips(root, split)
    tasks = []
    for entry in entries:
        num_frames, valid = _clip_length_and_valid(entry)
        if num_frames < 1:
            raise InputError(f"clip {entry.name} has no frames ({entry.arrays})")
        tasks.append(EvalTask("self", entry.name, 0, entry.name, driving_subset(num_frames, max_frames),
                              _references(entry, refs, valid, 0)))
    return tasks


def read_pairs(path: str | Path) -> list[tuple[str, int, str]]:
    """Rows ``source_clip,source_frame,driving_clip`` of a CSV (a header row is allowed)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"pairs file not found: {path}")
    pairs = []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        for line_number, row in enumerate(csv.reader(handle), start=1):
            cells = [cell.strip() for cell in row]
            if not any(cells) or cells[0].startswith("#"):
                continue
            if line_number == 1 and cells[:1] == ["source_clip"]:
                continue
            if len(cells) != 3 or not re.fullmatch(r"\d+", cells[1]) or not cells[0] or not cells[2]:
                raise InputError(f"{path} line {line_number}: expected source_clip,source_frame,driving_clip "
                                 f"with an integer frame, got {','.join(row)!r}")
            pairs.append((cells[0], int(cells[1]), cells[2]))
    if not pairs:
        raise InputError(f"{path} lists no source_clip,source_frame,driving_clip pairs")
    return pairs


def cross_plan(root: str | Path, pairs: list[tuple[str, int, str]], refs: tuple[int, ...],
               max_frames: int | None = None) -> list[EvalTask]:
    """One cross-reenactment task per (source clip, source frame, driving clip) pair."""
    tasks = []
    for source_name, source_frame, driving_name in pairs:
        source_entry, driving_entry = find_clip(root, source_name), find_clip(root, driving_name)
        num_source, valid = _clip_length_and_valid(source_entry)
        if source_frame >= num_source:
            raise InputError(f"pair {source_name},{source_frame},{driving_name}: clip {source_name} has only "
                             f"{num_source} frames")
        num_driving, _ = _clip_length_and_valid(driving_entry)
        tasks.append(EvalTask("cross", source_name, source_frame, driving_name,
                              driving_subset(num_driving, max_frames),
                              _references(source_entry, refs, valid, source_frame)))
    return tasks


def hidden_plan(root: str | Path, split: str, refs: tuple[int, ...], max_frames: int | None = None,
                max_clips: int | None = None) -> tuple[list[EvalTask], list[tuple[str, str]]]:
    """Hidden-content tasks (see :mod:`synergywarp.metrics.eval.hidden`) and the clips left out with
    their reason. ``max_frames``: scored frames per clip (default 16)."""
    from synergywarp.metrics.eval.hidden import hidden_choices

    largest = max(refs) if refs else 0
    chosen, skipped = hidden_choices(root, split, largest, max_frames, max_clips)
    tasks = []
    for name, choice in chosen:
        plans = tuple((count, choice.references[:count]) for count in refs)
        tasks.append(EvalTask("hidden", name, choice.source_frame, name, choice.driving_frames, plans))
    return tasks, skipped

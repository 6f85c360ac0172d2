"""The hidden-content protocol: sources that hide something, driving frames and references that show it.

Per clip of the split (landmarks from the clip's npz, FaceMesh 468, crop-normalised):

- ``closedness(t) = mouth_openness(t) / MOUTH_UNIT + eye_openness(t) / EYE_UNIT``
  (:mod:`synergywarp.face.regions`); the **source** is the usable frame with the smallest closedness
  (mouth most closed, eyes least open).
- ``gain(t) = (mouth(t) − mouth(s)) / MOUTH_UNIT + (eyes(t) − eyes(s)) / EYE_UNIT``: how much more
  of the mouth interior and the eyes frame t shows than the source. The **scored driving frames** are
  the N frames of largest gain ≥ ``MIN_GAIN``, at least ``MIN_SPACING`` frames apart, in time order.
  A clip with fewer than ``MIN_SCORED`` such frames hides nothing worth scoring and is left out.
- **References** come from frames with gain ≥ ``MIN_GAIN`` that are not near a scored frame:
  the identity's other clips of the same split and its reference photos (``refs/<identity>/``) first,
  frames of the same clip at least ``REFERENCE_GAP`` frames from every scored frame and the source
  last; the first choice per source (clip or photo), best gain first, then the second per source...
  so R references come from as many different takes as there are. Sets are nested (the R = 1
  reference is among the R = 2 ones), so results across R compare like with like.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synergywarp.data import list_clips, load_clip_arrays
from synergywarp.data.clips import ClipEntry, list_reference_photos
from synergywarp.errors import InputError
from synergywarp.face.regions import SHOWS_MORE, closedness, eye_openness, mouth_openness, openness_gain

MIN_GAIN = SHOWS_MORE
MIN_SPACING = 4  # frames between scored frames
MIN_SCORED = 4
REFERENCE_GAP = 25  # frames between a same-clip reference and any scored frame or the source
DEFAULT_SCORED = 16


@dataclass(frozen=True)
class FrameState:
    """Per-frame mouth and eye openness of one clip or photo (T each) and which frames are usable."""

    mouth: np.ndarray
    eyes: np.ndarray
    usable: np.ndarray

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> FrameState:
        landmarks = np.asarray(arrays["landmarks"], np.float64)
        usable = np.asarray(arrays["valid"], bool) & np.isfinite(landmarks).all(axis=(1, 2))
        return cls(mouth_openness(landmarks), eye_openness(landmarks), usable)

    def closedness(self) -> np.ndarray:
        return closedness(self.mouth, self.eyes)

    def gain(self, source_mouth: float, source_eyes: float) -> np.ndarray:
        return openness_gain(self.mouth, self.eyes, source_mouth, source_eyes)


@dataclass(frozen=True)
class HiddenChoice:
    """One clip's choice: source frame, scored frames, and references best-first (R_max of them)."""

    source_frame: int
    driving_frames: tuple[int, ...]
    references: tuple[tuple[str, int], ...]
    gains: tuple[float, ...]  # gain of each scored frame


def _spaced_top(gain: np.ndarray, eligible: np.ndarray, count: int, spacing: int) -> list[int]:
    """Up to ``count`` eligible frames of largest gain, pairwise at least ``spacing`` apart."""
    chosen: list[int] = []
    for frame in np.argsort(-gain, kind="stable"):
        if not eligible[frame] or len(chosen) == count:
            if len(chosen) == count:
                break
            continue
        if all(abs(int(frame) - c) >= spacing for c in chosen):
            chosen.append(int(frame))
    return chosen


def choose_hidden(name: str, state: FrameState, others: list[tuple[str, FrameState]], num_scored: int,
                  max_references: int) -> HiddenChoice | None:
    """The hidden-content choice for clip ``name`` (None when it hides nothing worth scoring).

    ``others``: the identity's other clips and photos (name, state) that references may come from."""
    if state.usable.sum() < MIN_SCORED + 1:
        return None
    closed = np.where(state.usable, state.closedness(), np.inf)
    source = int(np.argmin(closed))
    gain = state.gain(state.mouth[source], state.eyes[source])
    eligible = state.usable & (gain >= MIN_GAIN)
    eligible[max(0, source - MIN_SPACING):source + MIN_SPACING + 1] = False
    scored = _spaced_top(gain, eligible, num_scored, MIN_SPACING)
    if len(scored) < MIN_SCORED:
        return None
    scored.sort()
    # references: per source (other clip/photo, then this clip), best gain first
    candidates: list[list[tuple[float, str, int]]] = []
    for other_name, other in others:
        other_gain = other.gain(state.mouth[source], state.eyes[source])
        ok = other.usable & (other_gain >= MIN_GAIN)
        ranked = [(float(other_gain[f]), other_name, int(f)) for f in _spaced_top(other_gain, ok, max_references,
                                                                                  REFERENCE_GAP)]
        if ranked:
            candidates.append(ranked)
    candidates.sort(key=lambda ranked: -ranked[0][0])
    far = state.usable & (gain >= MIN_GAIN)
    frames = np.arange(len(gain))
    for near in [source, *scored]:
        far &= np.abs(frames - near) >= REFERENCE_GAP
    same = [(float(gain[f]), name, int(f)) for f in _spaced_top(gain, far, max_references, REFERENCE_GAP)]
    if same:
        candidates.append(same)
    references: list[tuple[str, int]] = []
    for depth in range(max_references):
        for ranked in candidates:
            if depth < len(ranked) and len(references) < max_references:
                references.append((ranked[depth][1], ranked[depth][2]))
    return HiddenChoice(source, tuple(scored), tuple(references), tuple(float(gain[f]) for f in scored))


def _identity(entry: ClipEntry, arrays: dict[str, np.ndarray]) -> str:
    return str(arrays["identity"]) if "identity" in arrays else entry.name


def hidden_choices(root, split: str, max_references: int, num_scored: int | None = None,
                   max_clips: int | None = None) -> tuple[list[tuple[str, HiddenChoice]], list[tuple[str, str]]]:
    """([(clip, choice)], [(clip, why skipped)]) for the clips of ``root/split`` (sorted by name)."""
    entries = list_clips(root, split)
    loaded = []
    for entry in entries:
        arrays = load_clip_arrays(entry, ("landmarks", "valid", "identity"))
        loaded.append((entry, _identity(entry, arrays), FrameState.from_arrays(arrays)))
    photos: dict[str, list[tuple[str, FrameState]]] = {}
    for photo in list_reference_photos(root):
        arrays = load_clip_arrays(photo, ("landmarks", "valid"))
        photos.setdefault(photo.identity, []).append((photo.name, FrameState.from_arrays(arrays)))
    chosen: list[tuple[str, HiddenChoice]] = []
    skipped: list[tuple[str, str]] = []
    for entry, identity, state in loaded:
        if max_clips is not None and len(chosen) >= max_clips:
            break
        others = [(e.name, s) for e, i, s in loaded if i == identity and e.name != entry.name]
        others += photos.get(identity, [])
        choice = choose_hidden(entry.name, state, others, num_scored or DEFAULT_SCORED, max_references)
        if choice is None:
            skipped.append((entry.name, f"fewer than {MIN_SCORED} frames show more mouth/eyes than its most "
                                        "closed frame"))
        elif len(choice.references) < max_references:
            skipped.append((entry.name, f"only {len(choice.references)} frames usable as references "
                                        f"(--refs needs {max_references})"))
        else:
            chosen.append((entry.name, choice))
    if not chosen:
        reasons = "; ".join(f"{name}: {why}" for name, why in skipped[:3])
        raise InputError(f"no clip of {root}/{split} suits the hidden-content protocol ({reasons})")
    return chosen, skipped

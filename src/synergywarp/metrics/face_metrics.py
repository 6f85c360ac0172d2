"""Face metrics scored from cached :class:`~synergywarp.metrics.face.FaceObservation` s (dlib, 256²).

Each function takes per-frame observations (or the raw arrays: 68×2 landmarks / 128-D descriptors,
None where no face was found) and returns a :class:`MetricValue` whose ``per_item`` holds nan for the
frames it skipped, so every skipped frame is counted.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from synergywarp.errors import InputError
from synergywarp.metrics.face import FACE_NETWORK, FaceObservation
from synergywarp.metrics.results import MetricValue, mean_of_counted

AKD_DEFINITION = (
    "AKD (FOMM): per frame, the mean absolute difference over the 68×2 coordinates of dlib's 68 landmarks "
    "(px at 256²) between output and ground truth; mean over frames with a face in both; others skipped"
)
AED_DEFINITION = (
    "AED_id: per frame, the Euclidean (L2) distance between dlib's 128-D face-recognition descriptors of "
    "the output and the ground-truth frame; mean over frames with a face in both (lower = same identity; "
    "dlib's same-person threshold is 0.6)"
)
CSIM_DEFINITION = (
    "CSIM-dlib: per frame, the cosine similarity between dlib's 128-D face-recognition descriptors of the "
    "source image and the output frame; mean over frames with a face in both (higher = same identity). "
    "Not comparable with ArcFace-based CSIM"
)
JITTER_DEFINITION = (
    "Jitter: per frame transition t−1→t, the mean over dlib's 68 landmarks of the L2 norm (px at 256²) of "
    "(output velocity − driving velocity); mean over transitions with a face in all four frames"
)
METRIC_DEFINITIONS = {"AKD": AKD_DEFINITION, "AED_id": AED_DEFINITION, "CSIM-dlib": CSIM_DEFINITION,
                      "Jitter": JITTER_DEFINITION}

Landmarks = FaceObservation | np.ndarray | None


def _landmarks(item: Landmarks) -> np.ndarray | None:
    value = item.landmarks if isinstance(item, FaceObservation) else item
    return None if value is None else np.asarray(value, dtype=np.float64)


def _descriptor(item: Landmarks) -> np.ndarray | None:
    value = item.descriptor if isinstance(item, FaceObservation) else item
    return None if value is None else np.asarray(value, dtype=np.float64)


def _check_lengths(first: Sequence, second: Sequence, what: str) -> None:
    if len(first) != len(second):
        raise InputError(f"{what}: {len(first)} output frames but {len(second)} reference frames")


def akd(outputs: Sequence[Landmarks], targets: Sequence[Landmarks]) -> MetricValue:
    """Average keypoint distance (px at 256²) between output and ground-truth 68×2 landmarks per frame."""
    _check_lengths(outputs, targets, "AKD")
    per_frame = np.full(len(outputs), np.nan)
    for index, (output, target) in enumerate(zip(outputs, targets)):
        output_points, target_points = _landmarks(output), _landmarks(target)
        if output_points is not None and target_points is not None:
            per_frame[index] = np.abs(output_points - target_points).mean()
    return mean_of_counted("AKD", per_frame, AKD_DEFINITION, FACE_NETWORK)


def aed_id(outputs: Sequence[Landmarks], targets: Sequence[Landmarks]) -> MetricValue:
    """AED_id: per frame, the L2 distance between the 128-D dlib face-recognition descriptors of the
    output and of the ground-truth frame; the mean over frames with a face in both (``AED_DEFINITION``).
    """
    _check_lengths(outputs, targets, "AED_id")
    per_frame = np.full(len(outputs), np.nan)
    for index, (output, target) in enumerate(zip(outputs, targets)):
        output_id, target_id = _descriptor(output), _descriptor(target)
        if output_id is not None and target_id is not None:
            per_frame[index] = np.linalg.norm(output_id - target_id)
    return mean_of_counted("AED_id", per_frame, AED_DEFINITION, FACE_NETWORK)


def csim(sources: Landmarks | Sequence[Landmarks], outputs: Sequence[Landmarks]) -> MetricValue:
    """Cosine similarity of dlib identity descriptors between the source (one, or one per frame) and outputs."""
    if isinstance(sources, (FaceObservation, np.ndarray)) or sources is None:
        sources = [sources] * len(outputs)
    _check_lengths(outputs, sources, "CSIM")
    per_frame = np.full(len(outputs), np.nan)
    for index, (source, output) in enumerate(zip(sources, outputs)):
        source_id, output_id = _descriptor(source), _descriptor(output)
        if source_id is not None and output_id is not None:
            norms = np.linalg.norm(source_id) * np.linalg.norm(output_id)
            per_frame[index] = float(source_id @ output_id / max(norms, 1e-12))
    return mean_of_counted("CSIM-dlib", per_frame, CSIM_DEFINITION, FACE_NETWORK)


def landmark_jitter(outputs: Sequence[Landmarks], driving: Sequence[Landmarks]) -> MetricValue:
    """Temporal jitter: landmark velocity of the output minus that of the driving video (px at 256²).

    per_item has T−1 entries (one per transition t−1→t).
    """
    _check_lengths(outputs, driving, "Jitter")
    output_points = [_landmarks(item) for item in outputs]
    driving_points = [_landmarks(item) for item in driving]
    per_transition = np.full(max(len(outputs) - 1, 0), np.nan)
    for t in range(1, len(outputs)):
        output_before, output_now = output_points[t - 1], output_points[t]
        driving_before, driving_now = driving_points[t - 1], driving_points[t]
        if output_before is None or output_now is None or driving_before is None or driving_now is None:
            continue
        output_velocity = output_now - output_before
        driving_velocity = driving_now - driving_before
        per_transition[t - 1] = np.linalg.norm(output_velocity - driving_velocity, axis=-1).mean()
    return mean_of_counted("Jitter", per_transition, JITTER_DEFINITION, FACE_NETWORK)

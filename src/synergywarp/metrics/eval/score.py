"""Scoring: cached per-frame features → per-frame rows and one :class:`MetricValue` per metric.

Means pool every scored frame of every task (frame-weighted, not clip-weighted). FID compares all
output frames of a method with all real driving frames of the run (each real frame once) in the
named feature space; with fewer than 2 frames it is not computed, and it is always reported with
its frame count (FID over a few hundred frames is noisy and biased upward).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synergywarp.metrics import (
    METRIC_DEFINITIONS,
    MetricValue,
    aed_id,
    akd,
    csim,
    feature_statistics,
    frechet_distance,
    landmark_jitter,
    lpips_network_name,
)
from synergywarp.metrics.eval.extract import PSNR_CAP_DB, REGION_SCALARS, FrameFeatures
from synergywarp.metrics.eval.protocol import EvalTask
from synergywarp.metrics.face import FACE_NETWORK
from synergywarp.metrics.fid import FID_DEFINITION, FIDFeatures
from synergywarp.metrics.image import REGION_DEFINITION, REGION_SIZES
from synergywarp.metrics.results import mean_of_counted

AED_SOURCE_DEFINITION = (
    "AED_id-src (cross-reenactment): per frame, the L2 distance between dlib's 128-D descriptors of the "
    "source image and the output; mean over frames with a face in both (lower = identity kept)"
)
POSE_ERROR_DEFINITION = (
    "PoseErr (cross-reenactment): per frame t, mean over pitch/yaw/roll (degrees) of |Δoutput − Δdriving|, "
    "Δ = pose(t) − pose(frame 0), poses from FaceMesh re-detected on both at 256² and fit_head_pose; "
    "frames where either face (or its frame 0) is missing are skipped"
)
EXPRESSION_ERROR_DEFINITION = (
    "ExpErr (cross-reenactment): per frame t, mean over the 468 landmarks of the L2 norm of "
    "Δoutput − Δdriving, Δ = expression residual(t) − residual(frame 0) in fit_head_pose's canonical "
    "frame (face width ≈ 1), FaceMesh re-detected on both"
)
PSNR_DEFINITION = METRIC_DEFINITIONS["PSNR"] + f"; per frame capped at {PSNR_CAP_DB:.2f} dB (one 8-bit level)"
REGION_METRICS = REGION_SCALARS
SELF_METRICS = ("L1", "PSNR", "SSIM", "LPIPS", *REGION_METRICS, "FID", "AKD", "AED_id", "CSIM-dlib", "Jitter")
HIDDEN_METRICS = ("L1", "PSNR", "SSIM", "LPIPS", *REGION_METRICS, "FID", "AKD", "AED_id", "CSIM-dlib")
CROSS_METRICS = ("FID", "CSIM-dlib", "AED_id-src", "PoseErr", "ExpErr", "Jitter")
LOWER_IS_BETTER = {"L1": True, "PSNR": False, "SSIM": False, "LPIPS": True, "FID": True, "AKD": True,
                   "AED_id": True, "CSIM-dlib": False, "AED_id-src": True, "PoseErr": True, "ExpErr": True,
                   "Jitter": True, **{label: True for label in REGION_METRICS}}


def metric_labels(protocol: str) -> tuple[str, ...]:
    """The table's metrics for a protocol, in order."""
    return {"self": SELF_METRICS, "hidden": HIDDEN_METRICS}.get(protocol, CROSS_METRICS)


def _region_definition(label: str) -> str:
    metric, region = label.split("-")
    height, width = REGION_SIZES[region]
    return REGION_DEFINITION.format(metric=metric, region=region, height=height, width=width)


@dataclass
class TaskFeatures:
    """One task's extraction: the method's outputs, the real driving frames, the real source (1 row)."""

    task: EvalTask
    outputs: FrameFeatures
    real: FrameFeatures
    source: FrameFeatures


@dataclass
class MethodScore:
    """A method's aggregated metrics (label → MetricValue, in table order) and its per-frame rows."""

    name: str
    network: str
    metrics: dict[str, MetricValue]
    rows: list[dict]
    output_size: int | None = None  # side of the crops the method produced (None: not recorded)


def _observations(features: FrameFeatures) -> list[np.ndarray | None]:
    """dlib landmarks per frame (68×2) or None; descriptors are looked up separately."""
    return [None if np.isnan(row).any() else row for row in features.landmarks]


def _descriptors(features: FrameFeatures) -> list[np.ndarray | None]:
    return [None if np.isnan(row).any() else row for row in features.descriptors]


def _motion_errors(outputs: FrameFeatures, real: FrameFeatures) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame PoseErr (deg) and ExpErr of a relative-motion task (nan where skipped)."""
    def change(values: np.ndarray) -> np.ndarray:
        return values - values[:1]

    pose_error = np.abs(change(outputs.pose) - change(real.pose)).mean(axis=-1)
    expression_delta = change(outputs.expression.astype(np.float64)) - change(real.expression.astype(np.float64))
    expression_error = np.linalg.norm(expression_delta, axis=-1).mean(axis=-1)
    return pose_error, expression_error


def frechet_distance_from_features(real: np.ndarray, generated: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to N1×D ``real`` and N2×D ``generated`` (unbiased covariances).

    With fewer frames than dimensions (the usual case per run) the trace term is computed exactly from
    the small N1×N2 matrix: with centred features A1, A2 and Σi = AiᵀAi/(Ni−1), the non-zero eigenvalues
    of Σ1Σ2 are the squared singular values of A1A2ᵀ/√((N1−1)(N2−1)), so Tr((Σ1Σ2)^½) is its nuclear
    norm. Otherwise :func:`frechet_distance` (eigh) on the D×D covariances.
    """
    real, generated = np.asarray(real, np.float64), np.asarray(generated, np.float64)
    if min(len(real), len(generated)) >= real.shape[1]:
        mu1, sigma1 = feature_statistics(real)
        mu2, sigma2 = feature_statistics(generated)
        return frechet_distance(mu1, sigma1, mu2, sigma2, method="eigh")
    mean_real, mean_generated = real.mean(axis=0), generated.mean(axis=0)
    centred_real, centred_generated = real - mean_real, generated - mean_generated
    n_real, n_generated = len(real) - 1, len(generated) - 1
    trace_real = float((centred_real**2).sum()) / n_real
    trace_generated = float((centred_generated**2).sum()) / n_generated
    cross = centred_real @ centred_generated.T / np.sqrt(n_real * n_generated)
    trace_root = float(np.linalg.svd(cross, compute_uv=False).sum())
    difference = mean_real - mean_generated
    return float(difference @ difference + trace_real + trace_generated - 2.0 * trace_root)


def _fid(outputs: list[np.ndarray], real: dict[tuple[str, int], np.ndarray], space: FIDFeatures) -> MetricValue:
    generated = np.concatenate(outputs) if outputs else np.zeros((0, space.dim))
    real_features = np.stack(list(real.values())) if real else np.zeros((0, space.dim))
    if len(generated) < 2 or len(real_features) < 2:
        return MetricValue(space.name, float("nan"), 0, len(generated), "not computed: fewer than 2 frames",
                           space.network)
    value = frechet_distance_from_features(real_features, generated)
    definition = FID_DEFINITION.format(space=space.name) + f"; {len(real_features)} real frames"
    return MetricValue(space.name, value, len(generated), 0, definition, space.network)


def _network(label: str) -> str:
    """The network behind a per-frame metric."""
    if label.startswith("LPIPS"):
        return lpips_network_name("alex")
    if label in ("PoseErr", "ExpErr"):
        return "MediaPipe FaceMesh 468 landmarks (re-detected) + fit_head_pose"
    return "none" if label in ("L1", "PSNR", "SSIM", "L1-mouth", "L1-eyes") else FACE_NETWORK


def score_method(name: str, network: str, items: list[TaskFeatures], fid_space: FIDFeatures,
                 face_metrics: bool) -> MethodScore:
    """Aggregate one method over all tasks; returns metrics in the protocol's table order."""
    protocol = items[0].task.protocol if items else "self"
    per_frame: dict[str, list[np.ndarray]] = {label: [] for label in (*SELF_METRICS, *CROSS_METRICS)}
    labels = metric_labels(protocol)
    rows: list[dict] = []
    real_fid: dict[tuple[str, int], np.ndarray] = {}
    output_fid = []
    for item in items:
        task, outputs, real = item.task, item.outputs, item.real
        count = len(task.driving_frames)
        values: dict[str, np.ndarray] = {k: outputs.scalars[k] for k in ("L1", "PSNR", "SSIM", "LPIPS")}
        values.update({k: outputs.scalars[k] for k in REGION_METRICS if not np.isnan(outputs.scalars[k]).all()})
        output_fid.append(outputs.fid)
        real_fid.update({(task.driving_clip, int(f)): v for f, v in zip(real.frames, real.fid)})
        if face_metrics:
            output_obs, real_obs = _observations(outputs), _observations(real)
            output_ids, real_ids = _descriptors(outputs), _descriptors(real)
            source_id = _descriptors(item.source)[0]
            values["CSIM-dlib"] = csim(source_id, output_ids).per_item
            if "Jitter" in labels:  # consecutive frames only
                jitter = landmark_jitter(output_obs, real_obs).per_item
                values["Jitter"] = np.concatenate([[np.nan], jitter])[:count]
            if task.has_ground_truth:
                values["AKD"] = akd(output_obs, real_obs).per_item
                values["AED_id"] = aed_id(output_ids, real_ids).per_item
            else:
                values["AED_id-src"] = aed_id(output_ids, [source_id] * count).per_item
                values["PoseErr"], values["ExpErr"] = _motion_errors(outputs, real)
        for label, array in values.items():
            per_frame[label].append(array if label != "Jitter" else array[1:])
        for index, frame in enumerate(task.driving_frames):
            row = {"protocol": task.protocol, "method": name, "source_clip": task.source_clip,
                   "source_frame": task.source_frame, "driving_clip": task.driving_clip, "frame": int(frame)}
            row.update({label: float(array[index]) for label, array in values.items()})
            if face_metrics:
                row["face_found"] = bool(not np.isnan(outputs.landmarks[index]).any())
            rows.append(row)
    definitions = {**METRIC_DEFINITIONS, "PSNR": PSNR_DEFINITION, "AED_id-src": AED_SOURCE_DEFINITION,
                   "PoseErr": POSE_ERROR_DEFINITION, "ExpErr": EXPRESSION_ERROR_DEFINITION,
                   **{label: _region_definition(label) for label in REGION_METRICS}}
    metrics: dict[str, MetricValue] = {}
    for label in labels:
        if label == "FID":
            metrics[label] = _fid(output_fid, real_fid, fid_space)
            continue
        arrays = per_frame[label]
        if not arrays:
            continue  # face metrics off
        metrics[label] = mean_of_counted(label, np.concatenate(arrays), definitions[label], _network(label))
    return MethodScore(name, network, metrics, rows)

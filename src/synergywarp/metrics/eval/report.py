"""Writing an evaluation: ``per_frame.csv``, ``metrics.json`` and ``metrics.md`` (one table, every network named)."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

from synergywarp.atomic import write_text_atomic
from synergywarp.metrics import lpips_network_name
from synergywarp.metrics.eval.score import LOWER_IS_BETTER, metric_labels
from synergywarp.metrics.results import report_path

if TYPE_CHECKING:
    from synergywarp.metrics.eval.run import EvalResult

REPORT_FILES = {"per_frame": "per_frame.csv", "json": "metrics.json", "markdown": "metrics.md"}
ROW_KEYS = ("protocol", "method", "source_clip", "source_frame", "driving_clip", "frame")
DLIB_PREDICTOR = "dlib 68-point landmark predictor (shape_predictor_68_face_landmarks.dat, HOG face detector)"
DLIB_RESNET = "dlib ResNet 128-D face descriptor (dlib_face_recognition_resnet_model_v1.dat)"
PROTOCOL_TEXT = {
    "self": ("Self-reenactment: per clip, source = frame 0, references for R = the rule 'even' of "
             "self_reenactment_plan (usable frame nearest round((k+1)·T/(R+1)), k < R), driving = every frame "
             "(or N at an even stride with --max-frames), absolute motion (tracked models: the driving frame's "
             "own tracked keypoints; learned: the source's canonical keypoints under the driving's motion); "
             "ground truth = the driving frame. All methods see the same crops and frames."),
    "cross": ("Cross-reenactment: pairs source_clip,source_frame,driving_clip; references by the same rule on "
              "the source clip (source frame excluded); driving = the driving clip's frames; relative motion "
              "(the driving's change since its frame 0 applied to the source). No ground truth: FID against the "
              "real driving frames, identity (CSIM, AED_id-src) against the source, pose/expression change "
              "against the driving's."),
    "hidden": ("Hidden content: per clip, source = the frame with the mouth most closed and the eyes least open; "
               "scored driving frames = the N frames (default 16, ≥ 4 frames apart) that open the mouth and eyes most "
               "beyond the source; references = frames that show the same, from the identity's other clips and "
               "reference photos first, else from the same clip ≥ 25 frames from every scored frame; sets nested "
               "across R; absolute motion; ground truth = the driving frame. Mouth/eye metrics are scored inside "
               "boxes from the ground truth's landmarks (synergywarp.metrics.eval.hidden)."),
}


def write_per_frame_csv(result: EvalResult, path: Path) -> None:
    """One row per (method, task, frame); metric columns of the protocol (blank = not computed/skipped)."""
    labels = [label for label in metric_labels(result.protocol) if label != "FID"]
    present = {key for score in result.scores for row in score.rows for key in row}
    columns = [*ROW_KEYS, *(label for label in labels if label in present)]
    if "face_found" in present:
        columns.append("face_found")
    handle = io.StringIO(newline="")
    writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for score in result.scores:
        for row in score.rows:
            writer.writerow({k: _cell(row.get(k)) for k in columns})
    write_text_atomic(path, handle.getvalue())


def _cell(value):
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return value


def networks(result: EvalResult) -> dict[str, str]:
    """Every network whose output enters a number of this run (name → description)."""
    named = {"LPIPS-alex": lpips_network_name("alex"), result.fid_name: result.fid_network}
    if result.face_metrics:
        named["dlib 68-point"] = DLIB_PREDICTOR
        named["dlib ResNet 128-D"] = DLIB_RESNET
        if result.protocol == "cross":
            named["FaceMesh"] = "MediaPipe FaceMesh 468 landmarks (pose/expression re-detection)"
    for score in result.scores:
        named[score.name] = score.network
    return named


def metrics_json(result: EvalResult) -> dict:
    return {
        "protocol": result.protocol,
        "protocol_description": PROTOCOL_TEXT[result.protocol],
        "data": report_path(result.data), "split": result.split, "refs": list(result.refs),
        "checkpoint": report_path(result.checkpoint),
        "tasks": [{"source_clip": t.source_clip, "source_frame": t.source_frame, "driving_clip": t.driving_clip,
                   "num_frames": len(t.driving_frames), "driving_frames": list(t.driving_frames),
                   "references": {str(r): [list(ref) for ref in f] for r, f in t.references}}
                  for t in result.tasks],
        "skipped_clips": [{"clip": name, "reason": why} for name, why in result.skipped],
        "methods": [{"name": s.name, "network": s.network, "output_size": s.output_size,
                     "metrics": {value.name: value.as_dict() for value in s.metrics.values()}}
                    for s in result.scores],
        "networks": networks(result),
        "extraction": {"frames_computed": result.stats.computed, "frames_from_cache": result.stats.cached,
                       "cache": report_path(result.cache_dir)},
        "seconds": result.seconds,
        "frames_per_second": result.frames_per_second,
    }


def _format(value: float, label: str) -> str:
    if math.isnan(value):
        return "–"
    if label in ("PSNR", "FID") or label.startswith("FID"):
        return f"{value:.2f}"
    if label in ("AKD", "Jitter", "PoseErr"):
        return f"{value:.3f}"
    return f"{value:.4f}"


def markdown(result: EvalResult) -> str:
    """The results table (methods × metrics), then networks, definitions and counts."""
    scores = result.scores
    labels = [label for label in metric_labels(result.protocol) if any(label in s.metrics for s in scores)]
    headers = []
    for label in labels:
        shown = result.fid_name if label == "FID" else label
        headers.append(f"{shown} {'↓' if LOWER_IS_BETTER[label] else '↑'}")
    title = {"self": "self-reenactment", "cross": "cross-reenactment", "hidden": "hidden content"}[result.protocol]
    lines = [f"# SynergyWarp evaluation ({title})", "",
             f"Data: `{report_path(result.data)}` split `{result.split}`, {len(result.tasks)} task(s), "
             f"{sum(len(t.driving_frames) for t in result.tasks)} driving frames per method; "
             f"checkpoint: `{report_path(result.checkpoint)}`." if result.checkpoint else
             f"Data: `{report_path(result.data)}` split `{result.split}`, {len(result.tasks)} task(s); "
             "no checkpoint.", "",
             PROTOCOL_TEXT[result.protocol], "",
             "| method | output | " + " | ".join(headers) + " |",
             "|---|---:|" + "---:|" * len(headers)]
    for score in scores:
        cells = []
        for label in labels:
            value = score.metrics.get(label)
            if value is None:
                cells.append("–")
            elif label == "FID":
                cells.append(f"{_format(value.value, label)} (n={value.num_counted})")
            else:
                cells.append(_format(value.value, label))
        size = f"{score.output_size}²" if score.output_size else "–"
        lines.append(f"| {score.name} | {size} | " + " | ".join(cells) + " |")
    lines += ["", "\"output\" is the side of the crop each method produced; every metric is computed at 256² "
              "(outputs of another size are resized with antialiased bilinear)."]
    if result.skipped:
        lines += ["", "Clips the protocol left out: " + "; ".join(f"{n} ({why})" for n, why in result.skipped) + "."]
    lines += ["", f"{result.fid_name} is computed over all frames of a method (n above); with few frames it is "
              "noisy and biased upward — compare methods only within one run."
              + ("" if result.fid_name == "FID" else f" {result.fid_name} is NOT comparable with published FID "
                 "(Inception-v3)."), "", "## Networks", ""]
    lines += [f"- **{name}**: {description}" for name, description in networks(result).items()]
    lines += ["", "## Definitions", ""]
    seen = set()
    for score in scores:
        for label, value in score.metrics.items():
            if label not in seen:
                seen.add(label)
                lines.append(f"- **{value.name}**: {value.definition}")
    if result.face_metrics and scores:
        lines += ["", "## Frames without a detected face (skipped by the face metrics)", ""]
        for score in scores:
            skipped = {label: v.num_skipped for label, v in score.metrics.items()
                       if label in ("AKD", "AED_id", "CSIM-dlib", "AED_id-src", "PoseErr") and v.num_skipped}
            text = ", ".join(f"{k}: {v}" for k, v in skipped.items()) or "none"
            lines.append(f"- {score.name}: {text}")
    lines += ["", f"Extraction: {result.stats.computed} frames computed, {result.stats.cached} from the cache; "
              f"{result.seconds:.1f} s ({result.frames_per_second:.2f} frames/s)."]
    return "\n".join(lines) + "\n"


def write_reports(result: EvalResult, out_dir: Path) -> dict[str, Path]:
    """Write the three files into ``out_dir`` (each atomically); returns {kind: path}."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {kind: out_dir / name for kind, name in REPORT_FILES.items()}
    write_per_frame_csv(result, paths["per_frame"])
    write_text_atomic(paths["json"], json.dumps(metrics_json(result), indent=1, ensure_ascii=False))
    write_text_atomic(paths["markdown"], markdown(result))
    return paths

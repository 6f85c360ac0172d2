"""Does the demo output follow the driving clip? Re-detect landmarks on both and compare head poses.

Animates the bundled demo inputs (or given ones) with the bundled model, runs FaceMesh (video mode) on
the driving crops and on the animated crops, fits the head pose of each frame, and reports how the
change of yaw/pitch/roll since frame 0 agrees (Pearson correlation and mean absolute difference in
degrees) plus the mouth-opening correlation. Prints one line per quantity and writes JSON.

    python scripts/measure_demo_tracking.py --out docs/results/demo_tracking.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from synergywarp.face import fit_head_pose
from synergywarp.face.landmarks import LandmarkDetector
from synergywarp.inference import AnimateOptions, Animator
from synergywarp.inference.demo import demo_inputs

UPPER_LIP, LOWER_LIP = 13, 14  # inner lip midpoints (mediapipe indices)


def track(frames: list[np.ndarray]) -> np.ndarray:
    """T×468×3 crop-normalised landmarks (NaN where no face) of square crops."""
    detector = LandmarkDetector(static_image=False)
    out = np.full((len(frames), 468, 3), np.nan, np.float32)
    try:
        for i, frame in enumerate(frames):
            face = detector(frame)
            if face is not None:
                size = frame.shape[0]
                out[i] = face.points * np.array([2 / size, 2 / size, 2 / size]) - np.array([1, 1, 0])
    finally:
        detector.close()
    return out


def pose_and_mouth(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    poses = np.full((len(landmarks), 3), np.nan)
    mouth = np.full(len(landmarks), np.nan)
    for i, points in enumerate(landmarks):
        if np.isfinite(points).all():
            poses[i] = fit_head_pose(points).angles
            mouth[i] = np.linalg.norm(points[UPPER_LIP, :2] - points[LOWER_LIP, :2])
    return poses, mouth


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", default=None, help="default: the bundled demo model")
    parser.add_argument("--out", type=Path, default=Path("docs/results/demo_tracking.json"))
    args = parser.parse_args(argv)
    source, references, driving = demo_inputs()
    animator = Animator.from_pretrained(args.checkpoint, device="cpu", dtype="fp32")
    frames = list(animator.animate(source, driving, references, AnimateOptions(check_identity=False)))
    driving_pose, driving_mouth = pose_and_mouth(track([f.driving for f in frames]))
    output_pose, output_mouth = pose_and_mouth(track([f.crop for f in frames]))
    ok = np.isfinite(driving_pose).all(1) & np.isfinite(output_pose).all(1)
    report = {"frames": len(frames), "frames_with_both_faces": int(ok.sum())}
    for k, name in enumerate(("pitch", "yaw", "roll")):
        d = driving_pose[ok, k] - driving_pose[ok][0, k]
        o = output_pose[ok, k] - output_pose[ok][0, k]
        report[name] = {"driving_range_deg": float(np.ptp(d)), "output_range_deg": float(np.ptp(o)),
                        "correlation": float(np.corrcoef(d, o)[0, 1]), "mean_abs_diff_deg": float(np.abs(d - o).mean())}
    m = np.isfinite(driving_mouth) & np.isfinite(output_mouth)
    report["mouth_opening_correlation"] = float(np.corrcoef(driving_mouth[m], output_mouth[m])[0, 1])
    for key, value in report.items():
        print(f"{key}: {value}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

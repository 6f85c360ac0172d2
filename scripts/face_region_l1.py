#!/usr/bin/env python
"""Where a method's error lies: L1 inside and outside the ground truth's face oval (issue 12).

Runs ``synergywarp eval`` (self-reenactment, the same tasks and frames) for one method and splits each
scored frame's absolute error (at the eval's 256², [0, 1] scale, as its L1) between the pixels inside the
polygon of the ground truth's 36 face-oval landmarks and the rest of the crop (hair, neck, background).
The pixel-weighted means reproduce the report's whole-crop L1. No extraction cache is read or written.

    python scripts/face_region_l1.py --data data/synth256 --method full --refs 2 --max-frames 8 \
        --checkpoint src/synergywarp/assets/models/demo.safetensors
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

from synergywarp.face import mesh_regions
from synergywarp.face.mesh_render import normalised_to_pixels
from synergywarp.io.tensors import images_to_tensor
from synergywarp.metrics.eval import extract
from synergywarp.metrics.eval.run import EvalOptions, run_eval
from synergywarp.metrics.preprocess import resize_to_eval


def face_oval_mask(landmarks: np.ndarray, size: int) -> np.ndarray:
    """size×size bool: inside the polygon of the 468×3 crop-normalised landmarks' face oval."""
    points = normalised_to_pixels(np.asarray(landmarks, np.float64), size)[list(mesh_regions.FACE_OVAL), :2]
    mask = np.zeros((size, size), np.uint8)
    cv2.fillPoly(mask, [np.rint(points).astype(np.int32)], 1)
    return mask.astype(bool)


def split_errors(images: np.ndarray, targets: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """N×4 (error sum inside, pixels inside, error sum outside, pixels outside) of N×S×S×3 uint8 frames,
    both resized to the eval's 256² first, as its L1 is."""
    outputs = resize_to_eval(images_to_tensor(images)).double()
    truths = resize_to_eval(images_to_tensor(targets)).double()
    errors = (outputs - truths).abs().mean(dim=1).numpy()  # N×256×256
    rows = []
    for error, points in zip(errors, landmarks):
        inside = face_oval_mask(points, error.shape[0])
        rows.append((error[inside].sum(), inside.sum(), error[~inside].sum(), (~inside).sum()))
    return np.asarray(rows, np.float64).reshape(-1, 4)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--method", default="full", help="one eval method: static, geometric, geometric-mesh, "
                                                         "explicit, full (default full)")
    parser.add_argument("--refs", type=int, default=2, help="R for full (default 2)")
    parser.add_argument("--max-frames", type=int, default=8)
    parser.add_argument("--split", default="test")
    args = parser.parse_args(argv)

    records: list[np.ndarray] = []
    original = extract.FeatureExtractor.extract

    def recording(self, frames, images, targets, target_landmarks=None):  # type: ignore[no-untyped-def]
        if targets is not None and target_landmarks is not None:
            records.append(split_errors(images, targets, target_landmarks))
        return original(self, frames, images, targets, target_landmarks)

    extract.FeatureExtractor.extract = recording  # type: ignore[method-assign]
    try:
        with tempfile.TemporaryDirectory() as out:
            options = EvalOptions(data=args.data, checkpoint=args.checkpoint, split=args.split, refs=(args.refs,),
                                  out=Path(out), use_cache=False, max_frames=args.max_frames, face_metrics=False,
                                  methods=(args.method,))
            run_eval(options.validate())
    finally:
        extract.FeatureExtractor.extract = original  # type: ignore[method-assign]
    totals = np.concatenate(records).sum(axis=0) if records else np.zeros(4)
    if totals[1] + totals[3] == 0:
        print("error: no scored frame with ground-truth landmarks", file=sys.stderr)
        return 1
    result = {"method": args.method, "refs": args.refs, "frames": int(sum(len(r) for r in records)),
              "L1_inside_face": totals[0] / totals[1], "L1_outside_face": totals[2] / totals[3],
              "L1_whole": (totals[0] + totals[2]) / (totals[1] + totals[3]),
              "face_share": totals[1] / (totals[1] + totals[3])}
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

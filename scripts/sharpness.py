#!/usr/bin/env python
"""Sharpness of the output at several sizes against the ground truth and the geometric warp (issue 12).

For the real test split (self-reenactment: source = frame 0 of each clip, N driving frames at an even
stride), the source and the ground-truth frames are cropped again from the ORIGINAL videos at each
output size (the clip's crop transform, resampled), so a 512² output is compared with a 512² crop of
the real frame. Sharpness = mean Sobel gradient magnitude of the grey image inside the face box (the
ground truth's landmarks); reported per method as the ratio to the ground truth's.

    python scripts/sharpness.py --checkpoint runs/demo_v2/model_ema.safetensors --data data/real \
        --sizes 256,512 --frames 8 --out docs/results/real/demo_v2/sharpness.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
import torch

from synergywarp.data import list_clips, load_clip_arrays
from synergywarp.data.prepare import load_manifest
from synergywarp.face.crop import CropTransform, apply_crop, resize_crop
from synergywarp.face.keypoints import tracked_keypoints
from synergywarp.face.prior import PriorWarp, prior_grid_size
from synergywarp.io import open_video
from synergywarp.io.tensors import images_to_tensor, tensor_to_images
from synergywarp.models import SynergyWarpNet


def sharpness(image: np.ndarray, landmarks: np.ndarray) -> float:
    """Mean Sobel gradient magnitude of the grey image inside the landmarks' bounding box."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    gx, gy = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    size = image.shape[0]
    lo = np.clip(((landmarks[:, :2].min(0) + 1) * size / 2).astype(int), 0, size - 1)
    hi = np.clip(((landmarks[:, :2].max(0) + 1) * size / 2).astype(int), 1, size)
    return float(np.hypot(gx, gy)[lo[1]:hi[1], lo[0]:hi[0]].mean())


def original_frames(video: Path, wanted: set[int]) -> dict[int, np.ndarray]:
    _, frames = open_video(video)
    found = {}
    for index, frame in enumerate(frames):
        if index in wanted:
            found[index] = frame
        if len(found) == len(wanted):
            break
    frames.close()
    return found


def recrop(arrays: dict[str, np.ndarray], originals: dict[int, np.ndarray], frame: int, size: int,
           clip_size: int) -> np.ndarray:
    """Clip frame ``frame`` (a ``clip_size``² crop) cropped again from its original video frame at ``size``²."""
    transform = resize_crop(CropTransform(arrays["crop_matrix"][frame].astype(np.float64), clip_size), size)
    return apply_crop(originals[int(arrays["source_frames"][frame])], transform, border="replicate")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--split", default="test")
    parser.add_argument("--sizes", default="256,512")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--max-clips", type=int, default=12)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    model = SynergyWarpNet.from_pretrained(args.checkpoint).eval()
    net = model.config.image_size
    manifest = load_manifest(Path(args.data))
    ratios: dict[str, dict[str, list[float]]] = {str(s): {"geometric": [], "model": []} for s in sizes}
    for entry in list_clips(args.data, args.split)[:args.max_clips]:
        arrays = load_clip_arrays(entry)
        if "source_frames" not in arrays or "crop_matrix" not in arrays:
            continue  # not a real clip cut from a video (synthetic data)
        video = Path(str(manifest[entry.name]["source"]))
        clip_size = int(manifest[entry.name]["size"])
        if not video.is_file():
            raise SystemExit(f"error: the original video {video} of clip {entry.name} is missing")
        count = len(arrays["valid"])
        picks = np.unique(np.rint(np.linspace(1, count - 1, args.frames)).astype(int))
        originals = original_frames(video, {int(arrays["source_frames"][f]) for f in [0, *picks]})
        landmarks = arrays["landmarks"]
        for size in sizes:
            source = recrop(arrays, originals, 0, size, clip_size)
            prior = PriorWarp(model.config.warp.dense_motion.prior_kind, landmarks[0], source)
            with torch.no_grad():
                hr = images_to_tensor(source[None])
                low = torch.nn.functional.interpolate(hr, size=(net, net), mode="bilinear", antialias=True,
                                                      align_corners=False)
                state = model.encode_source(low, torch.from_numpy(tracked_keypoints(landmarks[:1])).float(),
                                            image_hr=hr)
                grids = torch.from_numpy(prior.grids(landmarks[picks], prior_grid_size(net)))
                keypoints = torch.from_numpy(tracked_keypoints(landmarks[picks])).float()
                outputs = tensor_to_images(model.animate(state, keypoints, prior_grid=grids, output_size=size).image)
            for row, frame in enumerate(picks):
                truth = sharpness(recrop(arrays, originals, int(frame), size, clip_size), landmarks[frame])
                geometric = prior.warp_image(source, landmarks[frame])
                ratios[str(size)]["geometric"].append(sharpness(geometric, landmarks[frame]) / truth)
                ratios[str(size)]["model"].append(sharpness(outputs[row], landmarks[frame]) / truth)
    summary = {size: {name: float(np.mean(values)) for name, values in methods.items()}
               for size, methods in ratios.items()}
    result = {"checkpoint": args.checkpoint, "data": args.data, "split": args.split, "frames_per_clip": args.frames,
              "definition": "mean Sobel gradient magnitude of the grey image in the face box, output / ground truth",
              "ratio_to_ground_truth": summary, "count": {s: len(m["model"]) for s, m in ratios.items()}}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))
    print("| size | geometric / truth | model / truth |\n|---:|---:|---:|")
    for size, values in summary.items():
        print(f"| {size}² | {values['geometric']:.3f} | {values['model']:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

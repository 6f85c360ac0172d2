"""Does RAC fetch what only the references show? A targeted probe of the mouth interior.

On each held-out clip the source is the frame with the mouth most closed and the driving frames are
the three with the mouth most open, so the source never shows the mouth interior. The same checkpoint
then animates them with (a) the explicit path, (b) the full model with no references (R = 0),
(c) the full model with R references that show an open mouth (never the driving frame itself) and
(d) with R references whose mouth is closed; for prior models also the mesh warp alone. L1 is measured on the whole
crop and inside the mouth
(the driving's outer-lip polygon, dilated by 2 px). If the correction retrieves texture from the
references, (c) beats (b) and (d) inside the mouth.

    python scripts/rac_probe.py --checkpoint src/synergywarp/assets/models/demo.safetensors --data data/synth128
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
import torch

from synergywarp.data import list_clips, load_clip
from synergywarp.face import tracked_keypoints
from synergywarp.face.mesh_regions import LIPS_LOWER_OUTER, LIPS_UPPER_OUTER
from synergywarp.face.mesh_warp import mesh_warp_grids
from synergywarp.io.tensors import images_to_tensor
from synergywarp.metrics.results import report_path
from synergywarp.models import SynergyWarpNet


def to_tensor(frames: np.ndarray, size: int) -> torch.Tensor:
    images = images_to_tensor(frames)
    if images.shape[-1] != size:
        images = torch.nn.functional.interpolate(images, size=(size, size), mode="bilinear", antialias=True)
    return images


def mouth_mask(landmarks: np.ndarray, size: int) -> np.ndarray:
    """S×S bool: the outer-lip polygon of 468×3 crop-normalised landmarks, dilated by 2 px."""
    ring = list(LIPS_UPPER_OUTER) + list(reversed(LIPS_LOWER_OUTER[1:-1]))
    points = np.rint((landmarks[ring, :2] + 1.0) * size / 2.0 - 0.5).astype(np.int32)
    mask = np.zeros((size, size), np.uint8)
    cv2.fillPoly(mask, [points], 1)
    return cv2.dilate(mask, np.ones((5, 5), np.uint8)).astype(bool)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--split", default="test")
    parser.add_argument("--refs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="write the summary as JSON")
    args = parser.parse_args(argv)
    model = SynergyWarpNet.from_pretrained(args.checkpoint).eval()
    cfg = model.config
    if cfg.motion != "tracked":
        raise SystemExit("error: the probe needs a motion: tracked checkpoint (it uses the clips' landmarks)")
    size = cfg.image_size
    variants = ("mesh warp alone", "explicit", "full R=0", f"full R={args.refs} open-mouth refs",
                f"full R={args.refs} closed-mouth refs")
    errors: dict[str, dict[str, list[float]]] = {v: {"crop": [], "mouth": []} for v in variants}
    for entry in list_clips(args.data, args.split):
        clip = load_clip(args.data, entry.name)
        names = list(clip.arrays["expression_names"])
        mouth = clip.arrays["expression"][:, names.index("mouth_open")]
        order = np.argsort(mouth)
        if mouth[order[-1]] < 0.25:
            continue  # this clip never opens the mouth
        source, driving = int(order[0]), [int(i) for i in order[-3:]]
        open_refs = [int(i) for i in order[::-1] if i not in driving and i != source][: args.refs]
        closed_refs = [int(i) for i in order if i not in driving and i != source][: args.refs]
        landmarks = clip.arrays["landmarks"]
        frames = to_tensor(clip.frames, size)
        kp = torch.from_numpy(tracked_keypoints(landmarks)).float()
        n = len(driving)
        prior = None
        if cfg.warp.dense_motion.prior_candidate:
            prior = torch.from_numpy(mesh_warp_grids(landmarks[source], landmarks[driving], size))
        target = frames[driving]
        masks = torch.from_numpy(np.stack([mouth_mask(landmarks[d], size) for d in driving]))
        with torch.no_grad():
            state = model.encode_source(frames[[source]], kp[[source]])
            runs = {"explicit": ("explicit", None), "full R=0": (None, [])}
            runs[variants[3]] = (None, open_refs)
            runs[variants[4]] = (None, closed_refs)
            if prior is not None:  # the geometric prior on its own: the source sampled by the mesh grid
                warped = torch.nn.functional.grid_sample(frames[[source]].expand(n, -1, -1, -1), prior,
                                                         padding_mode="border", align_corners=False)
                diff = (warped - target).abs().mean(dim=1)
                for i in range(n):
                    errors[variants[0]]["crop"].append(diff[i].mean().item())
                    errors[variants[0]]["mouth"].append(diff[i][masks[i]].mean().item())
            for name, (mode, refs) in runs.items():
                tokens = None
                if refs is not None and model.rac is not None and mode != "explicit":
                    tokens = model.encode_references(state, frames[refs][None] if refs else None,
                                                     kp[refs][None] if refs else None)
                image = model.animate(state, kp[driving], tokens, fusion_mode=mode, prior_grid=prior).image
                diff = (image - target).abs().mean(dim=1)  # n×S×S
                for i in range(n):
                    errors[name]["crop"].append(diff[i].mean().item())
                    errors[name]["mouth"].append(diff[i][masks[i]].mean().item())
    summary = {name: {region: float(np.mean(values)) for region, values in regions.items()}
               for name, regions in errors.items() if regions["crop"]}
    count = len(errors["explicit"]["crop"])
    print(f"{count} driving frames with an open mouth, source mouth closed; checkpoint {args.checkpoint.name}")
    print(f"{'variant':<34}{'L1 crop':>10}{'L1 mouth':>10}")
    for name, values in summary.items():
        print(f"{name:<34}{values['crop']:>10.4f}{values['mouth']:>10.4f}")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        report = {"frames": count, "checkpoint": report_path(args.checkpoint), "l1": summary}
        args.out.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

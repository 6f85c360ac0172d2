"""Qualitative figure: source | references | driving | explicit output | final output | confidence map.

Rows are self-reenactment examples from held-out clips (default: the test split of a dataset written
by `synergywarp synth` / `prepare`), driven by a frame far from the source, with R references chosen by
the evaluation's rule. Uses the training sample-grid layout (white confidence = trust the explicit path).

    python scripts/make_figure.py --data data/synth128 --out docs/figures/demo_model_heldout.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from synergywarp.assets import BUNDLED_MODEL
from synergywarp.data import list_clips, load_clip
from synergywarp.data.sampling import self_reenactment_plan
from synergywarp.face.mesh_warp import mesh_warp_grid
from synergywarp.io import write_image
from synergywarp.io.tensors import images_to_tensor
from synergywarp.models import SynergyWarpNet
from synergywarp.train.samples import sample_grid


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--split", default="test")
    parser.add_argument("--checkpoint", type=Path, default=BUNDLED_MODEL)
    parser.add_argument("--refs", type=int, default=2)
    parser.add_argument("--rows", type=int, default=4)
    parser.add_argument("--out", type=Path, default=Path("docs/figures/demo_model_heldout.png"))
    args = parser.parse_args(argv)
    model = SynergyWarpNet.from_pretrained(args.checkpoint)
    clips = list_clips(args.data, args.split)
    step = max(1, len(clips) // args.rows)
    batch = {k: [] for k in ("source", "driving", "references", "src_kp", "drv_kp", "ref_kp", "prior")}
    for entry in clips[::step][: args.rows]:
        clip = load_clip(args.data, entry.name)
        plan = self_reenactment_plan(len(clip.frames), args.refs, rule="even")
        refs = list(plan.references)
        yaw = clip.arrays["pose"][:, 1]
        driving = int(np.argmax(np.abs(yaw - yaw[0])))  # the frame that differs most from the source
        frames = images_to_tensor(clip.frames)
        size = model.config.image_size
        frames = torch.nn.functional.interpolate(frames, size=(size, size), mode="bilinear", antialias=True)
        kp = torch.from_numpy(clip.keypoints).float()
        batch["source"].append(frames[0])
        batch["driving"].append(frames[driving])
        batch["references"].append(frames[refs])
        batch["src_kp"].append(kp[0])
        batch["drv_kp"].append(kp[driving])
        batch["ref_kp"].append(kp[refs])
        landmarks = clip.arrays["landmarks"]  # the mesh-warp prior (used by *_tracked_mesh models)
        batch["prior"].append(torch.from_numpy(mesh_warp_grid(landmarks[0], landmarks[driving], size)))
    stacked = {k: torch.stack(v) for k, v in batch.items()}
    with torch.no_grad():
        out = model(stacked["source"], stacked["driving"], stacked["references"],
                    source_keypoints=stacked["src_kp"], driving_keypoints=stacked["drv_kp"],
                    reference_keypoints=stacked["ref_kp"], return_explicit=True, prior_grid=stacked["prior"])
    grid = sample_grid(stacked["source"], stacked["driving"], out.image, explicit=out.explicit_image,
                       confidence=out.confidence, references=stacked["references"], max_rows=args.rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_image(args.out, grid)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

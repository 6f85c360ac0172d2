"""Slim a live model's dense motion network before fine-tuning it (see ``synergywarp.train.slim``).

    python scripts/slim_live_model.py runs/demo_live.safetensors runs/demo_live_slim_init.safetensors \
        --width 24 --calibrate data/real/train

Writes a checkpoint (with its config) that ``train.init_from`` of ``configs/demo_live_slim.yaml`` starts from.
``--calibrate DIR``: videos (the real train split) the model animates (each clip's first frame as the
source, ``--frames`` frames spread over the clip as the driving) to measure the hourglass's outputs: the
channels are chosen by them and the mask and occlusion heads refitted to them; without it, from
batch-norm statistics alone (a worse start). The bundled live model was made from the first 6 clips of
``data/real/train`` in name order.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from synergywarp.assets import resolve_checkpoint
from synergywarp.errors import SynergyWarpError
from synergywarp.models import SynergyWarpNet
from synergywarp.train.slim import hourglass_features, slim_dense_motion


def calibration_features(checkpoint: str, folder: Path, clips: int, frames: int) -> torch.Tensor:
    """The hourglass's outputs while the model animates the first ``clips`` videos of ``folder``."""
    from synergywarp.inference import AnimateOptions, Animator
    from synergywarp.io.video_reader import read_video

    if not folder.is_dir():
        raise ValueError(f"--calibrate: {folder} is not a folder")
    videos = sorted(folder.glob("*.mp4"))[:clips]
    if not videos:
        raise ValueError(f"--calibrate: no .mp4 videos in {folder}")
    animator = Animator.from_pretrained(checkpoint, device="cpu", dtype="fp32", backend="torch")
    options = AnimateOptions(check_identity=False, output_size=animator.config.image_size)

    def run() -> None:
        for video in videos:
            clip, _ = read_video(video)
            step = max(1, (len(clip) - 1) // frames)  # spread over the clip: more motion than its start
            try:
                for _ in animator.animate(clip[0], clip[1::step][:frames], [], options):
                    pass
            except SynergyWarpError as error:  # e.g. no face in its first frame: the other clips still count
                print(f"skipped {video.name}: {error}", file=sys.stderr)

    return hourglass_features(animator.model, run)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", help="the trained model (safetensors)")
    parser.add_argument("out", help="where to write the slimmed model")
    parser.add_argument("--width", type=int, default=24, help="channels the hourglass keeps (default 24)")
    parser.add_argument("--name", default=None, help="the slimmed config's name (default: <name>_slim<width>)")
    parser.add_argument("--calibrate", type=Path, default=None, help="folder of videos to measure the channels on")
    parser.add_argument("--clips", type=int, default=6, help="videos of --calibrate used (default 6, sorted by name)")
    parser.add_argument("--frames", type=int, default=16, help="driving frames per video (default 16)")
    args = parser.parse_args(argv)
    if args.clips < 1 or args.frames < 1:
        parser.error("--clips and --frames must be at least 1")
    try:
        checkpoint = str(resolve_checkpoint(args.checkpoint))  # a file, or a bundled name ('demo-live')
        model = SynergyWarpNet.from_pretrained(checkpoint)
        features = None
        if args.calibrate is not None:
            features = calibration_features(checkpoint, args.calibrate, args.clips, args.frames)
            print(f"measured the hourglass on {features.shape[0]} frames of {args.calibrate}")
        slim = slim_dense_motion(model, args.width, args.name, features=features)
        slim.save_pretrained(args.out, trained_stages=model.trained_stages,
                             source=f"slimmed from {args.checkpoint} (dense motion width {args.width})")
    except (SynergyWarpError, ValueError, OSError, torch.linalg.LinAlgError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    before = sum(p.numel() for p in model.parameters())
    after = sum(p.numel() for p in slim.parameters())
    print(f"wrote {args.out}: {slim.config.name}, {after / 1e6:.2f} M parameters (was {before / 1e6:.2f} M)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

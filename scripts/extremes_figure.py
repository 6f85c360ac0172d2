#!/usr/bin/env python
"""Worst-case head motion (issue 12): the bundled public-domain portraits driven to ±35° yaw, ±30° roll and
a combined turn, through `synergywarp eval`, with a figure of every clip's extreme frame.

Each clip is one portrait rendered by the synthetic engine (no photometric change), its pose ramped
from frontal to the extreme over ``--frames`` frames; the evaluation drives frame 0 (the source) to
every frame, and the figure shows each clip's last frame (``--figure-frames last``): the extreme. The
ground truth is the engine's render, whose hair and background follow its ring mesh, so the metrics
rank methods only loosely; the figure is for the eye: a torn head, a folded band of hair or a dragged
background shows there.

    python scripts/extremes_figure.py --out docs/results/extremes \\
        --figure-out docs/figures/whole_head_extremes.jpg
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np

from synergywarp.assets import PACKAGE_ASSETS
from synergywarp.data.prepare import ClipRecord, update_manifest
from synergywarp.data.synth import PhotometricRanges, SynthConfig, Trajectory, prepare_portrait, render_clip
from synergywarp.data.synth.corpus import write_clip

#: bundled portrait file stem → the short name its clips carry (a figure label fits about 21 characters)
PORTRAITS = {"grace_hopper": "hopper", "astronaut": "astro"}
#: clip name suffix → the (pitch, yaw, roll) the ramp ends at, in degrees
EXTREMES: dict[str, tuple[float, float, float]] = {
    "yaw-35": (0.0, -35.0, 0.0),
    "yaw+35": (0.0, 35.0, 0.0),
    "roll-30": (0.0, 0.0, -30.0),
    "roll+30": (0.0, 0.0, 30.0),
    "turn": (15.0, 30.0, 20.0),
}
STILL = PhotometricRanges(gain=0.0, brightness=0.0, contrast=0.0, saturation=0.0, gradient=0.0)


def ramp_trajectory(end: tuple[float, float, float], frames: int) -> Trajectory:
    """Pose from (0, 0, 0) to ``end`` (pitch, yaw, roll in degrees), eased, the mouth opening a little."""
    t = np.linspace(0.0, 1.0, frames)
    eased = 0.5 - 0.5 * np.cos(np.pi * t)
    poses = eased[:, None] * np.asarray(end, np.float64)[None]
    return Trajectory.from_poses(poses, {"mouth_open": 0.4 * eased})


def build_dataset(root: Path, size: int, frames: int, seed: int = 0) -> list[str]:
    """root/test/<portrait>_<extreme>.mp4 + .npz and root/manifest.json; returns the clip names."""
    config = SynthConfig(size=size, frames=frames, photometric=STILL, flip_prob=0.0)
    records, names = [], []
    for portrait, short in PORTRAITS.items():
        prepared = prepare_portrait(PACKAGE_ASSETS / "portraits" / f"{portrait}.jpg", config, identity=portrait)
        for index, (extreme, end) in enumerate(EXTREMES.items()):
            name = f"{short}_{extreme}"
            clip = render_clip(prepared, config, seed=seed + index, trajectory=ramp_trajectory(end, frames))
            write_clip(clip, root / "test", name)
            records.append(ClipRecord(name, "test", portrait, frames, config.fps, size, "synth"))
            names.append(name)
    update_manifest(root, records)
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="report folder (metrics.md/json, per_frame.csv)")
    parser.add_argument("--figure-out", type=Path, default=None, help="move the figure here (.jpg: as a JPEG)")
    parser.add_argument("--checkpoint", default=None, help="default: the bundled demo model")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--max-frames", type=int, default=4, help="driving frames per clip (default 4: the ramp's "
                                                                    "end is always among them)")
    parser.add_argument("--figure", type=int, default=len(PORTRAITS) * len(EXTREMES) // 2,
                        help="2·N clips in the figure, each at its extreme (default: all; 0: no figure)")
    parser.add_argument("--data", type=Path, default=Path("data/extremes"),
                        help="where the clips are rendered (replaced; default data/extremes)")
    args = parser.parse_args(argv)

    from synergywarp.cli import main as cli

    if args.data.exists():  # replaced only when it holds nothing but an earlier run's clips
        earlier = {p.name for p in args.data.rglob("*") if p.is_file()}
        ours = {"manifest.json"} | {f"{short}_" for short in PORTRAITS.values()}
        if not all(name in ours or name.split("_")[0] + "_" in ours for name in earlier):
            print(f"error: {args.data} holds other files; choose another --data folder", file=sys.stderr)
            return 1
        shutil.rmtree(args.data)
    build_dataset(args.data, args.size, args.frames)
    # the report is this script's output: an earlier one in --out is replaced
    command = ["eval", "--data", str(args.data), "--refs", "0,2", "--max-frames", str(args.max_frames),
               "--methods", "geometric,full", "--no-face-metrics", "--no-cache", "--overwrite", "--no-progress",
               "--out", str(args.out)]
    if args.figure:
        command += ["--figure", str(args.figure), "--figure-frames", "last"]
    if args.checkpoint:
        command += ["--checkpoint", str(args.checkpoint)]
    code = cli(command)
    figure = args.out / "figure.png"
    if code == 0 and args.figure_out is not None and figure.is_file():
        args.figure_out.parent.mkdir(parents=True, exist_ok=True)
        if args.figure_out.suffix.lower() in (".jpg", ".jpeg"):  # a photo figure: a fraction of the PNG's size
            from PIL import Image

            with Image.open(figure) as image:
                image.convert("RGB").save(args.figure_out, quality=88)
            figure.unlink()
        else:
            shutil.move(figure, args.figure_out)
    return code


if __name__ == "__main__":
    raise SystemExit(main())

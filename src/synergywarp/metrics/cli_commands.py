"""Argument parsing for ``synergywarp eval`` (the CLI layer of :mod:`synergywarp.metrics.eval`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from synergywarp.cli_parsing import add_command, add_no_progress_flag
from synergywarp.errors import ConfigError, OutputError


def _methods(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


def _eval(args: argparse.Namespace) -> int:
    from synergywarp.atomic import check_writable_folder
    from synergywarp.metrics.eval import EvalOptions, parse_refs, run_eval
    from synergywarp.metrics.eval.report import REPORT_FILES, markdown

    if args.max_frames is not None and args.max_frames < 1:
        raise ConfigError(f"--max-frames must be ≥ 1, got {args.max_frames}")
    out = check_writable_folder(args.out, "eval output")
    earlier = [name for name in REPORT_FILES.values() if (out / name).exists()]
    if args.figure_frames is not None and not args.figure:
        raise ConfigError("--figure-frames chooses the frames of the figure: give --figure N too")
    if earlier and not args.overwrite:
        raise OutputError(f"{out} holds an earlier evaluation ({', '.join(earlier)}); pass --overwrite to replace "
                          "it (the extraction cache is kept and reused), or choose another --out")
    options = EvalOptions(
        data=Path(args.data), checkpoint=Path(args.checkpoint) if args.checkpoint else None, split=args.split,
        refs=parse_refs(args.refs), protocol=args.protocol, pairs=Path(args.pairs) if args.pairs else None,
        out=Path(args.out), cache=Path(args.cache) if args.cache else None, use_cache=not args.no_cache,
        max_frames=args.max_frames, max_clips=args.max_clips, device=args.device,
        face_metrics=not args.no_face_metrics, methods=_methods(args.methods), batch_size=args.batch,
        inception=Path(args.inception) if args.inception else None, figure=args.figure,
        figure_frames=args.figure_frames or "worst",
    )
    result = run_eval(options, progress=not args.no_progress)
    table = markdown(result).splitlines()
    start = next(i for i, line in enumerate(table) if line.startswith("| method"))
    end = next((i for i in range(start, len(table)) if not table[i].startswith("|")), len(table))
    print("\n".join(table[start:end]))
    print(f"{result.stats.computed} frames extracted, {result.stats.cached} from the cache, "
          f"{result.seconds:.1f} s; wrote {', '.join(str(p) for p in result.files.values())}")
    return 0


def add_eval_parser(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers, "eval", _eval, help="evaluate a checkpoint and the baselines (self/cross-reenactment)",
        description="Self-reenactment (source = frame 0, R references by a fixed rule, every frame driven) or "
        "cross-reenactment (--pairs) on a dataset folder; the static, geometric, explicit and full@R methods "
        "are scored in one run on identical crops and frames. Writes OUT/per_frame.csv, OUT/metrics.json and "
        "OUT/metrics.md; per-frame extraction is cached in OUT/cache.")
    p.add_argument("--checkpoint", help="SynergyWarp .safetensors checkpoint (default: the bundled demo model)")
    p.add_argument("--data", required=True, help="dataset folder written by `synergywarp prepare` or `synth`")
    p.add_argument("--split", default="test", help="train or test (default test)")
    p.add_argument("--refs", default="0,1,2,4", help="numbers of references R for the full model (default 0,1,2,4)")
    p.add_argument("--protocol", default="self", help="self (default), cross or hidden (hidden-content: see docs)")
    p.add_argument("--pairs", help="cross-reenactment CSV with rows source_clip,source_frame,driving_clip")
    p.add_argument("--out", default="eval", help="output folder (default ./eval)")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier evaluation's report files in --out")
    p.add_argument("--max-frames", type=int, default=None,
                   help="drive at most N frames per clip, at an even stride (default: every frame)")
    p.add_argument("--max-clips", type=int, default=None, help="evaluate only the first N clips (self)")
    p.add_argument("--methods", default="static,geometric,explicit,full",
                   help="subset of static,geometric-mesh,geometric,explicit,rac,full (default: static,geometric,"
                   "explicit,full; geometric-mesh is the ring-mesh warp of earlier versions, rac@R the full model "
                   "with references kept out of the per-pixel fusion)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda[:N] or mps (default auto)")
    p.add_argument("--batch", type=int, default=8, help="frames per network call (default 8)")
    p.add_argument("--no-face-metrics", action="store_true",
                   help="skip the dlib/FaceMesh metrics (AKD, AED, CSIM, jitter, pose/expression error)")
    p.add_argument("--inception", help="inception-2015-12-05.pt for standard FID (else $SYNERGYWARP_INCEPTION, "
                   "else the named substitute FID-MobileNetV2)")
    p.add_argument("--figure", type=int, default=0, metavar="N",
                   help="also write OUT/figure.png: the N worst and N typical frames of the model (by LPIPS) "
                   "with source, references, driving and every method's output")
    p.add_argument("--figure-frames", choices=("worst", "last"), default=None,
                   help="which frames --figure N shows: worst (the N worst and N typical; default) or last (the "
                   "last driving frame of the first 2·N clips: the end of a stress clip)")
    p.add_argument("--cache", help="extraction cache folder (default OUT/cache)")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the extraction cache")
    add_no_progress_flag(p)

"""Argument parsing for ``synergywarp app`` and ``synergywarp live`` (registered by ``cli.py``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from synergywarp.cli_parsing import add_command
from synergywarp.inference.cli_commands import (
    _add_runtime_flags,
    _reference_paths,
    _reported_warnings,
    add_option_flags,
    add_reference_flags,
    options_from_args,
)

DEFAULT_PORT = 7860


def _add_server_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this "
                        "computer only; 0.0.0.0 shares the page on your network)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"port (default {DEFAULT_PORT}; 0: any free one)")


def add_app_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``app``: the local web page."""
    parser = add_command(
        subparsers, "app", run_app, help="a local web page to animate portraits (offline)",
        description="Serve a web page on this computer: upload a portrait, reference photos and a driving "
                    "video (or use the bundled sample), watch the result beside the driving and download it. "
                    "Works without internet; jobs run one at a time in a queue.")
    _add_server_flags(parser)
    _add_runtime_flags(parser)
    add_option_flags(parser, ["output_size"])
    parser.add_argument("--max-upload-mb", type=float, default=200.0, metavar="MB",
                        help="largest upload (all files of one job together; default 200)")
    parser.add_argument("--max-references", type=int, default=16, metavar="N", help="most reference images per job")
    parser.add_argument("--keep-jobs", type=int, default=16, metavar="N",
                        help="finished jobs whose results stay downloadable (older ones are deleted)")
    return parser


def add_live_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``live``: a camera (or a video file) drives the portrait in real time."""
    parser = add_command(
        subparsers, "live", run_live_command, help="animate a portrait live from a webcam or a video file",
        description="Drive --source with a webcam (--camera 0) or a video file (--camera clip.mp4, paced at its "
                    "frame rate) and show the result with its fps and latency. Keeps up by dropping frames.")
    parser.add_argument("--source", required=True, metavar="IMG", help="the portrait to animate")
    add_reference_flags(parser)
    parser.add_argument("--camera", default="0", metavar="N|VIDEO", help="webcam number or a video file (default 0)")
    parser.add_argument("--show", choices=("window", "web", "none"), default="window",
                        help="window (OpenCV), web (MJPEG on the app page; see --host/--port) or none (headless)")
    _add_server_flags(parser)
    _add_runtime_flags(parser, default_model="the bundled live model: the demo model with its network at 64² "
                                              "and a slimmed dense motion, two to three times the frames "
                                              "per second; 'demo' for the demo model itself",
                       default_backend="auto")
    add_option_flags(parser, ["motion", "smooth", "output_size"])
    parser.add_argument("--follow", action="store_true",
                        help="the driving crop follows the face (default: the first face's crop stays)")
    parser.add_argument("--pace", choices=("realtime", "fast"), default="realtime",
                        help="a video file as camera: at its frame rate (default) or as fast as frames are taken")
    parser.add_argument("--loop", action="store_true", help="a video file as camera: start again at its end")
    parser.add_argument("--max-frames", type=int, default=None, metavar="N", help="stop after N animated frames")
    parser.add_argument("--max-seconds", type=float, default=None, metavar="S", help="stop after S seconds")
    parser.add_argument("--workers", default="auto", metavar="auto|N",
                        help="frames rendered at once (auto: 2 on a CPU with two or more threads, each frame's "
                             "network single-threaded: more fps for one frame more latency; 1 on a GPU)")
    return parser


def _require_app_extra() -> None:
    """One-line error when the web server's packages (the ``app`` extra) are not installed."""
    import importlib.util

    from synergywarp.errors import SynergyWarpError

    missing = [name for name in ("starlette", "uvicorn", "multipart") if importlib.util.find_spec(name) is None]
    if missing:
        raise SynergyWarpError(f"the web page needs the app extra ({', '.join(missing)} missing): "
                               "pip install 'synergywarp[app]'")


def _load_animator(args: argparse.Namespace, *, live: bool = False):
    from synergywarp.inference import Animator
    from synergywarp.inference.runtime import Runtime

    Runtime.create(args.device, args.dtype, args.compile, backend=args.backend)  # bad flags: before any work
    animator = Animator.from_pretrained(args.checkpoint, device=args.device, dtype=args.dtype, compile=args.compile,
                                        backend=args.backend, live=live)
    print(f"using {animator.describe()}", file=sys.stderr)
    return animator


def run_app(args: argparse.Namespace) -> int:
    """Handler of ``synergywarp app``: serve the page until Ctrl+C."""
    from synergywarp.errors import ConfigError

    if args.max_upload_mb <= 0 or args.max_references < 0 or args.keep_jobs < 1:
        raise ConfigError("--max-upload-mb must be > 0, --max-references ≥ 0 and --keep-jobs ≥ 1")
    _require_app_extra()
    options_from_args(args)  # a bad --size fails before the model loads
    from synergywarp.app.jobs import JobQueue
    from synergywarp.app.server import AppLimits, RunningServer, create_app, run_animation

    animator = _load_animator(args)
    jobs = JobQueue(lambda job: run_animation(animator, job), keep=args.keep_jobs)
    try:
        app = create_app(animator, jobs=jobs, limits=AppLimits(args.max_upload_mb, args.max_references),
                         output_size=args.output_size)
        server = RunningServer(app, args.host, args.port)
        print(f"SynergyWarp app: open {server.url} in your browser (Ctrl+C to stop)", file=sys.stderr)
        server.serve()
    finally:
        jobs.close()
    return 0


def run_live_command(args: argparse.Namespace) -> int:
    """Handler of ``synergywarp live``."""
    from synergywarp.app.live import LiveStream, NoSink, WindowSink, open_camera, parse_workers, run_live
    from synergywarp.errors import ConfigError

    if any(limit is not None and limit <= 0 for limit in (args.max_frames, args.max_seconds)):
        raise ConfigError("--max-frames and --max-seconds must be positive")
    parse_workers(args.workers)  # a bad --workers fails before the model loads
    options = options_from_args(args, driving_crop="smooth" if args.follow else "fixed")
    references = _reference_paths(args.ref, args.refs_dir)
    if args.show == "web":
        _require_app_extra()
    camera = open_camera(args.camera, pace=args.pace, loop=args.loop)
    sink = {"window": WindowSink, "web": LiveStream, "none": NoSink}[args.show]()
    with _reported_warnings():
        animator = _load_animator(args, live=True)
        prepared = animator.prepare(Path(args.source), references, options)
        server = _start_live_page(animator, sink, args) if args.show == "web" else None
        print(f"live: {camera.name} at {camera.fps:g} fps ({args.pace}); stop with Ctrl+C"
              + (" or q in the window" if args.show == "window" else ""), file=sys.stderr)
        try:
            stats = run_live(animator, prepared, camera, sink, max_frames=args.max_frames,
                             max_seconds=args.max_seconds, workers=args.workers,
                             on_frame=(lambda s, v: sink.info.update(s.as_dict())) if server else None)
        finally:
            if server is not None:
                server.close()
    print(stats.summary())
    return 0


def _start_live_page(animator, stream, args: argparse.Namespace):
    from synergywarp.app.server import RunningServer, create_app

    server = RunningServer(create_app(animator, live=stream), args.host, args.port).start()
    print(f"live view: open {server.url} in your browser", file=sys.stderr)
    return server

"""One evaluation run: plan → (cached) extraction per method and task → scoring → report files."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import torch

from synergywarp import assets
from synergywarp.data import EvalClip, find_clip, load_clip
from synergywarp.devices import resolve_device
from synergywarp.errors import ConfigError
from synergywarp.metrics.eval.baselines import LoadedModel, Method, TaskInputs, build_methods
from synergywarp.metrics.eval.extract import Extraction, ExtractionStats, FeatureExtractor
from synergywarp.metrics.eval.protocol import (
    PROTOCOLS,
    EvalTask,
    cross_plan,
    hidden_plan,
    read_pairs,
    safe_name,
    self_plan,
)
from synergywarp.metrics.eval.score import MethodScore, TaskFeatures, score_method
from synergywarp.models.checkpoint import check_checkpoint_file

METHOD_CHOICES = ("static", "geometric-mesh", "geometric", "explicit", "rac", "full")
DEFAULT_METHODS = ("static", "geometric", "explicit", "full")
MODEL_METHODS = ("explicit", "rac", "full")
FIGURE_FRAMES = ("worst", "last")
REAL_GROUP = "real-v1"


@dataclass
class EvalOptions:
    """What ``synergywarp eval`` runs (see its --help). ``cache``: None = ``out/cache``."""

    data: Path
    checkpoint: Path | None = None
    split: str = "test"
    refs: tuple[int, ...] = (0, 1, 2, 4)
    protocol: str = "self"
    pairs: Path | None = None
    out: Path = Path("eval")
    cache: Path | None = None
    use_cache: bool = True
    max_frames: int | None = None
    max_clips: int | None = None
    device: str = "auto"
    face_metrics: bool = True
    methods: tuple[str, ...] = DEFAULT_METHODS
    batch_size: int = 8
    inception: Path | None = None
    figure: int = 0  # > 0: OUT/figure.png with this many worst and this many typical frames
    figure_frames: str = "worst"  # worst: the worst and typical frames; last: the last driving frame of 2·figure tasks

    def validate(self) -> EvalOptions:
        if self.figure < 0:
            raise ConfigError(f"--figure must be ≥ 0, got {self.figure}")
        if self.figure_frames not in FIGURE_FRAMES:
            raise ConfigError(f"--figure-frames must be one of {', '.join(FIGURE_FRAMES)}, got {self.figure_frames!r}")
        if self.protocol not in PROTOCOLS:
            raise ConfigError(f"--protocol must be one of {', '.join(PROTOCOLS)}, got {self.protocol!r}")
        if self.protocol == "cross" and self.pairs is None:
            raise ConfigError("--protocol cross needs --pairs CSV (rows source_clip,source_frame,driving_clip)")
        unknown = [m for m in self.methods if m not in METHOD_CHOICES]
        if unknown or not self.methods:
            raise ConfigError(f"--methods must be a subset of {','.join(METHOD_CHOICES)}, "
                              f"got {','.join(self.methods)}")
        if self.max_frames is not None and self.max_frames < 1:
            raise ConfigError(f"--max-frames must be ≥ 1, got {self.max_frames}")
        if self.max_clips is not None and self.max_clips < 1:
            raise ConfigError(f"--max-clips must be ≥ 1, got {self.max_clips}")
        if self.batch_size < 1:
            raise ConfigError(f"--batch must be ≥ 1, got {self.batch_size}")
        return self


@dataclass
class EvalResult:
    """Everything one run produced (the report files are written from this)."""

    protocol: str
    data: Path
    split: str
    refs: tuple[int, ...]
    checkpoint: Path | None
    tasks: list[EvalTask]
    scores: list[MethodScore]
    stats: ExtractionStats
    fid_name: str
    fid_network: str
    face_metrics: bool
    cache_dir: Path | None
    seconds: float
    files: dict[str, Path] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # clips the protocol left out, with why

    @property
    def frames_per_second(self) -> float:
        """Scored output frames (all methods) per second of the whole run."""
        frames = sum(len(score.rows) for score in self.scores)
        return frames / self.seconds if self.seconds > 0 else float("nan")

    def score(self, method: str) -> MethodScore:
        return next(s for s in self.scores if s.name == method)


def resolve_checkpoint(checkpoint: str | Path | None) -> Path:
    """``checkpoint`` or the bundled demo model (the inference helper's rule); CheckpointError if neither,
    or if it is not a file."""
    path = assets.resolve_checkpoint(checkpoint)
    return check_checkpoint_file(path)


class ClipStore:
    """Decoded clips of a dataset, loaded on first use (a few kept in memory)."""

    def __init__(self, root: Path, keep: int = 4) -> None:
        self.root, self.keep = root, keep
        self._clips: OrderedDict[str, EvalClip] = OrderedDict()
        self._stamps: dict[str, str] = {}

    def stamp(self, name: str) -> str:
        """Sizes and modification times of a clip's video and npz: cached features of a re-written
        clip are not reused."""
        if name not in self._stamps:
            entry = find_clip(self.root, name)
            stats = [entry.video.stat(), entry.arrays.stat()]
            self._stamps[name] = ",".join(f"{s.st_size}:{s.st_mtime_ns}" for s in stats)
        return self._stamps[name]

    def get(self, name: str) -> EvalClip:
        if name not in self._clips:
            self._clips[name] = load_clip(self.root, name)
            while len(self._clips) > self.keep:
                self._clips.popitem(last=False)
        self._clips.move_to_end(name)
        return self._clips[name]


def plan_tasks(options: EvalOptions) -> tuple[list[EvalTask], list[tuple[str, str]]]:
    """The run's tasks and the clips the protocol left out (with the reason)."""
    if options.protocol == "self":
        return self_plan(options.data, options.split, options.refs, options.max_frames, options.max_clips), []
    if options.protocol == "hidden":
        return hidden_plan(options.data, options.split, options.refs, options.max_frames, options.max_clips)
    assert options.pairs is not None  # validate() requires --pairs for the cross protocol
    return cross_plan(options.data, read_pairs(options.pairs), options.refs, options.max_frames), []


def _clip_size(root: Path, name: str) -> int | None:
    """Side of a clip's frames (from the video's header), None when it cannot be read."""
    from synergywarp.io import probe_video

    try:
        return int(probe_video(find_clip(root, name).video).width)
    except Exception:  # noqa: BLE001 - only a label in the report
        return None


def _progress_bar(enabled: bool, total: int):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="task", desc="eval", dynamic_ncols=True)


def run_eval(options: EvalOptions, progress: bool = False) -> EvalResult:
    """Evaluate every method on every task; writes the report files into ``options.out``."""
    from synergywarp.metrics.eval.report import write_reports
    from synergywarp.metrics.fid import fid_features

    options.validate()
    start = time.perf_counter()
    tasks, skipped = plan_tasks(options)
    device = resolve_device(options.device)
    needs_model = any(m in MODEL_METHODS for m in options.methods)
    checkpoint = resolve_checkpoint(options.checkpoint) if needs_model else None
    loaded = LoadedModel(checkpoint, device, options.batch_size) if checkpoint is not None else None
    methods = build_methods(loaded, options.refs, options.methods)
    fid_space = fid_features(options.inception, device)
    extractor = FeatureExtractor(fid_space, options.face_metrics, pose_metrics=options.protocol == "cross",
                                 device=device, batch_size=options.batch_size)
    cache_dir = (options.cache or options.out / "cache") if options.use_cache else None
    extraction = Extraction(extractor, cache_dir)
    clips = ClipStore(Path(options.data))
    per_method: dict[str, list[TaskFeatures]] = {m.name: [] for m in methods}
    bar = _progress_bar(progress, len(tasks) * len(methods))
    try:
        with torch.inference_mode():
            for task in tasks:
                _evaluate_task(task, methods, extraction, clips, per_method, bar)
    finally:
        extractor.close()
        if bar is not None:
            bar.close()
    scores = [score_method(m.name, m.network, per_method[m.name], fid_space, options.face_metrics) for m in methods]
    clip_size = _clip_size(Path(options.data), tasks[0].driving_clip) if tasks else None
    for method, score in zip(methods, scores):
        score.output_size = method.output_size(clip_size) if clip_size else None
    result = EvalResult(options.protocol, Path(options.data), options.split, options.refs, checkpoint, tasks, scores,
                        extraction.stats, fid_space.name, fid_space.network, options.face_metrics, cache_dir,
                        time.perf_counter() - start, skipped=skipped)
    result.files = write_reports(result, Path(options.out))
    if options.figure > 0 and tasks:
        result.files["figure"] = _figure(result, methods, clips, Path(options.out), options.figure,
                                         options.figure_frames)
    return result


def _figure(result: EvalResult, methods: list[Method], clips: ClipStore, out: Path, count: int,
            frames: str = "worst") -> Path:
    """OUT/figure.png: the worst and typical frames of the last model method (else the last method), or with
    ``frames="last"`` the last driving frame of every task (a stress clip's extreme)."""
    from synergywarp.metrics.eval.figure import pick_frames, render_figure, row_task, write_figure

    focus = next((s for s in reversed(result.scores) if s.name.split("@")[0] in MODEL_METHODS), result.scores[-1])
    by_task = {(t.source_clip, t.source_frame, t.driving_clip): t for t in result.tasks}
    values = {(s.name, row_task(r), int(r["frame"])): float(r.get("LPIPS", float("nan")))
              for s in result.scores for r in s.rows}
    if frames == "last":  # the first 2·count clips, each at its last scored frame, named on the source tile
        picks = [(task, max(int(r["frame"]) for r in focus.rows if row_task(r) == key), task.driving_clip)
                 for key, task in by_task.items() if any(row_task(r) == key for r in focus.rows)][:2 * count]
    else:
        picks = [(by_task[row_task(row)], int(row["frame"]), f"({why}, {focus.name})")
                 for row, why in pick_frames(focus.rows, count, count)]
    cache: dict[str, TaskInputs] = {}

    def inputs_for(task: EvalTask) -> TaskInputs:
        if task.key not in cache:
            cache[task.key] = TaskInputs(task, clips.get(task.source_clip), clips.get(task.driving_clip), clips.get)
        return cache[task.key]

    def lpips_of(method: str, key: str, frame: int) -> float:
        task = next(t for t in result.tasks if t.key == key)
        return values.get((method, (task.source_clip, task.source_frame, task.driving_clip), frame), float("nan"))

    with torch.inference_mode():
        image = render_figure(picks, methods, inputs_for, lpips_of, max(result.refs, default=0))
    return write_figure(out / "figure.png", image)


def _evaluate_task(task: EvalTask, methods: list[Method], extraction: Extraction, clips: ClipStore,
                   per_method: dict[str, list[TaskFeatures]], bar) -> None:
    """Extract (or load) the real frames and every method's outputs for one task."""
    inputs: list[TaskInputs] = []

    def task_inputs() -> TaskInputs:  # clips decoded only when something is not cached
        if not inputs:
            inputs.append(TaskInputs(task, clips.get(task.source_clip), clips.get(task.driving_clip), clips.get))
        return inputs[0]

    source_stamp, driving_stamp = clips.stamp(task.source_clip), clips.stamp(task.driving_clip)
    real = extraction.features("real", REAL_GROUP, f"{REAL_GROUP} data={driving_stamp}",
                               safe_name(task.driving_clip), task.driving_frames,
                               lambda frames: (task_inputs().driving(frames), None, None))
    source = extraction.features("real", REAL_GROUP, f"{REAL_GROUP} data={source_stamp}",
                                 safe_name(task.source_clip), (task.source_frame,),
                                 lambda frames: (task_inputs().source_clip.frames[list(frames)], None, None))
    with_truth = task.has_ground_truth
    for method in methods:
        if bar is not None:
            bar.set_postfix_str(f"{task.driving_clip} {method.name}")

        def make(frames: tuple[int, ...], method: Method = method):
            data = task_inputs()
            if not with_truth:
                return method.generate(data, frames), None, None
            return method.generate(data, frames), data.driving(frames), data.driving_landmarks(frames)

        fingerprint = f"{method.fingerprint(task)} data={source_stamp}/{driving_stamp}"
        outputs = extraction.features(method.name, method.cache_group, fingerprint, task.key, task.driving_frames,
                                      make)
        per_method[method.name].append(TaskFeatures(task, outputs, real, source))
        if bar is not None:
            bar.update(1)

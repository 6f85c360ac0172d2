"""Turn real talking-head videos into the clip dataset layout (docs/CONTRACTS.md#dataset-layout, issue 3 item 2).

For every input video (mp4/mov/avi/mkv/..., or a folder of frames) the face is tracked with
mediapipe FaceMesh, one stable square crop is chosen for the clip (``fixed``) or a smoothed track
(``smooth``), and ``DIR/<split>/<clip>.mp4`` (size², H.264) plus ``<clip>.npz`` are written:

- ``landmarks`` T×468×3 float32, crop-normalised (x, y in [−1, 1], z on x's scale, right-down-in);
  frames where no face was found (``valid`` False) hold the nearest valid frame's landmarks;
- ``valid`` T bool; ``rotation`` T×3×3, ``pose`` T×3 (pitch, yaw, roll degrees), ``scale`` T,
  ``translation`` T×3 (float32; the similarity fit of ``synergywarp.face.fit_head_pose``);
- ``fps`` float, ``identity`` str, ``crop_matrix`` T×2×3 (full-frame px → crop px),
  ``source_size`` (height, width) of the original frames.

``DIR/manifest.json``: ``{"version": 1, "clips": [{"name", "split", "identity", "num_frames",
"fps", "size", "source", "video", "arrays"}, ...]}`` (paths relative to DIR, sorted by name).

Resumable: each file is written to a hidden temporary and renamed when complete, the npz last, so a
clip whose npz and mp4 both exist is finished and is skipped on a rerun; the manifest is rewritten
atomically after every clip. The manifest records the settings the clips were made with: a rerun with
other settings is refused (``overwrite`` makes every clip again), so a dataset never mixes two kinds of
clips; temporaries of a killed run are removed. Splits are by identity when an identity map (CSV
``clip,identity``) is given, else by clip; a group goes to ``test`` by a stable hash of its name, so
reruns agree.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import re
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypedDict

import numpy as np

from synergywarp.atomic import (
    check_writable_folder,
    publish,
    remove_stale_temporaries,
    temporary_sibling,
    write_failure,
    write_text_atomic,
)
from synergywarp.data.clips import MANIFEST_NAME, SPLITS
from synergywarp.errors import ConfigError, InputError
from synergywarp.face import (
    DEFAULT_SCALE,
    DEFAULT_VY,
    LandmarkDetector,
    apply_crop,
    fit_head_poses,
    stable_video_crops,
    to_crop_coords,
)
from synergywarp.io import VIDEO_EXTENSIONS, VideoWriter, is_video_path, open_video
from synergywarp.io.image import IMAGE_EXTENSIONS

MANIFEST_VERSION = 1
REQUIRED_ARRAYS = ("landmarks", "valid", "rotation", "pose", "scale", "translation", "fps", "identity")
REFERENCE_FOLDER = "refs"
SETTINGS_KEY = "settings"  # manifest field: the options the clips were made with
MAX_CROP_VY = 0.5  # a larger vertical shift moves the face out of its own crop


@dataclass
class ClipRecord:
    """One finished clip of the dataset (a manifest entry)."""

    name: str
    split: str
    identity: str
    num_frames: int
    fps: float
    size: int
    source: str
    segment_of: str | None = None  # the input clip's name when the clip is one segment of a longer video

    def to_json(self) -> dict[str, object]:
        entry = {k: v for k, v in self.__dict__.items() if not (k == "segment_of" and v is None)}
        return {**entry, "video": f"{self.split}/{self.name}.mp4", "arrays": f"{self.split}/{self.name}.npz"}


@dataclass
class ReferenceRecord:
    """One still photo of the per-identity reference pool (``DIR/refs/<identity>/<name>.png`` + npz)."""

    name: str
    identity: str
    split: str
    size: int
    source: str

    def to_json(self) -> dict[str, object]:
        stem = f"{REFERENCE_FOLDER}/{self.identity}/{self.name}"
        return {**self.__dict__, "image": f"{stem}.png", "arrays": f"{stem}.npz"}


@dataclass
class PrepareReport:
    """What ``prepare_dataset`` did: new clips, clips already finished, and skipped inputs."""

    prepared: list[ClipRecord] = field(default_factory=list)
    reused: list[ClipRecord] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (source, reason)
    references: list[ReferenceRecord] = field(default_factory=list)  # the reference pool (stills)
    frames_processed: int = 0
    seconds: float = 0.0

    @property
    def frames_per_second(self) -> float:
        return self.frames_processed / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        """Human-readable lines for the CLI."""
        lines = [f"prepared {len(self.prepared)} clips ({self.frames_processed} frames, "
                 f"{self.frames_per_second:.1f} frames/s), {len(self.reused)} already done, "
                 f"{len(self.skipped)} skipped"]
        lines += [f"  skipped {source}: {reason}" for source, reason in self.skipped]
        if self.references:
            identities = sorted({r.identity for r in self.references})
            lines.append(f"reference pool: {len(self.references)} photos of {len(identities)} identities "
                         f"({', '.join(identities)})")
        return "\n".join(lines)


def _sanitize(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "clip"


def discover_clips(inputs: Iterable[str | Path]) -> list[tuple[str, Path]]:
    """(clip name, path) for every video or frame folder under ``inputs``.

    A file is one clip; a folder holding image files (and no videos) is one clip of frames; any
    other folder is searched recursively for videos and frame folders. Names are the path relative
    to the given folder with separators as ``_`` (``id10001/abc/00001.mp4`` → ``id10001_abc_00001``);
    clashing names get a short hash of the full path appended.
    """
    found: list[tuple[str, Path]] = []
    for given in map(Path, inputs):
        if not given.exists():
            raise InputError(f"input not found: {given}")
        if given.is_file() or _is_frame_folder(given):
            found.append((_sanitize(given.stem if given.is_file() else given.name), given))
            continue
        for path in sorted(given.rglob("*")):
            is_clip = (path.is_file() and is_video_path(path)) or (path.is_dir() and _is_frame_folder(path))
            if is_clip:
                relative = path.relative_to(given).with_suffix("") if path.is_file() else path.relative_to(given)
                found.append((_sanitize("_".join(relative.parts)), path))
    names: dict[str, int] = {}
    for name, _ in found:
        names[name] = names.get(name, 0) + 1
    return [(name if names[name] == 1 else f"{name}_{_hash_hex(str(path.resolve()))[:6]}", path)
            for name, path in found]


def _is_frame_folder(folder: Path) -> bool:
    if not folder.is_dir():
        return False
    entries = list(folder.iterdir())
    has_images = any(e.is_file() and e.suffix.lower() in IMAGE_EXTENSIONS for e in entries)
    has_videos = any(e.is_file() and e.suffix.lower() in VIDEO_EXTENSIONS for e in entries)
    return has_images and not has_videos


def _hash_hex(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def read_identity_map(path: str | Path) -> dict[str, str]:
    """CSV ``clip,identity`` (a header line ``clip,identity`` is optional) → {clip key: identity}.

    A clip key may be the clip name, the file name, its stem, or a path."""
    path = Path(path)
    try:
        rows = list(csv.reader(path.read_text(encoding="utf-8").splitlines()))
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read identity map {path}: {error}") from None
    mapping: dict[str, str] = {}
    for number, row in enumerate(rows, start=1):
        if not row or not "".join(row).strip() or row[0].startswith("#"):
            continue
        if len(row) < 2:
            raise InputError(f"identity map {path} line {number}: expected 'clip,identity', got {row!r}")
        clip, identity = row[0].strip(), row[1].strip()
        if number == 1 and (clip.lower(), identity.lower()) == ("clip", "identity"):
            continue
        mapping[clip] = identity
    return mapping


def _identity_for(name: str, path: Path, mapping: dict[str, str] | None) -> str | None:
    if mapping is None:
        return name
    for key in (name, path.name, path.stem, str(path), str(path.resolve())):
        if key in mapping:
            return mapping[key]
    return None


def assign_splits(groups: Iterable[str], test_fraction: float) -> set[str]:
    """The groups (identities or clips) that go to ``test``: the round(test_fraction·n) groups with
    the smallest name hash, at least one when test_fraction > 0 and there are ≥ 2 groups."""
    unique = sorted(set(groups), key=_hash_hex)
    count = round(test_fraction * len(unique))
    if 0 < test_fraction < 1 and len(unique) >= 2:
        count = min(max(count, 1), len(unique) - 1)
    return set(unique[:count])


def clip_is_complete(out_dir: Path, name: str) -> Path | None:
    """The npz of a finished clip named ``name`` in either split (npz readable, mp4 present)."""
    for split in SPLITS:
        arrays, video = out_dir / split / f"{name}.npz", out_dir / split / f"{name}.mp4"
        if arrays.is_file() and video.is_file() and video.stat().st_size > 0:
            try:
                with np.load(arrays) as data:
                    if all(key in data.files for key in REQUIRED_ARRAYS):
                        return arrays
            except (OSError, ValueError, EOFError):
                pass
    return None


def save_clip_arrays(path: Path, arrays: dict[str, np.ndarray | float | str]) -> None:
    """Write an npz atomically (hidden temporary beside it, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_sibling(path)
    try:
        with open(temporary, "wb") as handle:
            np.savez(handle, allow_pickle=False, **arrays)  # loaded without pickle too
        publish(temporary, path)
    except OSError as error:
        raise write_failure(path, error) from None
    finally:
        temporary.unlink(missing_ok=True)


def load_manifest(out_dir: Path) -> dict[str, dict[str, object]]:
    """{clip name: manifest entry} of ``out_dir/manifest.json`` ({} when absent or unreadable)."""
    try:
        data = json.loads((out_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
        return {entry["name"]: entry for entry in data.get("clips", [])}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def _read_manifest_file(out_dir: Path) -> dict[str, object]:
    try:
        data = json.loads((out_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_manifest_file(out_dir: Path, manifest: dict[str, object]) -> None:
    write_text_atomic(out_dir / MANIFEST_NAME, json.dumps(manifest, indent=1))


def start_dataset(out_dir: Path, settings: Mapping[str, object], overwrite: bool,
                  legacy: dict[str, str] | None = None) -> None:
    """Before writing clips into ``out_dir``: check it can be written, remove dead runs' temporaries,
    and make sure its clips were made with ``settings`` (the manifest's record; for a manifest of an
    earlier version, the clip fields named in ``legacy``: {setting: clip field}). Other settings raise
    ConfigError unless ``overwrite``, which removes the clips and reference photos the manifest lists
    (only those) and starts the manifest anew."""
    check_writable_folder(out_dir, "dataset")
    for folder in (out_dir, *(out_dir / split for split in SPLITS)):
        remove_stale_temporaries(folder)
    settings = json.loads(json.dumps(settings))  # as stored (tuples become lists)
    manifest = _read_manifest_file(out_dir)
    clips, references = (_entries(manifest, key) for key in ("clips", "references"))
    if overwrite:
        listed = [out_dir / str(c.get(key, "")) for c in clips for key in ("video", "arrays")]
        listed += [out_dir / REFERENCE_FOLDER / str(r.get("identity", "")) / f"{r.get('name', '')}{suffix}"
                   for r in references for suffix in (".png", ".npz")]
        for path in listed:
            if path.is_file() and out_dir.resolve() in path.resolve().parents:
                path.unlink()
        manifest = {}
    elif clips:
        stored = manifest.get(SETTINGS_KEY)
        if not isinstance(stored, dict):
            stored = {key: clips[0].get(field) for key, field in (legacy or {}).items()}
        changed = [f"{key} {stored[key]!r} → {settings[key]!r}" for key in settings
                   if key in stored and stored[key] != settings[key]]
        if changed:
            raise ConfigError(f"{out_dir} holds clips made with other settings ({'; '.join(changed)}); choose "
                              "another --out, or pass --overwrite to make every clip again")
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest.setdefault("version", MANIFEST_VERSION)
    manifest.setdefault("clips", [])
    _write_manifest_file(out_dir, {**manifest, SETTINGS_KEY: settings})


def _entries(manifest: Mapping[str, object], key: str) -> list[dict[str, object]]:
    """The dict entries of a manifest's list ``key`` ([] when absent or malformed)."""
    found = manifest.get(key)
    return [entry for entry in found if isinstance(entry, dict)] if isinstance(found, list) else []


def update_manifest(out_dir: Path, records: Iterable[ClipRecord]) -> None:
    """Merge ``records`` (by name) into ``out_dir/manifest.json``, written atomically (other keys kept)."""
    entries = load_manifest(out_dir)
    entries.update({record.name: record.to_json() for record in records})
    manifest = _read_manifest_file(out_dir)
    manifest.update({"version": MANIFEST_VERSION, "clips": [entries[name] for name in sorted(entries)]})
    _write_manifest_file(out_dir, manifest)


def update_reference_manifest(out_dir: Path, references: Iterable[ReferenceRecord]) -> None:
    """Merge reference-pool entries (by identity and name) into ``out_dir/manifest.json``."""
    manifest = _read_manifest_file(out_dir)
    entries = {(e["identity"], e["name"]): e for e in _entries(manifest, "references")}
    entries.update({(r.identity, r.name): r.to_json() for r in references})
    manifest.setdefault("version", MANIFEST_VERSION)
    manifest.setdefault("clips", [])
    manifest["references"] = [entries[key] for key in sorted(entries)]
    _write_manifest_file(out_dir, manifest)


def _record_from_arrays(name: str, split: str, arrays_path: Path, source: str, size: int,
                        segment_of: str | None = None) -> ClipRecord:
    with np.load(arrays_path) as data:
        return ClipRecord(name, split, str(data["identity"]), int(len(data["valid"])),
                          float(data["fps"]), size, source, segment_of)


def _finished_records(out_dir: Path, name: str, manifest: dict[str, dict[str, object]], path: Path,
                      size: int) -> list[ClipRecord] | None:
    """Records of input clip ``name`` when it was prepared completely before (None otherwise): the clip
    itself, or every segment the manifest lists for it."""
    done = clip_is_complete(out_dir, name)
    if done is not None:
        source = str(manifest.get(name, {}).get("source", path))
        return [_record_from_arrays(name, done.parent.name, done, source, size)]
    segments = sorted(n for n, entry in manifest.items() if entry.get("segment_of") == name)
    if not segments:
        return None
    records = []
    for segment in segments:
        done = clip_is_complete(out_dir, segment)
        if done is None:
            return None
        records.append(_record_from_arrays(segment, done.parent.name, done,
                                           str(manifest[segment].get("source", path)), size, name))
    return records


def _remove_stale_temporaries(folder: Path, name: str) -> None:
    for stale in folder.glob(f".{name}.*.part"):
        stale.unlink(missing_ok=True)


def _fill_invalid(points: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Frames without a face take the nearest valid frame's landmarks (T×468×3)."""
    valid_index = np.flatnonzero(valid)
    nearest = valid_index[np.abs(np.arange(len(points))[:, None] - valid_index[None, :]).argmin(axis=1)]
    return points[nearest]


class _CropSettings(TypedDict):
    align_roll: bool
    smooth_sigma: float


class CropKwargs(_CropSettings, total=False):
    """Keyword arguments of ``stable_video_crops`` set by :class:`PrepareOptions` (scale, vy: when given)."""

    scale: float
    vy: float


@dataclass
class PrepareOptions:
    """Cropping and filtering settings of ``prepare_dataset``."""

    size: int = 256  # side of the square crop (px)
    min_frames: int = 16  # shorter clips, or clips with fewer face frames, are skipped
    crop_mode: Literal["fixed", "smooth"] = "fixed"  # one box per clip, or a smoothed track
    scale: float | None = None  # crop side / landmark box side (None: face.DEFAULT_SCALE)
    vy: float | None = None  # vertical shift of the crop centre × side (None: face.DEFAULT_VY)
    align_roll: bool = False  # rotate the crop so the eye line is horizontal
    smooth_sigma: float = 5.0  # frames; temporal smoothing of the 'smooth' track
    crf: int = 18  # H.264 quality of the written clips
    segment_seconds: float = 0.0  # > 0: long videos become segments of about this length, each with its own crop

    def validate(self) -> None:
        """ConfigError naming the first bad field."""
        if self.crop_mode not in ("fixed", "smooth"):
            raise ConfigError(f"prepare crop_mode must be 'fixed' or 'smooth', got {self.crop_mode!r}")
        if self.size < 16:
            raise ConfigError(f"prepare size must be at least 16 px, got {self.size}")
        if self.min_frames < 1:
            raise ConfigError(f"prepare min_frames must be at least 1, got {self.min_frames}")
        if self.scale is not None and not (math.isfinite(self.scale) and self.scale > 0):
            raise ConfigError(f"prepare scale (--crop-scale) must be a finite number > 0, got {self.scale}")
        if self.vy is not None and not abs(self.vy) <= MAX_CROP_VY:
            raise ConfigError(f"prepare vy (--crop-vy) must be within ±{MAX_CROP_VY} (a fraction of the crop side; "
                              f"more moves the face out of the crop), got {self.vy}")
        if not (math.isfinite(self.smooth_sigma) and self.smooth_sigma >= 0):
            raise ConfigError(f"prepare smooth_sigma (--smooth-sigma) must be a finite number ≥ 0 (frames), "
                              f"got {self.smooth_sigma}")
        if int(self.crf) != self.crf or not 0 <= self.crf <= 51:
            raise ConfigError(f"prepare crf (--crf) must be an integer in [0, 51] (H.264 quality), got {self.crf}")
        if not (math.isfinite(self.segment_seconds) and self.segment_seconds >= 0):
            raise ConfigError(f"prepare segment_seconds must be a finite number ≥ 0, got {self.segment_seconds}")

    def settings(self) -> dict[str, object]:
        """What the clips depend on (recorded in the manifest; see :func:`start_dataset`)."""
        return {"size": self.size, "crop_mode": self.crop_mode, "scale": self.scale, "vy": self.vy,
                "align_roll": self.align_roll, "smooth_sigma": self.smooth_sigma, "crf": self.crf,
                "segment_seconds": self.segment_seconds}

    def crop_kwargs(self) -> CropKwargs:
        kwargs: CropKwargs = {"align_roll": self.align_roll, "smooth_sigma": self.smooth_sigma}
        if self.scale is not None:
            kwargs["scale"] = self.scale
        if self.vy is not None:
            kwargs["vy"] = self.vy
        return kwargs


def _track_landmarks(path: Path, detector: LandmarkDetector) -> tuple[np.ndarray, float, tuple[int, int]]:
    """Pass 1: T×468×3 full-frame landmarks (NaN where no face), fps, (height, width)."""
    info, frames = open_video(path)
    detector.reset()
    tracks = []
    for frame in frames:
        found = detector(frame)
        tracks.append(found.points if found is not None else np.full((468, 3), np.nan, np.float32))
    return np.stack(tracks), info.fps, (info.height, info.width)


def segment_bounds(num_frames: int, fps: float, segment_seconds: float, min_frames: int = 1
                   ) -> list[tuple[int, int]]:
    """[start, stop) frame ranges splitting a clip into ``round(T / (fps·segment_seconds))`` nearly equal
    segments (one segment when ``segment_seconds`` is 0 or the clip is short); no segment is shorter
    than ``min_frames`` unless the clip itself is."""
    if segment_seconds <= 0 or num_frames <= 0:
        return [(0, num_frames)]
    count = max(1, round(num_frames / max(fps * segment_seconds, 1.0)))
    count = max(1, min(count, num_frames // max(min_frames, 1)))
    edges = np.linspace(0, num_frames, count + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def segment_name(name: str, index: int, count: int) -> str:
    """``name`` for a one-segment clip, else ``name_s00``, ``name_s01``, ..."""
    return name if count == 1 else f"{name}_s{index:02d}"


def prepare_clip(name: str, path: Path, split: str, identity: str, out_dir: Path,
                 options: PrepareOptions, detector: LandmarkDetector) -> list[ClipRecord]:
    """Crop one video into ``out_dir/split`` (one clip per segment, see ``options.segment_seconds``);
    InputError (with the reason) when it cannot be used. Segments with too few face frames are
    left out; the records of the written ones are returned."""
    tracks, fps, source_size = _track_landmarks(path, detector)
    valid = np.isfinite(tracks).all(axis=(1, 2))
    if len(tracks) < options.min_frames:
        raise InputError(f"too short: {len(tracks)} frames < min_frames {options.min_frames}")
    if not valid.any():
        raise InputError("no face found in any frame")
    if valid.sum() < options.min_frames:
        raise InputError(f"face found in only {int(valid.sum())} of {len(tracks)} frames (< min_frames)")
    bounds = segment_bounds(len(tracks), fps, options.segment_seconds, options.min_frames)
    usable = [(a, b) for a, b in bounds if valid[a:b].sum() >= options.min_frames]
    if not usable:
        raise InputError(f"no segment has {options.min_frames} frames with a face")
    folder = out_dir / split
    names = [segment_name(name, k, len(bounds)) for k, (a, b) in enumerate(bounds) if (a, b) in usable]
    crops_per_segment = [stable_video_crops(tracks[a:b], options.size, options.crop_mode, **options.crop_kwargs())
                         for a, b in usable]
    for clip_name in names:
        _remove_stale_temporaries(folder, clip_name)
    writers = [VideoWriter(folder / f"{clip_name}.mp4", fps, crf=options.crf) for clip_name in names]
    written = 0
    try:
        segment = 0
        for index, frame in enumerate(open_video(path)[1]):
            while segment < len(usable) and index >= usable[segment][1]:
                segment += 1
            if segment < len(usable) and index >= usable[segment][0]:
                writers[segment].write(apply_crop(frame, crops_per_segment[segment][index - usable[segment][0]],
                                                   border="replicate"))
            written += 1
        if written != len(tracks):
            raise InputError(f"second decode gave {written} frames, the first {len(tracks)}")
    except BaseException:
        for writer in writers:
            writer.abort()
        raise
    for writer in writers:
        writer.close()
    records = []
    for clip_name, (a, b), crops in zip(names, usable, crops_per_segment):
        part_valid = valid[a:b]
        filled = _fill_invalid(tracks[a:b], part_valid)
        landmarks = np.stack([to_crop_coords(points, crop) for points, crop in zip(filled, crops)])
        poses = fit_head_poses(landmarks)
        save_clip_arrays(folder / f"{clip_name}.npz", {
            "landmarks": landmarks.astype(np.float32), "valid": part_valid,
            "rotation": poses["rotation"], "pose": poses["pose"], "scale": poses["scale"],
            "translation": poses["translation"], "fps": np.float64(fps), "identity": np.str_(identity),
            "crop_matrix": np.stack([c.matrix for c in crops]).astype(np.float32),
            "source_size": np.array(source_size, dtype=np.int64),
            "source_frames": np.arange(a, b, dtype=np.int64),
        })
        records.append(ClipRecord(clip_name, split, identity, b - a, float(fps), options.size, str(path),
                                  segment_of=name if len(bounds) > 1 else None))
    return records


def prepare_dataset(inputs: list[Path], out_dir: Path, size: int = 256, identity_map: Path | None = None,
                    test_fraction: float = 0.1, min_frames: int = 16, progress: bool = False, *,
                    options: PrepareOptions | None = None, test_identities: Iterable[str] | None = None,
                    stills: Path | None = None,
                    on_clip: Callable[[str, str], None] | None = None, overwrite: bool = False) -> PrepareReport:
    """Crop every video/frame folder in ``inputs`` into the clip layout under ``out_dir``.

    ``options`` overrides the crop settings (its size/min_frames win over the arguments when given).
    ``test_identities``: the identities (or clip names without a map) that form the test split,
    instead of the hash rule of :func:`assign_splits`. ``stills``: a folder ``<identity>/<image>``
    of photos that become the per-identity reference pool (:func:`prepare_stills`).
    ``on_clip(name, status)`` is called after each clip (status: "prepared", "reused" or a skip reason).
    Returns a PrepareReport; unusable clips are reported, not raised. InputError when an input path
    is missing, nothing is found, or the identity map is unreadable; ConfigError when ``out_dir``
    holds clips made with other settings (``overwrite`` makes them again).
    """
    started = time.perf_counter()
    out_dir = Path(out_dir)
    options = options or PrepareOptions(size=size, min_frames=min_frames)
    options.validate()
    if not 0.0 <= test_fraction <= 1.0:
        raise ConfigError(f"prepare test_fraction must be in [0, 1], got {test_fraction}")
    check_writable_folder(out_dir, "dataset")
    clips = discover_clips(inputs)
    if not clips:
        raise InputError(f"no videos or frame folders found in {', '.join(map(str, inputs))}")
    mapping = read_identity_map(identity_map) if identity_map is not None else None
    report = PrepareReport()
    identities: dict[str, str] = {}
    for name, path in clips:
        identity = _identity_for(name, path, mapping)
        if identity is None:
            report.skipped.append((str(path), f"not in identity map {identity_map}"))
        else:
            identities[name] = identity
    if test_identities is not None:
        test_groups = set(test_identities)
        unknown = sorted(test_groups - set(identities.values()))
        if unknown:
            raise InputError(f"--test-identities names {', '.join(unknown)}, which no input clip has "
                             f"(identities: {', '.join(sorted(set(identities.values())))})")
    else:
        test_groups = assign_splits(identities.values(), test_fraction)
    start_dataset(out_dir, options.settings(), overwrite, legacy={"size": "size"})
    manifest = load_manifest(out_dir)
    detector = LandmarkDetector(static_image=False)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(identities), unit="clip", desc="prepare")
    try:
        for name, path in clips:
            if name not in identities:
                continue
            status = "prepared"
            records = None if overwrite else _finished_records(out_dir, name, manifest, path, options.size)
            if records is not None:
                report.reused.extend(records)
                status = "reused"
            else:
                split = "test" if identities[name] in test_groups else "train"
                try:
                    with warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always")
                        records = prepare_clip(name, path, split, identities[name], out_dir, options, detector)
                    report.prepared.extend(records)
                    report.frames_processed += sum(r.num_frames for r in records)
                    for warning in caught:  # truncated videos etc.: keep the clip, pass the warning on
                        warnings.warn(f"{path}: {warning.message}", stacklevel=2)
                except InputError as error:
                    status = str(error)
                    report.skipped.append((str(path), status))
                    records = None
            if records:
                update_manifest(out_dir, records)
            if on_clip is not None:
                on_clip(name, status)
            if bar is not None:
                bar.update(1)
                bar.set_postfix_str(f"{name}: {status}"[:40])
    finally:
        detector.close()
        if bar is not None:
            bar.close()
    if stills is not None:
        test_pool = {identities[n] for n in identities if identities[n] in test_groups} | set(test_groups)
        report.references = prepare_stills(Path(stills), out_dir, options, test_identities=test_pool)
    report.seconds = time.perf_counter() - started
    return report


def prepare_stills(stills: Path, out_dir: Path, options: PrepareOptions,
                   test_identities: Iterable[str] = ()) -> list[ReferenceRecord]:
    """Crop every photo of ``stills/<identity>/`` like the clips (same framing and size) into the
    per-identity reference pool ``out_dir/refs/<identity>/<name>.png`` + ``.npz`` (``landmarks`` 1×468×3
    crop-normalised, ``valid``, ``rotation``, ``pose``, ``scale``, ``translation``, ``identity``) and list
    them under ``references`` in the manifest. Photos without a face are skipped with a warning;
    finished photos are not redone. InputError when ``stills`` is not a folder of identity folders."""
    from synergywarp.face import crop_from_landmarks, detect_landmarks
    from synergywarp.io import read_image, write_image

    if not stills.is_dir():
        raise InputError(f"stills folder not found: {stills}")
    folders = sorted(p for p in stills.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise InputError(f"{stills} holds no identity folders (expected {stills}/<identity>/<photo>.jpg)")
    test = set(test_identities)
    records: list[ReferenceRecord] = []
    scale = DEFAULT_SCALE if options.scale is None else options.scale
    vy = DEFAULT_VY if options.vy is None else options.vy
    for folder in folders:
        identity = _sanitize(folder.name)
        split = "test" if identity in test else "train"
        for image_path in sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS):
            name = _sanitize(image_path.stem)
            target = out_dir / REFERENCE_FOLDER / identity / name
            record = ReferenceRecord(name, identity, split, options.size, str(image_path))
            image_file, arrays_file = target.with_suffix(".png"), target.with_suffix(".npz")
            if image_file.is_file() and arrays_file.is_file():
                records.append(record)
                continue
            try:
                image = read_image(image_path)
                found = detect_landmarks(image, name=str(image_path))
            except InputError as error:
                warnings.warn(f"reference photo skipped: {error}", stacklevel=2)
                continue
            crop = crop_from_landmarks(found.points, options.size, scale=scale, vy=vy, align_roll=options.align_roll)
            landmarks = to_crop_coords(found.points, crop)[None].astype(np.float32)
            poses = fit_head_poses(landmarks)
            write_image(image_file, apply_crop(image, crop, border="replicate"))
            save_clip_arrays(arrays_file, {
                "landmarks": landmarks, "valid": np.ones(1, bool), "rotation": poses["rotation"],
                "pose": poses["pose"], "scale": poses["scale"], "translation": poses["translation"],
                "identity": np.str_(identity), "crop_matrix": crop.matrix[None].astype(np.float32),
                "source_size": np.array(image.shape[:2], dtype=np.int64),
            })
            records.append(record)
    update_reference_manifest(out_dir, records)
    return records

"""Build a synthetic clip dataset from still portraits, in the layout ``prepare`` writes.

``DIR/{train,test}/<identity>_<k>.mp4`` (H.264, size²) with ``<clip>.npz`` beside it (docs/CONTRACTS.md#dataset-layout
fields plus ``expression``/``expression_names``/``target_pose``) and ``DIR/manifest.json`` (the
manifest of :mod:`synergywarp.data.prepare`, ``source`` = "synth", plus ``portrait`` and ``seed``).
Every face found in an image is an identity (a group photo gives several); the train/test split is
by identity. Each clip's seed derives from (corpus seed, identity, clip number), so the corpus is
byte-for-byte reproducible and resumable: finished clips (npz and mp4 present) are skipped. The
manifest records the settings; a rerun with other settings is refused unless ``overwrite`` (every
clip is then rendered again), so a corpus never mixes clips of two kinds.
"""

from __future__ import annotations

import dataclasses
import io
import re
import warnings
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from synergywarp.atomic import check_writable_folder, publish, temporary_sibling, write_failure
from synergywarp.data.prepare import (
    MANIFEST_VERSION,
    ClipRecord,
    clip_is_complete,
    load_manifest,
    start_dataset,
    update_manifest,
)
from synergywarp.data.synth.engine import SynthClip, SynthConfig, prepare_portrait, render_clip
from synergywarp.errors import ConfigError, InputError
from synergywarp.face.types import FaceLandmarks

MIN_FACE_SIDE = 48  # faces whose landmark box is smaller (image px) are skipped
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
Progress = Callable[[int, int, str], None]


@dataclass
class SynthClipRecord(ClipRecord):
    """A manifest entry of a synthetic clip: ``source`` is "synth"; ``portrait`` the image path."""

    portrait: str = ""
    seed: int = 0


def save_npz_deterministic(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write an uncompressed npz whose bytes depend only on ``arrays`` (fixed zip timestamps),
    atomically (hidden temporary, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_sibling(path)
    try:
        with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_STORED) as archive:
            for key in sorted(arrays):
                buffer = io.BytesIO()
                np.lib.format.write_array(buffer, np.asanyarray(arrays[key]), allow_pickle=False)
                info = zipfile.ZipInfo(f"{key}.npy", date_time=ZIP_EPOCH)
                info.external_attr = 0o644 << 16
                archive.writestr(info, buffer.getvalue())
        publish(temporary, path)
    except OSError as error:
        raise write_failure(path, error) from None
    finally:
        temporary.unlink(missing_ok=True)


def write_clip(clip: SynthClip, folder: Path, name: str, crf: int = 18) -> None:
    """``folder/name.mp4`` then ``folder/name.npz`` (npz last: its presence marks a finished clip)."""
    from synergywarp.io import VideoWriter

    with VideoWriter(folder / f"{name}.mp4", clip.fps, crf=crf) as writer:
        writer.write(clip.frames)
    save_npz_deterministic(folder / f"{name}.npz", clip.arrays())


def clip_seed(seed: int, identity: str, index: int) -> int:
    """A 63-bit seed for clip ``index`` of ``identity`` in a corpus seeded with ``seed``."""
    state = np.random.SeedSequence([int(seed), zlib.crc32(identity.encode("utf-8")), int(index)])
    return int(state.generate_state(1, np.uint64)[0] >> np.uint64(1))


def collect_images(inputs: Sequence[str | Path]) -> list[Path]:
    """Image files named in ``inputs``, folders expanded (sorted, non-recursive); InputError for a
    path that does not exist or a folder without images."""
    from synergywarp.io.image import IMAGE_EXTENSIONS

    found: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            images = sorted(p for p in item.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
            if not images:
                raise InputError(f"no image files in folder {item}")
            found += images
        elif item.is_file():
            found.append(item)
        else:
            raise InputError(f"portrait not found: {item}")
    return found


def sanitize(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_") or "portrait"


@dataclass
class PortraitFace:
    """One identity: the image it comes from and its face landmarks."""

    identity: str
    path: Path
    image: np.ndarray
    face: FaceLandmarks


def find_faces(images: Sequence[str | Path], all_faces: bool = True,
               skipped: list[tuple[str, str]] | None = None) -> list[PortraitFace]:
    """Every usable face (largest first per image) of every image; unusable inputs are appended to
    ``skipped`` as (path, reason) and warned about."""
    from synergywarp.face.detect import detect_faces
    from synergywarp.face.landmarks import LandmarkDetector
    from synergywarp.io import read_image

    skipped = skipped if skipped is not None else []
    found: list[PortraitFace] = []
    detector = LandmarkDetector(static_image=True)
    try:
        for path in map(Path, images):
            try:
                image = read_image(path)
            except InputError as error:
                skipped.append((str(path), str(error)))
                warnings.warn(f"skipping {path}: {error}", stacklevel=2)
                continue
            faces = [f for f in (detector(image, box) for box in detect_faces(image)) if f is not None]
            faces = [f for f in faces if min(np.ptp(f.points[:, :2], axis=0)) >= MIN_FACE_SIDE]
            if not all_faces:
                faces = faces[:1]
            if not faces:
                skipped.append((str(path), f"no face of at least {MIN_FACE_SIDE} px found"))
                warnings.warn(f"skipping {path}: no usable face", stacklevel=2)
                continue
            stem = sanitize(path.stem)
            for k, face in enumerate(faces):
                identity = stem if len(faces) == 1 else f"{stem}_face{k}"
                found.append(PortraitFace(identity, path, image, face))
    finally:
        detector.close()
    return found


def choose_test_identities(identities: Sequence[str], test_identities: int | Sequence[str], seed: int) -> set[str]:
    """The held-out identities: the given names, or ``n`` drawn reproducibly from ``seed``."""
    if isinstance(test_identities, int):
        if not 0 <= test_identities < max(len(identities), 1):
            raise ConfigError(f"test_identities={test_identities} must leave at least one of "
                              f"{len(identities)} identities for training")
        order = np.random.default_rng(seed).permutation(sorted(identities))
        return set(order[:test_identities].tolist())
    unknown = sorted(set(test_identities) - set(identities))
    if unknown:
        raise ConfigError(f"test identities {unknown} are not among the portraits' identities {sorted(identities)}")
    return set(test_identities)


def build_corpus(images: Sequence[str | Path], out_dir: str | Path, clips_per_image: int = 4,
                 frames: int = 64, seed: int = 0, size: int = 256,
                 test_identities: int | Sequence[str] = 0, progress: bool | Progress = False, *,
                 config: SynthConfig | None = None, all_faces: bool = True, crf: int = 18,
                 overwrite: bool = False) -> dict:
    """Render ``clips_per_image`` clips per identity into ``out_dir``; returns the manifest dict
    (``{"version", "clips": [...]}`` plus ``"skipped"``: [(path, reason)] of unusable images).

    ``progress``: True for a tqdm bar, or a callable ``(done, total, clip name)``. ConfigError when
    ``out_dir`` holds clips made with other settings, unless ``overwrite`` (all are made again)."""
    if clips_per_image < 1:
        raise ConfigError(f"clips_per_image must be ≥ 1, got {clips_per_image}")
    config = replace(config or SynthConfig(), size=size, frames=frames)
    out_dir = Path(out_dir)
    check_writable_folder(out_dir, "dataset")
    settings = {"size": config.size, "frames": config.frames, "fps": config.fps, "seed": seed, "crf": crf,
                "test_identities": test_identities, "all_faces": all_faces, "engine": dataclasses.asdict(config)}
    skipped: list[tuple[str, str]] = []
    faces = find_faces(images, all_faces=all_faces, skipped=skipped)
    if not faces:
        raise InputError(f"no usable face in any of the {len(images)} portrait(s) given")
    _deduplicate(faces)
    held_out = choose_test_identities([f.identity for f in faces], test_identities, seed)
    start_dataset(out_dir, settings, overwrite, legacy={"size": "size", "frames": "num_frames", "fps": "fps"})
    total = len(faces) * clips_per_image
    report = _progress_reporter(progress, total)
    done = 0
    for portrait in faces:
        split = "test" if portrait.identity in held_out else "train"
        prepared = None
        for index in range(clips_per_image):
            name = f"{portrait.identity}_{index:03d}"
            finished = None if overwrite else clip_is_complete(out_dir, name)
            if finished is not None and finished.parent.name != split:
                raise ConfigError(f"clip {name} is in {finished.parent.name}/ but the test identities now put it in "
                                  f"{split}/; choose another --out, or pass --overwrite to make every clip again")
            if finished is None:
                if prepared is None:
                    prepared = prepare_portrait(portrait.image, config, face=portrait.face, identity=portrait.identity)
                clip_seed_value = clip_seed(seed, portrait.identity, index)
                clip = render_clip(prepared, config, clip_seed_value)
                write_clip(clip, out_dir / split, name, crf=crf)
            else:
                clip_seed_value = clip_seed(seed, portrait.identity, index)
            update_manifest(out_dir, [SynthClipRecord(
                name=name, split=split, identity=portrait.identity, num_frames=config.frames,
                fps=float(config.fps), size=config.size, source="synth", portrait=str(portrait.path),
                seed=clip_seed_value)])
            done += 1
            report(done, total, name)
    manifest = {"version": MANIFEST_VERSION, "clips": list(load_manifest(out_dir).values()), "skipped": skipped}
    return manifest


def _deduplicate(faces: list[PortraitFace]) -> None:
    """Make identities unique (two files with the same stem get _2, _3 ...)."""
    seen: dict[str, int] = {}
    for face in faces:
        count = seen.get(face.identity, 0) + 1
        seen[face.identity] = count
        if count > 1:
            face.identity = f"{face.identity}_{count}"


def _progress_reporter(progress: bool | Progress, total: int) -> Progress:
    if callable(progress):
        return progress
    if not progress:
        return lambda done, total_, name: None
    from tqdm import tqdm

    bar = tqdm(total=total, unit="clip", desc="synth")

    def report(done: int, total_: int, name: str) -> None:
        bar.update(1)
        bar.set_postfix_str(name)
        if done >= total_:
            bar.close()

    return report

"""Reading clips of the dataset layout (docs/CONTRACTS.md#dataset-layout): listing, npz arrays, and frame decoding.

A dataset folder holds ``DIR/<split>/<clip>.mp4`` with ``<clip>.npz`` beside it and
``DIR/manifest.json`` (written by ``synergywarp prepare`` and ``synergywarp synth``). Clips are
listed from the manifest when there is one, else by scanning ``DIR/<split>/*.mp4``.

Frames are decoded with PyAV sequentially up to the last frame needed (clips are short), keeping
only the requested ones; ``FrameCache`` keeps whole decoded clips in memory for tiny datasets.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from synergywarp.errors import ConfigError, InputError

MANIFEST_NAME = "manifest.json"
SPLITS = ("train", "test")
KEYPOINT_ARRAYS = ("landmarks", "valid", "pose")


@dataclass(frozen=True)
class ClipEntry:
    """One clip of a dataset folder: its name, split, files and frame count (None: not yet known)."""

    name: str
    split: str
    video: Path
    arrays: Path
    num_frames: int | None


def _empty_split_error(root: Path, split: str) -> InputError:
    return InputError(f"no clips in {root / split}; run `synergywarp prepare` or `synergywarp synth` first")


def list_clips(root: str | Path, split: str = "train") -> list[ClipEntry]:
    """The clips of ``root/split`` sorted by name (manifest.json, else ``*.mp4`` in the folder).

    InputError when ``root`` is missing or the split holds no clips, or when the manifest lists a
    video that is not there; ConfigError for an unknown split.
    """
    root = Path(root)
    if split not in SPLITS:
        raise ConfigError(f"dataset split must be one of {', '.join(SPLITS)}, got {split!r}")
    if not root.is_dir():
        raise InputError(f"dataset folder not found: {root}")
    from synergywarp.data.prepare import load_manifest

    manifest = load_manifest(root) if (root / MANIFEST_NAME).is_file() else {}
    if manifest:
        entries = []
        for name, record in sorted(manifest.items()):
            if record.get("split") != split:
                continue
            video = root / str(record.get("video", f"{split}/{name}.mp4"))
            arrays = root / str(record.get("arrays", f"{split}/{name}.npz"))
            if not video.is_file():
                raise InputError(f"clip video {video} listed in {root / MANIFEST_NAME} is missing")
            entries.append(ClipEntry(name, split, video, arrays, _frame_count(record.get("num_frames"), name, root)))
    else:
        folder = root / split
        videos = sorted(folder.glob("*.mp4")) if folder.is_dir() else []
        entries = [ClipEntry(v.stem, split, v, v.with_suffix(".npz"), None)
                   for v in videos if not v.name.startswith(".")]
    if not entries:
        raise _empty_split_error(root, split)
    return entries


REFERENCE_PREFIX = "refs/"


@dataclass(frozen=True)
class ReferencePhoto(ClipEntry):
    """A photo of the per-identity reference pool (``prepare --stills``): a one-frame "clip" named
    ``refs/<identity>/<photo>`` whose ``video`` is a PNG crop and ``arrays`` its npz."""

    identity: str = ""


def list_reference_photos(root: str | Path, identity: str | None = None) -> list[ReferencePhoto]:
    """The reference pool of ``root`` (manifest ``references``; all identities or one), sorted by name.
    Empty when the dataset has none."""
    import json

    try:
        manifest = json.loads((Path(root) / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    photos = []
    for record in manifest.get("references", []) if isinstance(manifest, dict) else []:
        try:
            who, name = str(record["identity"]), str(record["name"])
            if identity is not None and who != identity:
                continue
            photos.append(ReferencePhoto(f"{REFERENCE_PREFIX}{who}/{name}", str(record.get("split", "train")),
                                         Path(root) / str(record["image"]), Path(root) / str(record["arrays"]), 1,
                                         who))
        except (KeyError, TypeError):
            raise InputError(f"{Path(root) / MANIFEST_NAME}: malformed reference entry {record!r}") from None
    return sorted(photos, key=lambda photo: photo.name)


def find_clip(root: str | Path, name: str) -> ClipEntry:
    """The clip called ``name`` in either split of ``root``, or the reference photo
    ``refs/<identity>/<photo>`` (InputError when absent)."""
    root = Path(root)
    if name.startswith(REFERENCE_PREFIX):
        for photo in list_reference_photos(root):
            if photo.name == name:
                if not photo.video.is_file():
                    raise InputError(f"reference photo {photo.video} listed in {root / MANIFEST_NAME} is missing")
                return photo
        raise InputError(f"no reference photo named {name!r} in {root / MANIFEST_NAME}")
    for split in SPLITS:
        try:
            clips = list_clips(root, split)
        except InputError:
            if not root.is_dir():
                raise
            continue
        for entry in clips:
            if entry.name == name:
                return entry
    raise InputError(f"no clip named {name!r} in {root} (looked in {', '.join(SPLITS)})")


def load_clip_arrays(entry: ClipEntry, keys: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """The npz arrays of a clip ({key: array}; all keys when ``keys`` is None).

    Checks ``landmarks`` T×468×3, ``valid`` T and ``pose`` T×3 agree when loaded. InputError naming
    the file when it is missing, unreadable, lacks a key or holds inconsistent shapes.
    """
    if not entry.arrays.is_file():
        raise InputError(f"missing landmarks file {entry.arrays} for clip {entry.name}; "
                         "rerun `synergywarp prepare`/`synth` (or use the dataset with keypoints=False)")
    try:
        with np.load(entry.arrays, allow_pickle=False) as data:
            wanted = data.files if keys is None else keys
            missing = [key for key in wanted if key not in data.files]
            if missing:
                raise InputError(f"clip arrays {entry.arrays} lack {', '.join(missing)}")
            arrays = {key: data[key] for key in wanted}
    except InputError:
        raise
    except ValueError as error:  # numpy's wording would advise allow_pickle=True: never
        if "Object arrays" in str(error):
            raise InputError(f"clip arrays {entry.arrays} hold Python objects (pickled data), which are never "
                             "loaded; rewrite the clip with `synergywarp prepare` or `synergywarp synth`") from None
        if "pickled" in str(error):
            raise InputError(f"corrupt clip arrays {entry.arrays}: not an npz archive (pickled or unknown data is "
                             "never loaded)") from None
        raise InputError(f"corrupt clip arrays {entry.arrays}: {error}") from None
    except Exception as error:  # zipfile/OSError variants of a damaged file
        raise InputError(f"corrupt clip arrays {entry.arrays}: {error}") from None
    _check_shapes(entry, arrays)
    return arrays


def _check_shapes(entry: ClipEntry, arrays: dict[str, np.ndarray]) -> None:
    expected = {"landmarks": (468, 3), "valid": (), "pose": (3,), "rotation": (3, 3), "translation": (3,)}
    lengths = set()
    for key, tail in expected.items():
        if key in arrays:
            shape = arrays[key].shape
            if len(shape) != 1 + len(tail) or shape[1:] != tail:
                wanted = "×".join(["T", *map(str, tail)])
                raise InputError(f"clip arrays {entry.arrays}: {key} has shape {shape}, expected {wanted}")
            lengths.add(shape[0])
    if len(lengths) > 1:
        raise InputError(f"clip arrays {entry.arrays}: per-frame arrays disagree on the frame count {sorted(lengths)}")


def decode_frames(entry: ClipEntry, indices: list[int] | np.ndarray | None = None) -> dict[int, np.ndarray]:
    """{frame index: H×W×3 uint8 RGB} for ``indices`` (all frames when None) of a clip's video.

    Decodes sequentially up to the largest index (:func:`synergywarp.io.video_reader.decode_selected_frames`:
    PyAV, or OpenCV where PyAV is not installed). InputError naming the clip when the video is missing,
    corrupt, or ends before a requested frame.
    """
    from synergywarp.io.video_reader import decode_selected_frames

    wanted = None if indices is None else {int(i) for i in indices}
    last = None if wanted is None else max(wanted, default=-1)
    if last is not None and last < 0:
        return {}
    try:
        frames, decoded = decode_selected_frames(entry.video, wanted)
    except InputError as error:
        raise InputError(f"clip {entry.name}: {error}") from None
    if decoded == 0:
        raise InputError(f"clip {entry.name}: no frame decodes in {entry.video} (corrupt or empty video)")
    if last is not None and decoded <= last:
        raise InputError(f"clip {entry.name}: video {entry.video} has only {decoded} decodable "
                         f"frames, frame {last} was requested")
    return frames


class FrameCache:
    """In-memory LRU of whole decoded clips (T×H×W×3 uint8), keyed by video path."""

    def __init__(self, max_clips: int = 64) -> None:
        self.max_clips = max_clips
        self._clips: OrderedDict[Path, np.ndarray] = OrderedDict()

    def frames(self, entry: ClipEntry, indices: list[int] | np.ndarray) -> dict[int, np.ndarray]:
        """Like ``decode_frames`` but decodes the whole clip once and serves later calls from memory."""
        clip = self._clips.get(entry.video)
        if clip is None:
            decoded = decode_frames(entry)
            clip = np.stack([decoded[i] for i in range(len(decoded))])
            self._clips[entry.video] = clip
            while len(self._clips) > self.max_clips:
                self._clips.popitem(last=False)
        else:
            self._clips.move_to_end(entry.video)
        if max(indices, default=-1) >= len(clip):
            raise InputError(f"clip {entry.name}: video {entry.video} has only {len(clip)} frames, "
                             f"frame {max(indices)} was requested")
        return {int(i): clip[int(i)] for i in indices}

    def __len__(self) -> int:
        return len(self._clips)


class EvalClip(NamedTuple):
    """A whole clip for evaluation: ``frames`` T×S×S×3 uint8 RGB and its npz ``arrays``."""

    frames: np.ndarray
    arrays: dict[str, np.ndarray]

    @property
    def keypoints(self) -> np.ndarray:
        """Tracked keypoints T×32×3 (crop cube) from the npz landmarks."""
        from synergywarp.face.keypoints import tracked_keypoints

        return tracked_keypoints(np.asarray(self.arrays["landmarks"], dtype=np.float32))


def load_clip(root: str | Path, name: str, *, require_arrays: bool = True) -> EvalClip:
    """Decode a clip of ``root`` (either split) whole: (frames T×S×S×3 uint8, arrays dict).

    ``arrays`` holds every npz entry (``fps`` and ``identity`` as 0-d arrays); with
    ``require_arrays=False`` a missing npz gives ``{}``. InputError naming the clip on problems,
    including a video whose frame count differs from its arrays'.
    """
    entry = find_clip(root, name)
    arrays = load_clip_arrays(entry) if require_arrays or entry.arrays.is_file() else {}
    if isinstance(entry, ReferencePhoto):
        from synergywarp.io import read_image

        frames = read_image(entry.video)[None]
    else:
        decoded = decode_frames(entry)
        frames = np.stack([decoded[i] for i in range(len(decoded))])
    if "valid" in arrays and len(arrays["valid"]) != len(frames):
        raise InputError(f"clip {name}: video {entry.video} has {len(frames)} frames but "
                         f"{entry.arrays} describes {len(arrays['valid'])}")
    return EvalClip(frames, arrays)


def _frame_count(value: object, name: str, root: Path) -> int | None:
    """A manifest's ``num_frames`` (None when absent); :class:`InputError` for anything but a whole number ≥ 0."""
    if value is None:
        return None
    count: int | None = None
    if isinstance(value, float) and value.is_integer():
        count = int(value)
    elif isinstance(value, int | str) and not isinstance(value, bool):
        try:
            count = int(value)
        except ValueError:
            pass
    if count is None or count < 0:
        raise InputError(f"clip {name} in {root / MANIFEST_NAME} has num_frames {value!r}, not a number of frames")
    return count

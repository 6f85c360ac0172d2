"""The project's bad-input corpus: hostile images, videos, references, checkpoints, configs and
datasets, made in a folder by :func:`build_corpus` (tiny files, a few seconds in all).

Good inputs sit beside the bad ones (a tiny checkpoint, a driving clip with a face and audio, the
bundled portraits, a small clip dataset and an experiment config), so each hostile command line
changes exactly one thing.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import zlib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import yaml

PORTRAITS = Path(__file__).resolve().parents[2] / "src" / "synergywarp" / "assets" / "portraits"
GRACE = PORTRAITS / "grace_hopper.jpg"
ASTRONAUT = PORTRAITS / "astronaut.jpg"


@dataclass
class Corpus:
    root: Path

    def __getattr__(self, name: str) -> Path:  # corpus.checkpoint → root/checkpoint...
        matches = [p for p in self.root.iterdir() if p.name == name or p.stem == name]
        if len(matches) != 1:
            raise AttributeError(f"corpus has no single entry {name!r}: {matches}")
        return matches[0]


def write_video(path: Path, frames: np.ndarray, fps: int = 15, audio: bool = False,
                times: list[float] | None = None) -> Path:
    """H.264 mp4 of T×H×W×3 frames (constant ``fps``, or presentation ``times`` in seconds), with an
    optional AAC 440 Hz tone as long as the video."""
    time_base = Fraction(1, 90000)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast"}
        if times is not None:
            stream.codec_context.time_base = time_base
            stream.time_base = time_base
        audio_stream = container.add_stream("aac", rate=44100) if audio else None
        if audio_stream is not None:
            audio_stream.layout = "mono"
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            if times is None:
                frame.pts = i
            else:
                frame.pts, frame.time_base = round(times[i] / time_base), time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
        if audio_stream is not None:
            seconds = (times[-1] + (times[-1] - times[-2])) if times is not None else len(frames) / fps
            rate = 44100
            samples = (0.3 * np.sin(2 * np.pi * 440 * np.arange(int(rate * seconds)) / rate)).astype(np.float32)
            for start in range(0, len(samples), 1024):
                chunk = av.AudioFrame.from_ndarray(samples[start:start + 1024][None], format="fltp", layout="mono")
                chunk.sample_rate, chunk.pts, chunk.time_base = rate, start, Fraction(1, rate)
                container.mux(audio_stream.encode(chunk))
            container.mux(audio_stream.encode(None))
    return path


def face_frames(count: int = 6, size: int = 128) -> np.ndarray:
    """count frames of a size² crop of Grace Hopper's face drifting sideways."""
    from synergywarp.face import apply_crop, crop_from_params, detect_landmarks
    from synergywarp.io import read_image

    grace = read_image(GRACE)
    points = detect_landmarks(grace, name="grace").points
    center, side = points[:, :2].mean(axis=0), 1.9 * float(np.ptp(points[:, 0]))
    return np.stack([apply_crop(grace, crop_from_params(center + [2.0 * i, 0.5 * i], side, 0.0, size))
                     for i in range(count)])


def png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG that declares width×height pixels but holds one tiny IDAT (a decompression bomb's header)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16))
                     + chunk(b"IEND", b""))


def _checkpoints(root: Path) -> None:
    import torch
    from safetensors.torch import save_file

    from synergywarp.models import create_model

    torch.manual_seed(0)
    model = create_model("tiny")
    model.save_pretrained(root / "checkpoint.safetensors", trained_stages=["explicit"])
    model.save_pretrained(root / "checkpoint_rac.safetensors", trained_stages=["explicit", "rac", "cgf"])
    good = (root / "checkpoint.safetensors").read_bytes()
    (root / "ckpt_truncated.safetensors").write_bytes(good[: len(good) // 3])
    (root / "ckpt_text.safetensors").write_text("not a checkpoint\n" * 10)
    (root / "ckpt_folder").mkdir()
    save_file({"w": torch.zeros(2)}, str(root / "ckpt_foreign.safetensors"))  # no config metadata
    with torch.no_grad():
        next(model.parameters()).fill_(float("nan"))
    model.save_pretrained(root / "ckpt_nan.safetensors", trained_stages=["explicit"])

    class Payload:
        def __reduce__(self):
            return (os.system, ("touch PWNED",))

    torch.save({"x": Payload()}, root / "ckpt_pickle.safetensors")  # a pickle under a safetensors name


def _images(root: Path) -> None:
    from PIL import Image

    from synergywarp.io import write_image

    (root / "img_empty.png").write_bytes(b"")
    (root / "img_text.png").write_text("this is a text file, not a picture\n" * 20)
    full = root / "img_full.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(full)
    (root / "img_truncated.png").write_bytes(full.read_bytes()[:600])
    full.unlink()
    write_image(root / "img_1x1.png", np.zeros((1, 1, 3), np.uint8))
    write_image(root / "img_wall.png", np.full((200, 160, 3), 180, np.uint8))
    png_header_only(root / "img_bomb.png", 30000, 30000)
    (root / "img_folder").mkdir()
    (root / "loop.jpg").symlink_to("loop.jpg")  # a symlink loop
    (root / "refs_empty").mkdir()
    (root / "refs_empty" / "notes.txt").write_text("no pictures here")


def constant_frames(count: int, size: int = 64) -> np.ndarray:
    """count×size×size×3 uint8 frames of distinct grey levels (no face; fast to encode)."""
    return np.stack([np.full((size, size, 3), 40 + 5 * i, np.uint8) for i in range(count)])


def _videos(root: Path) -> None:
    from io_media import write_audio_only, write_zero_frame_mp4

    faces = face_frames(6)
    write_video(root / "driving.mp4", faces, fps=15, audio=True)
    (root / "frames").mkdir()
    from synergywarp.io import write_image

    for i, frame in enumerate(faces[:4]):
        write_image(root / "frames" / f"{i:06d}.png", frame)
    (root / "vid_empty.mp4").write_bytes(b"")
    (root / "vid_text.mp4").write_text("not a video " * 50)
    data = (root / "driving.mp4").read_bytes()
    (root / "vid_truncated.mp4").write_bytes(data[:400])
    write_zero_frame_mp4(root / "vid_zero_frames.mp4")
    write_audio_only(root / "vid_audio_only.m4a")
    write_video(root / "vid_no_face.mp4", constant_frames(4))
    (root / "frames_mixed").mkdir()
    write_image(root / "frames_mixed" / "000000.png", faces[0])
    write_image(root / "frames_mixed" / "000001.png", faces[1][:64])
    (root / "loop.mp4").symlink_to("loop.mp4")
    (root / "only_a_loop").mkdir()
    (root / "only_a_loop" / "clip.mp4").symlink_to("clip.mp4")


def _dataset_and_configs(root: Path) -> None:
    from train_helpers import write_blob_dataset

    data = root / "dataset"
    write_blob_dataset(data, clips=2, frames=8)
    only_train = root / "dataset_train_only"
    shutil.copytree(data / "train", only_train / "train")
    pickled = root / "dataset_pickled"
    shutil.copytree(data, pickled)
    for npz in (pickled / "train").glob("*.npz"):
        with np.load(npz) as arrays:
            content = dict(arrays)
        for key in ("landmarks", "valid", "pose"):
            content[key] = np.array([{"evil": "object"}] * len(content[key]), dtype=object)
        np.savez(npz, **content)
    config = {"model": "tiny_tracked", "dataset": {"num_references": 1, "repeats": 2},
              "train": {"batch_size": 2, "max_steps": 1, "log_every": 1, "checkpoint_every": 1, "sample_every": 0,
                        "loss_weights": {"perceptual": 0.0}, "progress": False},
              "eval": {"every": 1, "max_items": 1, "references": 1}}
    (root / "config.yaml").write_text(yaml.safe_dump(config))
    (root / "cfg_not_yaml.yaml").write_text("model: [tiny\n  : :")
    (root / "cfg_unknown_key.yaml").write_text(yaml.safe_dump({**config, "trian": {}}))
    nan_clip = {**config, "train": {**config["train"], "grad_clip": float("nan")}}
    (root / "cfg_nan_grad_clip.yaml").write_text(yaml.safe_dump(nan_clip))
    nan_lr = {**config, "train": {**config["train"], "lr": float("nan")}}
    (root / "cfg_nan_lr.yaml").write_text(yaml.safe_dump(nan_lr))
    run = root / "run_existing"
    (run / "checkpoints" / "step_00000005").mkdir(parents=True)
    (run / "checkpoints" / "step_00000005" / "state.json").write_text(json.dumps({"step": 5}))
    (run / "model_ema.safetensors").write_bytes(b"the earlier run's model")
    (run / "log.csv").write_text("step,loss/total\n5,0.5\n")
    (run / "config.yaml").write_text("# the earlier run's config\n")


def build_corpus(root: Path) -> Corpus:
    """Write every corpus file into ``root``."""
    _checkpoints(root)
    _images(root)
    _videos(root)
    _dataset_and_configs(root)
    return Corpus(root)

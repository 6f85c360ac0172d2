"""A very large source photo: memory stays bounded (the face region is worked on, the paste-back is
tiled) and the written video is capped at a playable size unless ``--max-output-size 0`` asks for full size."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import tracemalloc

import cv2
import numpy as np
import pytest
from hostile_corpus import GRACE

from synergywarp.face import crop_from_params, paste_back
from synergywarp.io import probe_video, read_image

SCRIPT = textwrap.dedent("""
    import json, sys
    from synergywarp import cli

    def status(key):
        for line in open("/proc/self/status"):
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024

    common = ["--driving", sys.argv[1], "--checkpoint", sys.argv[2], "--device", "cpu", "--overwrite"]
    # warm up on the same photo at the output size: imports, face graphs, the encoder's buffers
    assert cli.main(["animate", "--source", sys.argv[3], "--out", "warmup.mp4", *common]) == 0
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")  # reset the peak (VmHWM) to the current resident size
    before = status("VmRSS")
    assert cli.main(["animate", "--source", sys.argv[4], "--out", "large.mp4", *common]) == 0
    print(json.dumps({"before": before, "peak": status("VmHWM")}))
""")


@pytest.fixture(scope="module")
def large_photo(tmp_path_factory):
    """A 6000-px-tall portrait (Grace Hopper upscaled) as a JPEG, and the same at 1920 px."""
    folder = tmp_path_factory.mktemp("large")
    grace = read_image(GRACE)
    paths = []
    for height in (6000, 1920):
        scale = height / grace.shape[0]
        big = cv2.resize(grace, (round(grace.shape[1] * scale), height), interpolation=cv2.INTER_CUBIC)
        paths.append(folder / f"large_{height}.jpg")
        cv2.imwrite(str(paths[-1]), big[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])
    return paths, (6000, round(grace.shape[1] * 6000 / grace.shape[0]), 3)


@pytest.mark.slow
def test_large_photo_memory_is_bounded_and_the_video_playable(corpus, large_photo, tmp_path):
    (path, small), shape = large_photo
    image_bytes = shape[0] * shape[1] * 3
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(corpus.driving), str(corpus.checkpoint), str(small),
                             str(path)], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    memory = json.loads(result.stdout.strip().splitlines()[-1])
    growth = memory["peak"] - memory["before"]
    # reading the JPEG holds the decoded image twice (Pillow's 4 bytes/px and the array: ~2.5× its size,
    # measured ~3× with the rest); the whole-frame float copies of the paste-back took over 15×
    assert growth < 4 * image_bytes, f"peak grew by {growth / 2**20:.0f} MiB for a {image_bytes / 2**20:.0f} MiB photo"
    info = probe_video(tmp_path / "large.mp4")
    assert max(info.width, info.height) <= 1920 and info.height == 1920
    assert info.width == pytest.approx(1920 * shape[1] / shape[0], abs=2)


@pytest.mark.slow
def test_max_output_size_zero_keeps_the_full_size(corpus, cli, tmp_path):
    grace = read_image(GRACE)
    big = cv2.resize(grace, (grace.shape[1] * 5, grace.shape[0] * 5), interpolation=cv2.INTER_LINEAR)
    source = tmp_path / "big.png"
    cv2.imwrite(str(source), big[..., ::-1])
    args = ["animate", "--source", source, "--driving", corpus.driving, "--checkpoint", corpus.checkpoint,
            "--device", "cpu"]
    full = cli(*args, "--out", tmp_path / "full.mp4", "--max-output-size", "0")
    assert full.returncode == 0, full.stderr[-2000:]
    info = probe_video(tmp_path / "full.mp4")
    assert (info.width, info.height) == (big.shape[1] + big.shape[1] % 2, big.shape[0])
    capped = cli(*args, "--out", tmp_path / "capped.mp4", "--max-output-size", "640")
    assert capped.returncode == 0, capped.stderr[-2000:]
    assert probe_video(tmp_path / "capped.mp4").height == 640


@pytest.mark.slow
def test_paste_back_does_not_materialise_float_copies_of_the_frame():
    rng = np.random.default_rng(0)
    full = rng.integers(0, 256, (3000, 2400, 3), dtype=np.uint8)
    crop_image = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
    crop = crop_from_params(np.array([1200.0, 1400.0]), 2600.0, 7.0, 256)  # nearly the whole frame
    tracemalloc.start()
    try:
        pasted = paste_back(full, crop_image, crop)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1.5 * full.nbytes, f"paste_back peaked at {peak / full.nbytes:.1f}× the frame's size"
    # the same result as blending the whole frame at once in float
    expected = _paste_back_whole_frame(full, crop_image, crop)
    assert np.abs(pasted.astype(int) - expected.astype(int)).max() <= 1


def _paste_back_whole_frame(full, crop_img, crop, feather=0.08):
    """The straightforward whole-frame float blend (the reference the tiled paste-back must match)."""
    from synergywarp.face.crop import feather_mask

    side = crop_img.shape[0]
    inverse = crop.inverse.copy()
    inverse[:, :2] *= crop.size / side
    cv_matrix = inverse.copy()
    cv_matrix[:, 2] += inverse[:, :2] @ np.array([0.5, 0.5]) - 0.5
    size = (full.shape[1], full.shape[0])
    warped = cv2.warpAffine(crop_img, cv_matrix, size, flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
    mask = cv2.warpAffine(feather_mask(side, feather), cv_matrix, size, flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)[..., None]
    return np.clip(np.round(full.astype(np.float32) * (1.0 - mask) + warped * mask), 0, 255).astype(np.uint8)


def test_the_cli_default_cap_is_the_library_default():
    from synergywarp.cli import build_parser
    from synergywarp.inference import AnimateOptions

    args = build_parser().parse_args(["animate", "--source", "s.jpg", "--driving", "d.mp4", "--out", "o.mp4"])
    assert args.max_output_size == AnimateOptions().max_output_size

"""Training machines without PyAV: clips decode through OpenCV, video I/O fails with one line."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from synergywarp.data.clips import decode_frames, list_clips
from synergywarp.errors import InputError
from synergywarp.io.video_reader import _decode_selected_opencv


def test_opencv_decoding_matches_pyav(dataset_root: Path) -> None:
    entry = list_clips(dataset_root, "train")[0]
    with_av = decode_frames(entry, [0, 4, 11])
    with_cv, decoded = _decode_selected_opencv(entry.video, {0, 4, 11})
    assert sorted(with_cv) == [0, 4, 11] and decoded == 12
    for index in with_av:
        assert np.abs(with_av[index].astype(int) - with_cv[index]).max() <= 2
    assert _decode_selected_opencv(entry.video, {30})[1] == 12  # stops at the end of the file
    with pytest.raises(InputError, match="only 12 decodable"):
        decode_frames(entry, [30])


@pytest.mark.slow
def test_without_pyav_a_dataset_item_loads_and_video_io_fails_with_one_line(dataset_root: Path) -> None:
    script = textwrap.dedent(f"""
        import sys
        sys.modules["av"] = None  # as if PyAV were not installed
        from synergywarp.data.dataset import ClipDataset
        from synergywarp.errors import AssetError
        from synergywarp.io import open_video
        from synergywarp.data.clips import decode_frames, list_clips
        from synergywarp.errors import InputError
        item = ClipDataset({str(dataset_root)!r}, "train", image_size=64, num_references=1)[0]
        assert item["source"].shape == (3, 64, 64)
        try:
            decode_frames(list_clips({str(dataset_root)!r}, "train")[0], [30])
        except InputError as error:
            print("SHORT", error)
        try:
            open_video({str(next((dataset_root / "train").glob("*.mp4")))!r})
        except AssetError as error:
            print("ERROR", error)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "ERROR video input/output needs PyAV" in result.stdout
    assert "has only 12 decodable frames, frame 30 was requested" in result.stdout

"""``scripts/extremes_figure.py``: the worst-case clips really reach ±35° yaw, ±30° roll and the combined turn."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.mark.slow
def test_the_rendered_clips_end_at_the_named_extremes(repo_script_module, tmp_path):
    script = repo_script_module("scripts/extremes_figure.py")
    names = script.build_dataset(tmp_path, size=64, frames=4)
    expected_names = [f"{p}_{e}" for p in script.PORTRAITS.values() for e in script.EXTREMES]
    assert all(len(f"source {name}") <= 21 for name in names)  # the figure's labels show the whole name
    assert names == expected_names
    for name, extreme in zip(names, [e for _ in script.PORTRAITS for e in script.EXTREMES]):
        arrays = np.load(tmp_path / "test" / f"{name}.npz")
        first, last = arrays["pose"][0], arrays["pose"][-1]  # pitch, yaw, roll fitted to the rendered landmarks
        expected = np.asarray(script.EXTREMES[extreme])
        assert np.abs(last - first - expected).max() < 3.0, (name, first, last)
        assert (tmp_path / "test" / f"{name}.mp4").is_file()

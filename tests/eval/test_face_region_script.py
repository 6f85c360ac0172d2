"""``scripts/face_region_l1.py``: the eval's whole-crop L1 split inside / outside the face oval."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest

from synergywarp.face import CANONICAL_FACE


def test_the_face_oval_mask_and_the_split(repo_script_module):
    script = repo_script_module("scripts/face_region_l1.py")
    face = (CANONICAL_FACE * 0.4).astype(np.float32)
    face[:, :2] += np.array([-0.45, 0.3], np.float32)  # off centre: left of and below the crop's centre
    mask = script.face_oval_mask(face, 256)
    nose = np.rint((face[1, :2] + 1.0) * 128 - 0.5).astype(int)  # pixel (x, y) of the nose tip
    assert 0.03 < mask.mean() < 0.3 and mask[nose[1], nose[0]]
    # a mask drawn flipped or transposed would cover the mirrored nose position instead
    assert not mask[255 - nose[1], nose[0]] and not mask[nose[0], nose[1]] and not mask[nose[1], 255 - nose[0]]
    target = np.zeros((1, 256, 256, 3), np.uint8)
    image = target.copy()
    image[0][mask] = 51  # an error of 0.2 inside the face only
    inside_sum, inside, outside_sum, outside = script.split_errors(image, target, face[None])[0]
    assert inside == mask.sum() and outside == (~mask).sum()
    assert inside_sum / inside == pytest.approx(0.2) and outside_sum == pytest.approx(0.0, abs=1e-9)


@pytest.mark.slow
def test_its_whole_crop_l1_is_the_eval_report_s(repo_script_module, eval_dataset, checkpoints, tmp_path):
    from synergywarp.cli import main

    script = repo_script_module("scripts/face_region_l1.py")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert script.main(["--data", str(eval_dataset), "--checkpoint", str(checkpoints["tiny_tracked"]),
                            "--method", "geometric", "--refs", "0", "--max-frames", "3"]) == 0
    split = json.loads(out.getvalue())
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["eval", "--data", str(eval_dataset), "--checkpoint", str(checkpoints["tiny_tracked"]),
                     "--methods", "geometric", "--refs", "0", "--max-frames", "3", "--out", str(tmp_path / "e"),
                     "--no-face-metrics", "--no-progress"]) == 0
    report = json.loads((tmp_path / "e" / "metrics.json").read_text())
    whole = next(m for m in report["methods"] if m["name"] == "geometric")["metrics"]["L1"]["value"]
    assert split["frames"] > 0 and split["L1_whole"] == pytest.approx(whole, rel=1e-6)
    assert split["L1_inside_face"] > 0.0 and split["L1_outside_face"] > 0.0

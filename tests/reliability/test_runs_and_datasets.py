"""Run folders and datasets are never silently mixed: an existing run is continued (--resume) or
replaced (--overwrite), never half-replaced; a dataset made with other settings is not extended; the
README's synth → train flow works without a test split; damaged checkpoints are named as such."""

from __future__ import annotations

import json
import shutil

import pytest
from hostile_corpus import ASTRONAUT
from reliability_checks import assert_one_error, leftovers, snapshot

from synergywarp.io import probe_video
from synergywarp.train.logging import read_log


def train_args(corpus, run, *extra):
    return ["train", "--config", corpus.config, "--data", corpus.dataset, "--out", run, "--device", "cpu",
            "--no-progress", *extra]


@pytest.mark.slow
def test_existing_run_needs_resume_or_overwrite(corpus, cli, tmp_path):
    run = tmp_path / "run"
    first = cli(*train_args(corpus, run, "--max-steps", "2"))
    assert first.returncode == 0, first.stderr[-2000:]
    before = snapshot(run)
    refused = cli(*train_args(corpus, run))
    assert_one_error(refused, "--resume", "--overwrite")
    assert snapshot(run) == before  # model, log, config and checkpoints untouched

    fresh = cli(*train_args(corpus, run, "--overwrite", "--max-steps", "1"))
    assert fresh.returncode == 0, fresh.stderr[-2000:]
    assert "trained to step 1" in fresh.stdout
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step_00000001"]  # the old run's are gone
    assert [row["step"] for row in read_log(run / "log.csv") if "loss/total" in row] == [1]
    resumed = cli(*train_args(corpus, run, "--resume", "--max-steps", "2"))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert [row["step"] for row in read_log(run / "log.csv") if "loss/total" in row] == [1, 2]


@pytest.mark.slow
def test_damaged_training_checkpoint_is_named_not_blamed_on_the_learning_rate(corpus, cli, tmp_path):
    run = tmp_path / "run"
    assert cli(*train_args(corpus, run)).returncode == 0
    tensors = run / "checkpoints" / "step_00000001" / "tensors.safetensors"
    data = bytearray(tensors.read_bytes())
    data[-1000] ^= 0x10  # one flipped bit in the weights
    tensors.write_bytes(bytes(data))
    result = cli(*train_args(corpus, run, "--resume", "--max-steps", "2"))
    line = assert_one_error(result, "damaged", "step_00000001")
    assert "train.lr" not in line and "learning rate" not in line


@pytest.mark.slow
def test_synth_then_train_without_a_test_split(corpus, cli, tmp_path):
    data = tmp_path / "synth"
    made = cli("synth", "--images", ASTRONAUT, "--out", data, "--clips", "1", "--frames", "4", "--size", "64",
               "--no-progress")
    assert made.returncode == 0, made.stderr[-2000:]
    assert not (data / "test").exists()  # synth's defaults hold no identity out
    trained = cli("train", "--config", corpus.config, "--data", data, "--out", tmp_path / "run", "--device", "cpu",
                  "--no-progress")
    assert trained.returncode == 0, trained.stderr[-2000:]
    assert "no test split" in trained.stderr and "evaluation" in trained.stderr
    assert (tmp_path / "run" / "model_ema.safetensors").is_file()


@pytest.mark.slow
def test_synth_rerun_with_other_settings_is_refused(cli, tmp_path):
    data = tmp_path / "synth"
    args = ["synth", "--images", ASTRONAUT, "--out", data, "--clips", "1", "--frames", "4", "--no-progress"]
    assert cli(*args, "--size", "64").returncode == 0
    before = snapshot(data)
    again = cli(*args, "--size", "64")  # the same settings: resumes (nothing to do)
    assert again.returncode == 0, again.stderr[-2000:]
    assert snapshot(data) == before
    refused = cli(*args, "--size", "96")
    assert_one_error(refused, "size", "--overwrite")
    assert snapshot(data) == before
    replaced = cli(*args, "--size", "96", "--overwrite")
    assert replaced.returncode == 0, replaced.stderr[-2000:]
    manifest = json.loads((data / "manifest.json").read_text())
    assert [clip["size"] for clip in manifest["clips"]] == [96]
    assert probe_video(data / manifest["clips"][0]["video"]).width == 96
    assert leftovers(data) == []


@pytest.mark.slow
def test_eval_overwrite_replaces_results(corpus, cli, tmp_path):
    args = ["eval", "--data", corpus.dataset, "--out", tmp_path / "eval", "--device", "cpu", "--no-progress",
            "--no-face-metrics", "--methods", "static", "--max-frames", "2"]
    assert cli(*args).returncode == 0
    assert_one_error(cli(*args), "--overwrite")
    again = cli(*args, "--overwrite")
    assert again.returncode == 0, again.stderr[-2000:]
    assert "0 frames extracted" in again.stdout  # the cache is kept and reused


def test_a_copied_checkpoint_folder_is_not_a_model(corpus, cli, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(corpus.run_existing, run)
    result = cli("animate", "--source", ASTRONAUT, "--driving", corpus.driving, "--out", tmp_path / "o.mp4",
                 "--checkpoint", run, "--device", "cpu")
    assert_one_error(result, "folder", "model_ema.safetensors")

"""SIGINT and SIGTERM stop a command with one line and no temporary left; after SIGKILL (which
cannot be handled) the next run removes the dead run's temporaries. A rerun then succeeds."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from hostile_corpus import GRACE, face_frames, write_video
from reliability_checks import leftovers

DEAD_PID = 999_999_999  # above any pid_max: never a live process


@pytest.fixture(scope="module")
def long_driving(tmp_path_factory) -> Path:
    """A 90-frame driving clip with a face and audio (several seconds of animation)."""
    frames = face_frames(6)
    return write_video(tmp_path_factory.mktemp("long") / "long.mp4", frames[[i % 6 for i in range(90)]], fps=15,
                       audio=True)


def wait_for(condition, started, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if started.process.exitcode is not None:
            raise AssertionError(f"finished before the signal:\n{started.stderr_so_far()[-2000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting:\n{started.stderr_so_far()[-2000:]}")
        time.sleep(0.05)


@pytest.mark.slow
@pytest.mark.parametrize("signum,code,word", [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")])
def test_signal_while_writing_a_video(signum, code, word, corpus, cli, long_driving, tmp_path):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"the previous result")
    args = ["animate", "--source", GRACE, "--driving", long_driving, "--out", out, "--checkpoint", corpus.checkpoint,
            "--device", "cpu", "--overwrite", "--batch", "2"]
    started = cli.start(*args, cwd=tmp_path)
    wait_for(lambda: any(p.name.endswith(".part") for p in tmp_path.iterdir()), started)
    time.sleep(0.3)
    os.kill(started.pid, signum)
    result = started.wait(60)
    assert result.returncode == code, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error:") and word in last and len(result.error_lines) == 1, result.stderr[-2000:]
    assert out.read_bytes() == b"the previous result"
    assert leftovers(tmp_path) == []
    rerun = cli(*args, cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert out.stat().st_size > 1000


@pytest.mark.slow
def test_sigkill_leftovers_are_removed_by_the_next_run(corpus, cli, tmp_path):
    """A SIGKILLed writer leaves its temporary; the next run into that folder removes it (ours only)."""
    frames = tmp_path / "frames"
    frames.mkdir()
    ours = [tmp_path / f".out.mp4.{DEAD_PID}.0123abcd.part", tmp_path / f".old.mp4.{DEAD_PID}.89abcdef.part",
            frames / f".000003.png.{DEAD_PID}.0badf00d.part"]
    theirs = [tmp_path / ".notes.part", tmp_path / "draft.part", tmp_path / f".out.mp4.{os.getpid()}.0123abce.part",
              tmp_path / ".config.tmp", tmp_path / ".cache.0123abcd.part"]
    for path in ours + theirs:
        path.write_bytes(b"x" * 100)
    result = cli("animate", "--source", GRACE, "--driving", corpus.driving, "--out", tmp_path / "out.mp4",
                 "--checkpoint", corpus.checkpoint, "--device", "cpu", "--frames-dir", frames, "--overwrite",
                 cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert [p for p in ours if p.exists()] == []
    assert [p for p in theirs if not p.exists()] == []  # a live process's temporary and user files stay


@pytest.mark.slow
def test_train_sigterm_then_resume(corpus, cli, tmp_path):
    run = tmp_path / "run"
    args = ["train", "--config", corpus.config, "--data", corpus.dataset, "--out", run, "--device", "cpu",
            "--no-progress"]
    started = cli.start(*args, "--max-steps", "1000")
    wait_for(lambda: (run / "checkpoints" / "step_00000001").is_dir(), started, timeout=120)
    os.kill(started.pid, signal.SIGTERM)
    result = started.wait(60)
    assert result.returncode == 143, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and len(result.error_lines) == 1
    assert "--resume" in result.error_lines[0]
    assert leftovers(run) == []
    steps = sorted(p.name for p in (run / "checkpoints").iterdir())
    done = int(steps[-1].split("_")[1])
    resumed = cli(*args, "--resume", "--max-steps", str(done + 1))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"trained to step {done + 1}" in resumed.stdout


@pytest.mark.slow
def test_train_removes_a_dead_runs_temporaries(corpus, cli, tmp_path):
    run = tmp_path / "run"
    args = ["train", "--config", corpus.config, "--data", corpus.dataset, "--out", run, "--device", "cpu",
            "--no-progress"]
    first = cli(*args)
    assert first.returncode == 0, first.stderr[-2000:]
    checkpoints = run / "checkpoints"
    stale_dir = checkpoints / f".tmp-step_00000002-{DEAD_PID}"
    stale_dir.mkdir()
    (stale_dir / "tensors.safetensors").write_bytes(b"x" * 1000)
    stale_model = run / f".model_ema.safetensors.{DEAD_PID}.tmp"
    stale_model.write_bytes(b"x" * 1000)
    # a checkpoint moved aside by a re-save that was killed before the new one took its place
    os.replace(checkpoints / "step_00000001", checkpoints / f".old-step_00000001-{DEAD_PID}")
    user_files = [run / "notes.tmp", checkpoints / ".tmp-mine", run / ".model_ema.safetensors.tmp"]
    for path in user_files:
        path.write_text("mine")
    resumed = cli(*args, "--resume", "--max-steps", "2")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "trained to step 2" in resumed.stdout  # the moved-aside step 1 was put back and resumed from
    assert not stale_dir.exists() and not stale_model.exists()
    assert not (checkpoints / f".old-step_00000001-{DEAD_PID}").exists()
    assert all(p.read_text() == "mine" for p in user_files)


def test_stale_temporaries_in_a_dataset_folder(cli, tmp_path):
    """synth removes a dead run's temporaries in the dataset folder on its next run."""
    out = tmp_path / "synth"
    (out / "train").mkdir(parents=True)
    stale = [out / "train" / f".GRACE_HOPPER_000.mp4.{DEAD_PID}.0123abcd.part",
             out / f".manifest.json.{DEAD_PID}.0123abcd.part"]
    for path in stale:
        path.write_bytes(b"x")
    result = cli("synth", "--images", GRACE, "--out", out, "--clips", "1", "--frames", "4", "--size", "64",
                 "--no-progress")
    assert result.returncode == 0, result.stderr[-2000:]
    assert [p for p in stale if p.exists()] == []
    assert leftovers(out) == []


"""End to end: ``torchrun --nproc_per_node=2 -m synergywarp train`` on clips written to disk, then
``--resume``; falls back to ``-m synergywarp.train train`` while cli.py does not list ``train``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
import yaml
from train_helpers import write_blob_dataset

from synergywarp.train import state as S
from synergywarp.train.logging import read_log


def _module() -> list[str]:
    from synergywarp.cli import build_parser

    parser = build_parser()
    actions = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
    wired = any("train" in a.choices for a in actions)
    return ["-m", "synergywarp", "train"] if wired else ["-m", "synergywarp.train", "train"]


def _torchrun(args: list[str], tmp_path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", *_module(), *args]
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # torchrun and its workers
        process.communicate()
        raise
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


@pytest.mark.slow
def test_torchrun_train_and_resume(tmp_path):
    data = tmp_path / "data"
    write_blob_dataset(data)
    config = tmp_path / "exp.yaml"
    config.write_text(yaml.safe_dump({
        "model": "tiny_tracked",
        "dataset": {"num_references": 1, "repeats": 4},
        "train": {"batch_size": 4, "max_steps": 2, "log_every": 1, "checkpoint_every": 2, "sample_every": 2,
                  "num_samples": 2, "loss_weights": {"perceptual": 0.0},
                  "phases": [{"until_step": 1, "rac": False, "references": 0}, {"rac": True}]},
        "eval": {"every": 2, "max_items": 2, "references": 1},
    }))
    run = tmp_path / "run"
    args = ["--config", str(config), "--data", str(data), "--out", str(run), "--device", "cpu", "--no-progress"]
    first = _torchrun(args, tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    assert first.stdout.count("trained to step 2") == 1  # one summary line: rank 0 only
    assert S.latest_checkpoint(run / "checkpoints").name == "step_00000002"
    assert (run / "samples" / "step_00000002.png").is_file()
    rows = read_log(run / "log.csv")
    assert [r["step"] for r in rows if "loss/total" in r] == [1, 2]
    assert any("eval/l1" in r and "eval/l1_static" in r for r in rows)

    second = _torchrun([*args, "--resume", "--max-steps", "3"], tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "trained to step 3" in second.stdout
    assert [r["step"] for r in read_log(run / "log.csv") if "loss/total" in r] == [1, 2, 3]
    assert (run / "model_ema.safetensors").is_file()

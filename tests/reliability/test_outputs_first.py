"""Every output path is checked before any expensive work (model loading, decoding, tracking,
training, rendering), and saved files get ordinary permissions (the umask's, not 0600)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from hostile_corpus import GRACE

from synergywarp import cli


@pytest.fixture
def locked(tmp_path, monkeypatch) -> Path:
    """A folder nobody can create files in (mode 0555, and file creation refused there for root too)."""
    folder = tmp_path / "locked"
    folder.mkdir()
    real_open = os.open

    def guarded_open(path, flags, *args, **kwargs):
        if flags & os.O_CREAT and Path(os.fsdecode(path)).parent == folder:
            raise PermissionError(errno.EACCES, "Permission denied", os.fsdecode(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", guarded_open)
    folder.chmod(0o555)
    yield folder
    folder.chmod(0o755)


def expensive(monkeypatch, *targets: tuple[object, str]) -> None:
    """Make each (owner, attribute) fail the test if it is reached."""
    for owner, name in targets:
        def reached(*args, _name=name, **kwargs):
            raise AssertionError(f"{_name} ran before the output folder was checked")
        monkeypatch.setattr(owner, name, reached)


def one_error(capsys, code: int, *fragments: str) -> None:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 1 and len(lines) == 1, err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_animate_checks_every_output_before_loading_and_tracking(corpus, locked, monkeypatch, capsys, tmp_path):
    from synergywarp.inference import inputs, pipeline

    expensive(monkeypatch, (pipeline.Animator, "from_pretrained"), (inputs, "track_driving"),
              (inputs, "open_video"))
    base = ["animate", "--source", str(GRACE), "--driving", str(corpus.driving), "--checkpoint",
            str(corpus.checkpoint), "--device", "cpu"]
    one_error(capsys, cli.main([*base, "--out", str(locked / "out.mp4")]), "not writable", "locked")
    one_error(capsys, cli.main([*base, "--out", str(tmp_path / "ok.mp4"), "--compare", "--frames-dir",
                                str(locked / "frames")]), "locked")
    one_error(capsys, cli.main([*base, "--out", str(tmp_path / "ok.mp4"), "--frames-dir", str(locked)]),
              "not writable", "locked")


def test_train_checks_the_run_folder_before_building_anything(corpus, locked, monkeypatch, capsys):
    from synergywarp.train import run

    expensive(monkeypatch, (run, "build_clip_dataset"), (run, "Trainer"))
    code = cli.main(["train", "--config", str(corpus.config), "--data", str(corpus.dataset), "--out",
                     str(locked / "run"), "--device", "cpu"])
    one_error(capsys, code, "not writable", "locked")


def test_other_commands_check_their_output_first(corpus, locked, monkeypatch, capsys):
    from synergywarp.data import prepare
    from synergywarp.data.synth import corpus as synth_corpus
    from synergywarp.metrics.eval import run as eval_run
    from synergywarp.models import liveportrait

    expensive(monkeypatch, (synth_corpus, "find_faces"), (prepare, "discover_clips"),
              (eval_run, "plan_tasks"), (liveportrait, "read_liveportrait_dir"))
    one_error(capsys, cli.main(["synth", "--images", str(GRACE), "--out", str(locked / "d"), "--no-progress"]),
              "locked")
    one_error(capsys, cli.main(["prepare", str(corpus.driving), "--out", str(locked / "d"), "--no-progress"]),
              "locked")
    one_error(capsys, cli.main(["eval", "--data", str(corpus.dataset), "--out", str(locked / "e"), "--no-progress"]),
              "locked")
    one_error(capsys, cli.main(["import-liveportrait", str(corpus.root), "--out", str(locked / "lp.safetensors")]),
              "not writable", "locked")


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o027, 0o640)])
def test_saved_models_and_checkpoints_follow_the_umask(tmp_path, umask, mode):
    import torch

    from synergywarp.models import create_model
    from synergywarp.train import state

    previous = os.umask(umask)
    try:
        create_model("tiny").save_pretrained(tmp_path / "model.safetensors")
        step = state.save_checkpoint(tmp_path / "checkpoints", 1, {"w": torch.zeros(3)}, {"epoch": 0})
    finally:
        os.umask(previous)
    assert (tmp_path / "model.safetensors").stat().st_mode & 0o777 == mode
    assert (step / "tensors.safetensors").stat().st_mode & 0o777 == mode
    assert (step / "state.json").stat().st_mode & 0o777 == mode

"""A full disk in the middle of writing: one error line, the earlier output intact, no temporary left.

Two faults: the operating system's file-size limit (RLIMIT_FSIZE, in a child process: every write past
it fails with EFBIG in C, Rust and Python writers alike) and a fault-injecting writer that raises
OSError(ENOSPC) after writing part of the file (in-process, for the paths that need large inputs).
"""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
import torch
from hostile_corpus import GRACE
from reliability_checks import assert_one_error, leftovers

from synergywarp import cli


def no_space(written: bytes = b"partial data"):
    """A writer ``(tensors, filename, metadata)`` that writes part of the file, then runs out of space."""
    def save_file(tensors, filename, metadata=None):
        with open(filename, "wb") as handle:
            handle.write(written)
        raise OSError(errno.ENOSPC, "No space left on device", filename)
    return save_file


@pytest.mark.slow
def test_animate_on_a_full_disk_keeps_the_old_output(corpus, cli, tmp_path, unchanged):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"the previous result")
    result = cli("animate", "--source", GRACE, "--driving", corpus.driving, "--out", out, "--checkpoint",
                 corpus.checkpoint, "--device", "cpu", "--overwrite", file_size_limit=12_000)
    assert_one_error(result, "out.mp4", "File too large")
    assert out.read_bytes() == b"the previous result"
    assert leftovers(tmp_path) == []


@pytest.mark.slow
def test_train_on_a_full_disk_keeps_the_last_good_checkpoint(corpus, cli, tmp_path, unchanged):
    run = tmp_path / "run"
    args = ["train", "--config", corpus.config, "--data", corpus.dataset, "--out", run, "--device", "cpu",
            "--no-progress"]
    result = cli(*args, file_size_limit=300_000)  # the logs fit, the first checkpoint does not
    line = assert_one_error(result, "File too large")
    assert "checkpoint" in line
    assert leftovers(run) == []
    assert not (run / "model_ema.safetensors").exists()
    assert not any((run / "checkpoints").iterdir())


@pytest.mark.slow
def test_synth_on_a_full_disk(cli, tmp_path):
    out = tmp_path / "synth"
    result = cli("synth", "--images", GRACE, "--out", out, "--clips", "1", "--frames", "4", "--size", "64",
                 "--no-progress", file_size_limit=3_000)
    assert_one_error(result, "File too large")
    assert leftovers(out) == []


def test_import_liveportrait_on_a_full_disk(tmp_path, monkeypatch, capsys):
    from synergywarp.models import checkpoint, create_model, liveportrait

    monkeypatch.setattr(liveportrait, "import_liveportrait", lambda directory: create_model("tiny"))
    monkeypatch.setattr(checkpoint, "save_file", no_space())
    out = tmp_path / "lp.safetensors"
    out.write_bytes(b"an earlier import")
    code = cli.main(["import-liveportrait", str(tmp_path), "--out", str(out), "--overwrite"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "No space left on device" in lines[0] and "lp.safetensors" in lines[0], err
    assert out.read_bytes() == b"an earlier import"
    assert leftovers(tmp_path) == []


def test_model_save_on_a_full_disk_raises_one_output_error(tmp_path, monkeypatch):
    from synergywarp.errors import SynergyWarpError
    from synergywarp.models import checkpoint, create_model

    monkeypatch.setattr(checkpoint, "save_file", no_space(b"x" * 1000))
    with pytest.raises(SynergyWarpError, match="No space left on device") as error:
        create_model("tiny").save_pretrained(tmp_path / "m.safetensors")
    assert "\n" not in str(error.value)
    assert list(tmp_path.iterdir()) == []


def test_image_write_on_a_full_disk(tmp_path, monkeypatch):
    from PIL import Image

    from synergywarp.errors import SynergyWarpError
    from synergywarp.io import write_image

    def full_disk_save(self, fp, format=None, **params):
        Path(fp).write_bytes(b"\x89PNG partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    target = tmp_path / "frame.png"
    target.write_bytes(b"old frame")
    monkeypatch.setattr(Image.Image, "save", full_disk_save)
    with pytest.raises(SynergyWarpError, match="No space left on device"):
        write_image(target, torch.zeros(4, 4, 3, dtype=torch.uint8).numpy())
    assert target.read_bytes() == b"old frame"
    assert leftovers(tmp_path) == []

"""The hostile-input corpus over the CLI: every case exits 1 with one ``error:`` line that says what is
wrong, prints no traceback and no native log lines, creates no output and leaves every input as it was.

Each row changes one thing in an otherwise valid command line (see hostile_corpus for the files).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from hostile_corpus import GRACE, Corpus
from reliability_checks import assert_one_error, leftovers, snapshot

Argv = Callable[[Corpus, Path], list]


def animate(**changes) -> Argv:
    """An ``animate`` command line with ``changes`` ({flag: value or corpus name or callable(c, out)})."""
    def build(c: Corpus, out: Path) -> list:
        args = {"--source": GRACE, "--driving": c.driving, "--out": out / "out.mp4", "--checkpoint": c.checkpoint,
                "--device": "cpu"}
        for flag, value in changes.items():
            args[flag] = value(c, out) if callable(value) else value
        argv = ["animate"]
        for flag, value in args.items():
            if value is True:
                argv.append(flag)
            elif value is not None:
                argv += [flag, value]
        return argv
    return build


def corpus_file(name: str) -> Callable[[Corpus, Path], Path]:
    return lambda c, out: getattr(c, name)


def missing(name: str) -> Callable[[Corpus, Path], Path]:
    return lambda c, out: c.root / name


def train(*extra, config: str = "config", data: str = "dataset", run: Callable | None = None) -> Argv:
    def build(c: Corpus, out: Path) -> list:
        folder = run(c, out) if run else out / "run"
        return ["train", "--config", getattr(c, config) if config != "missing" else c.root / "nope.yaml",
                "--data", getattr(c, data) if data != "missing" else c.root / "no_data", "--out", folder,
                "--device", "cpu", "--no-progress", *extra]
    return build


def copy_into_out(name: str, as_name: str | None = None) -> Callable[[Corpus, Path], Path]:
    """A copy of a corpus entry inside the case's output folder (outputs may then collide with it)."""
    def make(c: Corpus, out: Path) -> Path:
        source = getattr(c, name) if name != "grace" else GRACE
        target = out / (as_name or source.name)
        if not target.exists():
            (shutil.copytree if source.is_dir() else shutil.copy)(source, target)
        return target
    return make


def precious(name: str) -> Callable[[Corpus, Path], Path]:
    """A file the user already has at ``out/name``."""
    def make(c: Corpus, out: Path) -> Path:
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.write_bytes(b"precious user data")
        return path
    return make


def folder(name: str) -> Callable[[Corpus, Path], Path]:
    def make(c: Corpus, out: Path) -> Path:
        (out / name).mkdir(exist_ok=True)
        return out / name
    return make


def eval_args(*extra) -> Argv:
    return lambda c, out: ["eval", "--data", c.dataset, "--checkpoint", c.checkpoint, "--out", out / "eval",
                           "--device", "cpu", "--no-progress", "--no-face-metrics", "--methods", "static", *extra]


def prepare_args(*extra) -> Argv:
    return lambda c, out: ["prepare", c.driving, "--out", out / "prepared", "--no-progress", *extra]


def with_eval_results(build: Argv) -> Argv:
    def make(c: Corpus, out: Path) -> list:
        precious("eval/metrics.json")(c, out)
        return build(c, out)
    return make


CASES: dict[str, tuple[Argv, tuple[str, ...]]] = {
    # ---- images (the source)
    "source-missing": (animate(**{"--source": missing("nope.jpg")}), ("image not found", "nope.jpg")),
    "source-empty": (animate(**{"--source": corpus_file("img_empty")}), ("empty", "img_empty.png")),
    "source-text": (animate(**{"--source": corpus_file("img_text")}), ("not an image", "img_text.png")),
    "source-truncated": (animate(**{"--source": corpus_file("img_truncated")}), ("img_truncated.png",)),
    "source-1x1": (animate(**{"--source": corpus_file("img_1x1")}), ("too small", "1×1")),
    "source-no-face": (animate(**{"--source": corpus_file("img_wall")}), ("no face", "img_wall.png")),
    "source-bomb": (animate(**{"--source": corpus_file("img_bomb")}), ("too large", "img_bomb.png")),
    "source-folder": (animate(**{"--source": corpus_file("img_folder")}), ("folder", "img_folder")),
    "source-symlink-loop": (animate(**{"--source": corpus_file("loop.jpg")}), ("symlink loop", "loop.jpg")),
    # ---- references
    "ref-missing": (animate(**{"--ref": missing("nope_ref.jpg")}), ("image not found", "nope_ref.jpg")),
    "ref-text": (animate(**{"--ref": corpus_file("img_text"), "--checkpoint": corpus_file("checkpoint_rac")}),
                 ("not an image", "img_text.png")),
    "ref-no-face": (animate(**{"--ref": corpus_file("img_wall"), "--checkpoint": corpus_file("checkpoint_rac")}),
                    ("no face", "img_wall.png")),
    "ref-symlink-loop": (animate(**{"--ref": corpus_file("loop.jpg")}), ("symlink loop", "loop.jpg")),
    "refs-dir-missing": (animate(**{"--refs-dir": missing("no_refs")}), ("not found", "no_refs")),
    "refs-dir-empty": (animate(**{"--refs-dir": corpus_file("refs_empty")}), ("no images", "refs_empty")),
    # ---- videos (the driving)
    "driving-missing": (animate(**{"--driving": missing("nope.mp4")}), ("not found", "nope.mp4")),
    "driving-empty": (animate(**{"--driving": corpus_file("vid_empty")}), ("empty", "vid_empty.mp4")),
    "driving-text": (animate(**{"--driving": corpus_file("vid_text")}), ("not a readable video", "vid_text.mp4")),
    "driving-truncated": (animate(**{"--driving": corpus_file("vid_truncated")}), ("vid_truncated.mp4",)),
    "driving-zero-frames": (animate(**{"--driving": corpus_file("vid_zero_frames")}), ("no video frames",)),
    "driving-audio-only": (animate(**{"--driving": corpus_file("vid_audio_only")}), ("audio only",)),
    "driving-no-face": (animate(**{"--driving": corpus_file("vid_no_face")}), ("no face found in any frame",)),
    "driving-frame-sizes": (animate(**{"--driving": corpus_file("frames_mixed")}), ("000001.png",)),
    "driving-no-frames": (animate(**{"--driving": corpus_file("refs_empty")}), ("no image frames",)),
    "driving-symlink-loop": (animate(**{"--driving": corpus_file("loop.mp4")}), ("symlink loop", "loop.mp4")),
    # ---- outputs
    "out-exists": (animate(**{"--out": precious("out.mp4")}), ("--overwrite",)),
    "out-is-folder": (animate(**{"--out": folder("out.mp4")}), ("folder",)),
    "out-under-a-file": (animate(**{"--out": lambda c, o: precious("file.txt")(c, o) / "x.mp4"}), ("folder",)),
    "out-is-the-source": (animate(**{"--source": copy_into_out("grace"), "--out": copy_into_out("grace"),
                                     "--overwrite": True}), ("also an input",)),
    "out-is-the-driving": (animate(**{"--driving": copy_into_out("driving"), "--out": copy_into_out("driving"),
                                      "--overwrite": True}), ("also an input",)),
    "out-extension-gif": (animate(**{"--out": lambda c, o: o / "out.gif"}), ("extension", ".gif")),
    "out-extension-txt": (animate(**{"--out": lambda c, o: o / "out.txt"}), ("extension", ".txt")),
    "out-extension-avi": (animate(**{"--out": lambda c, o: o / "out.avi"}), ("extension", ".avi")),
    "out-no-extension": (animate(**{"--out": lambda c, o: o / "out"}), ("extension",)),
    "compare-exists": (animate(**{"--compare": True, "--out": lambda c, o: precious("x_compare.mp4")(c, o).with_name(
        "x.mp4")}), ("x_compare.mp4", "--overwrite")),
    "frames-dir-is-the-driving": (animate(**{"--driving": copy_into_out("frames"), "--frames-dir": copy_into_out(
        "frames"), "--overwrite": True}), ("frames folder", "input")),
    "frames-dir-holds-the-source": (animate(**{"--source": copy_into_out("grace"), "--frames-dir": lambda c, o: o,
                                               "--overwrite": True}), ("frames folder", "input")),
    "frames-dir-is-a-file": (animate(**{"--frames-dir": precious("frames.png")}), ("frames folder", "file")),
    # ---- checkpoints
    "checkpoint-missing": (animate(**{"--checkpoint": missing("nope.safetensors")}), ("not found",)),
    "checkpoint-folder": (animate(**{"--checkpoint": corpus_file("ckpt_folder")}), ("folder", "ckpt_folder")),
    "checkpoint-text": (animate(**{"--checkpoint": corpus_file("ckpt_text")}), ("not a readable",)),
    "checkpoint-truncated": (animate(**{"--checkpoint": corpus_file("ckpt_truncated")}), ("not a readable",)),
    "checkpoint-foreign": (animate(**{"--checkpoint": corpus_file("ckpt_foreign")}), ("not a SynergyWarp",)),
    "checkpoint-nan": (animate(**{"--checkpoint": corpus_file("ckpt_nan")}), ("non-finite", "ckpt_nan")),
    "checkpoint-pickle": (animate(**{"--checkpoint": corpus_file("ckpt_pickle")}), ("not a readable",)),
    "checkpoint-symlink-loop": (animate(**{"--checkpoint": corpus_file("loop.mp4")}), ("symlink loop",)),
    # ---- options
    "smooth-inf": (animate(**{"--smooth": "inf"}), ("smooth",)),
    "smooth-nan": (animate(**{"--smooth": "nan"}), ("smooth",)),
    "batch-zero": (animate(**{"--batch": "0"}), ("batch",)),
    "device-unknown": (animate(**{"--device": "tpu"}), ("unknown device",)),
    "max-output-size-negative": (animate(**{"--max-output-size": "-5"}), ("max-output-size",)),
    # ---- configs
    "config-missing": (train(config="missing"), ("not found",)),
    "config-not-yaml": (train(config="cfg_not_yaml"), ("not valid YAML",)),
    "config-unknown-key": (train(config="cfg_unknown_key"), ("trian",)),
    "config-nan-grad-clip": (train(config="cfg_nan_grad_clip"), ("grad_clip",)),
    "config-nan-lr": (train(config="cfg_nan_lr"), ("train.lr",)),
    "train-max-steps-zero": (train("--max-steps", "0"), ("--max-steps",)),
    "train-max-steps-negative": (train("--max-steps", "-1"), ("--max-steps",)),
    "train-into-an-existing-run": (train(run=lambda c, o: c.run_existing), ("--resume", "--overwrite")),
    # ---- datasets
    "train-data-missing": (train(data="missing"), ("does not exist",)),
    "train-pickled-arrays": (train(data="dataset_pickled"), ("Python objects",)),
    "eval-max-clips-negative": (eval_args("--max-clips", "-1"), ("--max-clips",)),
    "eval-max-clips-zero": (eval_args("--max-clips", "0"), ("--max-clips",)),
    "eval-results-exist": (with_eval_results(eval_args()), ("--overwrite",)),
    "eval-checkpoint-folder": (lambda c, o: ["eval", "--data", c.dataset, "--checkpoint", c.ckpt_folder, "--out",
                                             o / "eval", "--device", "cpu", "--no-progress"], ("folder",)),
    "prepare-crf-99": (prepare_args("--crf", "99"), ("crf",)),
    "prepare-crf-negative": (prepare_args("--crf", "-1"), ("crf",)),
    "prepare-smooth-sigma-negative": (prepare_args("--smooth-sigma", "-3"), ("smooth_sigma",)),
    "prepare-crop-vy-100": (prepare_args("--crop-vy", "100"), ("vy",)),
    "prepare-folder-with-a-symlink-loop": (lambda c, o: ["prepare", c.only_a_loop, "--out", o / "prepared",
                                                         "--no-progress"], ("no videos",)),
    "import-liveportrait-out-folder": (lambda c, o: ["import-liveportrait", c.root, "--out", folder("lp")(c, o),
                                                     "--overwrite"], ("folder",)),
    "import-liveportrait-missing": (lambda c, o: ["import-liveportrait", c.root / "nope", "--out",
                                                  o / "lp.safetensors"], ("not found",)),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_hostile_input(case, corpus, cli, tmp_path, unchanged):
    build, fragments = CASES[case]
    out = tmp_path / "out"
    out.mkdir()
    argv = build(corpus, out)
    before = snapshot(out)
    result = cli(*argv, cwd=tmp_path)
    line = assert_one_error(result, *fragments)
    assert "allow_pickle" not in line and "learning rate" not in line
    assert snapshot(out) == before, "the output folder changed"  # nothing written, nothing replaced or lost
    assert leftovers(out) == []
    assert not (tmp_path / "PWNED").exists()  # nothing was unpickled

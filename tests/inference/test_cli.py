"""``synergywarp animate`` / ``synergywarp demo`` end to end, and every bad input as one error line."""

from __future__ import annotations

import av
import numpy as np
import pytest

from synergywarp import assets
from synergywarp.inference import demo
from synergywarp.io import probe_video, read_video, write_image

from .conftest import ASTRONAUT, GRACE, write_video


@pytest.fixture(scope="module")
def driving_with_audio(tmp_path_factory, grace_crops):
    return write_video(tmp_path_factory.mktemp("drv") / "driving.mp4", grace_crops, fps=15, audio=True)


def count_streams(path) -> tuple[int, int, int]:
    """(decoded video frames, video streams, audio streams)."""
    with av.open(str(path)) as container:
        frames = sum(1 for _ in container.decode(video=0))
        return frames, len(container.streams.video), len(container.streams.audio)


@pytest.mark.slow
def test_animate_end_to_end(run_cli, capsys, tmp_path, checkpoints, driving_with_audio):
    out, frames_dir = tmp_path / "out.mp4", tmp_path / "frames"
    rc = run_cli("animate", "--source", GRACE, "--driving", driving_with_audio, "--ref", ASTRONAUT,
                 "--out", out, "--checkpoint", checkpoints["tiny"], "--compare", "--frames-dir", frames_dir,
                 "--batch", 5)
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "wrote 12 frames" in captured.out and "with audio" in captured.out
    assert "unused" in captured.err  # references given to an explicit-only checkpoint
    frames, _, audio_streams = count_streams(out)
    assert frames == 12 and audio_streams == 1
    info = probe_video(out)
    assert info.fps == pytest.approx(15.0) and info.has_audio
    assert (info.height, info.width) == (512, 438)  # the full source frame (437 padded to even)
    video, _ = read_video(out)
    assert np.abs(video.astype(float) - video[:1]).mean(axis=(1, 2, 3)).max() > 0.5  # frames not constant
    compare = tmp_path / "out_compare.mp4"
    assert count_streams(compare)[0] == 12 and probe_video(compare).width > 2 * info.width
    assert sorted(p.name for p in frames_dir.iterdir())[:2] == ["000000.png", "000001.png"]
    assert len(list(frames_dir.iterdir())) == 12


def test_no_crop_outputs_the_model_resolution(run_cli, capsys, tmp_path, checkpoints, grace_crops):
    driving = write_video(tmp_path / "d.mp4", grace_crops[:4], fps=10)
    source = tmp_path / "face.png"
    write_image(source, grace_crops[0])
    out = tmp_path / "o.mp4"
    rc = run_cli("animate", "--source", source, "--driving", driving, "--out", out,
                 "--checkpoint", checkpoints["tiny"], "--no-crop", "--motion", "absolute", "--smooth", 0)
    assert rc == 0, capsys.readouterr().err
    info = probe_video(out)
    assert (info.width, info.height, info.fps, info.has_audio) == (64, 64, 10.0, False)


@pytest.mark.slow
def test_demo_writes_both_videos(run_cli, capsys, tmp_path, checkpoints):
    rc = run_cli("demo", "--out", tmp_path / "demo", "--checkpoint", checkpoints["tiny_rac"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    driving_frames = probe_video(demo.DEMO_DRIVING).num_frames
    assert count_streams(tmp_path / "demo" / "demo.mp4")[0] == driving_frames
    assert count_streams(tmp_path / "demo" / "demo_compare.mp4")[0] == driving_frames
    assert "different person" not in captured.err  # the bundled references show the source person


def test_bundled_demo_assets_are_small():
    source, references, driving = demo.demo_inputs()
    info = probe_video(driving)
    assert (info.width, info.height) == (128, 128)
    assert info.num_frames / info.fps <= 3.0
    assert driving.stat().st_size <= 300_000
    assert len(references) >= 2 and source.is_file()


# ---------------------------------------------------------------------------------------------- bad input
def assert_one_error(capsys, rc: int, *fragments: str) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert rc == 1, err
    assert len(lines) == 1 and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def animate_args(tmp_path, checkpoints, driving_with_audio):
    """A valid command line; tests replace one part."""
    def build(**changes):
        args = {"--source": GRACE, "--driving": driving_with_audio, "--out": tmp_path / "out.mp4",
                "--checkpoint": checkpoints["tiny"]}
        args.update(changes)
        flat = ["animate"]
        for key, value in args.items():
            if value is not None:
                flat += [key, value]
        return flat
    return build


def test_missing_source(run_cli, capsys, tmp_path, animate_args):
    missing = tmp_path / "nope.jpg"
    assert_one_error(capsys, run_cli(*animate_args(**{"--source": missing})), str(missing))
    assert not (tmp_path / "out.mp4").exists()


def test_source_that_is_not_an_image(run_cli, capsys, tmp_path, animate_args):
    fake = tmp_path / "fake.png"
    fake.write_text("this is text, not a picture")
    assert_one_error(capsys, run_cli(*animate_args(**{"--source": fake})), str(fake))


def test_driving_that_is_not_a_video(run_cli, capsys, tmp_path, animate_args):
    fake = tmp_path / "fake.mp4"
    fake.write_text("this is text, not a video")
    assert_one_error(capsys, run_cli(*animate_args(**{"--driving": fake})), str(fake))


def test_corrupt_and_zero_frame_videos(run_cli, capsys, tmp_path, animate_args, driving_with_audio):
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(driving_with_audio.read_bytes()[:400])
    assert_one_error(capsys, run_cli(*animate_args(**{"--driving": truncated})), str(truncated))
    empty = tmp_path / "empty.mp4"
    with av.open(str(empty), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width = stream.height = 64
    assert_one_error(capsys, run_cli(*animate_args(**{"--driving": empty})), str(empty))
    assert not (tmp_path / "out.mp4").exists()


def test_no_face_in_the_source_names_the_file(run_cli, capsys, tmp_path, animate_args):
    blank = tmp_path / "wall.png"
    write_image(blank, np.full((200, 160, 3), 180, np.uint8))
    assert_one_error(capsys, run_cli(*animate_args(**{"--source": blank})), "no face", str(blank))


def test_existing_output_is_kept_without_overwrite(run_cli, capsys, tmp_path, animate_args):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"precious")
    assert_one_error(capsys, run_cli(*animate_args()), "--overwrite")
    assert out.read_bytes() == b"precious"


def test_output_folder_not_writable(run_cli, capsys, tmp_path, animate_args, monkeypatch):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    assert_one_error(capsys, run_cli(*animate_args(**{"--out": blocker / "out.mp4"})), "folder")
    locked = tmp_path / "locked"
    locked.mkdir()
    from synergywarp import atomic

    real_access = atomic.os.access
    monkeypatch.setattr(atomic.os, "access", lambda p, mode: False if str(p) == str(locked) else real_access(p, mode))
    assert_one_error(capsys, run_cli(*animate_args(**{"--out": locked / "out.mp4"})), "not writable", str(locked))
    assert list(locked.iterdir()) == []


def test_onnx_backend_errors_are_one_line(run_cli, capsys, tmp_path, animate_args, monkeypatch):
    """--backend onnx with a precision it cannot run, or without onnxruntime: one line, nothing written."""
    assert_one_error(capsys, run_cli(*animate_args(), "--backend", "onnx", "--dtype", "bf16"),
                     "fp32", "--backend torch")
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else real(name, *a))
    assert_one_error(capsys, run_cli(*animate_args(), "--backend", "onnx"), "pip install 'synergywarp[onnx]'")
    assert not (tmp_path / "out.mp4").exists()


@pytest.mark.parametrize("flag,value,fragment", [("--device", "tpu", "unknown device"),
                                                  ("--dtype", "fp64", "unknown dtype"),
                                                  ("--backend", "tensorrt", "unknown backend"),
                                                  ("--batch", "0", "batch"),
                                                  ("--smooth", "-1", "smooth")])
def test_bad_options(run_cli, capsys, tmp_path, animate_args, flag, value, fragment):
    assert_one_error(capsys, run_cli(*animate_args(**{flag: value})), fragment)
    assert not (tmp_path / "out.mp4").exists()


def test_empty_references_folder(run_cli, capsys, tmp_path, animate_args):
    (tmp_path / "refs").mkdir()
    assert_one_error(capsys, run_cli(*animate_args(), "--refs-dir", tmp_path / "refs"), "no images")


def test_missing_bundled_model_names_the_checkpoint_flag(run_cli, capsys, tmp_path, animate_args, monkeypatch):
    monkeypatch.setattr(assets, "BUNDLED_MODEL", tmp_path / "none.safetensors")
    assert_one_error(capsys, run_cli(*animate_args(**{"--checkpoint": None})), "--checkpoint")


# ---------------------------------------------------------------------------------------------- option flags
def _parse(*argv: str):
    from synergywarp.cli import build_parser

    return build_parser().parse_args(list(argv))


ANIMATE = ("animate", "--source", "s.jpg", "--driving", "d.mp4", "--out", "o.mp4")
#: a non-default value for every AnimateOptions field, and the flags that set it
EVERY_OPTION = {
    "motion": ("absolute", ["--motion", "absolute"]),
    "crop": (False, ["--no-crop"]),
    "paste_back": (False, ["--no-paste-back"]),
    "smooth": (1.5, ["--smooth", "1.5"]),
    "batch": (3, ["--batch", "3"]),
    "driving_crop": ("smooth", ["--driving-crop", "smooth"]),
    "crop_scale": (2.2, ["--crop-scale", "2.2"]),
    "crop_vy": (-0.1, ["--crop-vy", "-0.1"]),
    "feather": (0.2, ["--feather", "0.2"]),
    "check_identity": (False, ["--no-check-identity"]),
    "fusion_mode": ("add", ["--fusion-mode", "add"]),
    "fps": (12.5, ["--fps", "12.5"]),
    "output_size": (256, ["--size", "256"]),
    "max_output_size": (0, ["--max-output-size", "0"]),
}


@pytest.mark.parametrize("command", [ANIMATE, ("demo",)])
def test_every_option_is_a_flag_whose_default_is_the_librarys(command):
    import dataclasses

    from synergywarp.inference import AnimateOptions
    from synergywarp.inference.cli_commands import options_from_args

    assert set(EVERY_OPTION) == {f.name for f in dataclasses.fields(AnimateOptions)}  # a new field needs a row
    assert options_from_args(_parse(*command)) == AnimateOptions()
    flags = [flag for _, argv in EVERY_OPTION.values() for flag in argv]
    expected = AnimateOptions(**{name: value for name, (value, _) in EVERY_OPTION.items()})
    assert expected != AnimateOptions()
    assert options_from_args(_parse(*command, *flags)) == expected


def test_live_and_app_share_the_option_flags_and_defaults():
    from synergywarp.inference import AnimateOptions
    from synergywarp.inference.cli_commands import options_from_args

    live = _parse("live", "--source", "s.jpg", "--size", "256", "--motion", "absolute", "--smooth", "0", "--follow")
    assert (live.output_size, live.motion, live.smooth) == (256, "absolute", 0.0)
    options = options_from_args(live, driving_crop="smooth")
    assert options == AnimateOptions(motion="absolute", smooth=0.0, output_size=256, driving_crop="smooth")
    defaults = _parse("live", "--source", "s.jpg")
    assert (defaults.motion, defaults.smooth, defaults.output_size) == (AnimateOptions.motion, AnimateOptions.smooth,
                                                                        None)
    assert _parse("app", "--size", "512").output_size == 512


@pytest.mark.parametrize("flag, value, fragment", [("--crop-vy", "0.9", "crop_vy"), ("--feather", "0.7", "feather"),
                                                   ("--fps", "0", "fps"), ("--size", "20", "output size")])
def test_newly_reachable_options_are_checked_as_one_line(run_cli, capsys, animate_args, flag, value, fragment):
    assert_one_error(capsys, run_cli(*animate_args(**{flag: value})), fragment)


def test_the_options_and_compile_reach_the_animator(run_cli, capsys, monkeypatch, animate_args):
    """``--compile`` goes to the runtime and the options as parsed to the animation."""
    from synergywarp.errors import SynergyWarpError
    from synergywarp.inference import AnimateOptions, pipeline

    seen = {}

    class Stub:
        runtime = None

        def describe(self):
            return "stub"

        def animate_to_file(self, source, driving, out, references, options, **kwargs):
            seen["options"] = options
            raise SynergyWarpError("stopped by the test")

    def from_pretrained(checkpoint, device, dtype, compile, backend):
        seen["compile"], seen["backend"] = compile, backend
        return Stub()

    monkeypatch.setattr(pipeline.Animator, "from_pretrained", staticmethod(from_pretrained))
    argv = animate_args() + ["--compile", "--fusion-mode", "explicit", "--driving-crop", "smooth", "--feather", "0.1"]
    assert_one_error(capsys, run_cli(*argv), "stopped by the test")
    assert seen["compile"] is True and seen["backend"] == "torch"
    assert seen["options"] == AnimateOptions(fusion_mode="explicit", driving_crop="smooth", feather=0.1)


# ---------------------------------------------------------------------------------------------- generated flags
def _help(capsys, *argv: str) -> str:
    """``synergywarp ARGV --help`` with its lines unwrapped (whitespace runs become one space)."""
    from synergywarp import cli

    with pytest.raises(SystemExit) as exited:
        cli.main([*argv, "--help"])
    assert exited.value.code == 0
    return " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("command", ["animate", "demo"])
def test_help_lists_every_option_with_its_help_and_default(capsys, command):
    import dataclasses

    from synergywarp.inference import AnimateOptions

    text = _help(capsys, command)
    assert "animation options:" in text
    for spec in dataclasses.fields(AnimateOptions):
        flag = EVERY_OPTION[spec.name][1][0]
        help_text = " ".join(spec.metadata["help"].split())
        assert f"{flag} " in text, f"{flag} ({spec.name}) missing from `synergywarp {command} --help`"
        after = text[text.index(f"{flag} "):]
        assert help_text in after, f"the help of {flag} is not AnimateOptions.{spec.name}'s"
        if spec.default is not None and not isinstance(spec.default, bool):
            assert f"{help_text} (default {spec.default})" in after, f"{flag} shows another default"


def test_live_and_app_help_list_their_shared_flags(capsys):
    live = _help(capsys, "live")
    for flag in ("--motion {relative,absolute}", "--smooth STRENGTH", "--size PX"):
        assert flag in live
    assert "--feather" not in live  # live takes only the options it uses
    app = _help(capsys, "app")
    assert "--size PX" in app and "--motion" not in app


#: one bad value per field AnimateOptions.validate checks, and the words its error line must have
BAD_VALUES = [
    ("--smooth", "-1", "smooth must be a finite number ≥ 0, got -1.0"),
    ("--smooth", "nan", "smooth must be a finite number ≥ 0, got nan"),
    ("--batch", "0", "batch must be a positive integer, got 0"),
    ("--crop-scale", "0", "crop_scale must be a finite number > 0, got 0.0"),
    ("--crop-vy", "0.9", "crop_vy must be within ±0.5"),
    ("--feather", "0.7", "feather must be in [0, 0.5], got 0.7"),
    ("--fps", "0", "fps must be a finite number > 0, got 0.0"),
    ("--fps", "inf", "fps must be a finite number > 0, got inf"),
    ("--size", "30", "output size must be an integer in [64, 2048], got 30"),
    ("--max-output-size", "8", "max_output_size (--max-output-size) must be 0"),
]


@pytest.mark.parametrize("command", [ANIMATE, ("demo",)], ids=["animate", "demo"])
@pytest.mark.parametrize("flag, value, words", BAD_VALUES)
def test_a_bad_option_value_is_one_error_line_before_any_work(run_cli, capsys, tmp_path, monkeypatch, command,
                                                               flag, value, words):
    """Checked before the inputs are read or a model is loaded: the paths here do not exist."""
    from synergywarp.inference import pipeline

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(pipeline.Animator, "from_pretrained", None)  # reaching it would be a TypeError
    argv = [*command, "--out", "out"] if command == ("demo",) else list(command)
    rc = run_cli(*argv, flag, value)
    err = capsys.readouterr().err
    assert rc == 1, err
    assert err.splitlines() == [err.splitlines()[0]] and err.startswith("error: "), err
    assert words in err, err
    assert list(tmp_path.iterdir()) == []  # no output file or folder


@pytest.mark.parametrize("flag, value", [("--motion", "sideways"), ("--driving-crop", "wobble"),
                                         ("--fusion-mode", "blend"), ("--batch", "two"), ("--size", "big"),
                                         ("--feather", "wide")])
def test_a_value_of_the_wrong_kind_is_refused_by_the_parser(run_cli, capsys, flag, value):
    with pytest.raises(SystemExit) as exited:
        run_cli(*ANIMATE, flag, value)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and "Traceback" not in err, err
    assert errors[0].startswith("synergywarp animate: error: argument ") and flag in errors[0], err
    assert repr(value) in errors[0] or f"'{value}'" in errors[0], err


def test_the_installed_command_exits_non_zero_with_one_line(tmp_path):
    """``python -m synergywarp`` (what the ``synergywarp`` script runs) in a fresh process: exit status 1."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import synergywarp

    src = str(Path(synergywarp.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-m", "synergywarp", *ANIMATE, "--feather", "0.7"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines() == ["error: feather must be in [0, 0.5], got 0.7"]
    assert done.stdout == "" and list(tmp_path.iterdir()) == []

"""``scripts/set_model_config.py``: a checkpoint's run-time config fields changed, its weights untouched."""

from __future__ import annotations

import pytest
import torch

from synergywarp.models import SynergyWarpNet, create_model


@pytest.fixture
def trained(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "trained.safetensors"
    create_model("tiny_tracked_head").save_pretrained(path, trained_stages=["explicit", "rac", "cgf"], step=42)
    return path


def test_the_reference_warp_changes_and_nothing_else(trained, tmp_path, repo_script_module):
    script = repo_script_module("scripts/set_model_config.py")
    out = tmp_path / "head.safetensors"
    assert script.main([str(trained), str(out), "cgf.reference_warp=head"]) == 0
    before, after = SynergyWarpNet.from_pretrained(trained), SynergyWarpNet.from_pretrained(out)
    assert before.config.cgf.reference_warp == "mesh" and after.config.cgf.reference_warp == "head"
    expected = before.config.to_dict()
    expected["cgf"]["reference_warp"] = "head"
    assert after.config.to_dict() == expected
    old_state, new_state = before.state_dict(), after.state_dict()
    assert old_state.keys() == new_state.keys() and all(torch.equal(old_state[k], new_state[k]) for k in old_state)
    meta = after.checkpoint_metadata
    assert after.trained_stages == ["explicit", "rac", "cgf"] and meta is not None and meta.step == 42
    assert meta.source is not None and "cgf.reference_warp: 'mesh' -> 'head'" in meta.source


@pytest.mark.parametrize("assignment, reason", [
    ("cgf.pixel_hidden=8", "is not a run-time field"),
    ("image_size=128", "is not a run-time field"),
    ("cgf.reference_warp=mesh", "cgf.reference_warp is already 'mesh'"),
    ("cgf.no_such_field=1", "no config field 'cgf.no_such_field'"),
    ("nosection.field=1", "no config section 'nosection'"),
    ("cgf.reference_warp=rings", "'rings' is not one of"),
    ("reference_warp", "expected FIELD=VALUE"),
    (["cgf.reference_warp=head", "cgf.reference_warp=mesh"], "cgf.reference_warp is assigned twice"),
])
def test_bad_changes_are_refused_in_one_line_and_nothing_is_written(trained, tmp_path, capsys, repo_script_module,
                                                                    assignment, reason):
    script = repo_script_module("scripts/set_model_config.py")
    out = tmp_path / "out.safetensors"
    assignments = assignment if isinstance(assignment, list) else [assignment]
    assert script.main([str(trained), str(out), *assignments]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and "\n" not in error and reason in error
    assert not out.exists()


def test_the_input_is_never_overwritten(trained, capsys, repo_script_module):
    script = repo_script_module("scripts/set_model_config.py")
    before = trained.read_bytes()
    assert script.main([str(trained), str(trained), "cgf.reference_warp=head"]) == 2
    assert "refusing to overwrite the input" in capsys.readouterr().err
    assert trained.read_bytes() == before


def test_any_field_still_refuses_a_change_of_parameter_shapes_and_allows_the_rest(trained, tmp_path, capsys,
                                                                                 repo_script_module):
    script = repo_script_module("scripts/set_model_config.py")
    out = tmp_path / "out.safetensors"
    assert script.main([str(trained), str(out), "cgf.pixel_hidden=8", "--any-field"]) == 2
    assert "changes the model's parameters (5 tensors" in capsys.readouterr().err and not out.exists()
    assert script.main([str(trained), str(out), "cgf.reference_init=-4.0", "--any-field"]) == 0
    assert SynergyWarpNet.from_pretrained(out).config.cgf.reference_init == -4.0
    for zero in ("rac.heads=0", "cgf.groups=0", "rac.attention_grid=0"):  # a ConfigError line, no traceback
        assert script.main([str(trained), str(tmp_path / "zero.safetensors"), zero, "--any-field"]) == 2
        assert capsys.readouterr().err.startswith("error: ")

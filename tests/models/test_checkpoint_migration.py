"""Checkpoint metadata is owned by the model, and old config layouts are migrated on load."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import torch

from synergywarp.errors import CheckpointError
from synergywarp.models import SynergyWarpNet, create_model
from synergywarp.models import checkpoint as ckpt


def _old_style_checkpoint(tmp_path: Path, model: SynergyWarpNet) -> Path:
    """A checkpoint as an earlier release would write it: no config_version, and two keys under the names
    that release used (``grid_quirk`` at the top, ``decoder.skip_image``)."""
    config = model.config.to_dict()
    config["grid_quirk"] = config.pop("grid_align_quirk")
    config["decoder"]["skip_image"] = config["decoder"].pop("image_skip")
    path = tmp_path / "old.safetensors"
    metadata = {"format": ckpt.FORMAT, "config": json.dumps(config), "trained_stages": '["explicit"]'}
    ckpt.atomic_save_tensors(model.state_dict(), path, metadata)
    return path


@pytest.fixture
def renamed_keys(monkeypatch):
    """The code of a release that renamed those two keys: config version 2 with its migration."""
    monkeypatch.setattr(ckpt, "CONFIG_VERSION", 2)
    monkeypatch.setattr(ckpt, "CONFIG_MIGRATIONS",
                        {1: {"grid_quirk": "grid_align_quirk", "decoder.skip_image": "decoder.image_skip"}})


def test_old_checkpoint_with_renamed_keys_loads_through_the_migration(tmp_path, renamed_keys):
    torch.manual_seed(0)
    model = create_model("tiny_tracked_mesh").eval()
    path = _old_style_checkpoint(tmp_path, model)
    loaded = SynergyWarpNet.from_pretrained(path)
    assert loaded.config == model.config
    assert loaded.checkpoint_metadata is not None and loaded.checkpoint_metadata.config_version == 1
    assert loaded.trained_stages == ["explicit"]
    for key, tensor in model.state_dict().items():
        assert torch.equal(tensor, loaded.state_dict()[key]), key
    # what this release writes records its version and loads without migration
    again = tmp_path / "new.safetensors"
    loaded.save_pretrained(again)
    assert ckpt.read_metadata(again)["config_version"] == "2"
    assert SynergyWarpNet.from_pretrained(again).config == model.config


def test_without_the_migration_the_old_key_is_a_one_line_error(tmp_path):
    path = _old_style_checkpoint(tmp_path, create_model("tiny"))
    with pytest.raises(CheckpointError, match="grid_quirk") as err:
        SynergyWarpNet.from_pretrained(path)
    assert "\n" not in str(err.value)


def test_checkpoint_from_a_newer_release_is_refused(tmp_path):
    path = tmp_path / "future.safetensors"
    create_model("tiny").save_pretrained(path)
    metadata = ckpt.read_metadata(path)
    metadata["config_version"] = str(ckpt.CONFIG_VERSION + 1)
    ckpt.atomic_save_tensors(ckpt.read_tensors(path), path, metadata)
    with pytest.raises(CheckpointError, match="newer"):
        SynergyWarpNet.from_pretrained(path)


def test_metadata_is_a_typed_attribute_set_on_load(tmp_path):
    model = create_model("tiny")
    assert model.checkpoint_metadata is None and model.trained_stages is None
    path = tmp_path / "m.safetensors"
    model.save_pretrained(path, trained_stages=["explicit", "rac"], step=12, source="a test")
    loaded = SynergyWarpNet.from_pretrained(path)
    assert loaded.checkpoint_metadata == ckpt.CheckpointMetadata(
        trained_stages=["explicit", "rac"], step=12, source="a test", config_version=ckpt.CONFIG_VERSION)
    with pytest.raises(CheckpointError, match="differs from the requested"):
        SynergyWarpNet.from_pretrained(path, config=create_model("tiny_tracked").config)
    same_name = create_model("tiny").config  # a run-time field differs, the name does not: the field is named
    same_name.cgf.reference_warp = "head"
    with pytest.raises(CheckpointError, match=r"'tiny' \(cgf\.reference_warp: 'mesh' vs 'head'\)$"):
        SynergyWarpNet.from_pretrained(path, config=same_name)


def test_checkpoint_module_does_not_import_the_network():
    """checkpoint.py reads and writes files; network.py builds on it (no import cycle)."""
    tree = ast.parse(Path(ckpt.__file__).read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert not any(name and name.startswith("synergywarp.models.network") for name in imported)

"""Config round trips and strict errors; checkpoints rebuild their own model bit-exactly; LivePortrait import."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from synergywarp.errors import CheckpointError, ConfigError
from synergywarp.models import ModelConfig, SynergyWarpNet, create_model, get_config, list_models
from synergywarp.models.liveportrait import LIVEPORTRAIT_PARTS, import_liveportrait

FIXTURE = Path(__file__).parents[1] / "data" / "liveportrait" / "liveportrait_small.safetensors"


@pytest.mark.parametrize("name", list_models())
def test_yaml_round_trip(name):
    cfg = get_config(name)
    again = ModelConfig.from_yaml(cfg.to_yaml())
    assert again == cfg


@pytest.mark.parametrize(
    "patch, key",
    [
        ({"rac": {"dimm": 3}}, "model.rac.dimm"),
        ({"num_kp": "ten"}, "model.num_kp"),
        ({"motion": "guessed"}, "model.motion"),
        ({"cgf": {"init_bias": True}}, "model.cgf.init_bias"),
        ({"bogus": 1}, "model.bogus"),
    ],
)
def test_bad_config_names_the_key(patch, key):
    data = get_config("tiny").to_dict()
    for k, v in patch.items():
        if isinstance(v, dict):
            data[k].update(v)
        else:
            data[k] = v
    with pytest.raises(ConfigError) as err:
        ModelConfig.from_dict(data)
    assert key in str(err.value) and "\n" not in str(err.value)


def test_cross_field_validation():
    data = get_config("tiny").to_dict()
    data["decoder"]["in_channels"] = 17
    with pytest.raises(ConfigError, match="decoder.in_channels"):
        ModelConfig.from_dict(data)
    with pytest.raises(ConfigError, match="unknown model"):
        create_model("huge")


@pytest.mark.parametrize(
    "base, patch, named",
    [
        ("tiny", {"warp": {"dense_motion": {"prior_candidate": True}}},
         ("warp.dense_motion.prior_candidate", "motion: tracked", "motion: learned")),
        ("tiny_tracked_head", {"motion": "learned", "num_kp": 21, "warp": {"dense_motion": {"prior_candidate": False}}},
         ("cgf.pixel_references", "motion: tracked", "motion: learned")),
        ("tiny_tracked_head", {"decoder": {"image_skip": False}}, ("cgf.pixel_references", "decoder.image_skip")),
        ("tiny", {"decoder": {"upscale": 4}}, ("decoder.upscale", "got 4")),
        ("tiny", {"decoder": {"upscale": 0}}, ("decoder.upscale", "got 0")),
    ],
)
def test_invalid_combinations_are_refused_naming_the_fields(base, patch, named):
    data = get_config(base).to_dict()
    for key, value in patch.items():
        if isinstance(value, dict):
            for inner, inner_value in value.items():
                if isinstance(inner_value, dict):
                    data[key][inner].update(inner_value)
                else:
                    data[key][inner] = inner_value
        else:
            data[key] = value
    with pytest.raises(ConfigError) as err:
        ModelConfig.from_dict(data)
    assert all(name in str(err.value) for name in named), str(err.value)


@pytest.mark.parametrize("upscale, side", [(1, 64), (2, 128)])
def test_the_built_upscales_set_the_output_size(upscale, side):
    data = get_config("tiny").to_dict()
    data["decoder"]["upscale"] = upscale
    model = create_model(data).eval()
    with torch.no_grad():
        out = model(torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64), fusion_mode="explicit")
    assert model.config.output_size == side and out.image.shape[-1] == side


@pytest.mark.parametrize("name", ["tiny", "tiny_tracked"])
def test_save_load_round_trip_is_bit_exact(tmp_path, name):
    model = create_model(name)
    with torch.no_grad():  # make every buffer non-trivial, including BatchNorm statistics
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.01)
        for b in model.buffers():
            if b.is_floating_point():
                b.add_(torch.rand_like(b) * 0.1)
    path = tmp_path / "model.safetensors"
    model.save_pretrained(path, trained_stages=["explicit", "rac"])
    loaded = SynergyWarpNet.from_pretrained(path)
    assert loaded.config == model.config
    assert loaded.trained_stages == ["explicit", "rac"]
    ours, theirs = model.state_dict(), loaded.state_dict()
    assert ours.keys() == theirs.keys()
    for key in ours:
        assert torch.equal(ours[key], theirs[key]), key
    model.eval()
    x = torch.rand(1, 3, 64, 64)
    kw = {}
    if model.config.motion == "tracked":
        kw = dict(source_keypoints=torch.rand(1, 32, 3) - 0.5, driving_keypoints=torch.rand(1, 32, 3) - 0.5)
    with torch.no_grad():
        assert torch.equal(model(x, x, **kw).image, loaded(x, x, **kw).image)


def test_the_same_model_saved_twice_gives_the_same_bytes(tmp_path):
    """safetensors writes its metadata keys in a random order per call; the saved header is canonical, so
    the sha256 of a checkpoint is reproducible (a rewritten bundled model can be checked by its hash)."""
    import hashlib
    import json

    model = create_model("tiny")
    digests, orders = set(), set()
    for i in range(6):
        path = tmp_path / f"model_{i}.safetensors"
        model.save_pretrained(path, trained_stages=["explicit"], source="a test")
        data = path.read_bytes()
        digests.add(hashlib.sha256(data).hexdigest())
        header = json.loads(data[8:8 + int.from_bytes(data[:8], "little")])
        orders.add(tuple(header["__metadata__"]))
        assert SynergyWarpNet.from_pretrained(path).config == model.config
    assert len(digests) == 1 and orders == {tuple(sorted(next(iter(orders))))}


def test_an_unreadable_header_is_left_as_it_is(tmp_path):
    from synergywarp.models.checkpoint import canonicalise_header

    for name, data in {"not json": (9).to_bytes(8, "little") + b"{not json",
                       "too long": (2**62).to_bytes(8, "little") + b"{}",
                       "lone surrogate": (12).to_bytes(8, "little") + b'{"\\ud800":1}',
                       "short": b"\x01"}.items():
        path = tmp_path / f"{name}.safetensors"
        path.write_bytes(data)
        assert canonicalise_header(path) is False, name
        assert path.read_bytes() == data, name


def test_wrong_architecture_checkpoint_gives_one_line_error(tmp_path):
    path = tmp_path / "tiny.safetensors"
    create_model("tiny").save_pretrained(path)
    # a checkpoint whose weights do not fit its config (e.g. edited or truncated by another tool)
    from synergywarp.models.checkpoint import atomic_save_tensors, read_metadata

    state = load_file(str(path))
    state["decoder.fc.weight"] = torch.zeros(3, 3, 3, 3)
    bad = tmp_path / "bad.safetensors"
    atomic_save_tensors(state, bad, read_metadata(path))
    with pytest.raises(CheckpointError) as err:
        SynergyWarpNet.from_pretrained(bad)
    assert "decoder.fc.weight" in str(err.value) and "\n" not in str(err.value)
    # a foreign safetensors file without our config
    foreign = tmp_path / "foreign.safetensors"
    atomic_save_tensors({"w": torch.zeros(1)}, foreign, {})
    with pytest.raises(CheckpointError, match="not a SynergyWarp checkpoint"):
        SynergyWarpNet.from_pretrained(foreign)
    not_st = tmp_path / "junk.safetensors"
    not_st.write_text("hello")
    with pytest.raises(CheckpointError, match="not a readable"):
        SynergyWarpNet.from_pretrained(not_st)


def _write_liveportrait_dir(tmp_path: Path) -> Path:
    """LivePortrait-style plain .pth state dicts made from the fixture (small config)."""
    tensors = load_file(str(FIXTURE))
    out = tmp_path / "liveportrait" / "base_models"
    out.mkdir(parents=True)
    for filename, (_, prefix) in LIVEPORTRAIT_PARTS.items():
        torch.save({k[len(prefix) + 1:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}, out / filename)
    return out.parent


@pytest.mark.slow
def test_import_liveportrait_strict(tmp_path):
    from test_liveportrait_parity import fixture_config

    lp_dir = _write_liveportrait_dir(tmp_path)
    model = import_liveportrait(lp_dir, config=fixture_config())
    tensors = load_file(str(FIXTURE))
    for key, value in model.warping.state_dict().items():
        assert torch.equal(value, tensors["W." + key])
    # default lp256 shapes do not fit the small fixture: the first mismatching key is named
    with pytest.raises(CheckpointError, match="appearance_feature_extractor.pth: key 'first.conv.weight'"):
        import_liveportrait(lp_dir)
    # a missing key is named too
    part = torch.load(lp_dir / "base_models" / "spade_generator.pth", weights_only=True)
    part.pop("fc.bias")
    torch.save(part, lp_dir / "base_models" / "spade_generator.pth")
    with pytest.raises(CheckpointError, match="missing key 'fc.bias'"):
        import_liveportrait(lp_dir, config=fixture_config())


def test_import_rejects_pickled_objects(tmp_path):
    lp_dir = _write_liveportrait_dir(tmp_path)

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"x": Evil()}, lp_dir / "base_models" / "motion_extractor.pth")
    with pytest.raises(CheckpointError, match="motion_extractor.pth"):
        import_liveportrait(lp_dir)

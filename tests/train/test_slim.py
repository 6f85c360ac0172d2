"""Slimming the dense motion hourglass (``DenseMotionConfig.out_channels``, ``synergywarp.train.slim``)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from synergywarp.models import SynergyWarpNet, create_model
from synergywarp.train.slim import _relu_moments, dense_motion_channel_scores, hourglass_features, slim_dense_motion

PREFIX = "warping.dense_motion_network."


@pytest.fixture
def model() -> SynergyWarpNet:
    torch.manual_seed(0)
    net = create_model("tiny_tracked_mesh").eval()
    with torch.no_grad():  # trained-looking batch norm: channels of different strength and mean
        norm = net.warping.dense_motion_network.hourglass.decoder.norm
        norm.weight.copy_(torch.linspace(0.05, 2.0, norm.num_features))
        norm.bias.copy_(torch.linspace(-0.5, 0.5, norm.num_features))
    return net


def _inputs(net: SynergyWarpNet, n: int = 2):
    size = net.config.image_size
    gen = torch.Generator().manual_seed(1)
    source = torch.rand(n, 3, size, size, generator=gen)
    kp_s = torch.rand(n, 32, 3, generator=gen) * 1.6 - 0.8
    kp_d = kp_s + 0.05 * torch.randn(n, 32, 3, generator=gen)
    centres = (torch.arange(size, dtype=torch.float32) + 0.5) * 2 / size - 1
    ys, xs = torch.meshgrid(centres, centres, indexing="ij")
    prior = torch.stack([xs, ys], -1).expand(n, size, size, 2).clone()
    return source, kp_s, kp_d, prior


def _run(net: SynergyWarpNet, inputs):
    source, kp_s, kp_d, prior = inputs
    with torch.no_grad():
        return net(source, source, source_keypoints=kp_s, driving_keypoints=kp_d, prior_grid=prior)


def test_out_channels_sets_the_hourglass_width_and_survives_a_checkpoint(model, tmp_path):
    dense_cfg = dataclasses.replace(model.config.warp.dense_motion, out_channels=5)
    config = dataclasses.replace(model.config, warp=dataclasses.replace(model.config.warp, dense_motion=dense_cfg))
    net = SynergyWarpNet(config).eval()
    dense = net.warping.dense_motion_network
    assert dense.hourglass.out_filters == 5 and dense.hourglass.decoder.conv.out_channels == 5
    assert dense.mask.in_channels == 5
    assert dense.occlusion.in_channels == 5 * config.appearance.volume_depth
    out = _run(net, _inputs(net))
    assert out.image.shape[1:] == (3, config.image_size, config.image_size) and torch.isfinite(out.image).all()
    net.save_pretrained(tmp_path / "slim.safetensors")
    again = SynergyWarpNet.from_pretrained(tmp_path / "slim.safetensors")
    assert again.config.warp.dense_motion.out_channels == 5
    # the default keeps the concatenation's width (LivePortrait's layout)
    default = model.warping.dense_motion_network.hourglass
    assert default.out_filters == default.decoder.conv.in_channels == default.decoder.conv.out_channels


def test_out_channels_must_be_positive(model):
    from synergywarp.errors import ConfigError

    data = model.config.to_dict()
    data["warp"]["dense_motion"]["out_channels"] = 0
    with pytest.raises(ConfigError, match="out_channels"):
        type(model.config).from_dict(data)


def test_relu_moments_match_sampling():
    gen = torch.Generator().manual_seed(0)
    mean, std = torch.tensor([-1.0, 0.0, 0.7]), torch.tensor([0.5, 1.0, 2.0])
    samples = torch.relu(mean[:, None] + std[:, None] * torch.randn(3, 400_000, generator=gen))
    first, second = _relu_moments(mean.double(), std.double())
    far = _relu_moments(torch.tensor([-0.5], dtype=torch.float64), torch.tensor([0.05], dtype=torch.float64))
    assert all(float(m) >= 0.0 for m in far)  # ten deviations below zero: 0, not a rounding error below it
    assert torch.allclose(first.float(), samples.mean(dim=1), rtol=0.02, atol=2e-3)
    assert torch.allclose(second.float(), samples.pow(2).mean(dim=1), rtol=0.02, atol=2e-3)


def test_slimming_keeps_the_strongest_channels_and_every_other_tensor(model):
    width = 4
    dense = model.warping.dense_motion_network
    with torch.no_grad():  # heads that read every channel alike: the batch-norm statistics decide alone
        dense.mask.weight.fill_(0.01)
        dense.occlusion.weight.fill_(0.01)
    slim = slim_dense_motion(model, width)
    assert slim.config.name == f"{model.config.name}_slim{width}"
    assert slim.config.warp.dense_motion.out_channels == width
    scores, _ = dense_motion_channel_scores(model)
    keep = torch.sort(torch.topk(scores, width).indices).values
    old, new = model.state_dict(), slim.state_dict()
    conv = PREFIX + "hourglass.decoder.conv.weight"
    assert torch.equal(new[conv], old[conv][keep])
    assert torch.equal(new[PREFIX + "mask.weight"], old[PREFIX + "mask.weight"][:, keep])
    heads = ("hourglass.decoder.", "mask.", "occlusion.")
    untouched = [k for k in old if not any(k.startswith(PREFIX + h) for h in heads)]
    assert untouched and all(torch.equal(new[k], old[k]) for k in untouched)
    # the strongest channels by the batch-norm statistics: the last ones here (|γ| and β grow with the index)
    assert keep.tolist() == list(range(len(scores) - width, len(scores)))
    # the occlusion head reads channel-major (c d) planes: each kept channel's D planes, in order
    depth = model.config.appearance.volume_depth
    old_occlusion = old[PREFIX + "occlusion.weight"]
    expected = old_occlusion.reshape(1, -1, depth, *old_occlusion.shape[-2:])[:, keep].reshape(1, -1,
                                                                                              *old_occlusion.shape[-2:])
    assert torch.equal(new[PREFIX + "occlusion.weight"], expected)
    with pytest.raises(ValueError, match="width"):
        slim_dense_motion(model, len(scores))


def test_a_refit_too_large_for_memory_is_refused(model, monkeypatch):
    import synergywarp.train.slim as slim_module

    features = torch.rand(1, model.warping.dense_motion_network.hourglass.out_filters, 2, 4, 4)
    monkeypatch.setattr(slim_module, "MAX_REFIT_COLUMNS", 100)
    with pytest.raises(ValueError, match="GiB"):
        slim_dense_motion(model, 6, features=features)


def test_dropped_channels_at_their_mean_leave_the_heads_unchanged_away_from_the_border(model):
    """Without measurements each dropped channel's mean output moves into the heads' biases: where the
    dropped channels output exactly that mean, the slimmed heads give the original logits (inside the
    volume; at its border the zero padding reads fewer voxels)."""
    width = 5
    slim = slim_dense_motion(model, width)
    scores, mean_out = dense_motion_channel_scores(model)
    keep = torch.sort(torch.topk(scores, width).indices).values
    old, new = model.warping.dense_motion_network, slim.warping.dense_motion_network
    depth = model.config.appearance.volume_depth
    gen = torch.Generator().manual_seed(3)
    features = mean_out[None, :, None, None, None].expand(1, -1, depth, 8, 8).clone()
    features[:, keep] = torch.rand(1, width, depth, 8, 8, generator=gen)
    with torch.no_grad():
        mask_old, mask_new = old.mask(features), new.mask(features[:, keep])
        occ_old, occ_new = old.occlusion(features.flatten(1, 2)), new.occlusion(features[:, keep].flatten(1, 2))
    m, o = old.mask.kernel_size[0] // 2, old.occlusion.kernel_size[0] // 2
    torch.testing.assert_close(mask_new[:, :, m:-m, m:-m, m:-m], mask_old[:, :, m:-m, m:-m, m:-m], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(occ_new[..., o:-o, o:-o], occ_old[..., o:-o, o:-o], rtol=1e-4, atol=1e-4)
    assert not torch.allclose(mask_new, mask_old, atol=1e-4)  # the border differs: the test sees the fold


def test_refitted_heads_reproduce_the_original_where_the_dropped_channels_are_silent(model):
    """Features whose dropped channels are zero lose nothing: the refitted mask and occlusion heads give the
    original logits (a wrong patch order or a dropped bias would not)."""
    inputs = _inputs(model)
    features = hourglass_features(model, lambda: _run(model, inputs))
    assert features.shape[:2] == (2, model.warping.dense_motion_network.hourglass.out_filters)
    width = 6
    silent = features.clone()
    silent[:, width:] = 0.0
    silent[:, :width] += 0.1 * torch.rand(silent[:, :width].shape, generator=torch.Generator().manual_seed(2))
    slim = slim_dense_motion(model, width, features=silent, ridge=1e-9)
    old, new = model.warping.dense_motion_network, slim.warping.dense_motion_network
    with torch.no_grad():
        for head in ("mask", "occlusion"):
            full, kept = silent, silent[:, :width]
            if head == "occlusion":
                full, kept = full.flatten(1, 2), kept.flatten(1, 2)
            expected, got = getattr(old, head)(full), getattr(new, head)(kept)
            assert torch.allclose(got, expected, atol=1e-3 * float(expected.abs().max())), head
    # and without the refit (batch-norm statistics only) they would not
    plain = slim_dense_motion(model, width).warping.dense_motion_network
    keep = torch.sort(torch.topk(dense_motion_channel_scores(model)[0], width).indices).values
    with torch.no_grad():
        unfitted, expected = plain.mask(silent[:, keep]), old.mask(silent)
    assert not torch.allclose(unfitted, expected, atol=1e-3 * float(expected.abs().max()))


def test_the_slim_script_writes_a_slimmed_checkpoint_and_refuses_bad_input_in_one_line(model, tmp_path, capsys,
                                                                                      repo_script_module):
    script = repo_script_module("scripts/slim_live_model.py")
    trained = tmp_path / "trained.safetensors"
    model.save_pretrained(trained, trained_stages=["explicit", "rac"])
    out = tmp_path / "slim.safetensors"
    assert script.main([str(trained), str(out), "--width", "6"]) == 0
    slimmed = SynergyWarpNet.from_pretrained(out)
    assert slimmed.config.warp.dense_motion.out_channels == 6
    assert slimmed.trained_stages == ["explicit", "rac"]  # what the training recorded travels along
    capsys.readouterr()
    for argv in ([str(tmp_path / "missing.safetensors"), str(out)],
                 [str(trained), str(out), "--width", "0"],
                 [str(trained), str(out), "--calibrate", str(tmp_path / "no_such_folder")]):
        assert script.main(argv) == 2
        error = capsys.readouterr().err.strip()
        assert error.startswith("error: ") and "\n" not in error and "Traceback" not in error
    with pytest.raises(SystemExit):  # argparse: one usage line and exit code 2
        script.main([str(trained), str(out), "--frames", "0"])

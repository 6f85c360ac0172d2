"""SynergyWarpNet behaviour on the registered configs (CPU, small inputs)."""

from __future__ import annotations

import pytest
import torch

from synergywarp.models import SynergyWarpNet, create_model, get_config, list_models

CHEAP = ["tiny", "tiny_tracked", "small", "small_tracked"]


def _inputs(model: SynergyWarpNet, batch: int = 2, refs: int = 2, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    s, k = model.config.image_size, model.config.num_kp
    source = torch.rand(batch, 3, s, s, generator=g)
    driving = torch.rand(batch, 3, s, s, generator=g)
    references = torch.rand(batch, refs, 3, s, s, generator=g)
    kw = {}
    if model.config.motion == "tracked":
        kw = dict(
            source_keypoints=torch.rand(batch, k, 3, generator=g) - 0.5,
            driving_keypoints=torch.rand(batch, k, 3, generator=g) - 0.5,
            reference_keypoints=torch.rand(batch, refs, k, 3, generator=g) - 0.5,
        )
    return source, driving, references, kw


def test_registry_lists_the_three_scales():
    assert {"tiny", "small", "lp256"} <= set(list_models())
    assert create_model("synergywarp_tiny").config.name == "tiny"


@pytest.mark.slow
@pytest.mark.parametrize("name", CHEAP)
def test_output_shapes_and_finite(name):
    model = create_model(name).eval()
    source, driving, references, kw = _inputs(model)
    with torch.no_grad():
        out = model(source, driving, references, **kw)
    cfg = model.config
    h = cfg.feature_size
    assert out.image.shape == (2, 3, cfg.output_size, cfg.output_size)
    assert out.flow.shape == (2, cfg.appearance.volume_depth, h, h, 3)
    assert out.occlusion.shape == (2, 1, h, h)
    assert out.fused_feature.shape == (2, cfg.warp.out_channels, h, h)
    for key in ("image", "flow", "occlusion", "fused_feature", "confidence"):
        assert torch.isfinite(getattr(out, key)).all(), key
    assert (out.image >= 0).all() and (out.image <= 1).all()


@pytest.mark.slow
def test_lp256_shapes_single_frame():
    model = create_model("lp256").eval()
    assert model.config.output_size == 512
    state_dict = model.state_dict()
    assert state_dict["appearance_encoder.second.weight"].shape == (512, 256, 1, 1)
    with torch.no_grad():
        state = model.encode_source(torch.rand(1, 3, 256, 256))
    assert state.volume.shape == (1, 32, 16, 64, 64)
    assert state.keypoints.shape == (1, 21, 3)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["tiny", "tiny_tracked"])
def test_every_parameter_receives_gradient(name):
    """After perturbing the zero-initialised output layers, every parameter gets a non-zero gradient."""
    model = create_model(name).train()
    with torch.no_grad():
        model.rac.out.weight.normal_(0, 0.05)
        model.fusion.head[-1].weight.normal_(0, 0.05)
        model.rac.null_value.normal_(0, 0.05)
    source, driving, references, kw = _inputs(model)
    out = model(source, driving, references, **kw)
    loss = out.image.mean() + out.occlusion.mean()
    if out.source_motion is not None and out.driving_motion is not None:
        loss = loss + sum(getattr(out.source_motion, f).sum() * 1e-3 for f in ("t", "scale", "pitch", "yaw", "roll"))
        loss = loss + out.driving_motion.exp.sum() * 1e-3
    loss.backward()
    dead = [n for n, p in model.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert not dead, f"parameters without gradient: {dead[:8]}"


def test_unused_confidence_head_is_caught():
    """The gradient check above must fail when the fusion ignores the confidence map."""
    model = create_model("tiny").train()
    with torch.no_grad():
        model.rac.out.weight.normal_(0, 0.05)
        model.fusion.head[-1].weight.normal_(0, 0.05)
    source, driving, references, _ = _inputs(model)
    model(source, driving, references, fusion_mode="add").image.mean().backward()
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in model.fusion.parameters())


def test_fused_equals_explicit_at_initialisation():
    model = create_model("tiny").eval()
    source, driving, references, _ = _inputs(model)
    with torch.no_grad():
        out = model(source, driving, references)
    assert out.correction.abs().max() == 0
    torch.testing.assert_close(out.fused_feature, out.explicit_feature, rtol=0, atol=1e-6)
    # the confidence map starts at sigmoid(2) ≈ 0.88, trusting the explicit path
    expected = torch.sigmoid(torch.tensor(2.0)).item()
    torch.testing.assert_close(out.confidence, torch.full_like(out.confidence, expected))


def test_confidence_in_unit_interval_and_used():
    model = create_model("tiny").eval()
    with torch.no_grad():
        model.rac.out.weight.normal_(0, 0.5)
        model.fusion.head[-1].weight.normal_(0, 2.0)
    source, driving, references, _ = _inputs(model)
    with torch.no_grad():
        out = model(source, driving, references)
        explicit_only = model(source, driving, references, fusion_mode="explicit")
    conf = out.confidence
    assert conf.min() >= 0 and conf.max() <= 1 and conf.std() > 1e-3
    expected = conf * out.explicit_feature + (1 - conf) * (out.explicit_feature + out.correction)
    torch.testing.assert_close(out.fused_feature, expected)
    assert (out.image - explicit_only.image).abs().max() > 1e-4


def _perturbed_tiny() -> SynergyWarpNet:
    model = create_model("tiny").eval()
    with torch.no_grad():
        model.rac.out.weight.normal_(0, 0.5)
        model.rac.null_value.normal_(0, 0.5)
    return model


def test_rac_invariant_to_reference_order():
    model = _perturbed_tiny()
    source, driving, references, _ = _inputs(model, refs=3)
    with torch.no_grad():
        a = model(source, driving, references).correction
        b = model(source, driving, references[:, [2, 0, 1]]).correction
    assert a.abs().max() > 1e-3
    torch.testing.assert_close(a, b, rtol=0, atol=1e-5)


@pytest.mark.slow
def test_rac_defined_for_zero_references_and_uses_references():
    model = _perturbed_tiny()
    source, driving, references, _ = _inputs(model)
    with torch.no_grad():
        none = model(source, driving, None)
        empty = model(source, driving, references[:, :0])
        two = model(source, driving, references)
    assert torch.isfinite(none.image).all()
    torch.testing.assert_close(none.correction, empty.correction)
    assert (two.correction - none.correction).abs().max() > 1e-4


@pytest.mark.slow
def test_padding_mask_equals_fewer_references():
    """An item with one real reference padded to two equals the same item run with one reference."""
    model = _perturbed_tiny()
    source, driving, references, _ = _inputs(model, batch=1)
    padded = torch.cat([references[:, :1], torch.rand_like(references[:, :1])], dim=1)
    mask = torch.tensor([[True, False]])
    with torch.no_grad():
        a = model(source, driving, padded, mask).correction
        b = model(source, driving, references[:, :1]).correction
    torch.testing.assert_close(a, b, rtol=0, atol=1e-5)


def test_source_and_reference_work_is_cached():
    """animate() with cached states equals forward(), and per-frame calls never rerun the encoders."""
    model = _perturbed_tiny()
    source, driving, references, _ = _inputs(model, batch=1)
    calls = {"appearance": 0, "motion": 0}
    model.appearance_encoder.register_forward_hook(lambda *a: calls.__setitem__("appearance", calls["appearance"] + 1))
    with torch.no_grad():
        state = model.encode_source(source)
        tokens = model.encode_references(state, references)
        before = dict(calls)
        frames = torch.rand(4, 3, 64, 64)
        kp, _ = model.motion_source.driving(state, frames, None)
        out = model.animate(state, kp, tokens)
        assert calls["appearance"] == before["appearance"]
        full = model(source.expand(4, -1, -1, -1), frames, references.expand(4, -1, -1, -1, -1))
    torch.testing.assert_close(out.image, full.image, rtol=1e-4, atol=1e-5)


def test_tracked_model_needs_keypoints():
    model = create_model("tiny_tracked")
    with pytest.raises(ValueError, match="keypoints"):
        model(torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64))
    assert model.motion_encoder is None
    assert get_config("tiny_tracked").num_kp == 32


@pytest.mark.slow
def test_animate_output_is_typed_and_flattens_for_compile_and_ddp():
    """The output's tensors are pytree leaves (DDP routes their gradients, torch.compile returns them), and a
    compiled animate gives the same typed output as the eager one."""
    from torch.utils._pytree import tree_flatten

    from synergywarp.models import AnimateOutput

    model = create_model("tiny").eval()
    source, driving, references, _ = _inputs(model, batch=1)
    with torch.no_grad():
        state = model.encode_source(source)
        kp, _ = model.motion_source.driving(state, driving, None)
        eager = model.animate(state, kp, return_explicit=True)
        compiled = torch.compile(model.animate, backend="eager", fullgraph=False)(state, kp, return_explicit=True)
    assert isinstance(eager, AnimateOutput) and isinstance(compiled, AnimateOutput)
    leaves, _ = tree_flatten(eager)
    assert any(leaf is eager.image for leaf in leaves) and any(leaf is eager.flow for leaf in leaves)
    assert eager.explicit_image is not None and eager.fusion_weights is None and eager.source_motion is None
    torch.testing.assert_close(compiled.image, eager.image)
    torch.testing.assert_close(compiled.explicit_image, eager.explicit_image)


def test_decoder_resizes_its_label_map_once_per_resolution_with_the_same_output():
    """The decoder hands each up block a label map already at its size; each SPADE resizing the
    feature itself (the original layout) must give the same image, bit for bit."""
    import torch.nn.functional as F

    from synergywarp.models.decoder import SPADE

    decoder = create_model("tiny_tracked_head").decoder.eval()
    feature = torch.randn(2, decoder.fc.in_channels, 8, 8, generator=torch.Generator().manual_seed(0))
    resizes = []
    original = F.interpolate

    def counting(*args, **kwargs):
        resizes.append(tuple(args[0].shape[-2:]))
        return original(*args, **kwargs)

    with torch.no_grad():
        x = decoder.fc(feature)
        for i in range(decoder.num_middle):
            x = getattr(decoder, f"G_middle_{i}")(x, feature)
        for block in (decoder.up_0, decoder.up_1):
            x = block(F.interpolate(x, scale_factor=2, mode="nearest"), feature)  # every SPADE resizes
        expected = torch.sigmoid(decoder.conv_img(F.leaky_relu(x, 0.2)))
        F.interpolate = counting
        try:
            got = decoder(feature)
        finally:
            F.interpolate = original
    assert torch.equal(got, expected)
    assert len(resizes) == 4  # x and the label map, once per up block (not once per SPADE as well)
    spades = sum(isinstance(m, SPADE) for m in decoder.modules())
    assert spades > 4

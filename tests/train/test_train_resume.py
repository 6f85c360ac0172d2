"""Exact resume and crash-safe checkpoints of the trainer (tiny_tracked, in-memory synthetic clips)."""

from __future__ import annotations

import shutil

import pytest
import torch
from train_helpers import tiny_config

from synergywarp.models import SynergyWarpNet
from synergywarp.train import state as S
from synergywarp.train.trainer import Trainer

# explicit path with R = 0 first, then RAC/CGF on: resume crosses the phase switch
PHASES = [{"until_step": 2, "rac": False, "references": 0}, {"rac": True}]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _trainer(run, dataset, resume=False, model="tiny_tracked", **train):
    options = dict(batch_size=4, max_steps=4, checkpoint_every=2, log_every=1, phases=PHASES)
    options.update(train)
    return Trainer(tiny_config(model, **options), run, dataset, resume=resume)


def _assert_same_state(a: Trainer, b: Trainer) -> None:
    for name, module_a, module_b in [("model", a.model, b.model), ("ema", a.ema.module, b.ema.module),
                                     ("discriminator", a.disc, b.disc)]:
        sa, sb = module_a.state_dict(), module_b.state_dict()
        assert sa.keys() == sb.keys()
        for key in sa:
            assert torch.equal(sa[key], sb[key]), f"{name}.{key} differs"
    for opt_a, opt_b in [(a.opt_g, b.opt_g), (a.opt_d, b.opt_d)]:
        sa, sb = opt_a.state_dict(), opt_b.state_dict()
        assert sa["param_groups"] == sb["param_groups"]
        assert sa["state"].keys() == sb["state"].keys() and len(sa["state"]) > 0
        for pid in sa["state"]:
            for key, value in sa["state"][pid].items():
                assert torch.equal(value, sb["state"][pid][key]), f"optimizer state {pid}.{key} differs"
    assert a.sched_g.state_dict() == b.sched_g.state_dict()
    assert a.ema.updates == b.ema.updates


@pytest.mark.slow
@pytest.mark.parametrize("model", ["tiny_tracked", "tiny"])
def test_resume_is_exact(tmp_path, blob_clips, model):
    """tiny (learned motion) also draws random equivariance warps: the RNG state must be restored."""
    straight = _trainer(tmp_path / "straight", blob_clips, model=model, max_steps=6, checkpoint_every=3)
    straight.train()
    rng_after_straight = torch.get_rng_state()
    first = _trainer(tmp_path / "resumed", blob_clips, model=model, max_steps=3, checkpoint_every=3)
    first.train()
    del first
    torch.manual_seed(1234)  # a fresh process would not share the RNG: scramble it
    resumed = _trainer(tmp_path / "resumed", blob_clips, resume=True, model=model, max_steps=6, checkpoint_every=3)
    assert resumed.step == 3
    resumed.train()
    assert resumed.step == 6
    _assert_same_state(straight, resumed)
    assert torch.equal(torch.get_rng_state(), rng_after_straight)
    assert resumed.trained_stages() == ["explicit", "rac", "cgf"]
    exported = SynergyWarpNet.from_pretrained(tmp_path / "resumed" / "model_ema.safetensors")
    assert exported.trained_stages == ["explicit", "rac", "cgf"]
    for key, value in exported.state_dict().items():
        assert torch.equal(value, straight.ema.module.state_dict()[key])
    # the CSV holds each step once
    steps = [line.split(",")[0] for line in (tmp_path / "resumed" / "log.csv").read_text().splitlines()[1:]]
    assert steps == [str(s) for s in range(1, 7)]


@pytest.mark.slow
def test_interrupted_checkpoint_keeps_last_good(tmp_path, blob_clips, monkeypatch):
    run = tmp_path / "run"
    reference = _trainer(tmp_path / "reference", blob_clips, max_steps=4)
    reference.train()

    real_write = S._write_state_json
    calls = {"n": 0}

    def crash_on_second_save(directory, document):
        calls["n"] += 1
        if calls["n"] == 2:  # the tensors of step 4 are already in the temp dir
            assert (directory / S.TENSORS_FILE).exists()
            raise KeyboardInterrupt("killed while writing the checkpoint")
        real_write(directory, document)

    monkeypatch.setattr(S, "_write_state_json", crash_on_second_save)
    with pytest.raises(KeyboardInterrupt):
        _trainer(run, blob_clips, max_steps=4).train()
    monkeypatch.setattr(S, "_write_state_json", real_write)
    ckpts = run / "checkpoints"
    assert S.latest_checkpoint(ckpts) == ckpts / "step_00000002"
    assert not (ckpts / "step_00000004").exists()

    # a hard kill can leave a temp dir and a half-copied checkpoint: both are skipped
    shutil.copytree(ckpts / "step_00000002", ckpts / ".tmp-step_00000004-999")
    broken = ckpts / "step_00000006"
    shutil.copytree(ckpts / "step_00000002", broken)
    with open(broken / S.TENSORS_FILE, "r+b") as f:
        f.truncate(100)
    partial = ckpts / "step_00000008"
    partial.mkdir()
    (partial / S.TENSORS_FILE).write_bytes(b"\0" * 64)
    assert S.latest_checkpoint(ckpts) == ckpts / "step_00000002"

    resumed = _trainer(run, blob_clips, resume=True, max_steps=4)
    assert resumed.step == 2
    resumed.train()
    _assert_same_state(reference, resumed)
    assert S.latest_checkpoint(ckpts) == ckpts / "step_00000004"


def test_keep_last_and_codec(tmp_path):
    weights = {"model.w": torch.arange(6.0).view(2, 3)}
    state = {"t": (1, 2.5, None), "c": __import__("collections").Counter({3: 1}), "ids": {0: torch.ones(2)},
             "nested": [{"x": "y"}]}
    for step in (1, 2, 3, 4):
        S.save_checkpoint(tmp_path, step, weights, state, keep_last=2)
    assert [p.name for p in S.list_checkpoints(tmp_path)] == ["step_00000003", "step_00000004"]
    loaded_weights, loaded, step = S.load_checkpoint(S.latest_checkpoint(tmp_path))
    assert step == 4 and torch.equal(loaded_weights["model.w"], weights["model.w"])
    assert loaded["t"] == (1, 2.5, None) and loaded["c"] == {3: 1} and loaded["nested"] == [{"x": "y"}]
    assert torch.equal(loaded["ids"][0], torch.ones(2))
    assert not any(p.name.startswith(".tmp") for p in tmp_path.iterdir())

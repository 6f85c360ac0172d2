"""Bad configs fail at start with one line naming the key; NaN stops the run with the last good
checkpoint intact."""

from __future__ import annotations

import math

import pytest
import torch
import yaml
from train_helpers import tiny_config

from synergywarp.errors import ConfigError
from synergywarp.train import state as S
from synergywarp.train.__main__ import main
from synergywarp.train.config import load_config
from synergywarp.train.trainer import Trainer, TrainingDivergedError


def _write(tmp_path, data) -> str:
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


@pytest.mark.parametrize(
    "data, key",
    [
        ({"train": {"lrr": 1e-4}}, "train.lrr"),
        ({"train": {"batch_size": "eight"}}, "train.batch_size"),
        ({"train": {"phases": [{"until_step": 5, "fusion_mode": "blend"}]}}, "train.phases[0].fusion_mode"),
        ({"train": {"loss_weights": {"l2": 1.0}}}, "train.loss_weights.l2"),
        ({"model": {"base": "tiny", "overrides": {"rac": {"dimm": 3}}}}, "model.rac.dimm"),
        ({"model": "tiny", "datasett": {}}, "datasett"),
        ({"eval": {"every": 1.5}}, "eval.every"),
    ],
)
def test_bad_config_fails_with_one_line_naming_the_key(tmp_path, capsys, data, key):
    path = _write(tmp_path, data)
    with pytest.raises(ConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
        load_config(path)
    code = main(["train", "--config", path, "--data", str(tmp_path), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1 and key in err and err.startswith("error:")
    assert not (tmp_path / "run").exists()


def test_missing_data_folder_fails_at_start(tmp_path, capsys):
    path = _write(tmp_path, {"model": "tiny_tracked"})
    missing = tmp_path / "no_such_data"
    code = main(["train", "--config", path, "--data", str(missing), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1
    assert "dataset.root" in err and str(missing) in err
    assert not (tmp_path / "run").exists()


def test_model_section_forms():
    cfg = tiny_config()
    assert cfg.model.name == "tiny_tracked" and cfg.model.num_kp == 32
    from synergywarp.train.config import config_from_dict

    overridden = config_from_dict({"model": {"base": "tiny", "overrides": {"rac": {"dim": 16}}}})
    assert overridden.model.rac.dim == 16 and overridden.model.rac.heads == 4
    full = config_from_dict({"model": overridden.model.to_dict()})
    assert full.model == overridden.model


def test_shipped_configs_load():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "configs"
    names = {str(p.relative_to(root).with_suffix("")): load_config(p) for p in sorted(root.rglob("*.yaml"))}
    assert {"tiny", "small", "lp256", "demo", "demo_learned", "ablation/explicit", "ablation/rac_add",
            "ablation/rac_cgf"} <= set(names)
    assert names["lp256"].model.name == "lp256" and "motion_encoder" in names["lp256"].train.freeze
    # the ablation differs only in what it ablates
    demo, explicit, add, cgf = (names[k] for k in ("demo", "ablation/explicit", "ablation/rac_add", "ablation/rac_cgf"))
    assert cgf.model == demo.model and cgf.train == demo.train and cgf.dataset == demo.dataset
    assert explicit.model == demo.model and not any(p.rac for p in explicit.train.phases)
    assert add.model.cgf.mode == "add" and add.train.phases == demo.train.phases
    assert explicit.train.max_steps == add.train.max_steps == demo.train.max_steps and demo.model.decoder.image_skip


class _PoisonedTrainer(Trainer):
    """Feeds a NaN driving frame (the loss target) on step 5."""

    def train_step(self, batch, phase, want_output=False):
        if self.step == 4:
            batch = {**batch, "driving": batch["driving"] * math.nan}
        return super().train_step(batch, phase, want_output)


@pytest.mark.slow
@pytest.mark.parametrize("eager", [True, False], ids=["check-every-step", "check-on-log-steps"])
def test_nan_stops_with_step_and_keeps_last_good_checkpoint(tmp_path, blob_clips, eager):
    cfg = tiny_config(batch_size=4, max_steps=8, log_every=3 if eager else 1, checkpoint_every=2)
    trainer = _PoisonedTrainer(cfg, tmp_path / "run", blob_clips)
    trainer.eager_nan_check = eager  # the log-step check is what GPUs use
    with pytest.raises(TrainingDivergedError) as info:
        trainer.train()
    message = str(info.value)
    assert "step 5" in message and "step_00000004" in message and "\n" not in message
    ckpts = tmp_path / "run" / "checkpoints"
    assert S.latest_checkpoint(ckpts) == ckpts / "step_00000004"
    weights, _, step = S.load_checkpoint(ckpts / "step_00000004")
    assert step == 4 and all(torch.isfinite(v).all() for v in weights.values() if v.is_floating_point())
    # the resumed run starts from the good checkpoint
    resumed = Trainer(cfg, tmp_path / "run", blob_clips, resume=True)
    assert resumed.step == 4


def test_learning_rate_multipliers_make_a_fast_parameter_group():
    from synergywarp.models import create_model
    from synergywarp.train.config import config_from_dict
    from synergywarp.train.trainer import parameter_groups

    model = create_model("tiny_tracked_head")
    groups = parameter_groups(model, 1e-4, {"pixel_fusion": 30.0})
    by_name = {g["name"]: g for g in groups}
    assert by_name["pixel_fusion"]["lr"] == pytest.approx(3e-3) and by_name["rest"]["lr"] == 1e-4
    fast = {id(p) for p in model.pixel_fusion.parameters()}
    assert {id(p) for p in by_name["pixel_fusion"]["params"]} == fast
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))  # every parameter, once
    with pytest.raises(ConfigError, match="lr_multipliers.heads"):
        config_from_dict({"model": "tiny", "train": {"lr_multipliers": {"heads": 2.0}}})

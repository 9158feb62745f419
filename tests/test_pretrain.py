"""Pretrain once, fine-tune every method: ``TrainConfig.pretrain`` and split_models.train_on_split."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from lib.recognition import train as T
from lib.recognition.split_models import pretrained, train_on_split
from tests.test_train import TINY, _data


def _faceset():
    x, y = _data(n_cls=4, per=8)
    meta = pd.DataFrame({"identity": [f"p{k}" for k in y], "person": [f"p{k}" for k in y], "split": "train"})
    card = {"arrays": {"images.npy": {"sha256": "f" * 64}}}
    return SimpleNamespace(meta=meta, images=x, card=card, has=lambda name: False)


def test_a_run_from_scratch_keeps_its_key():
    """Adding the field did not change the key of any earlier run (their cached models stay valid)."""
    assert "pretrain" not in T.TrainConfig().key()
    assert "pretrain" not in T.TrainConfig(pretrain={}).key()


def test_the_pretraining_run_inherits_backbone_and_seed():
    cfg = T.TrainConfig(backbone="iresnet_small", seed=3, lr=0.01, pretrain={"epochs": 4, "lr": 0.1})
    base = cfg.pretrain_config()
    assert (base.backbone, base.seed, base.epochs, base.lr) == ("iresnet_small", 3, 4, 0.1)
    assert cfg.key()["pretrain"] == base.key()
    assert cfg.key() != T.TrainConfig(backbone="iresnet_small", seed=3, lr=0.01, pretrain={"epochs": 5}).key()


@pytest.mark.parametrize("pretrain, words", [({"pretrain": {"epochs": 1}}, "nested"),
                                             ({"backbone": "iresnet18"}, "outer config")])
def test_bad_pretrain_settings_are_refused(pretrain, words):
    with pytest.raises(ValueError, match=words):
        T.TrainConfig(pretrain=pretrain)


def test_train_alone_refuses_a_pretrained_config_without_its_weights(tmp_path):
    x, y = _data()
    with pytest.raises(ValueError, match="train_on_split"):
        T.train(T.TrainConfig(**TINY, pretrain={"epochs": 1}), x, y, work_dir=tmp_path, progress=False)


def test_fine_tunes_start_from_one_cached_pretraining(isolated_dirs):
    fs = _faceset()
    frozen = {**TINY, "lr": 0.0, "schedule": "constant", "weight_decay": 0.0, "grad_clip": None,
              "photometric": "none", "epochs": 1,
              "pretrain": {"batch_size": 16, "epochs": 2, "warmup_epochs": 0.0, "photometric": "none"}}
    cfg = T.TrainConfig(**frozen)
    base_run = pretrained(fs, cfg, progress=False)
    base = base_run.backbone
    tuned = train_on_split(fs, cfg, name="tuned", progress=False).backbone
    # lr 0: the fine-tune's weights are the pretraining's, not a fresh initialisation
    assert torch.equal(tuned.conv1.weight, base.conv1.weight)
    tuned_cos = train_on_split(fs, T.TrainConfig(**{**frozen, "head": "cosface"}), name="tuned_cosface", progress=False)
    assert torch.equal(tuned_cos.head.weight, base_run.head.weight)  # another head starts from the class weights
    scratch = T.TrainConfig(**{k: v for k, v in frozen.items() if k != "pretrain"})
    fresh = train_on_split(fs, scratch, name="scratch", progress=False).backbone
    assert not torch.equal(fresh.conv1.weight, base.conv1.weight)
    # the pretraining is trained once: a second fine-tune (another head) loads it from the run cache
    runs = sorted(p.name for p in (isolated_dirs / "runs" / "fr" / "pretrain" / "arcface").iterdir())
    train_on_split(fs, T.TrainConfig(**{**frozen, "head": "softmax"}), name="tuned_softmax", progress=False)
    assert sorted(p.name for p in (isolated_dirs / "runs" / "fr" / "pretrain" / "arcface").iterdir()) == runs
    assert len([r for r in runs if not r.endswith(".work")]) == 1


def test_init_head_of_other_classes_is_refused(tmp_path):
    x, y = _data()  # 4 classes
    with pytest.raises(ValueError, match="init_head"):
        T.train(T.TrainConfig(**TINY), x, y, work_dir=tmp_path, progress=False,
                init_head={"weight": torch.zeros(7, 128)})


def test_a_cached_fine_tune_does_not_load_its_pretraining(isolated_dirs, monkeypatch):
    from lib.recognition import split_models

    fs = _faceset()
    cfg = T.TrainConfig(**{**TINY, "epochs": 1}, photometric="none", pretrain={"batch_size": 16, "epochs": 1})
    train_on_split(fs, cfg, name="tuned", progress=False)
    calls = []
    monkeypatch.setattr(split_models, "pretrained", lambda *a, **k: calls.append(1))
    train_on_split(fs, cfg, name="tuned", progress=False)  # from the run cache
    assert calls == []

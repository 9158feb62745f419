"""lib.lowres.methods (registry, cache names), octuplet and derivenet fine-tuning."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from lib.lowres import derivenet, methods, octuplet

ISSUE_METHODS = ["cosface", "sphereface", "arcface", "cosface_crb", "sphereface_crb", "arcface_crb", "approach1",
                 "approach2", "approach2_bounded", "adaface", "octuplet", "derivenet"]


def test_registry_holds_the_twelve_methods():
    assert methods.method_names() == ISSUE_METHODS


@pytest.mark.parametrize("head", ["arcface", "cosface", "sphereface"])
def test_plain_heads_are_the_plain_shared_call(head):
    cfg, kw = methods.run_args(head, {"epochs": 2})
    assert cfg == {"epochs": 2, "head": head} and kw == {}


@pytest.mark.parametrize("method", [m for m in ISSUE_METHODS if methods.METHODS[m].hook])
def test_hooked_methods_have_their_own_cache_name_and_key(method):
    cfg, kw = methods.run_args(method)
    assert kw["name"] == method and kw["extra_key"] == kw["batch_hook"].key() and callable(kw["batch_hook"])
    assert cfg["head"] == methods.METHODS[method].head


def test_params_change_hooks_heads_and_keys():
    a = methods.run_args("approach2")[1]["extra_key"]
    b = methods.run_args("approach2_bounded")[1]["extra_key"]
    assert a["bounds"] is None and b["bounds"] == [0.35, 0.5]
    kw = methods.run_args("arcface_crb", params={"crb": {"resolutions": [7, 14]}})[1]
    assert kw["extra_key"]["resolutions"] == [7, 14]
    cfg, kw = methods.run_args("arcface", params={"arcface": {"head": "arcface_lowres"}})
    assert cfg["head"] == "arcface_lowres" and kw == {}
    assert methods.run_args("approach1", params={"approach1": {"low": 0.6}})[1]["extra_key"]["low"] == 0.6


def test_unknown_method_names_the_choices():
    with pytest.raises(ValueError, match="approach1"):
        methods.run_args("bicubic_magic")
    with pytest.raises(ValueError, match="fine-tuned"):
        methods.head_of("octuplet")


def test_finetune_configs():
    c = methods.finetune_config("octuplet", {"octuplet": {"lr": 0.5, "milestones": [1]}}, seed=3)
    assert isinstance(c, octuplet.OctupletConfig) and c.lr == 0.5 and c.milestones == (1,) and c.seed == 3
    p = derivenet.DeriveNetConfig.paper()
    assert (p.epochs, p.lr, p.recon_size, p.hidden, p.update_backbone) == (18, 0.1, 112, (1024, 2048), False)
    assert octuplet.OctupletConfig.paper().low_side == 20


def _fake_fs(n_ids=6, per_id=4, seed=0):
    rng = np.random.default_rng(seed)
    ids = np.repeat([f"p{k}" for k in range(n_ids)], per_id)
    meta = pd.DataFrame({"identity": ids, "split": "train"})
    images = rng.integers(0, 256, (len(ids), 112, 112, 3)).astype(np.uint8)
    return SimpleNamespace(meta=meta, images=images, card={"arrays": {"images.npy": {"sha256": f"fake{seed}"}}})


def test_trained_model_never_trains(isolated_dirs):
    fs = _fake_fs()
    assert not methods.is_trained(fs, "approach1", {"epochs": 1})
    with pytest.raises(LookupError, match="04_lowres"):
        methods.trained_model(fs, "approach1", {"epochs": 1})
    with pytest.raises(LookupError):
        methods.trained_model(fs, "octuplet", {"epochs": 1})


def test_sample_items_structure():
    labels = np.repeat(np.arange(6), 3)
    items = octuplet.sample_items(labels, 40, np.random.default_rng(0))
    assert items.shape == (40, 6)
    lab = labels[items]
    assert (lab[:, 0] == lab[:, 1]).all() and (items[:, 0] != items[:, 1]).all()
    for row in lab:
        assert row[0] not in row[2:] and len(set(row[2:])) == 4
    with pytest.raises(ValueError, match="identities"):
        octuplet.sample_items(np.repeat(np.arange(3), 2), 4, np.random.default_rng(0))


def test_octuplet_loss_terms_and_zero_when_separated():
    import torch

    e = {k: torch.randn(5, 8) for k in octuplet.ORDER}
    total, terms = octuplet.octuplet_loss(e)
    assert set(terms) == {"hrhr", "hrlr", "lrhr", "lrlr"} and torch.isclose(total, sum(terms.values()))
    same = torch.nn.functional.one_hot(torch.zeros(5, dtype=torch.long), 8).float()
    other = -same  # cosine distance 2 to the anchors: margin 1 met
    e = {k: (other if k.startswith("n") else same) for k in octuplet.ORDER}
    assert octuplet.octuplet_loss(e)[0].item() == 0.0


def test_dmargin_and_recent():
    import torch

    raw = torch.zeros(2, 3)
    np.testing.assert_array_equal(derivenet.dmargin_logits(raw, torch.tensor([1, 2])).numpy(), [[0, 1, 0], [0, 0, 1]])
    hr, rec = torch.ones(2, 4), torch.zeros(2, 4)
    assert derivenet.recent_loss(hr, rec, rec, 1e-3).item() == pytest.approx(1e-3 * 4)
    c = derivenet.ClassCentres(3, 2)
    out = c.update_and_get(torch.tensor([[1.0, 1.0], [3.0, 3.0]]), torch.tensor([0, 0]))
    np.testing.assert_allclose(out.numpy(), [[2, 2], [2, 2]])


def _base():
    from lib.recognition.backbones import create_backbone

    return create_backbone("iresnet_tiny").eval()


def test_octuplet_finetune_runs_and_changes_the_backbone():
    fs = _fake_fs()
    base = _base()
    cfg = octuplet.OctupletConfig(items_per_epoch=4, batch_size=2, device="cpu")
    model, hist = octuplet.finetune(base, fs.images, np.repeat(np.arange(6), 4), cfg)
    assert list(hist.columns) == ["epoch", "loss", "hrhr", "hrlr", "lrhr", "lrlr"] and np.isfinite(hist["loss"]).all()
    w0, w1 = base.state_dict(), model.state_dict()
    assert any(not np.array_equal(w0[k].numpy(), w1[k].numpy()) for k in w0 if w0[k].is_floating_point())


@pytest.mark.parametrize("update", [False, True])
def test_derivenet_backbone_weights_frozen_only_in_the_original_mode(update):
    fs = _fake_fs()
    base = _base()
    cfg = derivenet.DeriveNetConfig(images_per_epoch=8, batch_size=4, recon_size=8, hidden=(16, 16),
                                    update_backbone=update, device="cpu")
    model, hist = derivenet.finetune(base, fs.images, np.repeat(np.arange(6), 4), cfg)
    assert np.isfinite(hist["loss"]).all()
    w0, w1 = base.state_dict(), model.state_dict()
    weights = [k for k in w0 if k.endswith("weight")]
    changed = [k for k in weights if not np.array_equal(w0[k].numpy(), w1[k].numpy())]
    stats = [k for k in w0 if k.endswith("running_mean")]
    assert bool(changed) == update
    assert any(not np.array_equal(w0[k].numpy(), w1[k].numpy()) for k in stats)  # train mode, as the original


def test_methods_trained_side_by_side_equal_those_trained_in_turn(isolated_dirs, monkeypatch, tmp_path):
    """train_methods: the missing models trained in two spawned one-thread workers are the same runs (same cache
    entries, same weights) as train_method one by one; a second call trains nothing."""
    import torch

    from lib.data.faceset import FaceSetWriter, read_faceset

    rng = np.random.default_rng(0)
    n, ids = 32, [f"p{i % 4}" for i in range(32)]
    images = np.stack([np.full((32, 32, 3), 40 + 50 * (i % 4), np.uint8) for i in range(n)])
    images = np.clip(images + rng.integers(0, 30, images.shape), 0, 255).astype(np.uint8)
    card = {"name": "t", "kind": "synthetic", "version": "1", "seed": 0, "parameters": {}, "generator": "test"}
    with FaceSetWriter(tmp_path / "fs", n=n, image_size=(32, 32), card=card) as w:
        w.append(images, pd.DataFrame({"identity": ids, "split": ["train"] * n, "session": "A", "emotion": "neutral",
                                       "pose": "S", "source": "noise", "yaw": [0.0] * n}))
    fs = read_faceset(tmp_path / "fs")
    fr = {"epochs": 1, "batch_size": 8, "threads": 1, "warmup_epochs": 0.0, "photometric": "none"}
    names = ["arcface", "cosface", "arcface_crb"]
    side = methods.train_methods(fs, names, fr, workers=2)
    assert all(methods.is_trained(fs, m, fr) for m in names)
    monkeypatch.setattr(methods, "_train_job", lambda *a: pytest.fail("trained a cached model"))
    assert set(methods.train_methods(fs, names, fr, workers=2)) == set(names)
    monkeypatch.setenv("FACEAUG_RUNS", str(tmp_path / "runs2"))
    turn = {m: methods.train_method(fs, m, fr) for m in names}
    for m in names:
        for k, v in side[m].state_dict().items():
            assert torch.equal(v, turn[m].state_dict()[k]), (m, k)
    with pytest.raises(ValueError, match="unknown method"):
        methods.train_methods(fs, ["arcface", "bicubic_magic"], fr)

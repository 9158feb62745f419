"""FRA model and training: shapes, dropout in eval, the loss, learning, determinism, resume, divergence, cache."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from lib.fra import train as FT
from lib.fra.model import FRA, PostureAutoencoder, ViTCombiner

TINY = {"epochs": 2, "batch_size": 4, "threads": 1, "device": "cpu"}


def _data(n_maps=6, dim=16, n_pairs=8, seed=0):
    rng = np.random.default_rng(seed)
    maps = np.zeros((n_maps, 112, 112), bool)
    for i in range(n_maps):  # a few landmark-like blobs per map
        for y, x in rng.integers(20, 90, (5, 2)):
            maps[i, y:y + 6, x:x + 6] = True
    emb = rng.normal(size=(n_maps, dim)).astype(np.float32)
    pairs = pd.DataFrame(rng.integers(0, n_maps, (n_pairs, 6)), columns=list(FT.PAIR_COLUMNS))
    return maps, emb, pairs


def _params(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


@pytest.fixture(scope="module")
def data():
    return _data()


@pytest.fixture(scope="module")
def reference(data, tmp_path_factory):
    """Two epochs straight through (TINY)."""
    return FT.train_fra(*data, FT.FRAConfig(**TINY), work_dir=tmp_path_factory.mktemp("ref"), progress=False)


def test_shapes():
    ae = PostureAutoencoder(dropout=0.1)
    maps = torch.zeros(2, 112, 112)
    code = ae.encode(maps)
    assert code.shape == (2, 512)
    assert ae.decode(code).shape == (2, 1, 112, 112) and ae(maps[:, None]).shape == (2, 1, 112, 112)
    for d in (512, 128):
        comb = ViTCombiner(d)
        assert comb(code, torch.randn(2, d)).shape == (2, d)
        assert isinstance(comb.to_grid, torch.nn.Identity) == (d == 512)  # 512 + 512 = 32 x 32, as the code
    assert ViTCombiner(128, out_dim=64)(code, torch.randn(2, 128)).shape == (2, 64)
    recon, gen = FRA(128)(maps, torch.randn(2, 128))
    assert recon.shape == (2, 1, 112, 112) and gen.shape == (2, 128) and 0 < recon.min() and recon.max() < 1


def test_patches_follow_the_codes_img_to_patch():
    comb = ViTCombiner(512)
    x = torch.arange(2 * 1024, dtype=torch.float32).reshape(2, 1024)
    img = x.reshape(2, 1, 4, 8, 4, 8).permute(0, 2, 4, 1, 3, 5).flatten(1, 2).flatten(2, 4)  # the code's
    assert torch.equal(comb.patches(x), img)


def test_dropout_is_off_in_eval_and_on_in_train():
    torch.manual_seed(0)
    model = FRA(16, dropout_ae=0.4, dropout_vit=0.05)
    maps, emb = (torch.rand(3, 112, 112) > 0.9).float(), torch.randn(3, 16)
    model.eval()
    with torch.no_grad():
        a, b = model(maps, emb), model(maps, emb)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert torch.equal(model.generate(maps, emb), a[1]) and not model.training
    model.train()
    assert not torch.equal(model(maps, emb)[1], model(maps, emb)[1])
    model.generate(maps, emb)
    assert model.training  # generate restores the mode


def test_gradients_reach_both_parts(data):
    maps, emb, pairs = data
    torch.manual_seed(0)
    model = FRA(16, dropout_ae=0.0, dropout_vit=0.0)
    rows = torch.as_tensor(np.array(pairs, dtype=np.int64))
    terms = FT._batch_terms(model, torch.as_tensor(maps.view(np.uint8)), torch.as_tensor(emb), rows, 10.0)
    terms["loss"].backward()
    for part in (model.autoencoder.encoder, model.autoencoder.decoder, model.combiner):
        grads = [p.grad for p in part.parameters()]
        assert all(g is not None for g in grads) and any(g.abs().sum() > 0 for g in grads)


def test_loss_is_bce_plus_three_triplets():
    g = torch.Generator().manual_seed(0)
    recon = torch.rand(4, 1, 112, 112, generator=g) * 0.98 + 0.01
    maps = (torch.rand(4, 1, 112, 112, generator=g) > 0.9).float()
    gen, tgt, n1, n2, n3 = torch.randn(5, 4, 16, generator=g)
    terms = FT.fra_loss(recon, maps, gen, tgt, (n1, n2, n3), margin=10.0)
    trip = torch.nn.TripletMarginLoss(margin=10.0, p=2)
    bce = torch.nn.BCELoss(reduction="mean")(recon, maps)
    expect = bce + trip(gen, tgt, n1) + trip(gen, tgt, n2) + trip(gen, tgt, n3)
    torch.testing.assert_close(terms["loss"], expect)
    torch.testing.assert_close(terms["bce"], bce)
    torch.testing.assert_close(terms["triplet_pose"], trip(gen, tgt, n2))
    torch.testing.assert_close(terms["triplet"], terms["triplet_identity"] + terms["triplet_pose"]
                               + terms["triplet_emotion"])


def test_training_lowers_the_loss_and_writes_files(reference):
    h = reference.history
    assert list(h["epoch"]) == [1, 2] and h["loss"].iloc[-1] < h["loss"].iloc[0]
    assert {"loss", "bce", "triplet", "triplet_identity", "lr", "seconds", "pairs_per_s"} <= set(h.columns)
    np.testing.assert_allclose(h["loss"], h["bce"] + h["triplet"], rtol=1e-5)
    for f in (FT.CHECKPOINT, FT.FINAL, FT.HISTORY):
        assert (reference.work_dir / f).is_file()
    assert not reference.model.training


def test_same_seed_same_weights_and_resume_is_exact(data, reference, tmp_path):
    cfg = FT.FRAConfig(**TINY)
    again = FT.train_fra(*data, cfg, work_dir=tmp_path / "a", progress=False)
    assert torch.equal(_params(again.model), _params(reference.model))
    stopped = FT.train_fra(*data, cfg, work_dir=tmp_path / "b", progress=False, max_epochs=1)
    assert stopped.resumed_from is None and not (tmp_path / "b" / FT.FINAL).exists()
    resumed = FT.train_fra(*data, cfg, work_dir=tmp_path / "b", progress=False)
    assert resumed.resumed_from == 1 and list(resumed.history["epoch"]) == [1, 2]
    assert torch.equal(_params(resumed.model), _params(reference.model))
    np.testing.assert_array_equal(resumed.history["loss"], reference.history["loss"])


def test_validation_pairs_negatives_per_epoch_and_generate(data, reference, tmp_path):
    maps, emb, pairs = data
    asked = []

    def negatives(epoch):
        asked.append(epoch)
        return np.random.default_rng(epoch).integers(0, len(emb), (len(pairs), 3))

    cfg = FT.FRAConfig.paper("cosface", **{**TINY, "epochs": 1})
    assert cfg.dropout == 0.05 and FT.FRAConfig.paper("magface").dropout == 0.4
    r = FT.train_fra(maps, emb, pairs, cfg, work_dir=tmp_path, val_pairs=pairs.iloc[:3], negatives=negatives,
                     progress=False)
    assert asked == [0] and {"val_loss", "val_bce", "val_triplet"} <= set(r.history.columns)
    out = FT.generate(reference.model, maps, emb, pairs["posture"], pairs["input"], batch_size=3)
    assert out.shape == (len(pairs), 16) and out.dtype == np.float32
    np.testing.assert_allclose(out, FT.generate(reference.model, maps, emb, pairs["posture"], pairs["input"]),
                               rtol=1e-5, atol=1e-6)


def test_nan_stops_with_a_clear_error_and_keeps_the_checkpoint(data, tmp_path, monkeypatch):
    cfg = FT.FRAConfig(**TINY)
    FT.train_fra(*data, cfg, work_dir=tmp_path, progress=False, max_epochs=1)
    before = (tmp_path / FT.CHECKPOINT).read_bytes()
    real = FT.fra_loss

    def nan_loss(*args, **kw):
        terms = real(*args, **kw)
        return {**terms, "loss": terms["loss"] * float("nan")}

    monkeypatch.setattr(FT, "fra_loss", nan_loss)
    with pytest.raises(FT.TrainingDiverged, match="epoch 2, step 1/2: loss is nan.*last good checkpoint"):
        FT.train_fra(*data, cfg, work_dir=tmp_path, progress=False)
    assert (tmp_path / FT.CHECKPOINT).read_bytes() == before and not (tmp_path / FT.FINAL).exists()


def test_bad_inputs_are_named(data, tmp_path):
    maps, emb, pairs = data
    bad = emb.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        FT.train_fra(maps, bad, pairs, FT.FRAConfig(**TINY), work_dir=tmp_path)
    with pytest.raises(ValueError, match="-1 marks a negative"):
        FT.train_fra(maps, emb, pairs.assign(neg_pose=-1), FT.FRAConfig(**TINY), work_dir=tmp_path)
    with pytest.raises(ValueError, match="lacks the columns"):
        FT.train_fra(maps, emb, pairs.drop(columns="neg_emotion"), FT.FRAConfig(**TINY), work_dir=tmp_path)


def test_cached_trains_once(data, isolated_dirs, monkeypatch):
    cfg = FT.FRAConfig(**{**TINY, "epochs": 1})
    first = FT.train_fra_cached("fra/test", cfg, *data, data_key={"synthetic": 0}, progress=False)
    assert (first.work_dir / FT.FINAL).is_file() and (first.work_dir / FT.HISTORY).is_file()
    assert not first.work_dir.with_name(first.work_dir.name + ".work").exists()

    def boom(*a, **k):
        raise AssertionError("trained twice")

    monkeypatch.setattr(FT, "train_fra", boom)
    second = FT.train_fra_cached("fra/test", cfg, *data, data_key={"synthetic": 0}, progress=False)
    assert second.work_dir == first.work_dir and len(second.history) == 1
    assert torch.equal(_params(second.model), _params(first.model)) and not second.model.training
    # loaded without a random init (meta device, then empty CPU tensors filled): every tensor real and laid out
    # as in a freshly built model, the same generations
    plain = FT.build_model(cfg, data[1].shape[1])
    plain.load_state_dict(torch.load(second.work_dir / FT.FINAL, weights_only=True)["model"])
    for (name, a), b in zip(plain.state_dict().items(), second.model.state_dict().values()):
        assert torch.equal(a, b) and a.stride() == b.stride() and b.device.type == "cpu", name
    maps, emb = data[0], data[1]
    idx = np.arange(min(4, len(maps), len(emb)))
    np.testing.assert_array_equal(FT.generate(second.model, maps, emb, idx, idx),
                                  FT.generate(plain.eval(), maps, emb, idx, idx))


def test_unit_triplets_ignore_the_generated_norm_and_the_faithful_loss_does_not():
    g = torch.nn.functional.normalize(torch.randn(8, 16), dim=1)
    t, n1, n2, n3 = (torch.nn.functional.normalize(torch.randn(8, 16), dim=1) for _ in range(4))
    recon, maps = torch.full((8, 1, 112, 112), 0.5), torch.zeros(8, 1, 112, 112)
    for scale in (1.0, 20.0):
        unit = FT.fra_loss(recon, maps, g * scale, t, (n1, n2, n3), margin=0.2, unit=True)["triplet"]
        faithful = FT.fra_loss(recon, maps, g * scale, t, (n1, n2, n3), margin=10.0)["triplet"]
        if scale == 1.0:
            unit1, faithful1 = unit, faithful
            assert faithful1 > 3 * (10.0 - 2.0)  # margin 10 on unit vectors: every hinge stays active
    assert torch.isclose(unit, unit1)
    assert not torch.isclose(faithful, faithful1)
    cfg = FT.FRAConfig().unit_triplets()
    assert cfg.triplet_unit and cfg.triplet_margin == 0.2 and FT.FRAConfig().triplet_margin == 10.0

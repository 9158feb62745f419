"""The shared FR training loop: learning, determinism, resume, divergence, caching, hooks, DDP."""

from __future__ import annotations

import os
import shutil
import socket

import numpy as np
import pandas as pd
import pytest
import torch

from lib.recognition import train as T

TINY = {"backbone": "iresnet_tiny", "batch_size": 16, "epochs": 2, "threads": 1, "warmup_epochs": 0.0}


def _data(n_cls=4, per=12, size=32, seed=0):
    """Classes that differ in colour and stripe phase: learnable in a few steps."""
    rng = np.random.default_rng(seed)
    imgs, labels = [], []
    for c in range(n_cls):
        for _ in range(per):
            img = np.full((size, size, 3), 40, np.uint8)
            img[..., c % 3] = 200
            img[(c * 3) % size::6] = 255 - img[(c * 3) % size::6]
            imgs.append(np.clip(img + rng.normal(0, 8, img.shape), 0, 255).astype(np.uint8))
            labels.append(c)
    return np.stack(imgs), np.array(labels)


def _params(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_loss_falls_and_files_are_written(tmp_path):
    x, y = _data()
    cfg = T.TrainConfig(**{**TINY, "epochs": 4}, head="cosface")
    r = T.train(cfg, x, y, work_dir=tmp_path, progress=False)
    h = r.history
    assert list(h["epoch"]) == [1, 2, 3, 4] and h["loss"].iloc[-1] < h["loss"].iloc[0]
    assert {"loss", "train_acc", "lr", "seconds", "images_per_s"} <= set(h.columns)
    assert (tmp_path / "model.pt").is_file() and (tmp_path / "last.pt").is_file()
    assert pd.read_csv(tmp_path / "history.csv").shape[0] == 4
    assert not r.backbone.training


def test_same_seed_same_weights_and_resume_is_exact(tmp_path):
    x, y = _data()
    cfg = T.TrainConfig(**TINY, checkpoint_every=2)
    full = T.train(cfg, x, y, work_dir=tmp_path / "a", progress=False)
    again = T.train(cfg, x, y, work_dir=tmp_path / "b", progress=False)
    assert torch.equal(_params(full.backbone), _params(again.backbone))
    stopped = T.train(cfg, x, y, work_dir=tmp_path / "c", progress=False, max_steps=3)  # mid-epoch 1
    assert stopped.resumed_from is None and not (tmp_path / "c" / "model.pt").exists()
    resumed = T.train(cfg, x, y, work_dir=tmp_path / "c", progress=False)
    assert resumed.resumed_from == 3
    assert torch.equal(_params(full.backbone), _params(resumed.backbone))
    other = T.train(T.TrainConfig(**{**TINY, "seed": 1}), x, y, work_dir=tmp_path / "c", progress=False)
    assert other.resumed_from is None  # a different config never resumes another run's checkpoint


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    x, y = _data()
    cfg = T.TrainConfig(**TINY, checkpoint_every=1)
    from lib.recognition import heads

    calls = {"n": 0}
    real = heads.create_head

    def poisoned(*a, **k):
        head = real(*a, **k)
        forward = head.forward

        def fwd(emb, labels, margins=None):
            calls["n"] += 1
            out = forward(emb, labels) if margins is None else forward(emb, labels, margins)
            if calls["n"] == 3:
                out.loss = out.loss * float("nan")
            return out

        head.forward = fwd
        return head

    monkeypatch.setattr(heads, "create_head", poisoned)
    with pytest.raises(T.TrainingDiverged, match=r"step 2 .*loss is nan.*last good checkpoint is .*last.pt"):
        T.train(cfg, x, y, work_dir=tmp_path, progress=False)
    state = T.load_training_checkpoint(tmp_path / "last.pt")
    assert state["step"] == 2 and all(torch.isfinite(v).all() for v in state["backbone"].values()
                                      if v.is_floating_point())


def test_hooks_reach_the_head(tmp_path):
    x, y = _data()
    seen = {}

    def batch_hook(images, idx, rng):
        seen["images"] = images.shape
        return images, np.full(len(idx), 0.3, np.float32)

    def tensor_hook(t, idx, rng):
        seen["tensor"] = tuple(t.shape)
        return t

    cfg = T.TrainConfig(**{**TINY, "epochs": 1}, head="adaptive_arcface")
    T.train(cfg, x, y, work_dir=tmp_path, progress=False, batch_hook=batch_hook, tensor_hook=tensor_hook)
    assert seen["images"][0] == 16 and seen["tensor"][0] == 16


def test_train_cached_trains_once(tmp_path, isolated_dirs, monkeypatch):
    x, y = _data()
    cfg = T.TrainConfig(**{**TINY, "epochs": 1})
    first = T.train_cached("fr/test", cfg, x, y, data_key="fixture-v1", progress=False)
    monkeypatch.setattr(T, "train", lambda *a, **k: pytest.fail("retrained a cached model"))
    second = T.train_cached("fr/test", cfg, x, y, data_key="fixture-v1")
    assert torch.equal(_params(first.backbone), _params(second.backbone)) and len(second.history) == 1
    assert not list(first.work_dir.parent.glob("*.work"))
    # loaded without a random init (meta device, then empty CPU tensors filled from the file): the same tensors,
    # in the same layout, as a model built and loaded the plain way, so the same embeddings to the last bit (the
    # saved weights are channels_last; assigning them as they are changed 04's smoke accuracies)
    from lib.recognition.embedders import embed

    plain, _ = T.build_models(cfg, 4)
    plain.load_state_dict(torch.load(second.work_dir / T.FINAL, weights_only=True)["backbone"])
    for (name, a), b in zip(plain.state_dict().items(), second.backbone.state_dict().values()):
        assert torch.equal(a, b) and a.stride() == b.stride() and b.device.type == "cpu", name
    np.testing.assert_array_equal(embed(plain.eval(), x[:4]), embed(second.backbone, x[:4]))


def test_train_cached_reads_lazy_data_only_to_train(tmp_path, isolated_dirs):
    """Images and region maps given as callables are read when the run trains, never on a cache hit."""
    x, y = _data()
    calls = []

    def images():
        calls.append("images")
        return x

    def regions():
        calls.append("regions")
        return np.zeros(x.shape[:3], np.uint8)

    cfg = T.TrainConfig(**{**TINY, "epochs": 1})
    first = T.train_cached("fr/lazy", cfg, images, y, data_key="fixture-v1", regions=regions, progress=False)
    assert calls == ["images", "regions"]
    second = T.train_cached("fr/lazy", cfg, images, y, data_key="fixture-v1", regions=regions)
    assert calls == ["images", "regions"]  # the cached run read neither
    assert torch.equal(_params(first.backbone), _params(second.backbone))
    with pytest.raises(ValueError, match="non-negative"):
        T.train_cached("fr/lazy", cfg, images, y - 1, data_key="fixture-v1")


def test_bad_data_is_refused(tmp_path):
    x, y = _data()
    cfg = T.TrainConfig(**TINY)
    with pytest.raises(ValueError, match="uint8"):
        T.train(cfg, x.astype(np.float32), y, work_dir=tmp_path)
    with pytest.raises(ValueError, match="labels must be integers"):
        T.train(cfg, x, y[:-1], work_dir=tmp_path)
    with pytest.raises(ValueError, match="non-negative"):
        T.train(cfg, x, y - 1, work_dir=tmp_path)


def test_lr_schedules():
    cfg = T.TrainConfig(lr=0.1, epochs=10, warmup_epochs=1, schedule="cosine")
    assert T.lr_at(cfg, 0, 10) == pytest.approx(0.01) and T.lr_at(cfg, 9, 10) == pytest.approx(0.1)
    assert T.lr_at(cfg, 99, 10) == pytest.approx(0.1 * 0.5 * (1 + np.cos(np.pi * 89 / 90)))
    step = T.TrainConfig(lr=0.1, epochs=18, warmup_epochs=0, schedule="step", milestones=(5, 10, 15), gamma=0.5)
    assert [T.lr_at(step, e * 10, 10) for e in (0, 5, 10, 15)] == pytest.approx([0.1, 0.05, 0.025, 0.0125])


def _ddp_worker(rank, world, port, x, y, work, queue):
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    r = T.train(T.TrainConfig(**{**TINY, "epochs": 1}), x, y, work_dir=work, progress=False)
    queue.put((rank, _params(r.backbone).numpy()))
    torch.distributed.destroy_process_group()


def test_ddp_two_cpu_processes_agree(tmp_path):
    x, y = _data()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = torch.multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_ddp_worker, args=(r, 2, port, x, y, tmp_path, queue)) for r in range(2)]
    [p.start() for p in procs]
    got = dict(queue.get(timeout=120) for _ in procs)
    [p.join(60) for p in procs]
    assert np.array_equal(got[0], got[1])  # gradients are averaged: the replicas stay identical
    assert (tmp_path / "model.pt").is_file()


def test_wild_augmentation_recolours_background_and_hair_and_tells_hooks_the_flips(tmp_path):
    x, y = _data(size=16)
    x[:, :, :8] = 255 - x[:, :, :8]  # left half differs from the right: mirroring is visible
    x[:, 4:8] = 200  # rows 4-7: "hair" of one flat shade in every image
    x[:, 6:8, 8:] = 120  # ... darker in its right half: the flip must move the shade with the pixels
    regions = np.zeros(x.shape[:3], np.uint8)
    regions[:, :4] = T.REGION_BACKGROUND  # the top rows are "background"
    regions[:, 4:8] = T.REGION_HAIR
    seen = []

    class Hook:
        uses_flips = True

        def __call__(self, images, idx, rng, flipped=None):
            seen.append((images.copy(), np.asarray(idx), np.asarray(flipped)))
            return images

    wild_images = {}
    for phot, hair in (("none", True), ("wild", False), ("wild", True)):
        seen.clear()
        cfg = T.TrainConfig(**{**TINY, "epochs": 1}, photometric=phot, wild_gray=1.0, wild_hair=hair)
        T.train(cfg, x, y, work_dir=tmp_path / f"{phot}{hair}", progress=False, batch_hook=Hook(), regions=regions,
                max_steps=1)
        images, idx, flipped = seen[0]
        assert flipped.dtype == bool and flipped.any() and (~flipped).any()
        originals = np.where(flipped[:, None, None, None], x[idx][:, :, ::-1], x[idx])
        if phot == "none":
            np.testing.assert_array_equal(images, originals)  # the loop's flips are the ones it reports
            continue
        wild_images[hair] = images.astype(int)
        assert (images[..., 0] == images[..., 2]).all()  # wild_gray=1: every image grey
        top = images[:, :4].reshape(len(idx), -1)
        assert (top == top[:, :1]).all()  # background: one flat colour per image
        assert len(np.unique(top[:, 0])) > 1  # ... different between images
        dark = np.where(flipped[:, None, None], images[:, 6:8, :8, 0], images[:, 6:8, 8:, 0]).astype(int)
        assert (dark <= images[:, 4:6, :, 0].min((1, 2))[:, None, None]).all()  # the shade moved with the flip
    # the same seed draws the same background, gains, offset and grey: only the hair rows differ
    np.testing.assert_array_equal(wild_images[True][:, :4], wild_images[False][:, :4])
    np.testing.assert_array_equal(wild_images[True][:, 8:], wild_images[False][:, 8:])
    changed = (wild_images[True][:, 4:8] != wild_images[False][:, 4:8]).any(axis=(1, 2, 3))
    assert changed.all()  # a new hair colour in every image


def test_photometric_settings_are_checked(tmp_path):
    x, y = _data(size=16)
    with pytest.raises(ValueError, match="photometric"):
        T.train(T.TrainConfig(**TINY, photometric="sepia"), x, y, work_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match="regions maps"):
        T.train(T.TrainConfig(**TINY), x, y, work_dir=tmp_path, progress=False, regions=np.zeros((3, 16, 16), np.uint8))


def test_a_fraction_of_an_epoch_ends_inside_it(tmp_path):
    """epochs=1.5 with 3 steps an epoch: round(4.5) = 4 steps, the second epoch cut after one; the key of
    epochs=1.0 is the key of epochs=1 (one run)."""
    x, y = _data(n_cls=4, per=12)  # 48 images, batch 16: 3 steps an epoch
    r = T.train(T.TrainConfig(**{**TINY, "epochs": 1.5}), x, y, work_dir=tmp_path / "a", progress=False)
    assert r.history["step"].tolist() == [3, 4]
    assert (tmp_path / "a" / T.FINAL).is_file()
    assert T.TrainConfig(epochs=1.0).key() == T.TrainConfig(epochs=1).key()
    with pytest.raises(ValueError, match="epochs"):
        T.TrainConfig(epochs=0)


def test_compile_is_part_of_the_key_only_when_set():
    eager = T.TrainConfig(**TINY)
    assert "compile" not in eager.key()  # the keys of every eager (earlier) run stay as they were
    compiled = T.TrainConfig(**TINY, compile="default")
    assert compiled.key()["compile"] == "default" and compiled.key() != eager.key()
    tuned = T.TrainConfig(**TINY, compile="default", pretrain={"epochs": 1})
    assert tuned.pretrain_config().compile == "default" and tuned.key()["pretrain"]["compile"] == "default"
    with pytest.raises(ValueError, match="TrainConfig.compile='fast': choose one of"):
        T.TrainConfig(**TINY, compile="fast")


def test_fr_train_at_keeps_the_notebooks_own_seed_key():
    from lib.recognition.config import fr_train_at

    base = {"epochs": 0.5, "pretrain": {"epochs": 2}}
    assert fr_train_at(base, 0, 0) == base and "seed" not in fr_train_at(None, 3, 3)  # the notebook's own models
    other = fr_train_at(base, 1, 0)
    assert other == {**base, "seed": 1} and base == {"epochs": 0.5, "pretrain": {"epochs": 2}}  # a copy
    cfg = T.TrainConfig(**other)
    assert cfg.pretrain_config().seed == 1 and cfg.key() != T.TrainConfig(**base).key()


def test_wild_hair_is_in_the_key_only_when_it_acts():
    assert "wild_hair" not in T.TrainConfig(**TINY).key()  # the hair as rendered: the key runs had before it
    hair = T.TrainConfig(**TINY, wild_hair=True)
    assert hair.key()["wild_hair"] is True
    assert "wild_hair" not in T.TrainConfig(**TINY, wild_hair=True, pretrain={"epochs": 1}).key()["pretrain"]
    assert "wild_hair" not in T.TrainConfig(**TINY, wild_hair=True, photometric="none").key()  # nothing to recolour
    both = T.TrainConfig(**TINY, wild_hair=True, pretrain={"epochs": 1, "wild_hair": True})
    assert both.key()["pretrain"]["wild_hair"] is True  # a pretraining recolours hair only when it says so


@pytest.mark.skipif(not any(map(shutil.which, ("c++", "g++", "clang++"))),
                    reason="TorchInductor needs a C++ compiler")
def test_compiled_training_learns_and_saves_the_plain_modules_weights(tmp_path):
    x, y = _data()
    r = T.train(T.TrainConfig(**{**TINY, "epochs": 3}, compile="default"), x, y, work_dir=tmp_path, progress=False)
    assert r.history["loss"].iloc[-1] < r.history["loss"].iloc[0]
    saved = T.load(tmp_path / "model.pt")["backbone"]
    assert set(saved) == set(r.backbone.state_dict())  # no "_orig_mod." prefixes: loads into a plain backbone

"""lib.inpaint.train: a stopped training resumes to the same weights; the run cache reuses a model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lib.inpaint import train as itrain

FACES = np.random.default_rng(0).integers(0, 256, (16, 24, 24, 3), dtype=np.uint8)


def _cfg(variant="gan", **kw):
    return itrain.InpaintConfig(variant=variant, size=16, width=0.05, epochs=2, batch_size=8, threads=1, **kw)


@pytest.mark.parametrize("variant", ["gan", "gan_masked"])
def test_resume_equals_uninterrupted(tmp_path, variant):
    full = itrain.train(_cfg(variant), FACES, work_dir=tmp_path / "a", progress=False)
    part = itrain.train(_cfg(variant), FACES, work_dir=tmp_path / "b", progress=False, max_steps=3)
    assert part.resumed_from is None and not (tmp_path / "b" / itrain.FINAL).exists()
    resumed = itrain.train(_cfg(variant), FACES, work_dir=tmp_path / "b", progress=False)
    assert resumed.resumed_from == 3
    for k, v in full.generator.state_dict().items():
        assert torch.equal(v, resumed.generator.state_dict()[k]), k
    assert list(resumed.history["epoch"]) == [1, 2]
    assert {"d_loss", "adversarial", "pixel", "d_real", "d_fake"} <= set(full.history.columns)


def test_generator_only_has_no_discriminator(tmp_path):
    r = itrain.train(_cfg("generator"), FACES, work_dir=tmp_path, progress=False)
    assert r.discriminator is None and "d_loss" not in r.history and np.isfinite(r.history["pixel"]).all()


def test_train_cached_loads_the_same_generator(isolated_dirs):
    key = {"faces": "random16"}
    first = itrain.train_cached(_cfg("generator"), FACES, data_key=key, progress=False)
    second = itrain.train_cached(_cfg("generator"), FACES, data_key=key, progress=False)
    assert first.work_dir == second.work_dir and (second.work_dir / itrain.FINAL).is_file()
    x = torch.rand(2, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(first.generator.eval()(x), second.generator(x))
    assert second.generator.train_size == 16


def test_config_checks():
    assert itrain.InpaintConfig.paper().size == 256 and itrain.InpaintConfig.paper().epochs == 20
    assert itrain.as_config({"epochs": 3}, variant="generator").adversarial is False
    with pytest.raises(ValueError, match="multiple of 16"):
        itrain.InpaintConfig(size=40)
    with pytest.raises(ValueError, match="pixel_reduction"):
        itrain.InpaintConfig(pixel_reduction="max")
    with pytest.raises(ValueError, match="fewer than one batch"):
        itrain.train(_cfg(), FACES[:4], work_dir="unused", progress=False)


def test_variants_trained_side_by_side_equal_those_trained_in_turn(isolated_dirs, monkeypatch, tmp_path):
    from lib.data.faceset import FaceSetWriter, read_faceset
    import pandas as pd

    from lib.inpaint import methods

    card = {"name": "t", "kind": "synthetic", "version": "1", "seed": 0, "parameters": {}, "generator": "test"}
    with FaceSetWriter(tmp_path / "fs", n=16, image_size=(24, 24), card=card) as w:
        w.append(FACES, pd.DataFrame({"identity": [f"p{i % 4}" for i in range(16)], "split": ["train"] * 16,
                                      "session": "A", "emotion": "neutral", "pose": "S", "source": "noise",
                                      "yaw": [0.0] * 16}))
    fs = read_faceset(tmp_path / "fs")
    # "a again" is "a" under another name (as 02's diagnosis run can equal a profile's model): one job for both,
    # never two processes in one work directory
    cfgs = {"a": _cfg("generator"), "a again": _cfg("generator"), "b": _cfg("generator", lr_g=5e-4)}
    side = methods.train_variants(fs, cfgs, workers=2)
    assert all((methods.cache_dir(fs, c) / itrain.FINAL).is_file() for c in cfgs.values())
    assert len({methods.cache_dir(fs, c) for c in cfgs.values()}) == 2
    assert not list(methods.cache_dir(fs, cfgs["a"]).parent.glob("*.work"))
    monkeypatch.setenv("FACEAUG_RUNS", str(tmp_path / "runs2"))
    turn = methods.train_variants(fs, cfgs, workers=1)
    for k in cfgs:
        for name, v in side[k].generator.state_dict().items():
            assert torch.equal(v, turn[k].generator.state_dict()[name]), (k, name)

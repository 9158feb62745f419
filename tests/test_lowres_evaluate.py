"""lib.lowres.evaluate: degradations, the three tests on toy embedders, the engine suite."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from lib.data.engine.labels import ID
from lib.lowres import evaluate as protocols

N_IDS, PER_ID = 12, 6


def _data(seed=0):
    """Images whose identity is a bright column (one per identity); otherwise faint noise."""
    rng = np.random.default_rng(seed)
    ids = np.repeat(np.arange(N_IDS), PER_ID)
    images = rng.integers(0, 10, (len(ids), 16, 16, 3)).astype(np.uint8)
    images[np.arange(len(ids)), :, ids, :] = 250
    return images, ids


def colour_embed(images):
    """Column profile of the image: one-hot-like per identity, so cosine separates identities."""
    return np.asarray(images, dtype=np.float64).mean(axis=(1, 3))


def test_degrade_all_and_surveillance_shapes():
    images, _ = _data()
    out = protocols.degrade_all(images[:3], 4)
    assert out.shape == images[:3].shape and out.dtype == np.uint8
    np.testing.assert_array_equal(protocols.degrade_all(images[:2], 16), images[:2])
    s = protocols.surveillance(images[:2], 8, 0.5, 2.0, np.random.default_rng(0))
    s2 = protocols.surveillance(images[:2], 8, 0.5, 2.0, np.random.default_rng(0))
    assert s.shape == images[:2].shape and np.array_equal(s, s2)


def test_lfw_resolutions_perfect_on_separable_identities():
    from lib.evaluation.verification import make_pairs

    images, ids = _data()
    pairs = make_pairs(ids, 60, 60, np.random.default_rng(0), folds=4)
    res = protocols.lfw_resolutions(colour_embed, images, pairs, resolutions=(4, 16))
    assert set(res) == {4, 16}
    assert res[16]["acc"] > 0.95 and res[16]["n_folds"] == 4 and res[16]["acc_se"] >= 0


def test_closed_set_and_tar():
    images, ids = _data()
    gallery = np.arange(0, len(ids), PER_ID)
    probes = {"d1": (images[gallery + 1], ids[gallery + 1])}
    r = protocols.closed_set_distances(colour_embed, images[gallery], ids[gallery], probes)
    assert r["d1"]["rank1"] == 1.0
    a, b = np.arange(0, 60, 2), np.arange(1, 60, 2)
    same = ids[a] == ids[b]
    a = np.r_[a, np.arange(30)]
    b = np.r_[b, np.arange(30) + PER_ID * 3]
    same = np.r_[same, np.zeros(30, bool)]
    v = protocols.verification_tar(colour_embed, images, {"a": a, "b": b, "same": same}, fars=(1e-1,))
    assert v["tar"][0.1] == 1.0 and 0 <= v["acc"] <= 1


def _engine_like():
    rows = []
    for k in range(8):
        for pose in ("FL", "HL", "S", "HR", "FR"):
            for emo in ("happy", "neutral", "sad"):
                rows.append({"identity": f"s{k}", "pose": pose, "emotion": emo, "split": "test" if k < 6 else "train"})
    meta = pd.DataFrame(rows)
    rng = np.random.default_rng(0)
    parsing = np.zeros((len(meta), 32, 32), np.uint8)
    parsing[:, 8:24, 8:24] = 1  # a face square on background 0
    parsing[:, 4:8, 8:24] = ID["hair"]  # hair above it
    return SimpleNamespace(meta=meta, images=rng.integers(0, 256, (len(meta), 32, 32, 3)).astype(np.uint8),
                           array=lambda name: {"parsing": parsing}[name],
                           cache_key=lambda: {"test": "engine_like", "n": len(meta)})  # what the run cache keys it by


def test_engine_suite_uses_test_identities_and_the_right_poses():
    fs = _engine_like()
    cfg = protocols.EngineProtocol(num_pairs=24, qmul_pairs=120, probes_per_identity=2)
    s = protocols.engine_suite(fs, cfg)
    m = fs.meta.iloc[s["rows"]]
    assert set(m["split"]) == {"test"} and set(m["pose"]) == {"HL", "S", "HR"}
    lfw_rows = np.r_[s["lfw_pairs"]["a"], s["lfw_pairs"]["b"]]
    assert set(m["pose"].to_numpy()[lfw_rows]) == set(cfg.lfw_poses) == {"HL", "S", "HR"}
    g_images, g_ids = s["gallery"]
    assert len(g_ids) == 6 and set(s["probes"]) == {"d1", "d2", "d3"}
    assert all(len(p[1]) == 12 and set(p[1]) <= set(g_ids) for p in s["probes"].values())
    assert s["qmul_pairs"]["same"].sum() == 40 and "fold" not in s["qmul_pairs"]
    again = protocols.engine_suite(fs, cfg)
    np.testing.assert_array_equal(again["probes"]["d1"][0], s["probes"]["d1"][0])
    out = protocols.evaluate(colour_embed, s)
    assert {"lfw.7", "lfw.112", "lfw_se.7", "scface.d1", "scface.d3", "qmul.tar_far1e-2", "qmul.acc"} <= set(out)
    for d in ("d1", "d2", "d3"):  # one rank-1 hit per probe, for McNemar's test (paired_rank1)
        hits = np.frombuffer(out[f"scface_correct.{d}"].encode(), np.uint8) == ord("1")
        assert hits.size == 12 and hits.mean() == pytest.approx(out[f"scface.{d}"])
    lfw = protocols.engine_lfw(fs, cfg)  # the LFW-style part alone: the same images, persons and pairs
    assert set(lfw) == {"images", "ids", "rows", "lfw_pairs", "resolutions"}
    for k in ("images", "ids", "rows"):
        np.testing.assert_array_equal(lfw[k], s[k])
    for k in ("a", "b", "same", "fold"):
        np.testing.assert_array_equal(lfw["lfw_pairs"][k], s["lfw_pairs"][k])


def test_wild_conditions_vary_per_image_and_keep_the_face():
    images = np.full((2, 8, 8, 3), 100, np.uint8)
    bg = np.zeros((2, 8, 8), bool)
    bg[:, :2] = True
    out = protocols.wild(images, bg, np.random.default_rng(0), gain=(1.0, 1.0), offset=0.0)
    assert (out[..., 0] == out[..., 1]).all() and (out[:, 2:] == 100).all()  # grey; face unchanged at unit gain
    assert not np.array_equal(out[0, :2], out[1, :2])  # each image its own background
    s = protocols.engine_suite(_engine_like(), protocols.EngineProtocol(num_pairs=24, qmul_pairs=120,
                                                                         probes_per_identity=2, photometric="none"))
    np.testing.assert_array_equal(s["images"], _engine_like().images[s["rows"]])
    with pytest.raises(ValueError, match="photometric"):
        protocols.engine_suite(_engine_like(), protocols.EngineProtocol(photometric="sepia"))
    # hair=False (default): the hair as rendered; hair=True: the same draws, only the hair pixels differ
    cfg = protocols.EngineProtocol(num_pairs=24, qmul_pairs=120, probes_per_identity=2)
    assert not cfg.hair and "hair" not in cfg.key() and replace(cfg, hair=True).key()["hair"] is True
    without = protocols.engine_lfw(_engine_like(), cfg)["images"]
    with_hair = protocols.engine_lfw(_engine_like(), replace(cfg, hair=True))["images"]
    hair = np.zeros(with_hair.shape[:3], bool)
    hair[:, 4:8, 8:24] = True
    np.testing.assert_array_equal(with_hair[~hair], without[~hair])
    assert (with_hair[hair] != without[hair]).mean() > 0.9


def test_engine_lfw_cached_wild_images_equal_the_drawn_ones(isolated_dirs):
    from lib import runcache

    fs = _engine_like()
    cfg = protocols.EngineProtocol(num_pairs=24, qmul_pairs=120, probes_per_identity=2)
    assert cfg.photometric == "wild"
    drawn = protocols.engine_lfw(fs, cfg)
    for status in ("built", "loaded"):
        cached = protocols.engine_lfw(fs, cfg, cache=True)
        assert [e["status"] for e in runcache.log() if e["name"] == "lowres/wild"][-1] == status
        np.testing.assert_array_equal(cached["images"], drawn["images"])
        assert not cached["images"].flags.writeable
    for k in ("a", "b", "same", "fold"):
        np.testing.assert_array_equal(cached["lfw_pairs"][k], drawn["lfw_pairs"][k])
    whole, whole_cached = protocols.engine_suite(fs, cfg), protocols.engine_suite(fs, cfg, cache=True)
    for k in ("images", "qmul_images"):
        np.testing.assert_array_equal(whole_cached[k], whole[k])
    for d, (imgs, ids) in whole["probes"].items():
        np.testing.assert_array_equal(whole_cached["probes"][d][0], imgs)


def test_engine_suite_without_test_images():
    fs = _engine_like()
    fs.meta["split"] = "train"
    with pytest.raises(ValueError, match="no test images"):
        protocols.engine_suite(fs)


def test_paired_rank1_counts_the_probes_only_one_method_identified():
    base = {"scface.d1": 0.5, "scface_correct.d1": "111000"}
    better = {"scface.d1": 1.0, "scface_correct.d1": "111111"}
    t = protocols.paired_rank1({"arcface": base, "crb": better, "other": {"lfw.7": 0.5}})
    assert list(t.columns[:2]) == ["method", "distance"] and t["method"].tolist() == ["crb"]
    r = t.iloc[0]
    assert (r["distance"], r["only_method"], r["only_baseline"]) == ("d1", 3, 0)
    assert r["diff"] == pytest.approx(0.5) and r["p"] == pytest.approx(0.25)  # 3 of 3 discordant: 2 * 0.5**3
    with pytest.raises(ValueError, match="no results of the baseline"):
        protocols.paired_rank1({"crb": better})


def test_fold_accuracies_from_the_decision_strings():
    pairs = {"fold": np.array([0, 0, 1, 1, 1, 2])}
    acc = protocols.fold_accuracies({"lfw_correct.7": "101100"}, pairs, 7)
    np.testing.assert_allclose(acc, [0.5, 2 / 3, 0.0])
    with pytest.raises(ValueError, match="lfw_correct.7 holds 3 decisions"):
        protocols.fold_accuracies({"lfw_correct.7": "101"}, pairs, 7)


def test_wild_images_is_the_protocols_drawing():
    fs = _engine_like()
    cfg = protocols.EngineProtocol(num_pairs=24, qmul_pairs=120, probes_per_identity=2)
    for hair, variant in ((False, None), (True, "recolour")):
        suite = protocols.engine_lfw(fs, replace(cfg, hair=hair))
        np.testing.assert_array_equal(protocols.wild_images(fs, suite["rows"], cfg.seed, hair=variant), suite["images"])
    with pytest.raises(ValueError, match="hair must be None, 'recolour' or 'background'"):
        protocols.wild_images(fs, suite["rows"], cfg.seed, hair="sepia")

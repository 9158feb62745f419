"""lib.fserasing.methods (cache names, hooks), evaluate (occluded verification) and fscam."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from lib.fserasing import evaluate, fscam, methods, transform


def fake_faceset(n_id=4, per_id=4, size=16):
    ids = np.repeat([f"p{i}" for i in range(n_id)], per_id)
    split = np.where(np.arange(len(ids)) < len(ids) // 2, "train", "test")
    images = np.random.default_rng(0).integers(0, 256, (len(ids), size, size, 3), dtype=np.uint8)
    return SimpleNamespace(meta=pd.DataFrame({"identity": ids, "split": split}), images=images,
                           card={"arrays": {"images.npy": {"sha256": "0" * 64}}})


def test_unknown_names_are_refused():
    with pytest.raises(ValueError, match="head 'cosface'"):
        methods.cache_dir(fake_faceset(), "cosface", "none")
    with pytest.raises(ValueError, match="augmentation 'mixup'"):
        methods.cache_dir(fake_faceset(), "arcface", "mixup")


def test_cache_names_and_the_shared_baseline(isolated_dirs):
    fs = fake_faceset()
    assert methods.cache_dir(fs, "arcface", "none").parent.name == "arcface"  # the plain shared baseline
    assert methods.cache_dir(fs, "softmax", "none").parent.name == "softmax_none"
    dirs = {a: methods.cache_dir(fs, "arcface", a) for a in methods.AUGMENTATIONS}
    assert dirs["fserasing"].parent.name == "arcface_fserasing" and len(set(dirs.values())) == len(methods.AUGMENTATIONS)
    # the hook's parameters and the parser are part of the key
    assert methods.cache_dir(fs, "arcface", "cutout", params={"cutout": {"size": 20}}) != dirs["cutout"]
    assert methods.cache_dir(fs, "arcface", "fserasing", parser_train={"epochs": 9}) != dirs["fserasing"]
    assert methods.cache_dir(fs, "arcface", "cutout", {"epochs": 3}) != dirs["cutout"]


def test_trained_model_never_trains(isolated_dirs):
    with pytest.raises(LookupError, match="run notebooks/03_fserasing.ipynb"):
        methods.trained_model(fake_faceset(), "softmax", "fserasing", {"epochs": 1})


def test_make_hook_kinds_and_params():
    assert methods.make_hook("none") is None
    assert isinstance(methods.make_hook("cutout", {"cutout": {"size": 9}}), transform.CutoutHook)
    assert methods.make_hook("cutout", {"cutout": {"size": 9}}).size == 9
    with pytest.raises(ValueError, match="masks"):
        methods.make_hook("fserasing")
    hook = methods.make_hook("fserasing", {"fserasing": {"n_erase_range": [1, 3]}}, masks=np.zeros((1, 2, 2), np.uint8),
                            images=np.zeros((1, 2, 2, 3), np.uint8))
    assert hook.n_erase == (1, 3) and hook.key()["n_erase_kind"] == "tuple"


def test_fserasing_training_needs_the_training_masks(isolated_dirs):
    fs = fake_faceset()
    with pytest.raises(ValueError, match="parser masks of the 8 training images"):
        methods.train_model(fs, "softmax", "fserasing", {"epochs": 1}, masks=np.zeros((3, 16, 16), np.uint8))


def test_occlusions_are_deterministic_and_named():
    images = np.full((2, 112, 112, 3), 128, np.uint8)
    for kind in evaluate.OCCLUSIONS:
        a, b = evaluate.occlude(images, kind, seed=1), evaluate.occlude(images, kind, seed=1)
        assert np.array_equal(a, b) and (a != images).any()
    with pytest.raises(ValueError, match="occlusion 'hat'"):
        evaluate.occlude(images, "hat")


def test_cached_occlusions_equal_computed_ones(isolated_dirs):
    images = np.random.default_rng(0).integers(0, 256, (3, 112, 112, 3), dtype=np.uint8)
    for _ in range(2):  # built, then loaded
        cached = evaluate.occlude(images, "band", seed=2, cache=True)
        assert np.array_equal(cached, evaluate.occlude(images, "band", seed=2)) and not cached.flags.writeable
    assert not np.array_equal(evaluate.occlude(images, "band", seed=3, cache=True), cached)


def test_verification_of_perfect_embeddings():
    meta = pd.DataFrame({"identity": np.repeat([f"p{i}" for i in range(8)], 3), "split": "test"})
    meta = pd.concat([meta.assign(split="train").iloc[:3], meta])  # the rows are positions in the whole meta
    pairs = evaluate.heldout_pairs(meta, 40, seed=0)
    assert pairs["rows"].min() >= 3 and max(pairs["a"].max(), pairs["b"].max()) == len(pairs["rows"]) - 1
    emb = np.eye(8)[np.r_[0, 0, 0, np.repeat(np.arange(8), 3)]][pairs["rows"]]  # the used rows' embeddings
    r = evaluate.verification(emb, emb, pairs)
    assert r["acc"] == 1.0 and r["eer"] == 0.0 and len(r["scores"]) == len(pairs["same"])
    with pytest.raises(ValueError, match="no test identities"):
        evaluate.heldout_pairs(meta.assign(split="train"), 40)


@pytest.fixture(scope="module")
def tiny_classifier():
    import torch

    from lib.recognition.backbones import create_backbone
    from lib.recognition.heads import create_head

    torch.manual_seed(0)
    backbone = create_backbone("iresnet_tiny").eval()
    return backbone, create_head("softmax", backbone.embedding_size, 3).eval()


def test_fscam_scores_and_saliency(tiny_classifier):
    backbone, head = tiny_classifier
    images = np.random.default_rng(0).integers(0, 256, (2, 112, 112, 3), dtype=np.uint8)
    masks = np.zeros((2, 112, 112), np.uint8)
    masks[:, :56], masks[:, 56:] = 10, 21  # nose on top, hair below
    out = fscam.fscam(backbone, head, images, masks)
    assert out["saliency"].shape == (2, 112, 112) and 0 <= out["saliency"].min() and out["saliency"].max() <= 1
    assert out["present"][:, [10, 21]].all() and out["present"].sum() == 4
    assert (out["scores"][:, [10, 21]] > 0).all() and (out["scores"][~out["present"]] == 0).all()
    top = np.where(out["scores"][:, 10] > out["scores"][:, 21], 0, 111)  # the higher-scored region is the hot one
    assert all(out["saliency"][i, top[i], 50] == 1.0 for i in range(2))
    with pytest.raises(ValueError, match="must match the images"):
        fscam.fscam(backbone, head, images, masks[:, :50])


def test_gradcam_maps(tiny_classifier):
    backbone, head = tiny_classifier
    images = np.random.default_rng(1).integers(0, 256, (2, 112, 112, 3), dtype=np.uint8)
    maps = fscam.gradcam(backbone, head, images)
    assert maps.shape == (2, 112, 112) and 0 <= maps.min() and maps.max() <= 1


def test_class_importance_averages_over_images_with_the_class():
    scores = np.zeros((2, 25))
    present = np.zeros((2, 25), bool)
    scores[0, 1], scores[1, 1], present[:, 1] = 0.2, 0.4, True
    scores[0, 2], present[0, 2] = 0.5, True
    imp = fscam.class_importance(scores, present)
    assert imp[1] == pytest.approx(0.3) and imp[2] == 0.5 and np.isnan(imp[3])


def test_exact_masks_come_from_the_faceset_and_need_parsing_maps():
    fs = fake_faceset()
    parsing = np.random.default_rng(0).integers(0, 25, (len(fs.images), 16, 16)).astype(np.uint8)
    with_maps = SimpleNamespace(**vars(fs), has=lambda name: name == "parsing", array=lambda name: parsing,
                                root="fake")
    rows = np.flatnonzero(fs.meta["split"] == "train")
    np.testing.assert_array_equal(methods.exact_masks(with_maps), parsing[rows])
    without = SimpleNamespace(**vars(fs), has=lambda name: False, root="fake")
    with pytest.raises(ValueError, match="no parsing.npy"):
        methods.exact_masks(without)


def test_paired_tests_against_any_reference():
    """McNemar per (head, augmentation) against the same head's reference: clean, and the occlusions pooled."""
    from lib.fserasing.evaluate import paired_tests

    def res(clean, occ):
        return {"clean": {"correct": np.asarray(clean, bool)}, "band": {"correct": np.asarray(occ, bool)},
                "mouth": {"correct": np.asarray(occ, bool)}, "summary": {}}

    n = 40
    results = {("arcface", "none"): res([1] * n, [0] * n), ("arcface", "fserasing"): res([1] * n, [1] * n),
               ("arcface", "cutout"): res([1] * (n - 10) + [0] * 10, [1] * n)}
    t = paired_tests(results).set_index(["augmentation", "condition"])
    assert t.loc[("fserasing", "occluded"), "diff"] == 1.0 and t.loc[("fserasing", "occluded"), "only_aug"] == 2 * n
    assert t.loc[("fserasing", "occluded"), "p"] < 1e-20 and t.loc[("fserasing", "clean"), "p"] == 1.0
    r = paired_tests(results, reference="fserasing").set_index(["augmentation", "condition"])
    assert r.loc[("cutout", "clean"), "diff"] == -0.25 and r.loc[("cutout", "clean"), "only_ref"] == 10
    assert r.loc[("cutout", "clean"), "p"] < 0.01 and ("fserasing", "clean") not in r.index
    empty = paired_tests(results, reference="random_erasing")
    assert empty.empty and "augmentation" in empty.columns  # no model with that augmentation: no rows, same columns

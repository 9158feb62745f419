"""lib.fra.methods: the steps 01_fra and 05_cross_method share, on a tiny synthetic meta table."""

import numpy as np
import pandas as pd
import pytest

from lib.fra import methods

POSES, EMOTIONS = ["FL", "S", "FR"], ["happy", "neutral"]


def _meta(n_train=3, n_test=2):
    rows = []
    for split, n in (("train", n_train), ("test", n_test)):
        for p in range(n):
            for pose in POSES:
                for emo in EMOTIONS:
                    rows.append({"identity": f"{split}{p}", "split": split, "pose": pose, "emotion": emo})
    return pd.DataFrame(rows)


def test_protocol_pairs_use_their_own_split_and_only_found_images():
    m = _meta()
    found = np.ones(len(m), bool)
    found[m.index[(m["identity"] == "train0") & (m["pose"] == "FL")]] = False
    pairs, notes = methods.protocol_pairs(m, found, num_pairs=40, seed=0)
    assert set(pairs) == {"paper", "heldout"}
    for proto, split in (("paper", "test"), ("heldout", "train")):
        p = pairs[proto]
        assert len(p) > 0 and (p[methods.NEGATIVES] >= 0).all().all()
        used = np.unique(p[["posture", "input", "target"]].to_numpy())
        assert (m.loc[used, "split"] == split).all()
        assert found[used].all()
    assert isinstance(notes, list)


def test_heldout_generation_takes_posture_from_training_identities_at_the_requested_pose():
    m = _meta()
    found = np.ones(len(m), bool)
    requests, posture, dropped = methods.heldout_generation(m, found, gallery_poses=["S"], seed=0)
    assert dropped == 0 and len(requests) == len(posture) == 2 * len(EMOTIONS) * 2  # 2 test ids x emotions x 2 poses
    assert (m.loc[posture, "split"] == "train").all()
    np.testing.assert_array_equal(m.loc[posture, "pose"].to_numpy(), requests["pose"].to_numpy())
    np.testing.assert_array_equal(m.loc[posture, "emotion"].to_numpy(), requests["emotion"].to_numpy())
    assert (m.loc[requests["source"], "split"] == "test").all()
    # no training image of pose FR has a map: those requests are dropped and counted
    found[((m["split"] == "train") & (m["pose"] == "FR")).to_numpy()] = False
    r2, p2, dropped2 = methods.heldout_generation(m, found, gallery_poses=["S"], seed=0)
    assert dropped2 == 2 * len(EMOTIONS) and (r2["pose"] != "FR").all() and len(r2) == len(p2)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="landmark_source"):
        methods.landmark_maps_cached(None, "mediapipe")
    with pytest.raises(ValueError, match="protocol"):
        methods.fra_model(None, "arcface", "leaky", maps=None, embeddings=None, pairs=None, landmark_source="dlib",
                           num_pairs=1)


def test_fra_key_follows_the_embeddings_content():
    """A retrained FRL backbone (other embeddings, same config dict) must not find the old FRA model."""
    from types import SimpleNamespace

    fs = SimpleNamespace(card={"arrays": {"images.npy": {"sha256": "ab" * 32}}})
    emb = np.random.default_rng(0).normal(size=(6, 128)).astype(np.float32)
    kw = dict(landmark_source="dlib", num_pairs=10, fr_train={})
    k1 = methods.fra_data_key(fs, "arcface", "heldout", embeddings=emb, **kw)
    assert k1 == methods.fra_data_key(fs, "arcface", "heldout", embeddings=emb.copy(), **kw)
    assert k1 != methods.fra_data_key(fs, "arcface", "heldout", embeddings=emb + 1e-3, **kw)
    assert k1 != methods.fra_data_key(fs, "arcface", "paper", embeddings=emb, **kw)

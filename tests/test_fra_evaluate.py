"""lib.fra.evaluate (the paper's leaking SVM objectives, the held-out protocol, verification
across poses) and the FRA figure builders of lib.plots, on synthetic embeddings whose
answer is known: identity clusters plus a shared pose offset."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lib.fra import evaluate as fe

POSES = {"FL": -60.0, "HL": -30.0, "S": 0.0, "HR": 30.0, "FR": 60.0}


def synthetic(n_ids=5, emotions=("happy", "sad", "neutral"), poses=POSES, pose_scale=0.5, noise=0.05, d=16,
              seed=0, split="test"):
    """Embeddings = identity centre + pose offset + small emotion offset + noise."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, (n_ids, d))
    pose_off = {p: rng.normal(0, pose_scale, d) for p in poses}
    emo_off = {e: rng.normal(0, 0.3, d) for e in emotions}
    rows, emb = [], []
    for i in range(n_ids):
        for e in emotions:
            for p, yaw in poses.items():
                rows.append({"identity": f"A{i:03d}", "emotion": e, "pose": p, "yaw": yaw, "split": split})
                emb.append(centres[i] + pose_off[p] + emo_off[e] + rng.normal(0, noise, d))
    return np.array(emb), pd.DataFrame(rows)


def fra_pairs(meta, posture_identity=None):
    """The FRA code's pairs (step1 prepare_final_database): for each posture image (e, p)
    and each person2, every person2 image with emotion e is an input, the (e, p) one the target."""
    posture_identity = posture_identity or meta["identity"].iloc[0]
    rows = []
    key = {(r.identity, r.emotion, r.pose): i for i, r in enumerate(meta.itertuples())}
    for post in np.flatnonzero(meta["identity"].to_numpy() == posture_identity):
        e, p = meta["emotion"].iloc[post], meta["pose"].iloc[post]
        for person2 in meta["identity"].unique():
            target = key[(person2, e, p)]
            for inp in np.flatnonzero((meta["identity"] == person2).to_numpy() & (meta["emotion"] == e).to_numpy()):
                rows.append({"posture": post, "input": inp, "target": target})
    return pd.DataFrame(rows).astype(np.int64)


# ============================================================================ paper protocol
def test_paper_rows_follow_the_fra_loop_literally():
    pairs = pd.DataFrame({"input": [0, 2, 1, 4, 0, 5, 3], "target": [1, 3, 0, 4, 0, 6, 7]})
    sel = fe.paper_rows(pairs, 8)
    # pair 0: 0 -> train, 1 -> test; pair 1: 2 -> train, 3 -> test; pair 2: 1 is a test image,
    # 0 a train image: neither added; pair 3: 4 -> train, then 4 is found in train: not a target;
    # pair 4: nothing new; pair 5: 5 -> train, 6 -> test; pair 6: 3 in test, 7 -> test.
    np.testing.assert_array_equal(sel["train"], [0, 2, 4, 5])
    np.testing.assert_array_equal(sel["test"], [1, 3, 6, 7])
    # The first two inputs and targets are taken unconditionally (the code's len in [0, 1]).
    boot = fe.paper_rows(pd.DataFrame({"input": [0, 0, 0], "target": [0, 0, 1]}), 2)
    np.testing.assert_array_equal(boot["train"], [0, 0])
    np.testing.assert_array_equal(boot["test"], [0, 0, 1])
    # Visiting order decides the side an image lands on.
    rev = fe.paper_rows(pairs, 8, order=[2, 1, 0])
    np.testing.assert_array_equal(rev["train"], [1, 2])
    np.testing.assert_array_equal(rev["test"], [0, 3])


def test_paper_rows_coordinate_match_reproduces_the_elementwise_test():
    emb = np.arange(24, dtype=np.float32).reshape(6, 4)
    emb[5, 2] = emb[0, 2]  # row 5 shares one coordinate with row 0
    pairs = pd.DataFrame({"input": [0, 1, 5, 5], "target": [2, 3, 4, 5]})
    assert 5 in fe.paper_rows(pairs, 6)["train"]
    coord = fe.paper_rows(pairs, 6, emb=emb, match="coordinate")
    assert 5 not in coord["train"] and 5 not in coord["test"]
    np.testing.assert_array_equal(coord["test"], [2, 3, 4])
    with pytest.raises(ValueError, match="pass emb"):
        fe.paper_rows(pairs, 6, match="coordinate")
    with pytest.raises(ValueError, match="match must be"):
        fe.paper_rows(pairs, 6, match="fuzzy")


def test_paper_protocol_objectives_row_selection_and_counts():
    emb, meta = synthetic(n_ids=4, emotions=("happy", "sad"), poses={"HL": -30.0, "S": 0.0, "HR": 30.0})
    pairs = fra_pairs(meta)
    rng = np.random.default_rng(1)
    generated = emb[pairs["target"]] + rng.normal(0, 0.05, emb[pairs["target"]].shape)  # a good FRA
    res = fe.paper_protocol(emb, meta, pairs, generated, seed=3)
    assert res["protocol"] == "paper" and res["leaking"] is True
    order = res["order"]
    assert sorted(order) == list(range(len(pairs)))
    sel = fe.paper_rows(pairs, len(meta), order=order)
    rows = res["rows"]
    np.testing.assert_array_equal(rows["baseline"]["train"], sel["train"])
    np.testing.assert_array_equal(rows["baseline"]["test"], sel["test"])
    np.testing.assert_array_equal(rows["generated"]["train"], pairs["input"].to_numpy()[order])
    # After the two bootstrap pairs every test image is a target absent from train, and unique.
    late = sel["test"][2:]
    assert not np.isin(late, sel["train"]).any() and np.unique(late).size == late.size
    assert np.isin(sel["test"], pairs["target"]).all() and np.isin(sel["train"], pairs["input"]).all()
    n = len(pairs)
    for target in fe.TARGETS:
        r = res["results"][target]
        assert (r["generated"]["n_train"], r["generated"]["n_test"]) == (n, n)
        assert (r["baseline"]["n_train"], r["baseline"]["n_test"]) == (sel["train"].size, sel["test"].size)
        assert (r["augmented"]["n_train"], r["augmented"]["n_test"]) == (sel["train"].size + n, sel["test"].size)
        for obj in fe.OBJECTIVES:
            assert 0 <= r[obj]["accuracy"] <= 1
            assert set(r[obj]["svm"]) >= {"roc", "pr", "confusion", "labels"}
    # Clean identity clusters and a faithful generator: identity is easy everywhere.
    assert res["results"]["identity"]["generated"]["accuracy"] == 1.0
    assert res["results"]["identity"]["augmented"]["accuracy"] == 1.0
    assert list(res["accuracy"].index) == list(fe.OBJECTIVES) and list(res["accuracy"].columns) == list(fe.TARGETS)
    assert res["gain"]["identity"] == pytest.approx(res["results"]["identity"]["augmented"]["accuracy"]
                                                    - res["results"]["identity"]["baseline"]["accuracy"])


def test_paper_protocol_objective_2_vs_3_by_hand():
    """Hand-made: identity 1's only training input sits far from its test target; the
    generated embedding of its pair is the target itself, which only objective 3 trains on."""
    c = {0: np.array([0.0, 0.0]), 1: np.array([10.0, 0.0]), 2: np.array([0.0, 10.0])}
    meta = pd.DataFrame({"identity": ["a", "a", "b", "b", "c", "c", "b"],
                         "emotion": ["e"] * 7, "pose": ["S", "HL", "S", "HL", "S", "HL", "FL"]})
    emb = np.stack([c[0], c[0] + 0.1, np.array([-4.0, 4.0]), c[1], c[2], c[2] + 0.1, c[1] + 0.1])
    pairs = pd.DataFrame({"input": [0, 2, 4, 2], "target": [1, 3, 5, 6]})
    generated = emb[pairs["target"]].copy()
    res = fe.paper_protocol(emb, meta, pairs, generated, targets=("identity",), shuffle=False)
    rows = res["rows"]
    np.testing.assert_array_equal(rows["baseline"]["train"], [0, 2, 4])
    np.testing.assert_array_equal(rows["baseline"]["test"], [1, 3, 5, 6])
    r = res["results"]["identity"]
    assert r["baseline"]["n_train"] == 3 and r["augmented"]["n_train"] == 3 + 4
    assert r["augmented"]["accuracy"] == 1.0  # the test targets are in its training set: the leak
    assert r["baseline"]["accuracy"] < 1.0 <= r["augmented"]["accuracy"]  # b's far S input misleads the baseline


def test_rows_are_meta_labels_like_lib_fra_pairs():
    """A meta subset keeps the FaceSet's row labels (lib.fra.pairs refers to rows by them)."""
    emb, meta = synthetic(n_ids=3, emotions=("happy", "sad"), poses={"S": 0.0, "HL": -30.0})
    pairs = fra_pairs(meta)
    shifted = meta.set_axis(meta.index + 100)
    a = fe.paper_protocol(emb, meta, pairs, emb[pairs["target"]], targets=("identity",))
    b = fe.paper_protocol(emb, shifted, pairs.assign(input=pairs["input"] + 100, target=pairs["target"] + 100),
                          emb[pairs["target"]], targets=("identity",))
    np.testing.assert_array_equal(b["rows"]["baseline"]["test"], a["rows"]["baseline"]["test"] + 100)
    assert a["accuracy"].equals(b["accuracy"])
    req = fe.heldout_requests(shifted)
    assert req["source"].min() >= 100
    gen = emb[req["source"].to_numpy() - 100]
    res = fe.heldout_protocol(emb, shifted, (req.assign(pose="HL"), gen))
    assert res["rows"]["gallery"].min() >= 100


def test_paper_protocol_unseen_test_labels_count_as_errors():
    emb, meta = synthetic(n_ids=3, emotions=("happy",), poses={"S": 0.0, "HL": -30.0})
    # identity A002 is only ever a target: its test row has a label the SVM never saw
    pairs = pd.DataFrame({"input": [0, 2, 0], "target": [1, 3, 5]})
    res = fe.paper_protocol(emb, meta, pairs, emb[pairs["target"]], targets=("identity",), shuffle=False)
    b = res["results"]["identity"]["baseline"]
    assert b["n_unseen"] == 1 and b["n_test"] == 3
    assert b["accuracy"] == pytest.approx(b["svm"]["accuracy"] * 2 / 3)


def test_paper_protocol_input_errors():
    emb, meta = synthetic(n_ids=2, emotions=("happy",), poses={"S": 0.0, "HL": -30.0})
    pairs = fra_pairs(meta)
    with pytest.raises(ValueError, match="generated_emb"):
        fe.paper_protocol(emb, meta, pairs, emb[:3])
    with pytest.raises(ValueError, match="not in meta's index"):
        fe.paper_protocol(emb, meta, pairs.assign(target=99), emb[pairs["target"]])
    with pytest.raises(ValueError, match="unknown target"):
        fe.paper_protocol(emb, meta, pairs, emb[pairs["target"]], targets=("age",))
    # a single emotion: the SVM needs two classes, and the error says where
    with pytest.raises(ValueError, match="target 'emotion', objective 'generated'"):
        fe.paper_protocol(emb, meta, pairs, emb[pairs["target"]], targets=("emotion",))


# ============================================================================ held-out protocol
def _generated_from_truth(emb, meta, gallery_poses=("S",)):
    req = fe.heldout_requests(meta, gallery_poses=gallery_poses)
    key = {(r.identity, r.emotion, r.pose): i for i, r in enumerate(meta.itertuples())}
    rows = [key[(r.identity, r.emotion, r.pose)] for r in req.itertuples()]
    return req, emb[rows]


def test_heldout_requests_cover_every_gallery_image_and_missing_pose():
    emb, meta = synthetic(n_ids=3)
    req = fe.heldout_requests(meta)
    assert len(req) == 3 * 3 * 4  # identities x emotions (gallery images) x missing poses
    assert set(req["pose"]) == {"FL", "HL", "HR", "FR"} and (req["source_pose"] == "S").all()
    assert (meta["pose"].to_numpy()[req["source"]] == "S").all()
    assert (meta["identity"].to_numpy()[req["source"]] == req["identity"].to_numpy()).all()


def test_heldout_true_missing_poses_make_augmented_perfect():
    emb, meta = synthetic(n_ids=5, pose_scale=4.0)  # large pose offsets: frontal-only gallery struggles
    res = fe.heldout_protocol(emb, meta, _generated_from_truth(emb, meta))
    assert res["protocol"] == "held-out" and res["leaking"] is False
    assert res["augmented"]["accuracy"] == 1.0
    assert res["augmented"]["accuracy"] >= res["baseline"]["accuracy"]
    assert res["gain"] == pytest.approx(1.0 - res["baseline"]["accuracy"])
    assert res["baseline"]["n_train"] == 5 * 3 and res["augmented"]["n_train"] == 5 * 3 + 5 * 3 * 4
    assert res["baseline"]["n_test"] == 5 * 3 * 4
    assert set(res["per_pose"]["pose"]) == {"FL", "HL", "HR", "FR"}
    assert (res["per_pose"]["n"] == 15).all() and (res["per_pose"]["augmented"] == 1.0).all()
    np.testing.assert_allclose(np.average(res["per_pose"]["baseline"], weights=res["per_pose"]["n"]),
                               res["baseline"]["accuracy"])
    assert not np.isin(res["rows"]["gallery"], res["rows"]["test"]).any()


def test_heldout_noise_cannot_beat_a_perfect_baseline():
    emb, meta = synthetic(n_ids=5, pose_scale=0.2)  # small pose offsets: the frontal gallery suffices
    req, _ = _generated_from_truth(emb, meta)
    noise = np.random.default_rng(7).normal(0, 3, (len(req), emb.shape[1]))
    res = fe.heldout_protocol(emb, meta, (req, noise))
    assert res["baseline"]["accuracy"] == 1.0
    assert res["augmented"]["accuracy"] <= res["baseline"]["accuracy"]


def test_heldout_refuses_leaks_and_one_sided_identities():
    emb, meta = synthetic(n_ids=3)
    gen = _generated_from_truth(emb, meta)
    no_test = ~((meta["identity"] == "A001") & (meta["pose"] != "S")).to_numpy()
    with pytest.raises(ValueError, match=r"missing from the test side: \['A001'\]"):
        fe.heldout_protocol(emb[no_test], meta[no_test].reset_index(drop=True), gen)
    no_gallery = ~((meta["identity"] == "A002") & (meta["pose"] == "S")).to_numpy()
    with pytest.raises(ValueError, match=r"missing from the gallery: \['A002'\]"):
        fe.heldout_protocol(emb[no_gallery], meta[no_gallery].reset_index(drop=True), gen)
    req, g = gen
    with pytest.raises(ValueError, match="not in the gallery"):
        fe.heldout_protocol(emb, meta, (req.assign(identity="Z999"), g))
    probe = int(np.flatnonzero(meta["pose"].to_numpy() == "FL")[0])
    with pytest.raises(ValueError, match="leakage"):
        fe.heldout_protocol(emb, meta, (req.assign(source=probe), g))
    with pytest.raises(ValueError, match="gallery pose"):
        fe.heldout_protocol(emb, meta, (req.assign(pose="S"), g))
    with pytest.raises(ValueError, match="test identities only"):
        fe.heldout_protocol(emb, meta.assign(split="train"), gen)
    with pytest.raises(TypeError, match="pair"):
        fe.heldout_protocol(emb, meta, g)
    with pytest.raises(ValueError, match="two identities"):
        one = (meta["identity"] == "A000").to_numpy()
        fe.heldout_protocol(emb[one], meta[one].reset_index(drop=True), gen)


# ============================================================================ verification across poses
def test_pose_verification_shapes_and_nan_flags():
    emb, meta = synthetic(n_ids=4, pose_scale=4.0)
    res = fe.pose_verification(emb, meta, _generated_from_truth(emb, meta))
    n_probe, n_id = 4 * 3 * 4, 4
    assert res["scores"]["real"].shape == res["scores"]["augmented"].shape == (n_probe, n_id)
    assert res["same"].shape == (n_probe, n_id) and (res["same"].sum(axis=1) == 1).all()
    # the true missing-pose embedding is in the augmented template: genuine max cosine is 1
    np.testing.assert_allclose(res["scores"]["augmented"][res["same"]], 1.0)
    t = res["table"]
    assert set(t["group"]) == {"all", "|yaw| 20-50", "|yaw| 50-90"}
    assert len(t) == 3 * 2 and set(t["template"]) == {"real", "augmented"}
    all_ = t[t["group"] == "all"].set_index("template")
    assert all_.loc["real", "n_impostor"] == n_probe * (n_id - 1) == 144
    # 144 impostor pairs resolve FAR 1e-1 and 1e-2, not 1e-3
    assert all_["enough@far=1e-1"].all() and all_["enough@far=1e-2"].all()
    assert not all_["enough@far=1e-3"].any() and all_["tar@far=1e-3"].isna().all()
    half = t[t["group"] == "|yaw| 20-50"]
    assert (half["n_impostor"] == 72).all() and not half["enough@far=1e-2"].any()
    assert half["tar@far=1e-2"].isna().all()
    assert all_.loc["augmented", "tar@far=1e-1"] == 1.0
    assert all_.loc["augmented", "eer"] <= all_.loc["real", "eer"]
    assert set(res["roc"]) == {"real", "augmented"}


def test_pose_verification_groups_by_pose_without_yaw():
    emb, meta = synthetic(n_ids=3)
    res = fe.pose_verification(emb, meta.drop(columns="yaw"), _generated_from_truth(emb, meta))
    assert set(res["table"]["group"]) == {"all", "pose FL", "pose HL", "pose HR", "pose FR"}


def test_gain_table_from_both_protocols():
    emb, meta = synthetic(n_ids=3, emotions=("happy", "sad"), poses={"S": 0.0, "HL": -30.0})
    pairs = fra_pairs(meta)
    paper = fe.paper_protocol(emb, meta, pairs, emb[pairs["target"]], targets=("identity",))
    held = fe.heldout_protocol(emb, meta, _generated_from_truth(emb, meta))
    t = fe.gain_table({"magface": {"paper": paper, "held-out": held}})
    assert list(t["protocol"]) == ["paper", "held-out"] and list(t["leaking"]) == [True, False]
    np.testing.assert_allclose(t["gain"], t["augmented"] - t["baseline"])


# ============================================================================ plots
@pytest.fixture
def agg():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


def test_fra_plot_builders_return_figures(agg):
    from matplotlib.figure import Figure

    from lib.fra import plots

    emb, meta = synthetic(n_ids=8)
    req, gen = _generated_from_truth(emb, meta)
    table = pd.DataFrame({"source": ["magface", "arcface", "dlib"] * 2, "protocol": ["paper"] * 3 + ["held-out"] * 3,
                          "baseline": [0.8, 0.7, 0.6, 0.5, 0.4, 0.45], "augmented": [0.85, 0.75, 0.6, 0.55, 0.4, 0.5]})
    maps = (np.random.default_rng(0).random((10, 112, 112, 1)) > 0.98).astype(float)
    figs = {
        "pca": plots.pca_real_vs_generated(emb, gen, meta["identity"], req["identity"], max_identities=6),
        "gain": plots.gain_bars(table),
        "gain_none": plots.gain_bars(table, published={}),
        "recon": plots.reconstructions(maps, maps * 0.9, n=8),
        "recon_chw": plots.reconstructions(maps.transpose(0, 3, 1, 2), maps.transpose(0, 3, 1, 2), n=20),
    }
    for name, fig in figs.items():
        assert isinstance(fig, Figure), name
    assert len(figs["pca"].axes[0].collections) == 12  # 6 identities x (real, generated)
    texts = [t.get_text() for t in figs["gain"].axes[0].texts]
    assert "+9.52" in texts and "+10.04" in texts  # published marks on the paper panel only
    assert not any("9.52" in t.get_text() for t in figs["gain"].axes[1].texts)
    assert len(figs["recon_chw"].axes) == 20
    with pytest.raises(ValueError, match="differ"):
        plots.reconstructions(maps, maps[:, :50])
    with pytest.raises(ValueError, match="lacks"):
        plots.gain_bars(table.drop(columns="baseline"))


def test_copy_input_and_target_similarity():
    rows = [{"identity": f"{s}{p}", "person": p, "emotion": "neutral", "pose": pose, "split": "test"}
            for p in ("01", "02") for s in "AB" for pose in ("S", "HR")]
    meta = pd.DataFrame(rows, index=np.arange(10, 10 + len(rows)))
    emb = np.random.default_rng(0).normal(size=(len(meta), 6))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    requests = fe.heldout_requests(meta, identity_col="person")
    copy = fe.copy_input(emb, meta, requests)
    np.testing.assert_array_equal(copy, emb[meta.index.get_indexer(requests["source"])])
    targets = emb[[meta.index.get_loc(meta.index[(meta["identity"] == i) & (meta["pose"] == "HR")][0])
                   for i in requests["identity"]]]
    perfect = fe.target_similarity(emb, meta, requests, 3 * targets).set_index("pose")
    assert np.isclose(perfect.loc["all", "cos_generated"], 1.0) and np.isclose(perfect.loc["all", "norm_generated"], 3)
    assert perfect.loc["all", "n"] == len(requests)
    own = fe.target_similarity(emb, meta, requests, copy).set_index("pose")
    assert np.isclose(own.loc["all", "cos_generated"], own.loc["all", "cos_input"])
    with pytest.raises(ValueError, match="generated must be"):
        fe.target_similarity(emb, meta, requests, copy[:1])

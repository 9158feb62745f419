"""lib.evaluation: verification, identification, SVM classification, image quality, and
the evaluation figure builders of lib.plots. Small hand-checkable cases."""

from __future__ import annotations

import numpy as np
import pytest

from lib.evaluation import classification as cls
from lib.evaluation import identification as ident
from lib.evaluation import quality as q
from lib.evaluation import verification as ver


# ============================================================================ verification
def _separated(n_pos=1000, n_neg=2000, seed=0):
    rng = np.random.default_rng(seed)
    scores = np.concatenate([rng.uniform(0.6, 1.0, n_pos), rng.uniform(-0.5, 0.4, n_neg)])
    same = np.r_[np.ones(n_pos, bool), np.zeros(n_neg, bool)]
    order = rng.permutation(scores.size)  # mix classes over the contiguous folds
    return scores[order], same[order]


def test_pair_scores_cosine_and_zero_vector():
    a = np.array([[3.0, 4.0], [1.0, 0.0], [0.0, 0.0]])
    b = np.array([[6.0, 8.0], [0.0, 2.0], [1.0, 1.0]])
    np.testing.assert_allclose(ver.pair_scores(a, b), [1.0, 0.0, 0.0], atol=1e-12)
    with pytest.raises(ValueError, match="one shape"):
        ver.pair_scores(a, b[:2])


def test_perfect_separation():
    s, y = _separated()
    r = ver.verification_report(s, y, folds=10)
    assert r["acc"] == 1.0 and r["acc_se"] == 0.0
    assert r["auc"] == 1.0 and r["eer"] == 0.0
    for key in ("1e-1", "1e-2", "1e-3"):
        assert r[f"tar@far={key}"] == 1.0 and r[f"enough@far={key}"]
        assert r[f"far@far={key}"] == pytest.approx(float(key))  # 2000 distinct impostor scores
    assert r["eer_threshold"] == s[~y].max()  # "same" iff score > threshold
    assert {"n_pairs", "n_genuine", "n_impostor", "acc_std", "threshold_mean", "threshold@far=1e-2"} <= set(r)


def test_reversed_scores():
    s, y = _separated()
    s = -s
    assert ver.auc(s, y) == 0.0
    assert ver.eer(s, y) == 1.0
    tar = ver.tar_at_far(s, y, fars=(1e-2,))[1e-2]
    assert tar["tar"] == 0.0 and tar["far"] <= 1e-2
    # the best threshold then accepts everything or nothing: accuracy = share of the
    # class in the test fold that it gets right, never above 2/3 here
    assert ver.lfw_protocol(s, y)["acc"] <= 2 / 3 + 1e-9


def test_lfw_protocol_by_hand():
    # 10 folds of 2 pairs. Folds 1-9 are clean (genuine 0.75, impostor 0.25); fold 0 is
    # hard (genuine 0.62, impostor 0.58). Grid: 0, 0.1, ..., 1; "same" iff score > t.
    # - test fold 0: the 9 clean folds give TPR - FPR = 1 for t in 0.3..0.7 -> first,
    #   t = 0.3; fold 0 then accepts its impostor 0.58 -> accuracy 1/2.
    # - test fold k > 0: the training folds hold 9 genuine (8 x 0.75, 0.62) and
    #   9 impostor (8 x 0.25, 0.58); t = 0.3..0.5: 1 - 1/9; t = 0.6: 1 - 0 = 1;
    #   t = 0.7: 8/9 - 0 -> t = 0.6, and the clean test fold is right: accuracy 1.
    # mean = (0.5 + 9) / 10 = 0.95; std(ddof=1) = sqrt((0.45^2 + 9 * 0.05^2) / 9) = sqrt(0.025);
    # standard error = sqrt(0.025) / sqrt(10) = 0.05.
    folds = np.repeat(np.arange(10), 2)
    same = np.tile([True, False], 10)
    scores = np.tile([0.75, 0.25], 10)
    scores[:2] = [0.62, 0.58]
    r = ver.lfw_protocol(scores, same, folds, n_thresholds=11, threshold_range=(0.0, 1.0))
    np.testing.assert_allclose(r["fold_threshold"], [0.3] + [0.6] * 9)
    np.testing.assert_allclose(r["fold_acc"], [0.5] + [1.0] * 9)
    assert r["acc"] == pytest.approx(0.95)
    assert r["acc_std"] == pytest.approx(np.sqrt(0.025))
    assert r["acc_se"] == pytest.approx(0.05)
    assert r["n_folds"] == 10 and r["criterion"] == "tpr_minus_fpr"
    # the same pairs in shuffled order with the fold ids alongside give the same answer
    perm = np.random.default_rng(3).permutation(20)
    r2 = ver.lfw_protocol(scores[perm], same[perm], folds[perm], n_thresholds=11, threshold_range=(0.0, 1.0))
    np.testing.assert_allclose(r2["fold_acc"], r["fold_acc"])


def test_criteria_differ_on_imbalanced_pairs():
    # 10 genuine (0.45, 9 x 0.75), 2 impostor (0.25, 0.55); grid 0, 0.1, ..., 1.
    # t = 0.3: TPR 1, FPR 1/2 -> J 0.5, acc 11/12; t = 0.6: TPR 0.9, FPR 0 -> J 0.9, acc 11/12.
    scores = np.r_[0.45, [0.75] * 9, 0.25, 0.55]
    same = np.r_[[True] * 10, False, False]
    kw = dict(n_thresholds=11, threshold_range=(0.0, 1.0))
    assert ver.best_threshold(scores, same, criterion="tpr_minus_fpr", **kw) == pytest.approx(0.6)
    assert ver.best_threshold(scores, same, criterion="accuracy", **kw) == pytest.approx(0.3)
    with pytest.raises(ValueError, match="criterion"):
        ver.best_threshold(scores, same, criterion="f1")


def _facex_zoo_reference(scores, labels, n_thr=1000):
    """A literal loop following FaceX-Zoo's LFWEvaluator (10 contiguous folds of 600)."""
    s = scores.reshape(10, -1)
    y = labels.reshape(10, -1)
    accs = []
    for k in range(10):
        train = np.arange(10) != k
        ts, tl = s[train].ravel(), y[train].ravel()
        pos, neg = ts[tl == 1], ts[tl == 0]
        step = (ts.max() - ts.min()) / n_thr
        grid = ts.min() + step * np.arange(1, n_thr + 1)
        j = [np.sum(pos > t) / pos.size - np.sum(neg > t) / neg.size for t in grid]
        t = grid[int(np.argmax(j))]
        accs.append((np.sum(s[k][y[k] == 1] > t) + np.sum(s[k][y[k] == 0] < t)) / s.shape[1])
    return np.mean(accs), np.std(accs, ddof=1) / np.sqrt(10)


def test_lfw_protocol_matches_facex_zoo_loop():
    rng = np.random.default_rng(1)
    same = np.tile(np.r_[np.ones(30, bool), np.zeros(30, bool)], 10)  # pairs.txt layout
    scores = np.where(same, rng.normal(0.4, 0.2, same.size), rng.normal(0.1, 0.2, same.size))
    mean, se = _facex_zoo_reference(scores, same.astype(int))
    r = ver.lfw_protocol(scores, same, folds=10)
    assert r["acc"] == pytest.approx(mean) and r["acc_se"] == pytest.approx(se)
    assert 0.6 < r["acc"] < 0.95


def test_lfw_protocol_errors():
    s, y = _separated(50, 50)
    with pytest.raises(ValueError, match="folds"):
        ver.lfw_protocol(s, y, folds=1)
    with pytest.raises(ValueError, match="entries"):
        ver.lfw_protocol(s, y, folds=np.zeros(3))
    with pytest.raises(ValueError, match="NaN"):
        ver.lfw_protocol(np.r_[s[:-1], np.nan], y)
    with pytest.raises(ValueError, match="differ in length"):
        ver.lfw_protocol(s[:-1], y)
    with pytest.raises(ValueError, match="genuine or impostor"):  # all genuine in one fold
        ver.lfw_protocol(np.r_[0.9, 0.1, 0.2], np.r_[True, False, False], folds=np.r_[0, 1, 1])


def test_eer_interpolated_by_hand():
    # genuine 0.9, 0.4; impostor 0.5, 0.1, 0.05, 0.0. ROC: (0, .5) at 0.9, (.25, .5) at 0.5,
    # (.25, 1) at 0.4: FRR - FAR goes .25 -> -.25 on the vertical segment at FAR .25, so
    # EER = .25. With "same" iff score > t the two points are t = 0.4 and t = 0.1: the
    # threshold is halfway, 0.25.
    scores = np.r_[0.9, 0.4, 0.5, 0.1, 0.05, 0.0]
    same = np.r_[True, True, False, False, False, False]
    value, thr = ver.eer(scores, same, return_threshold=True)
    assert value == pytest.approx(0.25) and thr == pytest.approx(0.25)
    fpr, tpr, _ = ver.roc(scores, same)
    assert fpr[0] == 0 and tpr[-1] == 1
    assert ver.auc(scores, same) == pytest.approx(7 / 8)


def test_threshold_metrics_by_hand():
    scores = np.r_[0.9, 0.5, 0.3, 0.6, 0.2, 0.1]
    same = np.r_[True, True, True, False, False, False]
    # t = 0.4: genuine 0.9, 0.5 accepted, 0.3 rejected; impostor 0.6 accepted.
    assert ver.accuracy_at_threshold(scores, same, 0.4) == pytest.approx(4 / 6)
    assert ver.far_frr_at_threshold(scores, same, 0.4) == pytest.approx((1 / 3, 1 / 3))
    assert ver.far_frr_at_threshold(scores, same, 0.5) == pytest.approx((1 / 3, 2 / 3))  # 0.5 is rejected


def test_tar_at_far_by_hand():
    neg = np.linspace(0.9, 0.0, 10)  # 0.9, 0.8, ..., 0
    pos = np.r_[0.85, 0.95, 0.5]
    r = ver.tar_at_far(np.r_[pos, neg], np.r_[[True] * 3, [False] * 10], fars=(0.1, 0.3))
    # FAR 0.1 of 10 impostors: 1 may pass -> threshold = 2nd highest impostor, 0.8
    assert r[0.1]["threshold"] == pytest.approx(0.8) and r[0.1]["far"] == pytest.approx(0.1)
    assert r[0.1]["tar"] == pytest.approx(2 / 3)
    assert r[0.3]["threshold"] == pytest.approx(0.6) and r[0.3]["tar"] == pytest.approx(2 / 3)


def test_tar_at_far_too_few_impostors_is_nan_with_flag():
    s, y = _separated(100, 50)
    r = ver.tar_at_far(s, y, fars=(1e-1, 1e-2, 1e-3))
    assert r[1e-1]["enough_impostors"] and r[1e-1]["tar"] == 1.0
    for far in (1e-2, 1e-3):
        assert not r[far]["enough_impostors"] and np.isnan(r[far]["tar"]) and np.isnan(r[far]["threshold"])
    rep = ver.verification_report(s, y)
    assert np.isnan(rep["tar@far=1e-3"]) and rep["enough@far=1e-3"] is False
    # exactly 1 / FAR impostors is enough
    s, y = _separated(10, 100)
    assert ver.tar_at_far(s, y, fars=(1e-2,))[1e-2]["enough_impostors"]


@pytest.mark.parametrize("seed", range(5))
def test_tar_at_far_never_exceeds_target(seed):
    rng = np.random.default_rng(seed)
    n_neg = int(rng.integers(100, 3000))
    # rounded scores: many ties at the threshold
    scores = np.round(np.r_[rng.normal(0.5, 0.2, 500), rng.normal(0.0, 0.2, n_neg)], 2)
    same = np.r_[np.ones(500, bool), np.zeros(n_neg, bool)]
    fars = (0.5, 0.29, 0.1, 0.07, 0.01, 0.003, 0.001)
    for far, r in ver.tar_at_far(scores, same, fars).items():
        if r["enough_impostors"]:
            assert r["far"] <= far
            neg = scores[~same]
            assert np.mean(neg > r["threshold"]) == r["far"]
            assert r["tar"] == np.mean(scores[same] > r["threshold"])
        else:
            assert n_neg * far < 1


def test_make_pairs_deterministic_distinct_and_consistent():
    rng_ids = np.random.default_rng(0)
    ids = np.repeat(np.arange(80), rng_ids.integers(1, 8, 80))  # some singletons
    p1 = ver.make_pairs(ids, 300, 300, np.random.default_rng(7))
    p2 = ver.make_pairs(ids, 300, 300, np.random.default_rng(7))
    p3 = ver.make_pairs(ids, 300, 300, np.random.default_rng(8))
    for k in p1:
        np.testing.assert_array_equal(p1[k], p2[k])
    assert not all(np.array_equal(p1[k], p3[k]) for k in ("a", "b"))
    a, b, same, fold = p1["a"], p1["b"], p1["same"], p1["fold"]
    assert len(a) == 600 and same.sum() == 300
    assert (a < b).all()  # so a != b, and (a, b) is a canonical key
    assert len(set(zip(a.tolist(), b.tolist()))) == 600
    np.testing.assert_array_equal(ids[a] == ids[b], same)
    np.testing.assert_array_equal(np.bincount(fold), [60] * 10)
    np.testing.assert_array_equal(np.bincount(fold[same]), [30] * 10)
    # no person in two folds
    person_folds = {}
    for i, f in zip(np.r_[a, b], np.r_[fold, fold]):
        person_folds.setdefault(ids[i], set()).add(f)
    assert all(len(v) == 1 for v in person_folds.values())


def test_make_pairs_dense_request_and_strings():
    ids = np.array(["ann", "ann", "ann", "bob", "bob", "cy"])  # 3 + 1 = 4 genuine pairs in all
    p = ver.make_pairs(ids, 4, 11, np.random.default_rng(0), folds=1)
    assert p["same"].sum() == 4 and (~p["same"]).sum() == 11  # every possible pair
    assert len(set(zip(p["a"].tolist(), p["b"].tolist()))) == 15


def test_make_pairs_when_one_person_holds_most_pairs():
    # 1 person with 60 images (1770 pairs) and 200 with 2 (1 pair each): drawing people
    # uniformly soon exhausts the small ones; the rest comes from the enumeration.
    ids = np.r_[np.zeros(60, int), np.repeat(np.arange(1, 201), 2)]
    p = ver.make_pairs(ids, 450, 0, np.random.default_rng(0), folds=1)
    assert p["same"].all() and len(set(zip(p["a"].tolist(), p["b"].tolist()))) == 450
    assert (ids[p["a"]] == ids[p["b"]]).all() and (p["a"] < p["b"]).all()


def test_make_pairs_errors():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="single image"):
        ver.make_pairs(np.arange(50), 10, 10, rng)
    with pytest.raises(ValueError, match="only 1 distinct"):
        ver.make_pairs(np.array([0, 0, 1]), 2, 1, rng, folds=1)
    with pytest.raises(ValueError, match="at least 10 identities"):
        ver.make_pairs(np.repeat(np.arange(5), 3), 10, 10, rng)
    with pytest.raises(TypeError, match="Generator"):
        ver.make_pairs(np.repeat(np.arange(20), 3), 10, 10, 0)


# ============================================================================ identification
GALLERY = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0.8, 0, 0.6]], float)
GALLERY_IDS = np.array(["A", "B", "C", "C"])


def test_closed_set_by_hand():
    probes = np.array([[0.9, 0.1, 0.0],   # A: A .99 > B, C                      -> rank 1
                       [0.7, 0.0, 0.7],   # C: A .71, C max(.71, .99) via image 2 -> rank 1
                       [0.6, 0.8, 0.0],   # C: A .6, B .8, C .48                  -> rank 3
                       [0.6, 0.8, 0.0]])  # A: B .8 beats A .6                    -> rank 2
    r = ident.closed_set(GALLERY, GALLERY_IDS, probes, ["A", "C", "C", "A"])
    np.testing.assert_array_equal(r["ranks"], [1, 1, 3, 2])
    assert r["rank1"] == 0.5
    np.testing.assert_allclose(r["cmc"], [0.5, 0.75, 1.0])
    np.testing.assert_array_equal(r["predicted"], ["A", "C", "B", "B"])
    np.testing.assert_array_equal(r["identities"], ["A", "B", "C"])


def test_closed_set_ties_count_against_the_probe_and_errors():
    r = ident.closed_set(GALLERY, GALLERY_IDS, np.zeros((1, 3)), ["B"])
    assert r["ranks"][0] == 3 and r["rank1"] == 0.0
    with pytest.raises(ValueError, match="not in the gallery.*D"):
        ident.closed_set(GALLERY, GALLERY_IDS, np.ones((2, 3)), ["A", "D"])
    with pytest.raises(ValueError, match="probe embeddings"):
        ident.closed_set(GALLERY, GALLERY_IDS, np.ones((1, 4)), ["A"])
    with pytest.raises(ValueError, match="ids"):
        ident.closed_set(GALLERY, GALLERY_IDS[:3], np.ones((1, 3)), ["A"])


# ============================================================================ classification
def _blobs(n, seed, centres=((0, 0), (6, 0), (0, 6))):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % len(centres)
    return np.asarray(centres, float)[y] + rng.normal(0, 0.5, (n, 2)), y


def test_svm_separable_blobs():
    Xtr, ytr = _blobs(90, 0)
    Xte, yte = _blobs(30, 1)
    r = cls.svm_evaluate(Xtr, ytr, Xte, yte)
    assert r["accuracy"] == 1.0 and r["balanced_accuracy"] == 1.0
    np.testing.assert_array_equal(r["confusion"], np.diag([10, 10, 10]))
    np.testing.assert_array_equal(r["labels"], [0, 1, 2])
    assert r["score_source"] == "predict_proba" and r["scores"].shape == (30, 3)
    for label in (0, 1, 2):
        assert r["roc"][label]["auc"] == 1.0 and r["pr"][label]["ap"] == pytest.approx(1.0)
        assert r["roc"][label]["fpr"][0] == 0 and r["pr"][label]["recall"][0] == 1
    assert r["macro_auc"] == 1.0


def test_svm_binary_decision_function():
    Xtr, ytr = _blobs(40, 0, centres=((0, 0), (5, 5)))
    Xte, yte = _blobs(10, 1, centres=((0, 0), (5, 5)))
    r = cls.svm_evaluate(Xtr, np.where(ytr, "yes", "no"), Xte, np.where(yte, "yes", "no"), probability=False)
    assert r["accuracy"] == 1.0 and r["score_source"] == "decision_function"
    assert r["scores"].shape == (10, 2) and set(r["roc"]) == {"no", "yes"}
    assert r["roc"]["yes"]["auc"] == 1.0 and r["roc"]["no"]["auc"] == 1.0


def test_svm_scaler_is_fit_on_train_only():
    # Train: x in [0, .4] -> 0 and [.6, 1] -> 1. Test: x in [.65, .9], all 1. Scaled with
    # the test set's own statistics they would straddle the boundary.
    rng = np.random.default_rng(0)
    x = np.r_[rng.uniform(0, 0.4, 100), rng.uniform(0.6, 1.0, 100)]
    Xtr = np.c_[x, rng.normal(0, 0.01, 200)]
    ytr = np.r_[np.zeros(100, int), np.ones(100, int)]
    Xte = np.c_[np.linspace(0.65, 0.9, 20), rng.normal(0, 0.01, 20)]
    r = cls.svm_evaluate(Xtr, ytr, Xte, np.ones(20, int))
    assert r["accuracy"] == 1.0
    scaler = r["model"].named_steps["standardscaler"]
    np.testing.assert_allclose(scaler.mean_, Xtr.mean(axis=0))
    # a class absent from the test set has no curve: NaN, not an error
    assert np.isnan(r["roc"][0]["auc"]) and np.isnan(r["pr"][0]["ap"])
    # the counterfactual really differs: a model fit on test-standardised data errs
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    svc = SVC().fit(StandardScaler().fit_transform(Xtr), ytr)
    assert (svc.predict(StandardScaler().fit_transform(Xte)) == 0).any()


def test_svm_errors():
    Xtr, ytr = _blobs(30, 0)
    Xte, yte = _blobs(9, 1)
    with pytest.raises(ValueError, match="never seen in training: 7"):
        cls.svm_evaluate(Xtr, ytr, Xte, np.r_[yte[:-1], 7])
    with pytest.raises(ValueError, match="single class"):
        cls.svm_evaluate(Xtr, np.zeros(30, int), Xte, np.zeros(9, int))
    bad = Xtr.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        cls.svm_evaluate(bad, ytr, Xte, yte)
    with pytest.raises(ValueError, match="features"):
        cls.svm_evaluate(Xtr, ytr, Xte[:, :1], yte)
    with pytest.raises(ValueError, match="differ in length"):
        cls.svm_evaluate(Xtr, ytr[:-1], Xte, yte)


# ============================================================================ quality
def _images(seed=0, shape=(32, 32, 3)):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, shape, dtype=np.uint8)
    noise = rng.integers(-20, 21, shape)
    return a, np.clip(a.astype(int) + noise, 0, 255).astype(np.uint8)


def test_psnr_ssim_match_skimage():
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    a, b = _images()
    assert q.psnr(a, b) == pytest.approx(peak_signal_noise_ratio(a, b, data_range=255))
    assert q.ssim(a, b) == pytest.approx(structural_similarity(a, b, data_range=255, channel_axis=-1))
    g, h = a[..., 0], b[..., 0]
    assert q.ssim(g, h) == pytest.approx(structural_similarity(g, h, data_range=255))
    af, bf = a / 255.0, b / 255.0
    assert q.psnr(af, bf) == pytest.approx(q.psnr(a, b))
    assert q.ssim(af, bf) == pytest.approx(structural_similarity(af, bf, data_range=1.0, channel_axis=-1))


def test_psnr_ssim_identical_and_known():
    a, _ = _images()
    assert q.psnr(a, a) == np.inf and q.ssim(a, a) == pytest.approx(1.0)
    zeros = np.zeros((16, 16), np.uint8)
    assert q.psnr(zeros, zeros + 10) == pytest.approx(10 * np.log10(255 ** 2 / 100))
    assert q.psnr(np.zeros((8, 8)), np.full((8, 8), 0.1)) == pytest.approx(20.0)
    assert q.psnr(np.zeros((8, 8)), np.full((8, 8), 2.0), data_range=4.0) == pytest.approx(10 * np.log10(4))


def test_masked_psnr_ssim():
    a, _ = _images(shape=(32, 32, 3))
    b = a.copy()
    b[:8] = np.clip(a[:8].astype(int) + 10, 0, 255)  # change the top 8 rows only
    top = np.zeros((32, 32), bool)
    top[:8] = True
    bottom = np.zeros((32, 32), bool)
    bottom[20:] = True
    assert q.psnr(a, b, mask=bottom) == np.inf
    diff = b[:8].astype(float) - a[:8]
    assert q.psnr(a, b, mask=top) == pytest.approx(10 * np.log10(255 ** 2 / np.mean(diff ** 2)))
    assert q.psnr(a, b, mask=np.broadcast_to(top[..., None], a.shape)) == pytest.approx(q.psnr(a, b, mask=top))
    assert q.ssim(a, b, mask=bottom) == pytest.approx(1.0)  # windows there never reach the edit
    _, full = q.ssim_map(a, b)
    assert q.ssim(a, b, mask=np.ones((32, 32), bool)) == pytest.approx(full.mean())
    assert q.ssim(a, b, mask=top) < 1.0


def test_quality_batches():
    a, b = _images(shape=(4, 16, 16))
    masks = np.zeros((4, 16, 16), bool)
    masks[:, 4:12, 4:12] = True
    np.testing.assert_allclose(q.psnr_batch(a, b), [q.psnr(x, y) for x, y in zip(a, b)])
    np.testing.assert_allclose(q.ssim_batch(a, b, mask=masks), [q.ssim(x, y, mask=masks[0]) for x, y in zip(a, b)])
    np.testing.assert_allclose(q.psnr_batch(a, b, mask=masks[0]), q.psnr_batch(a, b, mask=masks))
    c, d = _images(shape=(2, 16, 16, 3))
    assert q.ssim_batch(c, d).shape == (2,)


def test_quality_errors():
    a, b = _images()
    with pytest.raises(ValueError, match="shapes differ"):
        q.psnr(a, b[:-1])
    with pytest.raises(ValueError, match="dtypes differ"):
        q.ssim(a, b.astype(np.float32))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        q.psnr(a.astype(float), b.astype(float))
    with pytest.raises(ValueError, match="data_range"):
        q.psnr(a.astype(np.int32), b.astype(np.int32))
    with pytest.raises(ValueError, match="no pixel"):
        q.psnr(a, b, mask=np.zeros(a.shape[:2], bool))
    with pytest.raises(ValueError, match="mask shape"):
        q.ssim(a, b, mask=np.ones((5, 5), bool))
    with pytest.raises(ValueError, match="7 x 7"):
        q.ssim(a[:5, :5], b[:5, :5])
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        q.psnr_batch(a[0, 0], b[0, 0])


# ============================================================================ plots
@pytest.fixture
def agg():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


def _builders():
    import pandas as pd

    from lib import plots

    s, y = _separated(200, 400)
    s = s + np.random.default_rng(0).normal(0, 0.2, s.size)
    fpr, tpr, _ = ver.roc(s, y)
    Xtr, ytr = _blobs(60, 0)
    Xte, yte = _blobs(30, 1)
    Xte = Xte + np.random.default_rng(2).normal(0, 2, Xte.shape)
    res = cls.svm_evaluate(Xtr, ytr, Xte, yte)
    hist = pd.DataFrame({"epoch": np.arange(1, 6), "loss": np.linspace(2, 1, 5), "val_loss": np.linspace(2.2, 1.3, 5),
                         "acc": np.linspace(0.3, 0.8, 5)})
    return {
        "roc": lambda: plots.roc_curves({"model a": (fpr, tpr), "model b": (fpr, np.sqrt(tpr))}),
        "roc_linear": lambda: plots.roc_curves(res["roc"], log_x=False, mark_fars=()),
        "pr": lambda: plots.pr_curves(res["pr"], title="identity"),
        "cmc": lambda: plots.cmc_curves({"arcface": [0.5, 0.8, 1.0], "cosface": np.linspace(0.3, 1, 30)}),
        "confusion": lambda: plots.confusion_matrix(res["confusion"], res["labels"]),
        "confusion_counts": lambda: plots.confusion_matrix(res["confusion"], ["a", "b", "c"], normalise=False),
        "training": lambda: plots.training_curves(hist),
        "training_panels": lambda: plots.training_curves(hist, panels={"loss": ["loss", "val_loss"], "acc": ["acc"]},
                                                         logy=("loss",)),
    }


def test_plot_builders_return_figures_and_render_deterministically(agg, isolated_dirs):
    from matplotlib.figure import Figure

    from lib import figures

    for name, build in _builders().items():
        fig = build()
        assert isinstance(fig, Figure), name
        png = figures.render(fig, "png")
        assert png == figures.render(build(), "png"), name
        assert figures.save(fig, f"evaluation/{name}").exists()


def test_plot_builder_errors(agg):
    import pandas as pd

    from lib import plots

    with pytest.raises(ValueError, match="labels"):
        plots.confusion_matrix(np.eye(3), ["a", "b"])
    with pytest.raises(ValueError, match="'epoch'"):
        plots.training_curves(pd.DataFrame({"step": [1, 2], "loss": [1.0, 0.5]}))
    with pytest.raises(ValueError, match="not in the table"):
        plots.training_curves(pd.DataFrame({"epoch": [1, 2], "loss": [1.0, 0.5]}), panels={"x": ["nope"]})


# ============================================================================ benchmark
def test_benchmark_smoke():
    from lib.speed.evaluation import benchmark_protocols

    r = benchmark_protocols(n_pairs=200, n_embeddings=100, dim=8, n_classes=4)
    assert r["lfw_protocol_s"] > 0 and r["svm_evaluate_s"] > 0
    assert r["n_train"] == 80 and r["n_test"] == 20 and 0 <= r["svm_accuracy"] <= 1


def test_threshold_at_far_is_the_sorted_rule():
    from lib.evaluation.verification import _far_count, threshold_at_far

    rng = np.random.default_rng(3)
    for n in (10, 999, 1000, 4321):
        neg = np.round(rng.normal(size=n), 2)  # rounded: ties
        desc = np.sort(neg)[::-1]
        for far in (1e-1, 1e-2, 1e-3):
            k = _far_count(far, n)
            want = np.nan if k == 0 else desc[k]
            got = threshold_at_far(neg, far)
            assert (np.isnan(got) and np.isnan(want)) or got == want
            if k:
                assert np.mean(neg > got) <= far
    assert threshold_at_far(np.array([0.5, 0.2]), 1.0, floor=-0.3) < -0.3  # FAR 1 accepts every pair
    assert np.isnan(threshold_at_far(np.zeros(0), 0.1))
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        threshold_at_far(np.zeros(5), 0.0)


def test_pair_structure_counts_the_person_pairs_impostors_compare():
    ids = np.repeat(np.arange(4), 3)  # 4 persons x 3 images; 2 folds of 2 persons
    pairs = {"a": np.array([0, 0, 6, 6, 1, 7]), "b": np.array([1, 3, 7, 9, 4, 10]),
             "same": np.array([1, 0, 1, 0, 0, 0], bool), "fold": np.array([0, 0, 1, 1, 0, 1])}
    assert ver.pair_structure(ids, pairs) == {"persons": 4, "folds": 2, "persons_per_fold": 2,
                                              "impostor_person_pairs": 2}
    pid = np.repeat(np.arange(12), 6)
    few = ver.make_pairs(pid, 60, 60, np.random.default_rng(0), folds=6)  # 12 persons in 6 folds of 2
    assert ver.pair_structure(pid, few)["impostor_person_pairs"] == 6  # one pair of persons per fold
    many = ver.make_pairs(pid, 60, 60, np.random.default_rng(0), folds=2)  # 2 folds of 6: up to 2 x 15
    assert 6 < ver.pair_structure(pid, many)["impostor_person_pairs"] <= 30

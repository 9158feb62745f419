"""FRA landmark maps (the code's binarisation) and the pair/negative generation."""

from __future__ import annotations

import itertools
import warnings

import cv2
import numpy as np
import pandas as pd
import pytest

from lib.fra import landmark_maps as lmaps
from lib.fra.pairs import make_pairs, make_pairs_reference, sample_negatives, sample_negatives_reference

TRIPLE = ["posture", "input", "target"]


# ---------------------------------------------------------------------------------------------- landmark maps

def _map_by_hand(points_padded: np.ndarray) -> np.ndarray:
    """The code's steps written out one point at a time (independent of the module's vectorised form)."""
    pts = [(min(max(int(np.floor(x + 0.5)), 0), 111), min(max(int(np.floor(y + 0.5)), 0), 111))
           for x, y in points_padded]
    canvas = np.zeros((112, 112))
    for x, y in pts:
        canvas[y, x] = 1.0
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    crop = canvas[min(ys):max(ys), min(xs):max(xs)]  # end exclusive, as in the code
    return cv2.resize(crop, (112, 112), interpolation=cv2.INTER_LINEAR) > 0.5


def _square_points():
    corners = [(20, 30), (60, 30), (20, 70), (60, 70)]
    return np.array(corners + [(40, 50)] * 64, dtype=np.float64)


def test_square_keeps_top_left_corner_and_drops_the_box_end():
    m = lmaps.landmark_map(_square_points())
    assert m.shape == (112, 112) and m.dtype == bool
    # crop rows 30..69, cols 20..59 (40 x 40) upscaled 2.8x, bilinear, > 0.5: the top-left corner
    # fills a 3 x 3 block but its far corner (weight 0.6 x 0.6), the centre point (crop 20, 20) a plus
    corner = {(r, c) for r in range(3) for c in range(3)} - {(2, 2)}
    centre = {(57, 57), (56, 57), (58, 57), (57, 56), (57, 58)}
    assert {tuple(rc) for rc in np.argwhere(m).tolist()} == corner | centre
    # the three corners on the box's last row or column fall outside the end-exclusive crop
    assert not m[-3:, :].any() and not m[:, -3:].any()


def test_map_matches_the_steps_done_by_hand():
    rng = np.random.default_rng(0)
    for _ in range(100):
        pts = rng.normal(rng.uniform(20, 110, 2), rng.uniform(3, 50), (68, 2))
        assert np.array_equal(lmaps.landmark_map(pts), _map_by_hand(pts))


def test_points_out_of_range_are_clipped_not_dropped():
    pts = _square_points()
    pts[1] = (150.0, 30.0)  # beyond the right edge -> x = 111: it widens the box to 111
    pts[2] = (-40.0, 70.0)  # left of the image -> x = 0
    clipped = pts.copy()
    clipped[1, 0], clipped[2, 0] = 111, 0
    assert np.array_equal(lmaps.landmark_map(pts), lmaps.landmark_map(clipped))
    # the pad is not undone: x = 105 of a 112 image is 115 after the 10 px pad, clipped to 111
    src = np.array([[20.0, 20.0]] * 34 + [[105.0, 60.0]] * 34)
    assert np.array_equal(lmaps.landmark_map(src, source_shape=112),
                          lmaps.landmark_map(np.array([[30.0, 30.0]] * 34 + [[111.0, 70.0]] * 34)))


@pytest.mark.parametrize("pts", [np.full((68, 2), 50.0), np.c_[np.full(68, 40.0), np.arange(68.0)],
                                 np.full((68, 2), np.nan)], ids=["one point", "one column", "nan"])
def test_degenerate_landmarks_give_an_empty_map(pts):
    """The code would crash in cv2.resize on the empty crop; here: an all-False map."""
    assert not lmaps.landmark_map(pts).any()
    assert not lmaps.maps_from_points(pts[None], 112).any()


def test_points_geometry_matches_the_padded_frame():
    rng = np.random.default_rng(1)
    padded = rng.normal(60, 15, (5, 68, 2))
    by_points = lmaps.maps_from_points(padded - lmaps.PAD, 112)  # 112 source: only the pad moves them
    assert np.array_equal(by_points, np.stack([lmaps.landmark_map(p) for p in padded]))
    # a 224 source: cv2.resize's pixel-centre mapping x' = (x + 0.5) / 2 - 0.5
    small = padded - lmaps.PAD
    assert np.array_equal(lmaps.maps_from_points(2 * small + 0.5, (224, 224)), by_points)
    assert np.array_equal(lmaps.maps_from_points(small, 112)[2], lmaps.landmark_map(small[2], source_shape=(112, 112)))


@pytest.fixture(scope="module")
def astronaut_face():
    from lib.data.real_photos import astronaut

    crop = astronaut()[20:260, 120:360]  # her head with some context, 240 x 240
    return crop, cv2.resize(crop, (112, 112), interpolation=cv2.INTER_AREA)


def _chamfer(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.ndimage import distance_transform_edt

    return float((distance_transform_edt(~b)[a].mean() + distance_transform_edt(~a)[b].mean()) / 2)


def test_dlib_maps_on_a_real_face(astronaut_face):
    crop, small = astronaut_face
    flat = np.full((112, 112, 3), 128, np.uint8)
    maps, found, reasons = lmaps.maps_from_images(np.stack([small, flat]))
    assert found.tolist() == [True, False] and reasons[0] == "" and "no face" in reasons[1]
    assert maps[0].sum() > 100 and not maps[1].any()
    # exactly the code's pipeline: dlib on the resized, padded, BGR image, then the map
    padded = cv2.copyMakeBorder(small, 10, 10, 10, 10, cv2.BORDER_CONSTANT)
    pts = lmaps._landmarker("dlib_hog")(padded)  # fed as BGR, as the code did
    assert np.array_equal(maps[0], lmaps.landmark_map(pts))
    # points found on the 240 px crop, mapped through the same geometry, give nearly the same map
    dense = lmaps._landmarker("dlib_hog")(crop)
    from_points = lmaps.maps_from_points(dense[None], crop.shape[:2])[0]
    assert _chamfer(maps[0], from_points) < 3.0 < _chamfer(maps[0], from_points[::-1])


def test_other_detectors_feed_the_same_predictor(astronaut_face):
    _, small = astronaut_face
    dlib_map = lmaps.maps_from_images(small[None])[0][0]
    maps, found, _ = lmaps.maps_from_images(small[None], detector="yunet")
    assert found[0] and _chamfer(maps[0], dlib_map) < 3.0


def test_maps_from_images_checks_the_batch():
    with pytest.raises(ValueError, match="uint8"):
        lmaps.maps_from_images(np.zeros((1, 112, 112, 3), np.float32))
    with pytest.raises(ValueError, match="unknown detector"):
        lmaps.maps_from_images(np.zeros((1, 112, 112, 3), np.uint8), detector="haar")


def test_failure_table_counts():
    found = np.array([True, False, False, True, True])
    table = lmaps.failure_table(found, ["S", "FL", "FL", "S", "HL"], order=["FL", "HL", "S"])
    assert table.index.tolist() == ["FL", "HL", "S", "total"]
    assert table["images"].tolist() == [2, 1, 2, 5] and table["failed"].tolist() == [2, 0, 0, 2]
    assert table.loc["FL", "failure_rate"] == 1.0 and table.loc["total", "failure_rate"] == pytest.approx(0.4)
    assert lmaps.failure_table(found, np.array(["S", "FL", "FL", "S", "HL"])).index.tolist() == \
        ["S", "FL", "HL", "total"]


# ---------------------------------------------------------------------------------------------------- pairs

def _meta(n_ids=4, emotions=("AN", "HA", "NE"), poses=("HL", "S", "HR"), seed=0, duplicate=False):
    """A KDEF-like meta table: shuffled rows, row labels that are not 0..N-1, a test identity."""
    rows = [{"identity": f"{s}{p:02d}", "emotion": e, "pose": q, "split": "train"}
            for p in range(n_ids // 2) for s in "AB" for e in emotions for q in poses]
    rows += [{"identity": "A99", "emotion": e, "pose": q, "split": "test"} for e in emotions for q in poses]
    if duplicate:  # a second image with the same labels (KDEF has none; the rule must still hold)
        rows.append(dict(rows[4]))
    meta = pd.DataFrame(rows).sample(frac=1.0, random_state=seed)
    meta.index = 1000 + 3 * np.arange(len(meta))
    return meta


def _triples(df) -> list[tuple]:
    return list(map(tuple, df[TRIPLE].to_numpy().tolist()))


def test_pairs_follow_the_rule():
    meta = _meta()
    train = meta[meta.split == "train"]
    usable = np.ones(len(train), bool)
    usable[[2, 7]] = False
    pairs = make_pairs(train, num_samples=None, seed=0, usable=usable)
    lab = train.loc[train.index[usable]]
    for role in TRIPLE:
        assert pairs[role].isin(lab.index).all()  # only passed, usable rows
        for col in ("identity", "emotion", "pose"):
            assert (lab.loc[pairs[role], col].to_numpy() == pairs[f"{role}_{col}"].to_numpy()).all()
    assert (pairs.target_emotion == pairs.input_emotion).all() and (pairs.target_emotion == pairs.posture_emotion).all()
    assert (pairs.target_pose == pairs.posture_pose).all() and (pairs.target_identity == pairs.input_identity).all()
    # every usable posture image x every identity x each input of that identity with the same emotion
    expected = sum(((lab.identity == i) & (lab.emotion == e)).sum() * ((lab.identity == i) & (lab.emotion == e)
                                                                        & (lab.pose == p)).sum()
                   for _, (e, p) in lab[["emotion", "pose"]].iterrows() for i in lab.identity.unique())
    assert len(pairs) == expected and not pairs.duplicated(TRIPLE).any()
    assert (pairs.input == pairs.target).any()  # an input may be the target itself, as in the code


@pytest.mark.parametrize("duplicate", [False, True])
@pytest.mark.parametrize("include_same_person", [True, False])
def test_vectorised_equals_reference(duplicate, include_same_person):
    meta = _meta(n_ids=6, duplicate=duplicate)
    usable = pd.Series(True, index=meta.index)
    usable.iloc[[1, 5, 11]] = False
    kw = {"seed": 3, "include_same_person": include_same_person, "usable": usable}
    for order in ("random", "original"):
        fast = make_pairs(meta, num_samples=None, order=order, **kw)
        slow = make_pairs_reference(meta, num_samples=None, order=order, **kw)
        assert set(_triples(fast)) == set(_triples(slow)) and _triples(fast) == _triples(slow)
        for n in (1, 7, 50, 400):
            assert _triples(make_pairs(meta, num_samples=n, order=order, negatives=None, **kw)) == \
                _triples(make_pairs_reference(meta, num_samples=n, order=order, **kw))
    if not include_same_person:
        assert (fast.posture_identity != fast.input_identity).all()


def test_original_order_stops_after_the_block_that_reaches_num_samples():
    meta = _meta(n_ids=6)
    pairs = make_pairs(meta, num_samples=40, seed=0, order="original", negatives=None)
    blocks = pairs.groupby(["posture", "input_identity"], sort=False).size()
    assert len(pairs) >= 40 and len(pairs) - blocks.iloc[-1] < 40
    assert pairs.posture_identity.nunique() == 1  # the code's first N pairs: one person1
    rand = make_pairs(meta, num_samples=40, seed=0, negatives=None)
    assert len(rand) == 40 and rand.posture_identity.nunique() > 1


def test_pairs_are_deterministic_with_the_seed():
    meta = _meta(n_ids=6)
    a, b = make_pairs(meta, num_samples=100, seed=1), make_pairs(meta, num_samples=100, seed=1)
    pd.testing.assert_frame_equal(a, b)
    c = make_pairs(meta, num_samples=100, seed=2)
    assert _triples(a) != _triples(c) and not a[["neg_identity"]].equals(c[["neg_identity"]])
    pd.testing.assert_frame_equal(sample_negatives(a, seed=5), sample_negatives(a, seed=5))
    neg = ["neg_identity", "neg_pose", "neg_emotion"]
    pd.testing.assert_frame_equal(sample_negatives(a, seed=1), a[neg])  # a redraw with the pairs' seed repeats them
    strict = make_pairs(meta, num_samples=100, seed=1, negatives="strict")
    pd.testing.assert_frame_equal(sample_negatives(strict, seed=1, mode="strict", meta=meta), strict[neg])


def _original_candidates(pairs):
    """The code's candidate sets (code/dataset.py): inputs of qualifying pool pairs."""
    pool = pairs[["input", "target_identity", "target_pose", "target_emotion"]].to_numpy()
    for r in pairs.itertuples():
        yield r, {"neg_identity": {x[0] for x in pool if x[1] != r.input_identity},
                  "neg_pose": {x[0] for x in pool if x[1] == r.target_identity and x[2] != r.target_pose},
                  "neg_emotion": {x[0] for x in pool if x[1] == r.input_identity and x[3] != r.input_emotion}}


def test_original_negatives_come_from_the_codes_candidate_sets():
    meta = _meta(n_ids=4)
    pairs = make_pairs(meta, num_samples=120, seed=0)
    ref = sample_negatives_reference(pairs, seed=0)
    for r, cands in _original_candidates(pairs):
        for name, cand in cands.items():
            assert getattr(r, name) in cand and ref.loc[r.Index, name] in cand
    ident, emo, pose = (meta[c] for c in ("identity", "emotion", "pose"))
    assert (ident[pairs.neg_identity].to_numpy() != pairs.input_identity.to_numpy()).all()
    assert (ident[pairs.neg_pose].to_numpy() == pairs.target_identity.to_numpy()).all()
    assert (ident[pairs.neg_emotion].to_numpy() == pairs.input_identity.to_numpy()).all()
    assert (emo[pairs.neg_emotion].to_numpy() != pairs.input_emotion.to_numpy()).all()
    # the code's neg_pose is the input of a pair whose TARGET pose differs: its own pose may not
    assert (pose[pairs.neg_pose].to_numpy() == pairs.target_pose.to_numpy()).any()


def test_negatives_cover_the_candidates_across_seeds():
    pairs = make_pairs(_meta(n_ids=4), num_samples=None, seed=0, negatives=None)
    _, cands = next(_original_candidates(pairs))  # the first pair's candidates over the whole pool
    draws = pd.concat([sample_negatives(pairs, seed=s).iloc[:1] for s in range(200)])
    for name in ("neg_identity", "neg_pose", "neg_emotion"):
        assert set(draws[name]) <= cands[name]
    assert set(draws.neg_emotion) == cands["neg_emotion"]  # 6 candidates, 200 draws


def test_strict_negatives_satisfy_each_definition_on_the_image():
    meta = _meta(n_ids=6)
    train = meta[meta.split == "train"]
    usable = np.ones(len(train), bool)
    usable[:4] = False
    pairs = make_pairs(train, num_samples=300, seed=0, negatives="strict", usable=usable)
    ok_rows = set(train.index[usable])
    ident, emo, pose = (train[c] for c in ("identity", "emotion", "pose"))
    for name in ("neg_identity", "neg_pose", "neg_emotion"):
        assert set(pairs[name]) <= ok_rows
    assert (ident[pairs.neg_identity].to_numpy() != pairs.input_identity.to_numpy()).all()
    assert (ident[pairs.neg_pose].to_numpy() == pairs.target_identity.to_numpy()).all()
    assert (pose[pairs.neg_pose].to_numpy() != pairs.target_pose.to_numpy()).all()
    assert (ident[pairs.neg_emotion].to_numpy() == pairs.input_identity.to_numpy()).all()
    assert (emo[pairs.neg_emotion].to_numpy() != pairs.input_emotion.to_numpy()).all()


def test_missing_negative_is_minus_one_with_a_warning():
    meta = _meta(n_ids=2, poses=("S",))  # one pose: no pair has a target of another pose
    with pytest.warns(RuntimeWarning, match="neg_pose"):
        pairs = make_pairs(meta[meta.split == "train"], num_samples=None, seed=0)
    assert (pairs.neg_pose == -1).all() and (pairs.neg_emotion >= 0).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_pairs(meta[meta.split == "train"], num_samples=None, seed=0, negatives=None)


def test_bad_arguments_raise():
    meta = _meta()
    with pytest.raises(ValueError, match="integer row labels"):
        make_pairs(meta.set_index("identity", drop=False), num_samples=None, seed=0)
    with pytest.raises(ValueError, match="order"):
        make_pairs(meta, num_samples=None, seed=0, order="first")
    with pytest.raises(ValueError, match="usable"):
        make_pairs(meta, num_samples=None, seed=0, usable=np.ones(3, bool))
    with pytest.raises(ValueError, match="num_samples"):
        make_pairs(meta, num_samples=0, seed=0)


def test_every_emotion_pose_identity_combination_is_paired():
    meta = _meta(n_ids=4)
    pairs = make_pairs(meta, num_samples=None, seed=0, negatives=None)
    got = set(zip(pairs.posture_identity, pairs.input_identity, pairs.target_emotion, pairs.target_pose))
    ids, emos, poses = meta.identity.unique(), meta.emotion.unique(), meta.pose.unique()
    assert got == set(itertools.product(ids, ids, emos, poses))


def test_worker_processes_give_the_serial_maps(astronaut_face, monkeypatch):
    _, small = astronaut_face
    flat = np.full((112, 112, 3), 128, np.uint8)
    batch = np.stack([small, flat, small[:, ::-1], flat])
    serial = lmaps.maps_from_images(batch)
    monkeypatch.setattr(lmaps, "PARALLEL_MIN_IMAGES", 2)
    parallel = lmaps.maps_from_images(batch, workers=2)
    assert parallel[1].tolist() == serial[1].tolist() == [True, False, True, False]
    assert np.array_equal(parallel[0], serial[0]) and parallel[2] == serial[2]

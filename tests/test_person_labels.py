"""Person, not session, is the identity of face recognition.

The engine (and KDEF) photograph every person in two sessions and name each session an identity
("A007", "B007"). Every FR training label, pair list and gallery must use the person: these tests
build session-structured data and fail if a same-person pair is ever counted as an impostor, or if
a person's sessions become two training classes.
"""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from lib.data.faceset import person_column, person_labels


def _sessions_meta(n_persons=6, n_test=4, poses=("FL", "HL", "S", "HR", "FR"), emotions=("happy", "neutral", "sad")):
    rows = []
    for p in range(n_persons):
        for session in ("A", "B"):
            for pose in poses:
                for emo in emotions:
                    rows.append({"identity": f"{session}{p:03d}", "person": f"{p:03d}", "session": session,
                                 "pose": pose, "emotion": emo, "split": "test" if p < n_test else "train"})
    return pd.DataFrame(rows)


def _sessions_faceset(**kw):
    meta = _sessions_meta(**kw)
    rng = np.random.default_rng(0)
    parsing = np.zeros((len(meta), 16, 16), np.uint8)
    parsing[:, 4:12, 4:12] = 1
    return SimpleNamespace(meta=meta, images=rng.integers(0, 256, (len(meta), 16, 16, 3)).astype(np.uint8),
                           array=lambda name: {"parsing": parsing}[name], has=lambda name: name == "parsing")


def _assert_no_same_person_impostor(a, b, same, persons):
    a, b, same = np.asarray(a), np.asarray(b), np.asarray(same, bool)
    same_person = persons[a] == persons[b]
    assert not (same_person & ~same).any(), "a same-person pair is counted as an impostor"
    assert not (~same_person & same).any(), "a pair of two persons is counted as genuine"


def test_person_column_prefers_person_and_falls_back_to_identity():
    m = _sessions_meta()
    assert person_column(m) == "person"
    assert set(person_labels(m)) == {f"{p:03d}" for p in range(6)}
    lfw_like = pd.DataFrame({"identity": ["Ann", "Ann", "Bob"]})
    assert person_column(lfw_like) == "identity"
    assert list(person_labels(lfw_like)) == ["Ann", "Ann", "Bob"]


def test_training_classes_are_persons_not_sessions():
    from lib.recognition.split_models import split_labels

    m = _sessions_meta()
    rows, labels = split_labels(m, "train")
    assert np.unique(labels).size == 2  # 2 training persons, 4 session identities
    persons = person_labels(m)[rows]
    for k in np.unique(labels):  # one label per person, both sessions inside it
        assert np.unique(persons[labels == k]).size == 1
        assert set(m["session"].to_numpy()[rows][labels == k]) == {"A", "B"}


def test_fserasing_pairs_label_by_person():
    from lib.fserasing.evaluate import heldout_pairs

    m = _sessions_meta()
    p = heldout_pairs(m, 200, seed=0, folds=2)
    persons = person_labels(m)[p["rows"]]
    _assert_no_same_person_impostor(p["a"], p["b"], p["same"], persons)
    sessions = m["session"].to_numpy()[p["rows"]]
    assert (p["same"] & (sessions[p["a"]] != sessions[p["b"]])).any()  # cross-session genuine pairs exist


def test_inpainting_pairs_label_by_person():
    from lib.inpaint.evaluate import person_pairs

    m = _sessions_meta()
    rows = np.flatnonzero((m["split"] == "test") & (m["pose"] == "S"))
    p = person_pairs(m, rows)
    _assert_no_same_person_impostor(p["a"], p["b"], p["same"], person_labels(m)[rows])
    assert p["same"].sum() == 4 * (6 * 5 // 2)  # every pair of a person's 6 frontal images (2 sessions x 3)


def test_lowres_suite_labels_by_person():
    from lib.lowres import evaluate as protocols

    fs = _sessions_faceset()
    s = protocols.engine_suite(fs, protocols.EngineProtocol(num_pairs=60, qmul_pairs=120, probes_per_identity=2))
    persons = person_labels(fs.meta)[s["rows"]]
    assert np.array_equal(s["ids"], persons)
    for key in ("lfw_pairs", "qmul_pairs"):
        q = s[key]
        _assert_no_same_person_impostor(q["a"], q["b"], q["same"], persons)
    g_images, g_ids = s["gallery"]
    assert sorted(g_ids) == sorted(set(persons))  # one gallery entry per person, not per session
    assert all(set(ids) <= set(g_ids) for _, ids in s["probes"].values())


def test_fra_heldout_protocol_classes_are_persons():
    from lib.fra import methods as pipeline

    m = _sessions_meta()
    found = np.ones(len(m), bool)
    requests, posture, dropped = pipeline.heldout_generation(m, found, gallery_poses=("S",), seed=0)
    assert dropped == 0 and "person" in requests
    # requests come from both sessions' gallery images and carry the person of their source
    assert set(requests["identity"].str[0]) == {"A", "B"}
    src_person = m.loc[requests["source"], "person"].to_numpy()
    assert np.array_equal(src_person, requests["person"].to_numpy())


@pytest.mark.parametrize("labels_from", ["identity", "person"])
def test_the_check_itself_catches_session_labels(labels_from):
    """The helper above must fail on session-labelled pairs (so the tests above can fail)."""
    from lib.inpaint.evaluate import all_pairs

    m = _sessions_meta()
    rows = np.flatnonzero((m["split"] == "test") & (m["pose"] == "S"))
    p = all_pairs(m[labels_from].to_numpy()[rows])
    if labels_from == "identity":
        with pytest.raises(AssertionError, match="impostor"):
            _assert_no_same_person_impostor(p["a"], p["b"], p["same"], person_labels(m)[rows])
    else:
        _assert_no_same_person_impostor(p["a"], p["b"], p["same"], person_labels(m)[rows])

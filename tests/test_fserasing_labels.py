"""lib.fserasing.labels: the engine's 25 classes re-exported; labels painted from a Face Mesh."""

from __future__ import annotations

import numpy as np
import pytest

from lib.data.engine import labels as engine_labels
from lib.data.engine import topology as T
from lib.fserasing import labels as L


def _arc(n, centre, radii, start, stop):
    t = np.radians(np.linspace(start, stop, n))
    return np.stack([centre[0] + radii[0] * np.cos(t), centre[1] + radii[1] * np.sin(t)], 1)


def toy_mesh() -> np.ndarray:
    """A frontal 478-point mesh on a 112x112 crop with every chain the labeller uses (y down)."""
    P = np.zeros((T.N_MESH, 2))
    P[T.OVAL] = _arc(len(T.OVAL), (56, 62), (38, 48), -90, 260)
    for up, lo, cx in ((T.EYE_R_UP, T.EYE_R_LO, 38), (T.EYE_L_UP, T.EYE_L_LO, 74)):
        P[up] = _arc(len(up), (cx, 52), (8, 3), 180, 360)
        P[lo] = _arc(len(lo), (cx, 52), (8, 3), 180, 0)
    for up, lo, cx in ((T.BROW_R_UP, T.BROW_R_LO, 38), (T.BROW_L_UP, T.BROW_L_LO, 74)):
        P[up] = _arc(len(up), (cx, 43), (10, 3), 180, 360)
        P[lo] = _arc(len(lo), (cx, 45), (10, 1), 180, 360)
    P[T.LIP_OUT_UP] = _arc(len(T.LIP_OUT_UP), (56, 90), (15, 5), 180, 360)
    P[T.LIP_OUT_LO] = _arc(len(T.LIP_OUT_LO), (56, 90), (15, 6), 180, 0)
    P[T.LIP_IN_UP] = _arc(len(T.LIP_IN_UP), (56, 90), (11, 1.5), 180, 360)
    P[T.LIP_IN_LO] = _arc(len(T.LIP_IN_LO), (56, 90), (11, 2.5), 180, 0)
    P[T.NOSE] = _arc(len(T.NOSE), (56, 66), (8, 13), -90, 260)
    P[50], P[280] = (40, 70), (72, 70)
    return P


def _centre(lab, name):
    r, c = np.nonzero(lab == L.ID[name])
    assert r.size, f"class {name} not painted"
    return r.mean(), c.mean()


def test_class_definitions_are_the_engines():
    assert L.CLASSES is engine_labels.CLASSES and L.PALETTE is engine_labels.PALETTE
    assert L.N_CLASSES == 25 and L.ID["headwear"] == 24 and L.ID["right_cheek"] == 1


def test_labels_from_mesh_layout():
    lab = L.labels_from_mesh(toy_mesh(), (112, 112))
    assert lab.shape == (112, 112) and lab.dtype == np.uint8 and lab.max() < 25
    # the subject's right appears on the image's left
    for part in ("cheek", "chin", "eye", "brow", "forehead"):
        assert _centre(lab, f"right_{part}")[1] < 56 < _centre(lab, f"left_{part}")[1], part
    rows = {n: _centre(lab, n)[0] for n in ("middle_forehead", "right_brow", "right_eye", "nose", "upper_lip",
                                            "lower_lip", "right_chin")}
    assert list(rows) == sorted(rows, key=rows.get), rows  # top to bottom
    assert (lab == L.ID["mouth"]).sum() > 0  # the open inner-lip contour
    assert lab[0, 0] == 0 and lab[111, 111] == 0  # outside the face: background
    assert not set(np.unique(lab)) & {L.ID[n] for n in L.NOT_PRODUCED}


def test_person_mask_adds_hair_above_and_neck_below_the_chin():
    person = np.ones((112, 112), np.float32)
    lab = L.labels_from_mesh(toy_mesh(), (112, 112), person=person)
    assert lab[2, 56] == L.ID["hair"] and lab[111, 3] == L.ID["neck"]
    with pytest.raises(ValueError, match="person mask"):
        L.labels_from_mesh(toy_mesh(), (112, 112), person=person[:10])


def test_labels_follow_a_shifted_face():
    a = L.labels_from_mesh(toy_mesh(), (112, 112))
    b = L.labels_from_mesh(toy_mesh() + [10, 0], (112, 112))
    assert np.array_equal(a[:, 20:100], b[:, 30:110])


@pytest.mark.parametrize("bad", [np.zeros((68, 2)), np.zeros((478, 4))])
def test_bad_mesh_shape_is_named(bad):
    with pytest.raises(ValueError, match="mesh must be a MediaPipe Face Mesh"):
        L.labels_from_mesh(bad, (112, 112))


def test_nan_mesh_is_refused():
    mesh = toy_mesh()
    mesh[5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        L.labels_from_mesh(mesh, (112, 112))


def test_class_fractions_sum_to_one():
    lab = L.labels_from_mesh(toy_mesh(), (112, 112))
    fr = L.class_fractions(lab)
    assert list(fr) == list(L.CLASSES) and abs(sum(fr.values()) - 1) < 1e-9
    assert fr["background"] > 0 and fr["glasses"] == 0


def test_label_faces_rejects_non_uint8():
    with pytest.raises(ValueError, match="uint8"):
        L.label_faces(np.zeros((1, 112, 112, 3), np.float32))


def test_wild_masks_are_the_background_and_hair_classes():
    from lib.data.engine.labels import ID, wild_masks

    parsing = np.array([[ID["background"], ID["hair"], ID["nose"]]], np.uint8)
    background, hair = wild_masks(parsing)
    assert background.tolist() == [[True, False, False]] and hair.tolist() == [[False, True, False]]

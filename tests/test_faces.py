"""The offline face tools on the real astronaut photo and LFW crops."""

from __future__ import annotations

import numpy as np
import pytest

from lib.data import real_photos
from lib.faces import align, detect, embed, landmarks, pipeline


@pytest.fixture(scope="module")
def astro():
    return real_photos.astronaut()


@pytest.fixture(scope="module")
def yunet():
    return detect.create_detector("yunet")


def test_real_photos_shapes():
    assert real_photos.astronaut().shape == (512, 512, 3)
    crops = real_photos.lfw_crops(5)
    assert crops.shape == (5, 25, 25, 3) and crops.dtype == np.uint8
    assert real_photos.upscale_with_context(crops, 96).shape == (5, 96, 96, 3)
    with pytest.raises(ValueError, match="n must be in 1..100"):
        real_photos.lfw_crops(101)


def test_yunet_points_order(astro, yunet):
    dets = yunet(astro)
    assert len(dets) == 1 and dets[0].score > 0.8
    p = dets[0].points5
    assert p[0, 0] < p[1, 0] and p[3, 0] < p[4, 0]  # image-left eye / mouth corner first
    assert p[0, 1] < p[2, 1] < p[3, 1]  # eyes above nose above mouth


def test_dlib_hog_and_68(astro):
    dets = detect.create_detector("dlib_hog")(astro)
    assert dets and dets[0].score > 0.5
    lm = landmarks.Dlib68()(astro, dets[0].box)
    x, y, w, h = dets[0].box
    assert lm.shape == (68, 2)
    assert (lm[:, 0] > x - 0.2 * w).all() and (lm[:, 0] < x + 1.2 * w).all()


def test_facemesh_478(astro):
    with landmarks.FaceMesh() as mesh:
        pts = mesh(astro)
        assert pts.shape == (478, 3)
        assert mesh(np.full((200, 200, 3), 128, np.uint8)) is None  # no face -> None, no crash


def test_alignment_maps_points_to_template(astro, yunet):
    p5 = yunet(astro)[0].points5
    M = align.estimate_transform(p5)
    mapped = np.c_[p5, np.ones(5)] @ M.T
    assert np.abs(mapped - align.ARCFACE_TEMPLATE).max() < 6.0  # a similarity cannot fit 5 points exactly
    assert np.allclose(align.estimate_transform(align.ARCFACE_TEMPLATE), [[1, 0, 0], [0, 1, 0]], atol=1e-6)
    with pytest.raises(ValueError, match="degenerate"):
        align.estimate_transform(np.zeros((5, 2)))
    with pytest.raises(ValueError, match="expected 5 finite"):
        align.estimate_transform(np.full((5, 2), np.nan))


def test_points5_from_68():
    lm = np.zeros((68, 2))
    lm[36:42] = [10, 20]
    lm[42:48] = [30, 20]
    lm[30], lm[48], lm[54] = [20, 30], [12, 40], [28, 40]
    assert np.allclose(align.points5_from_68(lm), [[10, 20], [30, 20], [20, 30], [12, 40], [28, 40]])
    with pytest.raises(ValueError, match=r"expected \(68, 2\)"):
        align.points5_from_68(np.zeros((5, 2)))


@pytest.mark.parametrize("name", sorted(embed.EMBEDDERS))
def test_embedders_separate_genuine_from_impostor(name, astro, yunet):
    model = embed.create_embedder(name)
    edits = real_photos.edited_copies(astro)
    photos = [edits["original"], edits["mirrored"], edits["dark"]]
    a = pipeline.detect_and_align(photos, yunet)
    e = embed.embed_faces(model, photos, a.points5)
    assert e.shape == (3, model.dim) and np.allclose(np.linalg.norm(e, axis=1), 1, atol=1e-5)
    sims = embed.cosine_matrix(e)
    assert sims[0, 1] > model.native_threshold and sims[0, 2] > model.native_threshold
    assert np.allclose(embed.embed_faces(model, photos[:1], a.points5[:1]), e[:1], atol=1e-6)  # deterministic
    assert model.align(photos[0], a.points5[0]).shape == (model.input_size, model.input_size, 3)


def test_embedder_rejects_unaligned_input():
    model = embed.create_embedder("sface")
    with pytest.raises(ValueError, match=r"expected aligned uint8 faces \(N, 112, 112, 3\).*embedder.align"):
        model(np.zeros((2, 100, 100, 3), np.uint8))
    with pytest.raises(ValueError, match="unknown embedder 'arcface'"):
        embed.create_embedder("arcface")


@pytest.mark.parametrize("bad,match", [
    (np.zeros((64, 64, 3), np.float32), "must be uint8"),
    (np.zeros((64, 64, 5), np.uint8), "H x W x 3"),
    (np.zeros((4, 4, 3), np.uint8), "too small"),
    ([[0, 1]], "numpy array"),
])
def test_detector_bad_images(bad, match, yunet):
    with pytest.raises((ValueError, TypeError), match=match):
        yunet(bad)


def test_detector_grayscale_and_rgba_accepted(astro, yunet):
    gray = astro.mean(-1).astype(np.uint8)
    rgba = np.dstack([astro, np.full(astro.shape[:2], 255, np.uint8)])
    assert len(yunet(gray)) == 1 and len(yunet(rgba)) == 1


def test_pipeline_reports_rejects(astro, yunet):
    blank = np.full((160, 160, 3), 90, np.uint8)
    b = pipeline.detect_and_align([astro, blank], yunet)
    assert b.found.tolist() == [True, False] and b.rejects == {1: "no face found by yunet"}
    assert np.isnan(b.points5[1]).all() and b.rate == 0.5
    with pytest.raises(ValueError, match="gives no 5 points"):
        pipeline.detect_and_align([astro], detect.create_detector("dlib_hog"))

"""The synthetic face engine: topology, generator, labels, expressions, renderer, builder."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lib.data.engine import expressions, generator, labels, topology
from lib.data.engine.mesh68 import MAP_FILE, landmarks68, mesh_to_68


def test_topology_counts():
    assert topology.face_triangles().shape == (852, 3)  # 854 3-cycles minus the 2 false ones
    assert topology.eye_triangles().shape == (28, 3) and topology.mouth_triangles().shape == (18, 3)
    for tris in (topology.face_triangles(), topology.eye_triangles(), topology.mouth_triangles()):
        assert (np.sort(tris, 1)[:, :-1] != np.sort(tris, 1)[:, 1:]).all()  # no repeated vertex


def test_generator_stream_is_batch_invariant():
    a = generator.sample_faces(3, 0, 6)
    assert a.shape == (6, 64, 64, 3) and a.dtype == np.uint8
    assert np.array_equal(a[2:5], generator.sample_faces(3, 2, 3))
    assert not np.array_equal(a, generator.sample_faces(4, 0, 6))


def test_label_classes_are_the_papers():
    assert len(labels.CLASSES) == 25 and labels.CLASSES[0] == "background" and labels.CLASSES[24] == "headwear"
    assert labels.ID["around_left_eye"] == 9 and labels.ID["mouth"] == 17 and labels.ID["hair"] == 21
    assert labels.PALETTE.shape == (25, 3)


def test_mesh68_map_is_committed_and_valid():
    data = json.loads(MAP_FILE.read_text())
    idx, w = mesh_to_68()
    assert idx.shape == w.shape == (68, data["k"]) and len(set(idx[:, 0].tolist())) >= 60
    assert np.allclose(w.sum(1), 1) and (w >= 0).all()  # convex: no extrapolation
    assert data["mean_residual_iod"] <= data["nearest_vertex_residual_iod"] < 0.1 and data["faces"] >= 30
    mesh = np.random.default_rng(0).uniform(0, 112, (478, 2))
    vis = np.ones(478, bool)
    vis[idx[5, 0]] = False
    lm, v = landmarks68(mesh, vis)
    assert lm.shape == (68, 2) and not v[5] and v.sum() >= 60


@pytest.fixture(scope="module")
def head():
    from lib.data.engine import candidates

    for i in range(40):
        h, _, _ = candidates.build(0, i)
        if h is not None:
            return h
    pytest.fail("no usable DCGAN candidate among the first 40")


def test_expressions_move_the_face(head):
    C = head.face.C
    assert np.array_equal(expressions.deform(C, "neutral"), C)
    for e in expressions.EMOTIONS:
        if e != "neutral":
            d = np.linalg.norm(expressions.deform(C, e) - C, axis=1)
            assert 0.005 < d.max() < 0.25, e
    with pytest.raises(ValueError, match="unknown emotion 'bored'"):
        expressions.deform(C, "bored")


def test_render_outputs_and_labels(head):
    from lib.data.engine.render import render

    r = render(head)
    assert r.image.shape == (112, 112, 3) and r.parsing.shape == (112, 112) and r.mesh478.shape == (478, 2)
    present = set(np.unique(r.parsing).tolist())
    assert {labels.ID[c] for c in ("nose", "right_eye", "left_eye", "upper_lip", "right_cheek", "left_cheek",
                                   "middle_forehead")} <= present
    assert not present & {labels.ID[c] for c in labels.NOT_PRODUCED}
    inner = r.mesh478[[468, 473, 1, 61, 291]]  # irises, nose tip, mouth corners (the crop may cut the chin)
    assert r.visible478[:468].mean() > 0.9 and (inner > 10).all() and (inner < 102).all()
    # the subject's right eye (class 11) is on the image's left
    ys, xs = np.nonzero(r.parsing == labels.ID["right_eye"])
    assert xs.mean() < 56
    again = render(head)
    assert np.array_equal(r.image, again.image) and np.array_equal(r.parsing, again.parsing)


def test_render_turned_head_hides_one_side(head):
    from lib.data.engine.render import render

    r = render(head, yaw=60)
    right_cheek = 234  # subject's right cheek extreme
    left_cheek = 454
    assert r.visible478.mean() < 0.9
    assert r.visible478[right_cheek] != r.visible478[left_cheek]
    assert (render(head, yaw=60).parsing == r.parsing).all()


def test_build_small_faceset_deterministic_and_atomic(tmp_path, monkeypatch):
    from lib.data.engine.build import EngineConfig, build_synth_kdef
    from lib.data.faceset import read_faceset

    cfg = EngineConfig(n_train=2, n_test=1, emotions=("neutral", "happy"), poses={"S": 0.0, "HR": 30.0}, workers=2)
    monkeypatch.setenv("FACEAUG_DATA", str(tmp_path / "a"))
    fs = read_faceset(build_synth_kdef(cfg, progress=False))
    m = fs.meta
    assert len(fs) == 3 * 2 * 2 * 2 and set(m["session"]) == {"A", "B"}
    assert (m["identity"] == m["session"] + m["person"]).all()
    assert set(m.loc[m["split"] == "train", "person"]).isdisjoint(m.loc[m["split"] == "test", "person"])
    assert fs.array("landmarks68").shape == (len(fs), 68, 2) and fs.array("parsing").max() <= 24
    monkeypatch.setenv("FACEAUG_DATA", str(tmp_path / "b"))
    other = read_faceset(build_synth_kdef(cfg, progress=False))
    assert fs.card["arrays"] == other.card["arrays"]  # byte-identical arrays (sha256 of each)
    # render_splits=("test",): the same test person, byte for byte, and no training person
    from dataclasses import replace

    monkeypatch.setenv("FACEAUG_DATA", str(tmp_path / "d"))
    only_test = read_faceset(build_synth_kdef(replace(cfg, render_splits=("test",)), progress=False))
    test_rows = np.flatnonzero(m["split"].to_numpy() == "test")
    assert (only_test.meta["split"] == "test").all() and len(only_test) == test_rows.size
    assert (np.asarray(only_test.images) == np.asarray(fs.images[test_rows])).all()
    assert only_test.card["selection"]["candidates"] == fs.card["selection"]["candidates"]
    assert "render_splits" not in cfg.key() and replace(cfg, render_splits=("test",)).key()["render_splits"] == ("test",)
    bad = EngineConfig(n_train=1, n_test=1, emotions=("bored",), poses={"S": 0.0}, workers=2)
    monkeypatch.setenv("FACEAUG_DATA", str(tmp_path / "c"))
    with pytest.raises(ValueError, match="unknown emotion 'bored'"):
        build_synth_kdef(bad, progress=False)
    leftovers = list((tmp_path / "c").rglob("*.npy"))
    assert leftovers == [], f"a failed build left files behind: {leftovers}"

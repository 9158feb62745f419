"""FaceSynthetics adapter (with and without the FSErasing 25-class pack) on fixture trees with the
real file names: 000000.png, 000000_seg.png, 000000_ldmks.txt, labels_25/, anno_list.csv."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from lib.data.faceset import read_faceset
from lib.data.sources import facesynthetics as fsyn, prepare
from lib.data.sources.common import Reject, SourceError, read_rejects
from lib.faces.align import ARCFACE_TEMPLATE, align_face, points5_from_68
from tests.source_fixtures import face_photo, save, save_16bit, save_corrupt, save_gray, save_rgba, save_truncated

S = 160  # fixture renders (the real ones are 512 x 512)
# The astronaut's eyes, nose tip and mouth corners in face_photo(178) (tests/test_sources_celeba.py), scaled to S.
P5 = np.array([[85, 60], [112, 61], [97, 74], [86, 85], [109, 84]], float) * S / 178
RING = 2.0 * np.stack([np.cos(np.arange(6) * np.pi / 3), np.sin(np.arange(6) * np.pi / 3)], 1)  # mean zero


def _lm70(p5) -> np.ndarray:
    """70 points whose eye contours average to the eye points, nose tip 30, mouth corners 48/54, pupils last."""
    p5 = np.asarray(p5, float)
    lm = p5[2] + np.stack([np.linspace(-30, 30, 70), np.linspace(20, -20, 70)], 1)
    lm[36:42], lm[42:48] = p5[0] + RING, p5[1] + RING
    lm[30], lm[48], lm[54], lm[68], lm[69] = p5[2], p5[3], p5[4], p5[0], p5[1]
    return lm


def _ldmks(path, lm):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{x:.6f} {y:.6f}\n" for x, y in lm))
    return path


def _labels(path, labels):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(labels, np.uint8)).save(path)
    return path


def _frame(folder, frame, *, image=None, seg=None, lm=None):
    name = f"{frame:06d}"
    save(folder / f"{name}.png", face_photo(S) if image is None else image)
    seg = np.where(np.mgrid[:S, :S][0] < S // 2, 13, 1) if seg is None else seg  # hair above, skin below
    seg = np.array(seg, np.uint8)
    seg[:4] = 255  # a strip of "ignore"
    _labels(folder / f"{name}_seg.png", seg)
    _ldmks(folder / f"{name}_ldmks.txt", _lm70(P5) if lm is None else lm)


def _pack(base, with25: dict, *, labels="labels_25", value=lambda frame: 21):
    (base / labels).mkdir(parents=True, exist_ok=True)
    for frame, w in with25.items():
        if w:
            _labels(base / labels / f"{frame:06d}_seg.png", np.full((S, S), value(frame), np.uint8))
    (base / "anno_list.csv").write_text("frame_id,with_25\n" + "".join(f"{f},{w}\n" for f, w in with25.items()))


def _tree(root, frames=range(4), with25=None, *, images="dataset_100000", labels="labels_25"):
    for frame in frames:
        _frame(root / images, frame)
    if with25 is not False:
        _pack(root, with25 or {f: 1 for f in frames}, labels=labels)
    return root


# --- per-frame files ------------------------------------------------------------------------------

def test_read_landmarks_every_point_and_bad_files(tmp_path):
    lm = _lm70(P5)
    got = fsyn.read_landmarks(_ldmks(tmp_path / "000000_ldmks.txt", lm))
    assert got.shape == (70, 2) and np.allclose(got, lm, atol=1e-6)
    (tmp_path / "tabs.txt").write_text("".join(f"{x}\t{y}\n" for x, y in lm) + "\n")  # tabs, a trailing blank line
    assert np.allclose(fsyn.read_landmarks(tmp_path / "tabs.txt"), lm)
    (tmp_path / "c.txt").write_text("1 2\n3 4\nx 2\n")
    (tmp_path / "d.txt").write_text("1 2 3\n")
    (tmp_path / "e.txt").write_text("1 2\nnan 4\n")
    for path, match in [(_ldmks(tmp_path / "a.txt", lm[:69]), r"landmarks file has 69 points \(expected 70"),
                        (_ldmks(tmp_path / "b.txt", np.vstack([lm, lm[:1]])), "has 71 points"),
                        (tmp_path / "c.txt", r"does not parse \(line 3 'x 2': expected two numbers"),
                        (tmp_path / "d.txt", r"line 1 '1 2 3'"), (tmp_path / "e.txt", r"line 2 'nan 4'"),
                        (tmp_path / "none.txt", "landmarks file is missing")]:
        with pytest.raises(Reject, match=match):
            fsyn.read_landmarks(path)


def test_read_anno_every_field(tmp_path):
    f = tmp_path / "anno_list.csv"
    f.write_text("frame_id,with_25\n0,1\n1,1\n\n10,0\n")
    assert fsyn.read_anno(f) == {0: 1, 1: 1, 10: 0}
    f.write_text("\ufeff,frame_id,with_25\n0,7,0\n1,8,1\n")  # a BOM and pandas' index column
    assert fsyn.read_anno(f) == {7: 0, 8: 1}


@pytest.mark.parametrize("text, match", [
    ("frame,with25\n0,1\n", r"line 1 'frame,with25' is not a header"),
    ("frame_id,with_25\n0,1\n1\n", r"line 3 '1' has 1 fields, the header 2"),
    ("frame_id,with_25\n0,1\nx,1\n", r"line 3 'x,1' does not parse"),
    ("frame_id,with_25\n0,1\n\n1,2\n", r"line 4 '1,2' does not parse \(expected a frame number and with_25 0 or 1\)"),
    ("frame_id,with_25\n0,1\n0,0\n", r"line 3 lists frame 0 again \(first on line 2\)"),
    ("frame_id,with_25\n", r"lists no frames"),
    ("", r"is empty"),
])
def test_malformed_anno_list_names_file_and_line(tmp_path, text, match):
    root = _tree(tmp_path / "FS", frames=(0, 1))
    (root / "anno_list.csv").write_text(text)
    with pytest.raises(SourceError, match=match) as err:
        fsyn.convert(root, tmp_path / "out", progress=False)
    assert str(root / "anno_list.csv") in str(err.value) and "data_cards/facesynthetics.md" in str(err.value)
    assert not (tmp_path / "out").exists()


# --- conversion -----------------------------------------------------------------------------------

def test_convert_every_field_arrays_and_card(tmp_path):
    root = _tree(tmp_path / "FS", frames=range(6))
    fs = read_faceset(fsyn.convert(root, tmp_path / "out", test_fraction=0.5, progress=False))
    m = fs.meta
    assert len(fs) == 6 and fs.images.shape[1:] == (112, 112, 3)
    assert m["identity"].tolist() == [f"{i:06d}" for i in range(6)] and m["frame"].tolist() == list(range(6))
    assert m["file"].tolist()[0] == "dataset_100000/000000.png"
    assert (m[["session", "emotion", "pose"]] == "").all().all() and m["yaw"].isna().all()
    assert (m["source"] == "facesynthetics").all() and (m["aligned_by"] == "landmarks").all()
    assert m["det_score"].isna().all() and (m["with_25"] == 1).all()
    assert m["split"].value_counts().to_dict() == {"train": 3, "test": 3}
    assert fs.array("landmarks68").shape == (6, 68, 2) and fs.array("landmarks68").dtype == np.float32
    p19, p25 = fs.array("parsing19"), fs.array("parsing")
    assert set(np.unique(p19)) <= {0, 1, 13, 255} and {1, 13} <= set(np.unique(p19))
    assert set(np.unique(p25)) <= {0, 21}
    c = fs.card
    assert c["parameters"]["layout"] == {"images": "dataset_100000", "labels_25": "labels_25",
                                         "anno_list": "anno_list.csv"}
    assert c["parameters"]["align"]["template"] == "arcface" and c["parameters"]["require_25"] is True
    assert c["classes"]["parsing19"][13] == "hair" and c["classes"]["parsing19_ignore"] == 255
    assert c["classes"]["parsing"][8] == "around_right_eye" and len(c["classes"]["parsing"]) == 25
    assert c["label_pack"] == {"frames_with_25": 6, "frames_without_25": 0}
    assert c["rejects"]["count"] == 0 and c["data_card"] == "data_cards/facesynthetics.md"


def test_alignment_puts_landmarks_on_the_template_and_labels_follow_the_image(tmp_path):
    t = np.radians(8)
    R = 1.2 * np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    src = ARCFACE_TEMPLATE @ R.T + [24, 7]  # a similarity of the template; the whole crop lies inside the render
    yy, xx = np.mgrid[:S, :S]
    seg = ((yy // 12) * 5 + xx // 12) % 19  # blocks of the 19 classes
    for k, cls in ((0, 3), (1, 4)):  # right_eye / left_eye squares on the two eye points
        x, y = np.rint(src[k]).astype(int)
        seg[y - 4:y + 5, x - 4:x + 5] = cls
    image = np.repeat((seg * 12).astype(np.uint8)[..., None], 3, -1)  # grey level = 12 x class
    root = tmp_path / "FS"
    lm = _lm70(src)
    _frame(root, 7, image=image, seg=seg, lm=lm)
    _pack(root, {7: 1})
    _labels(root / "labels_25" / "000007_seg.png", (seg + 3) % 25)
    fs = read_faceset(fsyn.convert(root, tmp_path / "out", progress=False))
    crop, pts = fs.images[0], fs.array("landmarks68")[0]
    assert fs.meta["file"].tolist() == ["000007.png"] and fs.card["parameters"]["layout"]["images"] == "."
    # the 5 alignment points land on the template; every other point moved by the same similarity
    assert np.allclose(points5_from_68(pts), ARCFACE_TEMPLATE, atol=1e-3)
    assert np.allclose(pts[30], ARCFACE_TEMPLATE[2], atol=1e-3) and np.allclose(pts[48], ARCFACE_TEMPLATE[3], atol=1e-3)
    d_src, d_out = np.linalg.norm(lm[0] - lm[16]), np.linalg.norm(pts[0] - pts[16])
    assert abs(d_out / d_src - 1 / 1.2) < 1e-4
    assert np.array_equal(crop, align_face(image, points5_from_68(lm[:68]), 112))  # warped as align_face
    # labels warp with the image: the eye squares sit on the template's eye points ...
    p19, p25 = fs.array("parsing19")[0], fs.array("parsing")[0]
    for k, cls in ((0, 3), (1, 4)):
        x, y = np.rint(ARCFACE_TEMPLATE[k]).astype(int)
        assert p19[y, x] == cls
    # ... and inside every block the crop's grey level is 12 x its class
    flat = np.ones_like(p19, bool)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            flat &= np.roll(p19, (dy, dx), (0, 1)) == p19
    flat[[0, -1]], flat[:, [0, -1]] = False, False
    assert flat.mean() > 0.5
    assert np.abs(crop[..., 0][flat].astype(int) - 12 * p19[flat].astype(int)).max() <= 1
    assert np.array_equal(p25, (p19 + 3) % 25)  # both label maps by the same nearest-neighbour warp


def test_label_pack_locations_spellings_and_require_25(tmp_path):
    # labels25/ spelling, next to the frames (not in the root); frame 2 without a label, frame 3 not listed
    root = tmp_path / "FS"
    for f in range(4):
        _frame(root / "dataset_100000", f)
    _pack(root / "dataset_100000", {0: 1, 1: 1, 2: 0}, labels="labels25", value=lambda f: 20 + f)
    fs = read_faceset(fsyn.convert(root, tmp_path / "out", progress=False))
    assert fs.meta["frame"].tolist() == [0, 1]
    assert [np.unique(p).tolist() for p in fs.array("parsing")] == [[20], [21]]
    assert fs.card["parameters"]["layout"]["labels_25"] == "dataset_100000/labels25"
    rej = read_rejects(fs.root).set_index("file")["reason"].to_dict()
    assert rej == {"dataset_100000/000002.png": "no 25-class label (anno_list.csv with_25 = 0)",
                   "dataset_100000/000003.png": "no 25-class label (frame not listed in anno_list.csv)"}
    assert fs.card["rejects"]["reasons"] == {"no 25-class label": 2}
    # require_25=False keeps them: all-background parsing and with_25 = 0
    fs = read_faceset(fsyn.convert(root, tmp_path / "out2", require_25=False, progress=False))
    assert fs.meta["with_25"].tolist() == [1, 1, 0, 0]
    assert fs.array("parsing")[2:].max() == 0 and fs.card["label_pack"] == {"frames_with_25": 2,
                                                                            "frames_without_25": 2}
    # labels_root elsewhere; it wins over nothing in the root
    other = tmp_path / "detailed_facesynthetics"
    _pack(other, {f: 1 for f in range(4)}, value=lambda f: 24)
    (root / "dataset_100000" / "anno_list.csv").unlink()
    with pytest.raises(SourceError, match=r"has labels25/ but no anno_list.csv"):
        fsyn.convert(root, tmp_path / "out3", progress=False)
    fs = read_faceset(fsyn.convert(root, tmp_path / "out3", labels_root=other, progress=False))
    assert len(fs) == 4 and fs.array("parsing").max() == 24
    assert fs.card["parameters"]["labels_root"] == str(other)
    assert fs.card["parameters"]["layout"]["labels_25"] == str(other / "labels_25")


@pytest.mark.parametrize("images", [".", "dataset_1000", "images"])
def test_without_the_pack_there_is_no_parsing_array(tmp_path, images):
    root = _tree(tmp_path / "FS", frames=(0, 1), with25=False, images=images)
    fs = read_faceset(fsyn.convert(root, tmp_path / "out", require_25=True, progress=False))
    assert fs.card["parameters"]["layout"]["images"] == images
    assert fs.meta["file"][0] == ("" if images == "." else images + "/") + "000000.png"
    assert len(fs) == 2 and not fs.has("parsing") and fs.has("parsing19") and fs.has("landmarks68")
    assert "with_25" not in fs.meta.columns and "parsing" not in fs.card["classes"]
    assert fs.card["parameters"]["layout"]["labels_25"] is None and "label_pack" not in fs.card


def test_bad_files_are_recorded_not_fatal(tmp_path):
    root = _tree(tmp_path / "FS", frames=range(2))
    d = root / "dataset_100000"
    save_corrupt(d / "000002.png")
    save_truncated(d / "000003.png", face_photo(S))
    for f in (2, 3):
        _labels(d / f"{f:06d}_seg.png", np.ones((S, S)))
        _ldmks(d / f"{f:06d}_ldmks.txt", _lm70(P5))
    _frame(d, 4)
    save_gray(d / "000004.png", face_photo(S))  # gray, RGBA and 16-bit renders are accepted
    _frame(d, 5)
    save_rgba(d / "000005.png", face_photo(S))
    _frame(d, 6)
    save_16bit(d / "000006.png", face_photo(S))
    _frame(d, 7)
    _labels(d / "000007_seg.png", np.ones((S // 2, S)))  # seg map of another size
    _frame(d, 8, seg=np.full((S, S), 40))  # a class FaceSynthetics does not have
    _frame(d, 9)
    _ldmks(d / "000009_ldmks.txt", _lm70(P5)[:68])  # the pupils are missing
    _frame(d, 10)
    (d / "000010_ldmks.txt").write_text("1.0 2.0\n" * 5 + "a b\n" + "1.0 2.0\n" * 64)
    _frame(d, 11)
    (d / "000011_seg.png").unlink()
    _frame(d, 12)
    (d / "000012_ldmks.txt").unlink()
    _labels(d / "000013_seg.png", np.ones((S, S)))  # no image
    _frame(d, 14)
    save(d / "000014_seg.png", face_photo(S))  # an RGB seg map
    _frame(d, 15)  # its 25-class label has a value above 24
    _frame(d, 16)  # its 25-class label is listed (with_25 = 1) but not in labels_25/
    save(d / "preview.png", face_photo(32))  # not a frame
    (d / "README.txt").write_text("ignored: not an image")
    _pack(root, {f: 1 for f in range(17)}, value=lambda f: 30 if f == 15 else 21)
    (root / "labels_25" / "000016_seg.png").unlink()
    fs = read_faceset(fsyn.convert(root, tmp_path / "out", progress=False))
    assert fs.meta["frame"].tolist() == [0, 1, 4, 5, 6]
    gray = fs.images[2]
    assert np.array_equal(gray[..., 0], gray[..., 2]) and gray.std() > 10
    assert np.abs(fs.images[4].astype(int) - fs.images[2].astype(int)).mean() < 3  # 16-bit scaled to 8-bit
    rej = read_rejects(fs.root).set_index("file")["reason"].to_dict()
    f = "dataset_100000/"
    assert rej[f + "000002.png"].startswith("not a readable image")
    assert "truncated" in rej[f + "000003.png"]
    assert rej[f + "000007.png"] == "segmentation map size differs from the image (160x80, image 160x160)"
    assert rej[f + "000008.png"] == "segmentation map has values outside 0..18 and 255 (found [40])"
    assert rej[f + "000009.png"].startswith("landmarks file has 68 points (expected 70:")
    assert rej[f + "000010.png"] == ("landmarks file does not parse (line 6 'a b': expected two numbers 'x y')")
    assert rej[f + "000011.png"] == "segmentation map is missing (000011_seg.png)"
    assert rej[f + "000012.png"] == "landmarks file is missing (000012_ldmks.txt)"
    assert rej[f + "000013.png"] == "image is missing (the frame has only _seg.png)"
    assert rej[f + "000014.png"].startswith("segmentation map is unusable (label map is mode RGB")
    assert rej[f + "000015.png"] == "25-class label has values outside 0..24 (found [30])"
    assert rej[f + "000016.png"] == "25-class label is unusable (label file is missing)"
    assert rej[f + "preview.png"].startswith("file name does not follow the FaceSynthetics scheme")
    assert len(rej) == 13 and fs.card["rejects"]["count"] == 13


def test_missing_root_wrong_layout_and_half_packs(tmp_path):
    with pytest.raises(SourceError, match=r"does not exist.*data_cards/facesynthetics.md"):
        fsyn.convert(tmp_path / "nope", tmp_path / "out")
    save(tmp_path / "photos" / "IMG_0001.png", face_photo(32))
    with pytest.raises(SourceError, match=r"no FaceSynthetics frames found .*dataset_100000/"):
        fsyn.convert(tmp_path / "photos", tmp_path / "out")
    lonely = tmp_path / "lonely"
    save(lonely / "000000.png", face_photo(32))
    with pytest.raises(SourceError, match=r"holds no complete frame .*segmentation map is missing"):
        fsyn.convert(lonely, tmp_path / "out")
    root = _tree(tmp_path / "FS", frames=(0,), with25=False)
    (root / "anno_list.csv").write_text("frame_id,with_25\n0,1\n")
    with pytest.raises(SourceError, match=r"has anno_list.csv but no labels_25/ or labels25/"):
        fsyn.convert(root, tmp_path / "out")
    (root / "anno_list.csv").unlink()
    with pytest.raises(SourceError, match=r"nowhere: does not exist \(expected the FSErasing label pack"):
        fsyn.convert(root, tmp_path / "out", labels_root=tmp_path / "nowhere")
    with pytest.raises(SourceError, match=r"holds neither labels_25/ nor labels25/ nor anno_list.csv"):
        fsyn.convert(root, tmp_path / "out", labels_root=tmp_path / "photos")
    _pack(root, {0: 0})
    with pytest.raises(SourceError, match=r"anno_list.csv: marks none of the frames found with with_25 = 1"):
        fsyn.convert(root, tmp_path / "out")
    with pytest.raises(ValueError, match="max_images=0"):
        fsyn.convert(root, tmp_path / "out", max_images=0)
    with pytest.raises(SourceError, match="no path was given"):
        prepare("facesynthetics", "")
    assert not (tmp_path / "out").exists()


def test_all_rejected_writes_nothing(tmp_path):
    root = _tree(tmp_path / "FS", frames=(0, 1), with25=False)
    save_corrupt(root / "dataset_100000" / "000000.png")
    _ldmks(root / "dataset_100000" / "000001_ldmks.txt", _lm70(P5)[:10])
    with pytest.raises(SourceError, match=r"all 2 files were rejected"):
        fsyn.convert(root, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists() and list(tmp_path.iterdir()) == [root]


def test_subset_keeps_each_frames_split_and_prepare_converts_once(tmp_path, isolated_dirs, monkeypatch):
    root = _tree(tmp_path / "FS", frames=range(10))
    full = read_faceset(fsyn.convert(root, tmp_path / "full", test_fraction=0.3, progress=False)).meta
    assert full["split"].value_counts().to_dict() == {"train": 7, "test": 3}
    sub = read_faceset(fsyn.convert(root, tmp_path / "sub", test_fraction=0.3, max_images=4, progress=False)).meta
    assert len(sub) == 4 and sub["frame"].is_monotonic_increasing
    assert sub["split"].tolist() == full.set_index("frame").loc[sub["frame"], "split"].tolist()
    picks = {tuple(read_faceset(fsyn.convert(root, tmp_path / f"s{s}", max_images=3, seed=s, progress=False))
                   .meta["frame"]) for s in range(3)}
    assert len(picks) > 1  # random, not the first three
    monkeypatch.setenv("FACEAUG_FACESYNTHETICS", str(root))
    out = prepare("facesynthetics", progress=False, max_images=2)
    stamp = (out / "card.json").stat().st_mtime_ns
    assert prepare("facesynthetics", root, progress=False, max_images=2) == out
    assert (out / "card.json").stat().st_mtime_ns == stamp
    with pytest.raises(ValueError, match="unknown parameters"):
        prepare("facesynthetics", root, labels=None)

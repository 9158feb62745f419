"""CelebA and CelebA-C adapters on fixture trees with the real layout and annotation files."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest

from lib.data.degrade import celeba_c_damage
from lib.data.faceset import read_faceset
from lib.data.sources import celeba, celeba_c, prepare
from lib.data.sources.common import Rejects, SourceError, read_rejects
from lib.faces.align import ARCFACE_TEMPLATE
from lib.seeding import numpy_rng
from tests.source_fixtures import (face_photo, flat_image, save, save_16bit, save_corrupt, save_gray, save_rgba,
                                   save_truncated)

LM = (85, 80, 112, 81, 97, 94, 86, 105, 109, 104)  # the astronaut's eyes, nose, mouth corners in _photo()
HEADER = " ".join(celeba.LANDMARK_COLUMNS)


@lru_cache(maxsize=None)
def _photo() -> np.ndarray:
    """A real face on CelebA's 178 x 218 aligned canvas."""
    return np.pad(face_photo(178), ((20, 20), (0, 0), (0, 0)), mode="edge")


def _write(path, lines):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


def _landmarks(path, rows: dict):
    lines = [f"{name} " + " ".join(str(int(v)) for v in pts) for name, pts in rows.items()]
    return _write(path, [str(len(rows)), HEADER, *lines])


def _tree(root, ids=("2880", "2880", "17", "17", "503", "503"), parts="001122", *, images="img_align_celeba",
          anno="", evaldir="", landmarks=True):
    names = [f"{i + 1:06d}.jpg" for i in range(len(ids))]
    for name in names:
        save(root / images / name, _photo())
    _write(root / anno / "identity_CelebA.txt", [f"{n} {i}" for n, i in zip(names, ids)])
    _write(root / evaldir / "list_eval_partition.txt", [f"{n} {p}" for n, p in zip(names, parts)])
    if landmarks:
        _landmarks(root / anno / "list_landmarks_align_celeba.txt", {n: LM for n in names})
    return root


# --- annotation files ---------------------------------------------------------------------------

def test_annotation_files_every_field(tmp_path):
    ids = celeba.read_identities(_write(tmp_path / "identity_CelebA.txt", ["000001.jpg 2880", "", "000002.jpg 017"]))
    assert ids == {"000001.jpg": "2880", "000002.jpg": "17"}
    parts = celeba.read_partition(_write(tmp_path / "list_eval_partition.txt", ["000001.jpg 0", "000002.jpg 1",
                                                                                "000003.jpg 2"]))
    assert parts == {"000001.jpg": "train", "000002.jpg": "val", "000003.jpg": "test"}
    csv = celeba.read_partition(_write(tmp_path / "list_eval_partition.csv", ["image_id,partition", "000001.jpg,2"]))
    assert csv == {"000001.jpg": "test"}
    mirrored = (112, 81, 85, 80, 97, 94, 109, 104, 86, 105)  # image-left eye and mouth corner listed second
    pts = celeba.read_landmarks(_landmarks(tmp_path / "lm.txt", {"000001.jpg": LM, "000002.jpg": mirrored}))
    expected = np.array(LM, float).reshape(5, 2)
    assert np.array_equal(pts["000001.jpg"], expected) and np.array_equal(pts["000002.jpg"], expected)
    lm_csv = _write(tmp_path / "list_landmarks_align_celeba.csv", ["image_id," + ",".join(celeba.LANDMARK_COLUMNS),
                                                                   "000001.jpg," + ",".join(map(str, LM))])
    assert np.array_equal(celeba.read_landmarks(lm_csv)["000001.jpg"], expected)


@pytest.mark.parametrize("file, lines, match", [
    ("identity_CelebA.txt", ["000001.jpg 2880", "000002.jpg"],
     r"identity_CelebA.txt: line 2 '000002.jpg' does not parse"),
    ("identity_CelebA.txt", ["000001.jpg 2880", "", "000002.jpg x17"], r"line 3 '000002.jpg x17' does not parse"),
    ("identity_CelebA.txt", ["000001.jpg 1", "000002.jpg 1", "000001.jpg 1"],
     r"line 3 lists 000001.jpg again \(first on line 1\)"),
    ("list_eval_partition.txt", ["000001.jpg 0", "000002.jpg 3"], r"list_eval_partition.txt: line 2 .*<0\|1\|2>"),
    ("list_eval_partition.txt", ["000001.jpg,0", "000002.jpg,0"], r"line 1 '000001.jpg,0' does not parse"),
    ("list_landmarks_align_celeba.txt", ["2", "lefteye_x lefteye_y", "000001.jpg " + " ".join(map(str, LM))],
     r"list_landmarks_align_celeba.txt: line 2 .*expected the header"),
    ("list_landmarks_align_celeba.txt", ["lots", HEADER], r"line 1 'lots' does not parse"),
    ("list_landmarks_align_celeba.txt", ["2", HEADER, "000001.jpg " + " ".join(map(str, LM)), "000002.jpg 1 2 3"],
     r"line 4 '000002.jpg 1 2 3' does not parse"),
    ("list_landmarks_align_celeba.txt", ["3", HEADER, "000001.jpg " + " ".join(map(str, LM))],
     r"line 1 announces 3 images but 1 follow"),
])
def test_malformed_annotation_line_names_file_and_line(tmp_path, file, lines, match):
    root = _tree(tmp_path / "CelebA", ids=("1", "2"), parts="01")
    _write(root / file, lines)
    with pytest.raises(SourceError, match=match) as err:
        celeba.convert(root, tmp_path / "out", progress=False)
    assert str(root / file) in str(err.value) and "data_cards/celeba.md" in str(err.value)
    assert not (tmp_path / "out").exists()


# --- CelebA -------------------------------------------------------------------------------------

def test_convert_parses_every_field_and_uses_the_official_splits(tmp_path):
    root = _tree(tmp_path / "CelebA")
    fs = read_faceset(celeba.convert(root, tmp_path / "out", progress=False))
    m = fs.meta
    assert len(fs) == 6 and fs.images.shape[1:] == (112, 112, 3)
    assert m["identity"].tolist() == ["2880", "2880", "17", "17", "503", "503"]
    assert m["split"].tolist() == ["train", "train", "val", "val", "test", "test"]
    assert m["file"].tolist()[0] == "img_align_celeba/000001.jpg" and m["image_id"].tolist()[-1] == "000006.jpg"
    assert (m[["session", "emotion", "pose"]] == "").all().all() and m["yaw"].isna().all()
    assert (m["source"] == "celeba").all() and (m["aligned_by"] == "landmarks").all() and m["det_score"].isna().all()
    p = fs.card["parameters"]
    assert p["align"]["method"] == "landmarks" and p["layout"]["partition"] == "list_eval_partition.txt"
    assert fs.card["counts"]["splits"]["val"] == {"images": 2, "identities": 1}
    assert fs.card["rejects"]["count"] == 0


def test_landmark_alignment_puts_the_given_points_on_the_template(tmp_path):
    t = np.radians(8)
    R = 1.25 * np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    src = np.rint(ARCFACE_TEMPLATE @ R.T + [22, 45])  # a similarity of the template, in whole pixels as CelebA
    image = np.zeros((218, 178, 3), np.uint8)
    for x, y in src.astype(int):
        image[y - 2:y + 3, x - 2:x + 3] = 255
    root = tmp_path / "CelebA"
    for name in ("000001.png", "000002.png"):  # lossless: the dots stay sharp
        save(root / "img_align_celeba" / name, image)
    _write(root / "identity_CelebA.txt", ["000001.png 1", "000002.png 1"])
    _write(root / "list_eval_partition.txt", ["000001.png 0", "000002.png 0"])
    swapped = src[[1, 0, 2, 4, 3]]  # "lefteye" given as the image-right eye: ordered by x again
    _landmarks(root / "list_landmarks_align_celeba.txt", {"000001.png": src.ravel(), "000002.png": swapped.ravel()})
    fs = read_faceset(celeba.convert(root, tmp_path / "out", progress=False))
    for crop in fs.images:
        gray = crop.mean(-1)
        for x, y in np.rint(ARCFACE_TEMPLATE).astype(int):
            assert gray[y, x] > 150, (x, y)
        assert gray[30, 56] == 0 and gray[100, 10] == 0
    assert np.array_equal(fs.images[0], fs.images[1])


def test_detector_without_landmarks_kaggle_nesting_and_subfolders(tmp_path):
    root = _tree(tmp_path / "CelebA", ids=("1", "2"), parts="02", images="img_align_celeba/img_align_celeba",
                 anno="Anno", evaldir="Eval", landmarks=False)
    fs = read_faceset(celeba.convert(root, tmp_path / "out", progress=False))
    assert fs.meta["file"].tolist() == ["img_align_celeba/img_align_celeba/000001.jpg",
                                        "img_align_celeba/img_align_celeba/000002.jpg"]
    assert (fs.meta["aligned_by"] == "yunet").all() and fs.meta["det_score"].min() > 0.6
    assert fs.card["parameters"]["layout"] == {"images": "img_align_celeba/img_align_celeba",
                                               "identity": "Anno/identity_CelebA.txt",
                                               "partition": "Eval/list_eval_partition.txt", "landmarks": None}
    with pytest.raises(SourceError, match="align='landmarks' but no landmark file found"):
        celeba.convert(root, tmp_path / "out2", align="landmarks")


def test_subset_is_deterministic_and_spans_the_splits(tmp_path):
    rejects = Rejects()
    root = _tree(tmp_path / "CelebA", ids=tuple(str(i // 2 + 1) for i in range(12)), parts="000000001122")
    df = celeba.scan(celeba.find_layout(root), rejects)
    assert len(df) == 12 and len(rejects) == 0
    two = celeba.select(df, max_identities=2, seed=0)
    assert two["identity"].nunique() == 2 and len(two) == 4 and two["file"].is_monotonic_increasing
    assert two.equals(celeba.select(df, max_identities=2, seed=0))
    assert len(celeba.select(df, max_identities=3, max_images=4, seed=1)) == 4
    picks = {tuple(celeba.select(df, max_images=5, seed=s)["image_id"]) for s in range(6)}
    assert len(picks) > 1 and any("000012.jpg" in p for p in picks)  # random, not the first five
    assert celeba.select(df, max_images=100).equals(df)
    with pytest.raises(ValueError, match="max_images=0 must be a positive integer"):
        celeba.select(df, max_images=0)
    fs = read_faceset(celeba.convert(root, tmp_path / "out", max_identities=2, max_images=3, progress=False))
    assert len(fs) == 3 and fs.meta["identity"].nunique() <= 2


def test_bad_files_are_recorded_not_fatal(tmp_path):
    root = _tree(tmp_path / "CelebA", ids=("1", "1"), parts="00")
    d = root / "img_align_celeba"
    save_corrupt(d / "000003.jpg")
    save_truncated(d / "000004.jpg", _photo())
    save_gray(d / "000005.jpg", _photo())
    save_rgba(d / "000006.png", _photo())
    save_16bit(d / "000007.jpg", _photo())  # a 16-bit PNG stream under a .jpg name
    save(d / "000009.jpg", _photo())  # not in the identity file
    save(d / "000010.jpg", _photo())  # no partition entry
    save(d / "000011.jpg", _photo())  # no landmarks
    save(d / "000012.jpg", flat_image(40))  # landmarks outside the image
    (d / "readme.txt").write_text("not an image")
    names = [f"{i:06d}.jpg" for i in range(1, 13) if i not in (6, 9)] + ["000006.png"]
    _write(root / "identity_CelebA.txt", [f"{n} {k % 3 + 1}" for k, n in enumerate(names)])
    _write(root / "list_eval_partition.txt", [f"{n} 0" for n in names if n != "000010.jpg"])
    _landmarks(root / "list_landmarks_align_celeba.txt", {n: LM for n in names if n != "000011.jpg"})
    fs = read_faceset(celeba.convert(root, tmp_path / "out", progress=False))
    assert fs.meta["image_id"].tolist() == ["000001.jpg", "000002.jpg", "000005.jpg", "000006.png", "000007.jpg"]
    rej = read_rejects(fs.root).set_index("file")["reason"].to_dict()
    f = "img_align_celeba/"
    assert rej == {f + "000003.jpg": rej[f + "000003.jpg"], f + "000004.jpg": rej[f + "000004.jpg"],
                   f + "000008.jpg": "file is missing",
                   f + "000009.jpg": "not listed in identity_CelebA.txt (no identity)",
                   f + "000010.jpg": "not listed in list_eval_partition.txt (no split)",
                   f + "000011.jpg": "no landmarks in list_landmarks_align_celeba.txt",
                   f + "000012.jpg": rej[f + "000012.jpg"]}
    assert rej[f + "000003.jpg"].startswith("not a readable image") and "truncated" in rej[f + "000004.jpg"]
    assert rej[f + "000012.jpg"].startswith("landmarks fall outside the 40x40 image")
    assert fs.card["rejects"]["count"] == 7


def test_missing_root_and_wrong_layouts(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(SourceError, match=r"does not exist.*data_cards/celeba.md"):
        celeba.convert(tmp_path / "nope", out)
    with pytest.raises(SourceError, match="no path was given"):
        prepare("celeba", "")
    save(tmp_path / "photos" / "IMG_0001.jpg", face_photo(32))
    with pytest.raises(SourceError, match=r"no image folder found \(looked for img_align_celeba/img_align_celeba/"):
        celeba.convert(tmp_path / "photos", out)
    root = _tree(tmp_path / "CelebA", ids=("1",), parts="0")
    with pytest.raises(SourceError, match=r"this is the image folder itself.*give the folder that holds"):
        celeba.convert(root / "img_align_celeba", out)
    (root / "identity_CelebA.txt").rename(tmp_path / "identity.bak")
    with pytest.raises(SourceError, match=r"no identity file found.*Kaggle copy lacks identity_CelebA.txt"):
        celeba.convert(root, out)
    (tmp_path / "identity.bak").rename(root / "identity_CelebA.txt")
    (root / "list_eval_partition.txt").unlink()
    with pytest.raises(SourceError, match=r"no partition file found \(looked for list_eval_partition.txt"):
        celeba.convert(root, out)
    _write(root / "list_eval_partition.txt", ["000001.jpg 0"])
    _write(root / "identity_CelebA.txt", ["100001.jpg 1", "100002.jpg 1"])
    with pytest.raises(SourceError, match=r"holds none of the 2 images.*same CelebA copy"):
        celeba.convert(root, out)
    with pytest.raises(ValueError, match="align='mtcnn'"):
        celeba.convert(root, out, align="mtcnn")
    assert not out.exists()


def test_all_rejected_writes_nothing(tmp_path):
    root = _tree(tmp_path / "CelebA", ids=("1", "2"), parts="00", landmarks=False)
    save_corrupt(root / "img_align_celeba" / "000001.jpg")
    save(root / "img_align_celeba" / "000002.jpg", flat_image(64))
    with pytest.raises(SourceError, match=r"all 2 files were rejected"):
        celeba.convert(root, tmp_path / "out", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["CelebA"]


def test_prepare_reads_the_environment_variable(tmp_path, isolated_dirs, monkeypatch):
    root = _tree(tmp_path / "CelebA", ids=("1", "2"), parts="02")
    monkeypatch.setenv("FACEAUG_CELEBA", str(root))
    out = prepare("celeba", progress=False)
    assert out.parent.name == "celeba" and len(read_faceset(out)) == 2
    assert prepare("celeba", root, progress=False) == out


# --- CelebA-C -----------------------------------------------------------------------------------

def test_celeba_c_aligns_measures_and_damages(tmp_path):
    root = _tree(tmp_path / "CelebA", ids=("1", "2", "3"), parts="012", landmarks=False)
    save(root / "img_align_celeba" / "000003.jpg", flat_image(178))
    fs = read_faceset(celeba_c.convert(root, tmp_path / "out", progress=False))
    m = fs.meta
    assert len(fs) == 2 and fs.images.shape == (2, 256, 256, 3)
    assert m["split"].tolist() == ["train", "val"] and (m["source"] == "celeba_c").all()
    assert m["yaw"].abs().max() < 10 and (m["aligned_by"] == "facemesh").all()
    assert read_rejects(fs.root).to_dict("records") == [{"file": "img_align_celeba/000003.jpg",
                                                         "reason": "no face mesh found by MediaPipe"}]
    damaged, mask = fs.array("damaged"), fs.array("mask")
    for k in range(len(fs)):
        clean = fs.images[k]
        assert 0.02 < mask[k].mean() < 0.15 and m["mask_coverage"][k] == pytest.approx(mask[k].mean(), abs=1e-6)
        assert np.array_equal(damaged[k][~mask[k]], clean[~mask[k]])  # untouched outside the mask
        assert (damaged[k][mask[k]] != clean[mask[k]]).any(-1).mean() > 0.9  # noise inside
        again = celeba_c_damage(clean, numpy_rng(0, "celeba_c", m["image_id"][k]))  # reproducible per file
        assert np.array_equal(again[0], damaged[k]) and np.array_equal(again[1], mask[k])
    assert not np.array_equal(mask[0], mask[1])
    cov = fs.card["mask_coverage"]
    assert cov["n"] == 2 and cov["mean"] == pytest.approx(m["mask_coverage"].mean())
    assert cov["published"]["mean"] == 0.071
    # the eyes of the aligned crop are where eye_align put them (MediaPipe run again on the crop)
    from lib.faces.landmarks import FaceMesh

    with FaceMesh() as mesh:
        iris = mesh(np.ascontiguousarray(fs.images[0]))[[468, 473], :2]
    assert np.allclose(iris, [[93, 85], [163, 85]], atol=4)


def test_celeba_c_yaw_filter_records_the_reason(tmp_path, monkeypatch):
    root = _tree(tmp_path / "CelebA", ids=("1", "2"), parts="00", landmarks=False)
    real, calls = celeba_c._face_mesh, []

    def turning_mesh():
        mesh = real()

        def call(image):
            pts = mesh(image)
            calls.append(1)
            if len(calls) == 2:  # the second photo: nose tip moved right by the inner-eye distance (~45 deg)
                pts[1, 0] += np.hypot(*(pts[362, :2] - pts[133, :2]))
            return pts

        call.close = mesh.close
        return call

    monkeypatch.setattr(celeba_c, "_face_mesh", turning_mesh)
    fs = read_faceset(celeba_c.convert(root, tmp_path / "out", progress=False))
    assert fs.meta["image_id"].tolist() == ["000001.jpg"]
    reason = read_rejects(fs.root).set_index("file")["reason"]["img_align_celeba/000002.jpg"]
    assert reason.startswith("yaw over 20 deg (CelebA-C filter): +4") and reason.endswith(" deg")
    assert fs.card["rejects"]["reasons"] == {"yaw over 20 deg": 1}
    calls.clear()
    fs = read_faceset(celeba_c.convert(root, tmp_path / "out2", max_yaw=60, progress=False))
    assert len(fs) == 2 and fs.meta["yaw"][1] > 40


def test_celeba_c_bad_inputs(tmp_path):
    with pytest.raises(SourceError, match=r"does not exist.*data_cards/celeba_c.md"):
        celeba_c.convert(tmp_path / "nope", tmp_path / "out")
    root = _tree(tmp_path / "CelebA", ids=("1",), parts="0", landmarks=False)
    save(root / "img_align_celeba" / "000001.jpg", flat_image(178))
    with pytest.raises(SourceError, match=r"all 1 files were rejected \(\{'no face mesh found by MediaPipe': 1\}\)"):
        celeba_c.convert(root, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()

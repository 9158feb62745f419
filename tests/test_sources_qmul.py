"""QMUL-SurvFace verification adapter on a fixture tree with the real layout (.mat cell arrays of
image names, tiny surveillance crops)."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from PIL import Image
from scipy.io import savemat

from lib.data.faceset import read_faceset
from lib.data.sources import prepare, qmul
from lib.data.sources.common import SourceError, read_rejects
from tests.source_fixtures import (face_photo, flat_image, save, save_16bit, save_corrupt, save_gray, save_rgba,
                                   save_truncated)

TEST_SET = "Face_Verification_Test_Set"
POSITIVE = [("1_cam1_0001.jpg", "1_cam2_0007.jpg"), ("2_cam1_0003.jpg", "2_cam3_0004.jpg"),
            ("3_cam1_0002.jpg", "3_cam1_0009.jpg")]
NEGATIVE = [("1_cam1_0001.jpg", "2_cam1_0003.jpg"), ("2_cam3_0004.jpg", "3_cam1_0002.jpg"),
            ("3_cam1_0009.jpg", "1_cam2_0007.jpg")]


def tiny(value=None) -> np.ndarray:
    """A surveillance crop of 20 x 24 pixels (width x height): the face, or a flat patch."""
    src = face_photo(96) if value is None else flat_image(96, value)
    return np.asarray(Image.fromarray(src).resize((20, 24), Image.BILINEAR))


def cells(pairs) -> np.ndarray:
    """An N x 2 object array of strings: scipy.io.savemat writes it as a MATLAB cell array."""
    out = np.empty((len(pairs), 2), dtype=object)
    for i, (a, b) in enumerate(pairs):
        out[i, 0], out[i, 1] = a, b
    return out


def _tree(root, positive=POSITIVE, negative=NEGATIVE, images=True):
    folder = root / TEST_SET
    folder.mkdir(parents=True, exist_ok=True)
    savemat(folder / "positive_pairs_names.mat", {"positive_pairs_names": cells(positive)})
    savemat(folder / "negative_pairs_names.mat", {"negative_pairs_names": cells(negative)})
    (folder / "verification_images").mkdir(exist_ok=True)
    if images:
        for name in sorted({n for p in positive + negative for n in p}):
            save(folder / "verification_images" / name, tiny())
    return root


def _fake_v73(path):
    """The 512-byte header MATLAB writes before the HDF5 data of a v7.3 file (version 0x0200)."""
    text = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 ."
    path.write_bytes((text.ljust(116) + b"\0" * 8 + b"\x00\x02IM").ljust(512, b"\0") + b"\x89HDF\r\n\x1a\n")
    return path


def test_read_mat_cell_array_and_bad_files(tmp_path):
    savemat(tmp_path / "good.mat", {"positive_pairs_names": cells(POSITIVE)})
    assert qmul.read_mat(tmp_path / "good.mat") == POSITIVE
    savemat(tmp_path / "two.mat", {"positive_pairs_names": cells(POSITIVE), "extra": np.arange(3)})
    with pytest.raises(SourceError, match=r"two.mat: holds 2 variables \(positive_pairs_names \(object \(3, 2\)\), "
                                          r"extra \(int64 \(1, 3\)\)\), expected exactly one"):
        qmul.read_mat(tmp_path / "two.mat")
    savemat(tmp_path / "wide.mat", {"x": np.full((2, 3), "a.jpg", dtype=object)})
    with pytest.raises(SourceError, match=r"wide.mat: variable 'x' is object \(2, 3\), expected an N x 2 cell"):
        qmul.read_mat(tmp_path / "wide.mat")
    savemat(tmp_path / "chars.mat", {"x": np.array(["a.jpg", "b.jpg"])})  # a char matrix, not a cell array
    with pytest.raises(SourceError, match=r"variable 'x' is <U5 \(2,\)"):
        qmul.read_mat(tmp_path / "chars.mat")
    numeric = cells(POSITIVE)
    numeric[1, 1] = 7.0
    savemat(tmp_path / "numeric.mat", {"x": numeric})
    with pytest.raises(SourceError, match=r"numeric.mat: variable 'x' row 2 column 2 is float64 \(1, 1\), not an "):
        qmul.read_mat(tmp_path / "numeric.mat")
    save_corrupt(tmp_path / "garbage.mat")
    with pytest.raises(SourceError, match=r"garbage.mat: is not a readable MATLAB .mat file.*qmul_survface.md"):
        qmul.read_mat(tmp_path / "garbage.mat")


def test_v73_mat_without_h5py_says_how_to_resave(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)  # import h5py -> ImportError
    with pytest.raises(SourceError, match=r"negative_pairs_names.mat: is a MATLAB v7.3 \(HDF5\) file.*re-save it as "
                                          r"v7.*save\('negative_pairs_names.mat', 'negative_pairs_names', '-v7'\)"):
        qmul.read_mat(_fake_v73(tmp_path / "negative_pairs_names.mat"))


def test_v73_mat_with_h5py(tmp_path):
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "positive_pairs_names.mat"
    with h5py.File(path, "w", userblock_size=512) as f:  # MATLAB's layout: 2 x N references to uint16 chars
        refs = f.create_dataset("positive_pairs_names", (2, len(POSITIVE)), dtype=h5py.ref_dtype)
        for i, pair in enumerate(POSITIVE):
            for j, name in enumerate(pair):
                chars = f.create_dataset(f"#refs#/{i}_{j}", data=np.array([[ord(c)] for c in name], np.uint16))
                refs[j, i] = chars.ref
    with open(path, "r+b") as fh:
        header = _fake_v73(tmp_path / "header.bin").read_bytes()[:512]
        fh.write(header)
    assert qmul.read_mat(path) == POSITIVE


def test_convert_images_identities_and_pairs(tmp_path):
    root = _tree(tmp_path / "QMUL-SurvFace")
    save(root / TEST_SET / "verification_images" / "9_cam1_0001.jpg", tiny())  # in no pair: counted, not converted
    fs = read_faceset(qmul.convert(root, tmp_path / "out", progress=False))
    m = fs.meta
    assert len(fs) == 6 and fs.images.shape == (6, 112, 112, 3)
    assert list(m["file"]) == [f"{TEST_SET}/verification_images/{n}" for n in
                               sorted({n for p in POSITIVE for n in p})]
    assert list(m["identity"]) == ["1", "1", "2", "2", "3", "3"]
    assert (m["split"] == "test").all() and (m["source"] == "qmul").all() and m["yaw"].isna().all()
    assert (m[["session", "emotion", "pose"]] == "").all().all()
    assert (m["aligned_by"] == "resize").all() and (m["width"] == 20).all() and (m["height"] == 24).all()
    pairs = qmul.read_pairs(fs.root)
    assert list(pairs.columns) == list(qmul.PAIRS_COLUMNS) and len(pairs) == 6
    assert list(pairs["same"]) == [1, 1, 1, 0, 0, 0] and list(pairs["list"]) == ["positive"] * 3 + ["negative"] * 3
    assert list(pairs["row"]) == [1, 2, 3, 1, 2, 3]
    names = m["file"].str.rsplit("/", n=1).str[1].to_numpy()
    assert [tuple(names[[a, b]]) for a, b in zip(pairs["a"], pairs["b"])] == POSITIVE + NEGATIVE
    card = fs.card
    assert card["pairs"]["listed"] == card["pairs"]["usable"] == {"positive": 3, "negative": 3}
    assert card["pairs"]["dropped"] == {"positive": 0, "negative": 0}
    assert card["identity_check"]["positive_pairs_with_different_prefixes"] == 0
    assert card["identity_check"]["negative_pairs_with_same_prefix"] == 0
    assert card["images"]["unpaired_on_disk"] == 1 and card["images"]["source_size_median"] == {"width": 20.0,
                                                                                                "height": 24.0}
    assert card["parameters"]["layout"] == {"folder": TEST_SET, "images": f"{TEST_SET}/verification_images/"}
    assert card["rejects"]["count"] == 0


def test_root_may_be_the_test_set_folder_and_detect_keeps_every_image(tmp_path):
    folder = _tree(tmp_path / "qmul") / TEST_SET
    save(folder / "verification_images" / POSITIVE[0][0], face_photo(96))  # large enough to detect
    fs = read_faceset(qmul.convert(folder, tmp_path / "out", align="detect", size=64, progress=False))
    assert fs.images.shape == (6, 64, 64, 3) and fs.meta["file"].iloc[0].startswith("verification_images/")
    # 20 x 24 pixels: never given to the detector (phantom faces), kept as the central square
    assert fs.meta.set_index("file")["aligned_by"][f"verification_images/{POSITIVE[0][0]}"] == "yunet"
    assert fs.card["alignment"] == {"center_fallback": 5, "yunet": 1} and len(qmul.read_pairs(fs.root)) == 6


def test_bad_images_break_pairs_and_are_recorded(tmp_path):
    positive = POSITIVE + [("4_cam1_0001.jpg", "4_cam2_0001.jpg"), ("5_cam1_0001.png", "5_cam1_0002.jpg"),
                           ("6_cam1_0001.jpg", "6_cam1_0002.jpg"), ("7_cam1_0001.jpg", "7_cam1_0002.jpg")]
    negative = NEGATIVE + [("1_cam1_0001.jpg", "4_cam2_0001.jpg"), ("noprefix.jpg", "2_cam1_0003.jpg"),
                           ("3_cam1_0002.jpg", "8_cam1_0001.jpg")]
    root = _tree(tmp_path / "QMUL-SurvFace", positive, negative, images=False)
    img = root / TEST_SET / "verification_images"
    for name in sorted({n for p in POSITIVE for n in p}) + ["4_cam1_0001.jpg", "6_cam1_0001.jpg", "noprefix.jpg"]:
        save(img / name, tiny())
    save_corrupt(img / "4_cam2_0001.jpg")
    save_rgba(img / "5_cam1_0001.png", tiny())
    save_gray(img / "5_cam1_0002.jpg", tiny(90))
    save_16bit(img / "6_cam1_0002.jpg", tiny(200))  # a PNG stream under a .jpg name
    save_truncated(img / "7_cam1_0001.jpg", face_photo(96))
    save(img / "7_cam1_0002.jpg", tiny())
    # 8_cam1_0001.jpg is missing
    fs = read_faceset(qmul.convert(root, tmp_path / "out", progress=False))
    rej = read_rejects(fs.root).set_index("file")["reason"]
    v = f"{TEST_SET}/verification_images/"
    assert rej.to_dict() == {
        v + "4_cam2_0001.jpg": "not a readable image (corrupt, empty or unknown format) (breaks 2 pairs: positive "
                               "row 4, negative row 4)",
        v + "7_cam1_0001.jpg": rej[v + "7_cam1_0001.jpg"],
        v + "8_cam1_0001.jpg": "file is missing (breaks 1 pair: negative row 6)",
        v + "noprefix.jpg": "file name does not follow the QMUL-SurvFace scheme <person id>_<...>.jpg (no identity "
                            "prefix before a '_') (breaks 1 pair: negative row 5)"}
    assert rej[v + "7_cam1_0001.jpg"].startswith("image data is corrupt or truncated") and \
        rej[v + "7_cam1_0001.jpg"].endswith("(breaks 1 pair: positive row 7)")
    kept = set(fs.meta["file"].str.rsplit("/", n=1).str[1])
    assert {"5_cam1_0001.png", "5_cam1_0002.jpg", "6_cam1_0002.jpg"} <= kept  # RGBA, gray, 16-bit accepted
    assert fs.card["pairs"]["dropped"] == {"positive": 2, "negative": 3}
    assert fs.card["pairs"]["dropped_rows"] == {"positive": [4, 7], "negative": [4, 5, 6]}
    assert fs.card["rejects"]["reasons"] == {"file is missing": 1, "file name does not follow the QMUL-SurvFace "
                                             "scheme <person id>_<...>.jpg": 1, "image data is corrupt or truncated": 1,
                                             "not a readable image": 1}
    with pytest.warns(UserWarning, match=r"5 of 13 pairs use a rejected image.*positive rows \[4, 7\]"):
        pairs = qmul.read_pairs(fs.root)
    assert len(pairs) == 8 and pairs.attrs["dropped_rows"]["negative"] == [4, 5, 6]
    row = pairs[(pairs["list"] == "positive") & (pairs["row"] == 6)].iloc[0]
    assert fs.meta["file"].iloc[row["b"]].endswith("6_cam1_0002.jpg")


def test_identity_rule_is_checked_against_the_pairs(tmp_path):
    positive = POSITIVE + [("1_cam1_0001.jpg", "3_cam1_0009.jpg")]
    negative = NEGATIVE + [("2_cam1_0003.jpg", "2_cam3_0004.jpg")]
    root = _tree(tmp_path / "QMUL-SurvFace", positive, negative)
    with pytest.warns(UserWarning, match=r"identity rule .* disagrees with 1 positive and 1 negative pairs"):
        fs = read_faceset(qmul.convert(root, tmp_path / "out", progress=False))
    check = fs.card["identity_check"]
    assert check["positive_pairs_checked"] == 4 and check["positive_pairs_with_different_prefixes"] == 1
    assert check["negative_pairs_with_same_prefix"] == 1
    assert check["examples"] == ["positive row 4: 1_cam1_0001.jpg / 3_cam1_0009.jpg",
                                 "negative row 4: 2_cam1_0003.jpg / 2_cam3_0004.jpg"]


def test_missing_root_and_wrong_layout(tmp_path):
    with pytest.raises(SourceError, match=r"does not exist.*data_cards/qmul_survface.md"):
        qmul.convert(tmp_path / "nope", tmp_path / "out")
    save(tmp_path / "photos" / "IMG_0001.jpg", tiny())
    with pytest.raises(SourceError, match=r"no QMUL-SurvFace verification test set found \(looked for "
                                          r"Face_Verification_Test_Set/"):
        qmul.convert(tmp_path / "photos", tmp_path / "out")
    root = _tree(tmp_path / "q1")
    (root / TEST_SET / "negative_pairs_names.mat").unlink()
    with pytest.raises(SourceError, match=r"negative_pairs_names.mat: is missing"):
        qmul.convert(root, tmp_path / "out")
    root = _tree(tmp_path / "q2", images=False)
    (root / TEST_SET / "verification_images").rmdir()
    with pytest.raises(SourceError, match=r"verification_images: is missing"):
        qmul.convert(root, tmp_path / "out")
    root = _tree(tmp_path / "q3")
    save_corrupt(root / TEST_SET / "positive_pairs_names.mat")
    with pytest.raises(SourceError, match=r"positive_pairs_names.mat: is not a readable MATLAB"):
        qmul.convert(root, tmp_path / "out")
    with pytest.raises(ValueError, match="align='warp'"):
        qmul.convert(_tree(tmp_path / "q4"), tmp_path / "out", align="warp")
    with pytest.raises(SourceError, match="no path was given"):
        prepare("qmul", "")
    assert not (tmp_path / "out").exists()


def test_all_rejected_writes_nothing(tmp_path):
    root = _tree(tmp_path / "QMUL-SurvFace", images=False)
    save_corrupt(root / TEST_SET / "verification_images" / POSITIVE[0][0])
    with pytest.raises(SourceError, match=r"all 6 files were rejected"):
        qmul.convert(root, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists() and list(tmp_path.iterdir()) == [root]
    root = _tree(tmp_path / "names", [("a.jpg", "b.jpg")], [("c.jpg", "a.jpg")])
    with pytest.raises(SourceError, match=r"no usable files were found \(3 rejected"):
        qmul.convert(root, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_read_pairs_refuses_a_stale_or_foreign_faceset(tmp_path):
    out = qmul.convert(_tree(tmp_path / "QMUL-SurvFace"), tmp_path / "out", progress=False)
    text = (out / "pairs.csv").read_text().splitlines()
    (out / "pairs.csv").write_text("\n".join([text[0], "5,0" + text[1][3:], *text[2:]]) + "\n")
    with pytest.raises(SourceError, match=r"pairs.csv: row indices do not match meta.csv"):
        qmul.read_pairs(out)
    (out / "pairs.csv").write_text("a,b\n1,2\n")
    with pytest.raises(SourceError, match=r"pairs.csv: cannot be parsed"):
        qmul.read_pairs(out)
    (out / "pairs.csv").unlink()
    with pytest.raises(SourceError, match=r"pairs.csv: is missing"):
        qmul.read_pairs(out)


def test_prepare_converts_once(tmp_path, isolated_dirs, monkeypatch):
    root = _tree(tmp_path / "QMUL-SurvFace")
    monkeypatch.setenv("FACEAUG_QMUL", str(root))
    out = prepare("qmul", progress=False)
    stamp = (out / "card.json").stat().st_mtime_ns
    assert prepare("qmul", root, progress=False) == out and (out / "card.json").stat().st_mtime_ns == stamp
    assert prepare("qmul", root, progress=False, size=64) != out
    with pytest.raises(ValueError, match="unknown parameters"):
        prepare("qmul", root, sizes=64)

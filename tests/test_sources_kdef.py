"""KDEF adapter on a fixture tree with the real naming scheme."""

from __future__ import annotations

import numpy as np
import pytest

from lib.data.faceset import read_faceset
from lib.data.sources import kdef, prepare
from lib.data.sources.common import Reject, SourceError, read_rejects
from tests.source_fixtures import (face_photo, flat_image, save, save_16bit, save_corrupt, save_gray, save_rgba,
                                   save_truncated)


def _tree(root, persons=("F01", "M02", "F03", "M04"), sessions="AB", emotions=("AN", "HA"), poses=("S", "HL")):
    for s in sessions:
        for p in persons:
            for e in emotions:
                for q in poses:
                    save(root / f"{s}{p}" / f"{s}{p}{e}{q}.JPG", face_photo(96))
    return root


def test_parse_name_every_field():
    f = kdef.parse_name("BM28SUFR.JPG")
    assert f == {"identity": "BM28", "session": "B", "person": "M28", "gender": "M", "emotion": "surprised",
                 "pose": "FR", "yaw": 90.0, "kdef_code": "BM28SUFR"}
    assert kdef.parse_name("af01nes.jpg")["pose"] == "S"
    for bad in ("AF01XXS.JPG", "CF01ANS.JPG", "AF1ANS.JPG", "AF01ANS.png", "AF01ANSX.JPG"):
        with pytest.raises(Reject, match="KDEF scheme"):
            kdef.parse_name(bad)


def test_convert_detects_aligns_and_splits_by_person(tmp_path):
    root = _tree(tmp_path / "KDEF")
    fs = read_faceset(kdef.convert(root, tmp_path / "out", test_fraction=0.5, progress=False))
    m = fs.meta
    assert len(fs) == 32 and fs.images.shape[1:] == (112, 112, 3)
    assert set(m["identity"]) == {f"{s}{p}" for s in "AB" for p in ("F01", "M02", "F03", "M04")}
    assert set(m["emotion"]) == {"angry", "happy"} and set(m["yaw"]) == {0.0, -45.0}
    assert (m["aligned_by"] == "yunet").all() and m["det_score"].min() > 0.6
    # both sessions of a person in one split; two persons each way
    assert (m.groupby("person")["split"].nunique() == 1).all()
    assert m.drop_duplicates("person")["split"].value_counts().to_dict() == {"train": 2, "test": 2}
    assert m["file"].iloc[0].startswith(m["identity"].iloc[0] + "/")
    assert fs.card["rejects"]["count"] == 0 and len(read_rejects(fs.root)) == 0


def test_bad_files_are_recorded_not_fatal(tmp_path):
    root = _tree(tmp_path / "KDEF", persons=("F01",), sessions="A", emotions=("AN",), poses=("S",))
    save(root / "AF01" / "AF01HAS.JPG", flat_image(96))  # no face
    save_corrupt(root / "AF01" / "AF01SAS.JPG")
    save_truncated(root / "AF01" / "AF01SUS.JPG", face_photo(96))
    save_gray(root / "AF01" / "AF01NES.JPG", face_photo(96))
    save(root / "AF01" / "notes.jpg", face_photo(32))  # does not parse
    save(root / "AF01" / "AF01AFS.JPG", face_photo(96))
    fs = read_faceset(kdef.convert(root, tmp_path / "out", progress=False))
    assert sorted(fs.meta["emotion"]) == ["afraid", "angry", "neutral"]  # the gray one is kept (as RGB)
    rej = read_rejects(fs.root).set_index("file")["reason"]
    assert set(rej.index) == {"AF01/AF01HAS.JPG", "AF01/AF01SAS.JPG", "AF01/AF01SUS.JPG", "AF01/notes.jpg"}
    assert rej["AF01/AF01HAS.JPG"] == "no face found by yunet"
    assert "truncated" in rej["AF01/AF01SUS.JPG"] and "KDEF scheme" in rej["AF01/notes.jpg"]
    assert fs.card["rejects"]["count"] == 4


def test_aligned_root_uses_the_crops(tmp_path):
    root = _tree(tmp_path / "KDEF", persons=("F01", "M01"), sessions="A", emotions=("AN",), poses=("S",))
    crops = tmp_path / "CROPPED_ALIGNED"
    save(crops / "AF01" / "AF01ANS.JPG", flat_image(140, 30))
    save_rgba(crops / "AM01" / "AM01ANS.JPG", flat_image(140, 200))  # saved as .png: no crop under the JPG name
    fs = read_faceset(kdef.convert(root, tmp_path / "out", aligned_root=crops, progress=False))
    assert list(fs.meta["identity"]) == ["AF01"] and fs.meta["aligned_by"].iloc[0] == "resize"
    assert abs(float(fs.images[0].mean()) - 30) < 5
    assert read_rejects(fs.root)["reason"].iloc[0] == "file is missing"


def test_16bit_png_crops_are_scaled(tmp_path):
    root = _tree(tmp_path / "KDEF", persons=("F01",), sessions="A", emotions=("AN",), poses=("S",))
    crops = tmp_path / "crops"
    save_16bit(crops / "AF01" / "AF01ANS.JPG", flat_image(112, 180))  # a PNG stream under a .JPG name
    fs = read_faceset(kdef.convert(root, tmp_path / "out", aligned_root=crops, progress=False))
    assert abs(float(fs.images[0].mean()) - 180) < 5


def test_missing_root_and_wrong_layout(tmp_path):
    with pytest.raises(SourceError, match=r"does not exist.*data_cards/kdef.md"):
        kdef.convert(tmp_path / "nope", tmp_path / "out")
    save(tmp_path / "photos" / "IMG_0001.jpg", face_photo(32))
    with pytest.raises(SourceError, match="no KDEF photos found"):
        kdef.convert(tmp_path / "photos", tmp_path / "out")
    with pytest.raises(SourceError, match="no path was given"):
        prepare("kdef", "")
    assert not (tmp_path / "out").exists()


def test_all_rejected_writes_nothing(tmp_path):
    root = tmp_path / "KDEF"
    save_corrupt(root / "AF01" / "AF01ANS.JPG")
    save(root / "AF01" / "AF01HAS.JPG", flat_image(64))
    with pytest.raises(SourceError, match=r"all 2 files were rejected"):
        kdef.convert(root, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists() and list(tmp_path.iterdir()) == [root]


def test_interrupted_conversion_leaves_no_faceset(tmp_path, monkeypatch):
    root = _tree(tmp_path / "KDEF", persons=("F01",), sessions="A", poses=("S",))
    calls = []

    def boom(image):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return image[:112, :112] if image.shape[0] >= 112 else np.zeros((112, 112, 3), np.uint8), {}

    monkeypatch.setattr("lib.data.sources.common.Aligner.__call__", lambda self, im: boom(im))
    with pytest.raises(KeyboardInterrupt):
        kdef.convert(root, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["KDEF"]


def test_prepare_converts_once(tmp_path, isolated_dirs, monkeypatch):
    root = _tree(tmp_path / "KDEF", persons=("F01",), sessions="A", emotions=("AN",), poses=("S",))
    monkeypatch.setenv("FACEAUG_KDEF", str(root))
    out = prepare("kdef", progress=False)
    stamp = (out / "card.json").stat().st_mtime_ns
    assert prepare("kdef", root, progress=False) == out and (out / "card.json").stat().st_mtime_ns == stamp
    assert prepare("kdef", root, progress=False, size=64) != out
    with pytest.raises(ValueError, match="unknown parameters"):
        prepare("kdef", root, sizes=64)


def test_aligner_refuses_a_detector_without_points(tmp_path):
    from lib.data.sources.common import Aligner

    with pytest.raises(ValueError, match="gives no 5 alignment points"):
        Aligner("detect", detector="dlib_hog")

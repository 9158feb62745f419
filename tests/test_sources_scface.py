"""SCface adapter on fixture trees with the real naming schemes (original distribution and the low-res
project's cropped tree)."""

from __future__ import annotations

import numpy as np
import pytest

from lib.data.faceset import read_faceset
from lib.data.sources import prepare, scface
from lib.data.sources.common import Reject, SourceError, read_rejects
from tests.source_fixtures import (face_photo, flat_image, save, save_16bit, save_corrupt, save_gray, save_rgba,
                                   save_truncated)

GALLERY = "mugshot_frontal_cropped_all"


def _probe(distance: int) -> np.ndarray:
    """Distance 1 (4.2 m) is a face of a few dozen pixels that YuNet misses; 2 and 3 are found."""
    return face_photo(32) if distance == 1 else face_photo(96)


def _original(root, ids=("001", "002"), cams=(1, 2), dists=(1, 3), ir=True):
    for i in ids:
        save(root / GALLERY / f"{i}_frontal.JPG", face_photo(160))
        for d in dists:
            for c in cams + ((6, 7) if ir else ()):
                save(root / f"surveillance_cameras_distance_{d}" / f"cam_{c}" / f"{i}_cam{c}_{d}.jpg", _probe(d))
        if ir:
            save_gray(root / "surveillance_cameras_IR_cam8" / f"{i}_cam8.jpg", face_photo(120))
    return root


def _cropped(root, ids=("001", "002"), cams=(1, 6), dists=(1, 2)):
    for i in ids:
        save(root / "models_croppped" / f"{i}_frontal.jpg", face_photo(112))
        for d in dists:
            for c in cams:
                save(root / "sc_cropped" / f"{i}_cam{c}_{d}.jpg", face_photo(112))
    return root


def test_parse_name_every_field():
    assert scface.parse_name("042_frontal.JPG") == {"identity": "042", "role": "gallery", "camera": 0, "distance": 0}
    assert scface.parse_name("042.png")["role"] == "gallery"
    assert scface.parse_name("130_cam5_2.jpg") == {"identity": "130", "role": "probe", "camera": 5, "distance": 2}
    assert scface.parse_name("007_CAM7_3.JPEG") == {"identity": "007", "role": "probe", "camera": 7, "distance": 3}
    assert scface.parse_name("001_cam8.jpg") == {"identity": "001", "role": "probe", "camera": 8, "distance": 0}
    for bad in ("01_cam1_1.jpg", "001_cam9_1.jpg", "001_cam1_4.jpg", "001_cam8_1.jpg", "001_L1.JPG",
                "001_cam1_1.txt", "frontal.jpg", "001_frontal_2.jpg"):
        with pytest.raises(Reject, match="SCface scheme"):
            scface.parse_name(bad)


def test_original_layout_gallery_probes_fallback_and_ir_excluded(tmp_path):
    root = _original(tmp_path / "SCface")
    fs = read_faceset(scface.convert(root, tmp_path / "out", progress=False))
    m = fs.meta
    assert len(fs) == 2 + 2 * 2 * 2 and fs.images.shape[1:] == (112, 112, 3)
    gallery, probes = m[m["role"] == "gallery"], m[m["role"] == "probe"]
    assert list(gallery["identity"]) == ["001", "002"] and (gallery[["camera", "distance"]] == 0).all().all()
    assert list(gallery["file"]) == [f"{GALLERY}/001_frontal.JPG", f"{GALLERY}/002_frontal.JPG"]
    assert gallery.index.max() < probes.index.min()  # gallery rows first
    assert sorted(set(zip(probes["camera"], probes["distance"]))) == [(1, 1), (1, 3), (2, 1), (2, 3)]
    row = probes[(probes["identity"] == "002") & (probes["camera"] == 2) & (probes["distance"] == 3)].iloc[0]
    assert row["file"] == "surveillance_cameras_distance_3/cam_2/002_cam2_3.jpg"
    assert (m["split"] == "test").all() and (m["source"] == "scface").all() and m["yaw"].isna().all()
    assert (m[["session", "emotion", "pose"]] == "").all().all()
    assert m["camera"].dtype == np.int64 and m["distance"].dtype == np.int64
    # distance-1 faces are too small for YuNet: kept as the central square, recorded and counted
    assert (m.loc[m["distance"] == 1, "aligned_by"] == "center_fallback").all()
    assert (m.loc[m["distance"] != 1, "aligned_by"] == "yunet").all() and m["det_score"].isna().sum() == 4
    assert (m.loc[m["distance"] == 1, "width"] == 32).all()
    card = fs.card
    assert card["alignment"]["center_fallback"] == 4
    assert card["alignment"]["by_group"] == {"gallery": {"yunet": 2}, "d1": {"center_fallback": 4}, "d3": {"yunet": 4}}
    assert card["excluded"]["total"] == 2 * 2 * 2 + 2 and card["excluded"]["ir_night_cameras_6_7"] == 8
    assert card["excluded"]["ir_mugshots_cam8"] == 2 and card["excluded"]["by_camera_distance"]["cam6_d1"] == 2
    assert card["probes"] == {"cam1_d1": 2, "cam1_d3": 2, "cam2_d1": 2, "cam2_d3": 2}
    assert card["parameters"]["cameras"] == [1, 2, 3, 4, 5] and card["parameters"]["layout"]["gallery"] == GALLERY
    assert card["rejects"]["count"] == 0 and len(read_rejects(fs.root)) == 0


def test_ir_cameras_and_ir_mugshots_on_request_without_fallback(tmp_path):
    root = _original(tmp_path / "SCface", ids=("001",), cams=(1,), dists=(1, 3))
    fs = read_faceset(scface.convert(root, tmp_path / "out", cameras=[6, 8], distances=[3], fallback=None,
                                     progress=False))
    m = fs.meta.set_index("file")
    assert sorted(m.index) == [f"{GALLERY}/001_frontal.JPG", "surveillance_cameras_IR_cam8/001_cam8.jpg",
                               "surveillance_cameras_distance_3/cam_6/001_cam6_3.jpg"]
    ir8 = m.loc["surveillance_cameras_IR_cam8/001_cam8.jpg"]
    assert [ir8["role"], ir8["camera"], ir8["distance"]] == ["probe", 8, 0]
    assert fs.card["excluded"] == {"total": 5, "ir_night_cameras_6_7": 3, "ir_mugshots_cam8": 0,
                                   "by_camera_distance": {"cam1_d1": 1, "cam1_d3": 1, "cam6_d1": 1, "cam7_d1": 1,
                                                          "cam7_d3": 1}}
    assert (fs.meta["aligned_by"] == "yunet").all() and fs.card["parameters"]["align"]["fallback"] is None
    # without the fallback a distance-1 face YuNet cannot find is a reject
    fs = read_faceset(scface.convert(root, tmp_path / "out1", cameras=[1], distances=[1], fallback=None,
                                     progress=False))
    assert len(fs) == 1 and read_rejects(fs.root).to_dict("records") == [
        {"file": "surveillance_cameras_distance_1/cam_1/001_cam1_1.jpg", "reason": "image is only 32x32 pixels: too "
         "small for yunet to find a face (at most 32 px a side it reports phantom faces)"}]
    save(root / "surveillance_cameras_distance_1" / "cam_1" / "001_cam1_1.jpg", flat_image(48))
    fs = read_faceset(scface.convert(root, tmp_path / "out2", cameras=[1], distances=[1], fallback=None,
                                     progress=False))
    assert read_rejects(fs.root)["reason"].tolist() == ["no face found by yunet"]


def test_cropped_tree_is_resized_and_filtered(tmp_path):
    root = _cropped(tmp_path / "cropped_data" / "scface")
    fs = read_faceset(scface.convert(root, tmp_path / "out", align="resize", distances=[2], progress=False))
    m = fs.meta
    assert list(m["file"]) == ["models_croppped/001_frontal.jpg", "models_croppped/002_frontal.jpg",
                               "sc_cropped/001_cam1_2.jpg", "sc_cropped/002_cam1_2.jpg"]
    assert (m["aligned_by"] == "resize").all() and list(m["camera"]) == [0, 0, 1, 1]
    assert fs.card["parameters"]["layout"] == {"base": ".", "gallery": "models_croppped", "probes": ["sc_cropped"]}
    assert fs.card["excluded"]["total"] == 6 and fs.card["excluded"]["ir_night_cameras_6_7"] == 4
    assert np.abs(fs.images[0].astype(int) - face_photo(112)).mean() < 8  # 112 -> 112: the crop itself


def test_nested_database_folder_and_flat_surveillance_folder(tmp_path):
    base = tmp_path / "scface" / "SCface_database"
    save(base / GALLERY / "001_frontal.JPG", face_photo(120))
    save(base / "surveillance_cameras_all" / "001_cam3_2.jpg", face_photo(96))
    save(base / "surveillance_cameras_all" / "001_cam7_2.jpg", face_photo(96))
    fs = read_faceset(scface.convert(tmp_path / "scface", tmp_path / "out", progress=False))
    assert list(fs.meta["file"]) == [f"SCface_database/{GALLERY}/001_frontal.JPG",
                                     "SCface_database/surveillance_cameras_all/001_cam3_2.jpg"]
    assert fs.card["parameters"]["layout"]["base"] == "SCface_database" and fs.card["excluded"]["total"] == 1


def test_bad_files_are_recorded_not_fatal(tmp_path):
    root = _original(tmp_path / "SCface", ids=("001", "002", "003"), cams=(1,), dists=(3,), ir=False)
    d3, d2 = root / "surveillance_cameras_distance_3", root / "surveillance_cameras_distance_2"
    save(root / GALLERY / "notes.jpg", face_photo(32))  # does not parse
    save(root / GALLERY / "001_cam1_3.jpg", face_photo(32))  # a probe name in the gallery
    save_corrupt(root / GALLERY / "003_frontal.JPG")  # then 003's probes have no mugshot
    save(d3 / "cam_2" / "042_cam2_3.jpg", face_photo(96))  # no gallery for 042
    save_corrupt(d3 / "cam_2" / "001_cam2_3.jpg")
    save_truncated(d3 / "cam_3" / "001_cam3_3.jpg", face_photo(96))
    save(d3 / "cam_4" / "001_cam5_3.jpg", face_photo(96))  # camera folder contradicts the name
    save(d2 / "cam_4" / "001_cam4_3.jpg", face_photo(96))  # distance folder contradicts the name
    save(d3 / "copy" / "002_cam1_3.jpg", face_photo(96))  # duplicate of cam_1/002_cam1_3.jpg
    save_gray(d3 / "cam_2" / "002_cam2_3.jpg", face_photo(96))
    save_rgba(d3 / "cam_3" / "002_cam3_3.jpg", face_photo(96))  # written as .png
    save_16bit(d3 / "cam_4" / "002_cam4_3.jpg", face_photo(96))  # a PNG stream under a .jpg name
    (d3 / "cam_4" / "readme.txt").write_text("not an image: ignored")
    fs = read_faceset(scface.convert(root, tmp_path / "out", progress=False))
    m = fs.meta
    assert sorted(m.loc[m["role"] == "gallery", "identity"]) == ["001", "002"]
    kept = set(m.loc[m["role"] == "probe", "file"])
    assert kept == {"surveillance_cameras_distance_3/cam_1/001_cam1_3.jpg",
                    "surveillance_cameras_distance_3/cam_1/002_cam1_3.jpg",
                    "surveillance_cameras_distance_3/cam_2/002_cam2_3.jpg",
                    "surveillance_cameras_distance_3/cam_3/002_cam3_3.png",
                    "surveillance_cameras_distance_3/cam_4/002_cam4_3.jpg"}  # gray, RGBA and 16-bit accepted
    rej = read_rejects(fs.root).set_index("file")["reason"]
    assert "SCface scheme" in rej[f"{GALLERY}/notes.jpg"]
    assert rej[f"{GALLERY}/001_cam1_3.jpg"] == f"a probe name in the gallery folder {GALLERY}/"
    assert "not a readable image" in rej[f"{GALLERY}/003_frontal.JPG"]
    assert rej["surveillance_cameras_distance_3/cam_1/003_cam1_3.jpg"] == ("no gallery mugshot for identity 003 "
                                                                           "(its mugshot was rejected)")
    assert rej["surveillance_cameras_distance_3/cam_2/042_cam2_3.jpg"] == "no gallery mugshot for identity 042"
    assert "not a readable image" in rej["surveillance_cameras_distance_3/cam_2/001_cam2_3.jpg"]
    assert "truncated" in rej["surveillance_cameras_distance_3/cam_3/001_cam3_3.jpg"]
    assert rej["surveillance_cameras_distance_3/cam_4/001_cam5_3.jpg"] == ("folder does not match the name (name says "
                                                                           "camera 5 but it lies in cam_4/)")
    assert "distance 3 but it lies in surveillance_cameras_distance_2/" in rej[
        "surveillance_cameras_distance_2/cam_4/001_cam4_3.jpg"]
    assert rej["surveillance_cameras_distance_3/copy/002_cam1_3.jpg"].startswith(
        "duplicate of surveillance_cameras_distance_3/cam_1/002_cam1_3.jpg")
    assert fs.card["rejects"]["count"] == len(rej) == 10
    assert fs.card["rejects"]["reasons"]["no gallery mugshot for identity 003"] == 1


def test_missing_root_and_wrong_layout(tmp_path):
    with pytest.raises(SourceError, match=r"does not exist.*data_cards/scface.md"):
        scface.convert(tmp_path / "nope", tmp_path / "out")
    save(tmp_path / "photos" / "surveillance_cameras_all" / "001_cam1_1.jpg", face_photo(32))
    with pytest.raises(SourceError, match="no SCface gallery folder found.*mugshot_frontal_cropped_all/"):
        scface.convert(tmp_path / "photos", tmp_path / "out")
    save(tmp_path / "photos" / GALLERY / "001_frontal.JPG", face_photo(32))
    save(tmp_path / "only" / GALLERY / "001_frontal.JPG", face_photo(32))
    with pytest.raises(SourceError, match=r"no SCface surveillance \(probe\) folder found"):
        scface.convert(tmp_path / "only", tmp_path / "out")
    save(tmp_path / "misnamed" / GALLERY / "IMG_0001.jpg", face_photo(32))
    save(tmp_path / "misnamed" / "sc_cropped" / "001_cam1_1.jpg", face_photo(32))
    with pytest.raises(SourceError, match=r"mugshot_frontal_cropped_all: holds no SCface mugshot"):
        scface.convert(tmp_path / "misnamed", tmp_path / "out")
    save(tmp_path / "noprobe" / GALLERY / "001_frontal.JPG", face_photo(32))
    save(tmp_path / "noprobe" / "sc_cropped" / "IMG_0001.jpg", face_photo(32))
    with pytest.raises(SourceError, match=r"sc_cropped: holds no SCface probe"):
        scface.convert(tmp_path / "noprobe", tmp_path / "out")
    with pytest.raises(SourceError, match=r"no probe of cameras \[6\] at distances \[1, 2, 3\] is left \(1 other"):
        scface.convert(tmp_path / "photos", tmp_path / "out", cameras=[6])
    save(tmp_path / "orphans" / GALLERY / "002_frontal.JPG", face_photo(32))
    save(tmp_path / "orphans" / "sc_cropped" / "001_cam1_1.jpg", face_photo(32))
    with pytest.raises(SourceError, match=r"1 files rejected: \{'no gallery mugshot for identity 001': 1\}"):
        scface.convert(tmp_path / "orphans", tmp_path / "out")
    for bad in ({"cameras": [0]}, {"cameras": []}, {"distances": [4]}, {"cameras": ["1"]}, {"align": "warp"}):
        with pytest.raises(ValueError):
            scface.convert(tmp_path / "noprobe", tmp_path / "out", **bad)
    with pytest.raises(SourceError, match="no path was given"):
        prepare("scface", "")
    assert not (tmp_path / "out").exists()


def test_all_rejected_writes_nothing(tmp_path):
    root = tmp_path / "SCface"
    save_corrupt(root / GALLERY / "001_frontal.JPG")
    save(root / "sc_cropped" / "001_cam1_1.jpg", flat_image(64))
    with pytest.raises(SourceError, match=r"all 2 files were rejected"):
        scface.convert(root, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists() and list(tmp_path.iterdir()) == [root]


def test_prepare_converts_once(tmp_path, isolated_dirs, monkeypatch):
    root = _cropped(tmp_path / "scface", ids=("001",), cams=(1,), dists=(2,))
    monkeypatch.setenv("FACEAUG_SCFACE", str(root))
    out = prepare("scface", align="resize", progress=False)
    stamp = (out / "card.json").stat().st_mtime_ns
    assert prepare("scface", root, align="resize", progress=False) == out
    assert (out / "card.json").stat().st_mtime_ns == stamp
    assert len(read_faceset(out)) == 2 and prepare("scface", root, progress=False) != out  # align is in the hash

"""LFW adapter (view-2 pairs.txt protocol) on fixture trees with the real layout: pairs.txt and
lfw/<Name>/<Name>_0001.jpg (or lfw-deepfunneled/, lfw_crop/, <Name>/ in the root)."""

from __future__ import annotations

import numpy as np
import pytest

from lib.data.faceset import read_faceset
from lib.data.sources import lfw, prepare
from lib.data.sources.common import SourceError, read_rejects
from tests.source_fixtures import (face_photo, flat_image, save, save_16bit, save_corrupt, save_gray, save_rgba,
                                   save_truncated)

PEOPLE = {"Aaron_Peirsol": 2, "Abdullah_Gul": 3, "Zico": 1, "Zoe_Ball": 1}
# "2 2": 2 folds of 2 same-person then 2 different-person pairs; tabs as in the real file
PAIRS = ["2\t2",
         "Aaron_Peirsol\t1\t2", "Abdullah_Gul\t1\t3",
         "Aaron_Peirsol\t1\tZico\t1", "Abdullah_Gul\t2\tZoe_Ball\t1",
         "Abdullah_Gul\t2\t3", "Aaron_Peirsol\t2\t1",
         "Zico\t1\tZoe_Ball\t1", "Aaron_Peirsol\t2\tAbdullah_Gul\t1"]


def _write(path, lines):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


def _tree(root, folder="lfw", people=PEOPLE, image=lambda: face_photo(250), pairs=PAIRS):
    for name, n in people.items():
        for k in range(1, n + 1):
            save(root / folder / name / f"{name}_{k:04d}.jpg", image())
    _write(root / "pairs.txt", pairs)
    return root


# --- pairs.txt ------------------------------------------------------------------------------------

def test_parse_pairs_every_field(tmp_path):
    lines = [p.replace("\t", " ") if i % 2 else p for i, p in enumerate(PAIRS)] + [""]  # tabs and spaces mixed
    folds, per, df = lfw.parse_pairs(_write(tmp_path / "pairs.txt", lines))
    assert (folds, per, len(df)) == (2, 2, 8)
    assert df.iloc[0].to_dict() == {"line": 2, "fold": 1, "same": 1, "name_a": "Aaron_Peirsol", "no_a": 1,
                                    "name_b": "Aaron_Peirsol", "no_b": 2}
    assert df.iloc[3].to_dict() == {"line": 5, "fold": 1, "same": 0, "name_a": "Abdullah_Gul", "no_a": 2,
                                    "name_b": "Zoe_Ball", "no_b": 1}
    assert df["fold"].tolist() == [1] * 4 + [2] * 4 and df["same"].tolist() == [1, 1, 0, 0] * 2
    assert df["line"].tolist() == list(range(2, 10))


@pytest.mark.parametrize("lines, match", [
    (["10"] + PAIRS[1:], r"line 1 '10' is not the header .*view 1's pairsDevTrain.txt"),
    (["2 two"] + PAIRS[1:], r"line 1 '2 two' is not the header '<folds> <pairs per fold>'"),
    (PAIRS[:2] + ["Abdullah_Gul 1"] + PAIRS[3:], r"line 3 'Abdullah_Gul 1' has 2 fields"),
    (PAIRS[:4] + ["Abdullah_Gul 2 Zoe_Ball 1 extra"] + PAIRS[5:], r"line 5 'Abdullah_Gul 2 Zoe_Ball 1 extra' has 5"),
    (PAIRS[:2] + ["Abdullah_Gul one 3"] + PAIRS[3:], r"line 3 'Abdullah_Gul one 3': 'one' is not an image number"),
    (PAIRS[:2] + ["Abdullah_Gul 0 3"] + PAIRS[3:], r"line 3 .*'0' is not an image number"),
    (PAIRS[:3] + ["Abdullah_Gul 1 2"] + PAIRS[4:], r"line 4 'Abdullah_Gul 1 2' is a same-person pair where fold 1's "
     r"different-person pair 1 of 2 was expected .*a fold with the wrong count"),
    (PAIRS[:6] + ["Zico 1 Zoe_Ball 1"] + PAIRS[7:], r"line 7 .* different-person pair where fold 2's same-person "
     r"pair 2 of 2"),
    (PAIRS + ["Zico 1 Zoe_Ball 1"], r"line 10 .* is pair 9, but line 1 announces 2 folds x 4 pairs = 8"),
    (PAIRS[:-1], r"ends after 7 pairs \(line 8\), but line 1 announces 2 folds x 4 pairs = 8"),
    (PAIRS[:7] + ["Zico 1 Zico 1"] + PAIRS[8:], r"line 8 'Zico 1 Zico 1' is a different-person pair that names Zico"),
    (PAIRS[:2] + ["Abdullah_Gul 1 4"] + PAIRS[3:], r"line 3 names Abdullah_Gul image 4, but "
     r"lfw/Abdullah_Gul/Abdullah_Gul_0004.jpg does not exist"),
    (PAIRS[:3] + ["Nobody_Here 1 Zico 1"] + PAIRS[4:], r"line 4 names Nobody_Here image 1, but "
     r"lfw/Nobody_Here/Nobody_Here_0001.jpg does not exist"),
    ([], r"pairs.txt: is empty"),
])
def test_malformed_pairs_name_file_and_line(tmp_path, lines, match):
    root = _tree(tmp_path / "LFW", image=lambda: flat_image(8))
    _write(root / "pairs.txt", lines)
    with pytest.raises(SourceError, match=match) as err:
        lfw.convert(root, tmp_path / "out", progress=False)
    assert str(root / "pairs.txt") in str(err.value) and "data_cards/lfw.md" in str(err.value)
    assert not (tmp_path / "out").exists()


# --- conversion -----------------------------------------------------------------------------------

def test_convert_aligns_every_pair_image_and_resolves_pairs(tmp_path):
    root = _tree(tmp_path / "LFW")
    save(root / "lfw" / "Zico" / "Zico_0001.jpg", flat_image(250))  # no face: the centre fallback keeps it
    save(root / "lfw" / "Zico" / "Zico_0002.jpg", face_photo(250))  # in no pair: not converted
    fs = read_faceset(lfw.convert(root, tmp_path / "out", progress=False))
    m = fs.meta
    assert m["file"].tolist() == [f"lfw/{n}/{n}_{k:04d}.jpg" for n, k in [
        ("Aaron_Peirsol", 1), ("Aaron_Peirsol", 2), ("Abdullah_Gul", 1), ("Abdullah_Gul", 2), ("Abdullah_Gul", 3),
        ("Zico", 1), ("Zoe_Ball", 1)]]
    assert m["identity"].tolist() == ["Aaron_Peirsol"] * 2 + ["Abdullah_Gul"] * 3 + ["Zico", "Zoe_Ball"]
    assert m["image_no"].tolist() == [1, 2, 1, 2, 3, 1, 1] and (m["split"] == "test").all()
    assert (m["source"] == "lfw").all() and (m[["session", "emotion", "pose"]] == "").all().all()
    assert m["aligned_by"].tolist() == ["yunet"] * 5 + ["center_fallback", "yunet"]
    assert m.loc[m["aligned_by"] == "yunet", "det_score"].min() > 0.6 and np.isnan(m["det_score"][5])
    assert fs.images.shape == (7, 112, 112, 3)
    assert abs(float(fs.images[5].mean()) - 128) < 5  # the flat image, centre-cropped
    pairs = lfw.read_pairs(fs.root)
    assert list(pairs.columns) == ["fold", "a", "b", "same", "line", "file_a", "file_b"]
    assert len(pairs) == 8 and pairs.attrs["dropped_lines"] == []
    assert pairs[["fold", "a", "b", "same"]].values.tolist() == [
        [1, 0, 1, 1], [1, 2, 4, 1], [1, 0, 5, 0], [1, 3, 6, 0], [2, 3, 4, 1], [2, 1, 0, 1], [2, 5, 6, 0], [2, 1, 2, 0]]
    assert (m["file"][pairs["a"]].to_numpy() == pairs["file_a"].to_numpy()).all()
    assert (m["identity"][pairs["a"]].to_numpy() == m["identity"][pairs["b"]].to_numpy()).tolist() == \
        (pairs["same"] == 1).tolist()
    c = fs.card
    assert c["pairs"] == {"file": "pairs.csv", "read_with": "lib.data.sources.lfw.read_pairs", "folds": 2,
                          "per_fold": {"same": 2, "different": 2}, "listed": 8, "usable": 8, "dropped": 0,
                          "dropped_lines": []}
    assert c["alignment"] == {"aligned_by": {"yunet": 6, "center_fallback": 1}, "center_fallback": 1,
                              "pairs_with_center_fallback": 2}
    assert c["parameters"]["align"] == {"method": "detect", "size": 112, "detector": "yunet", "pick": "center",
                                        "fallback": "resize"}
    assert c["parameters"]["layout"] == {"images": "lfw", "pairs": "pairs.txt"} and c["rejects"]["count"] == 0
    assert c["protocol"] == "LFW view 2: 2 folds x (2 same-person + 2 different-person pairs)"


def test_unreadable_pair_image_is_reported_not_silently_dropped(tmp_path):
    root = _tree(tmp_path / "LFW")
    d = root / "lfw"
    save_corrupt(d / "Abdullah_Gul" / "Abdullah_Gul_0003.jpg")  # used by lines 3 and 6
    save_truncated(d / "Zoe_Ball" / "Zoe_Ball_0001.jpg", face_photo(250))  # lines 5 and 8
    save_gray(d / "Aaron_Peirsol" / "Aaron_Peirsol_0001.jpg", face_photo(250))  # gray, RGBA, 16-bit: kept
    (d / "Aaron_Peirsol" / "Aaron_Peirsol_0002.jpg").unlink()
    save_rgba(d / "Aaron_Peirsol" / "Aaron_Peirsol_0002.png", face_photo(250))
    save_16bit(d / "Zico" / "Zico_0001.jpg", face_photo(250))
    fs = read_faceset(lfw.convert(root, tmp_path / "out", progress=False))
    assert len(fs) == 5 and "lfw/Aaron_Peirsol/Aaron_Peirsol_0002.png" in fs.meta["file"].tolist()
    assert (fs.meta["aligned_by"] == "yunet").all()
    rej = read_rejects(fs.root).set_index("file")["reason"].to_dict()
    assert set(rej) == {"lfw/Abdullah_Gul/Abdullah_Gul_0003.jpg", "lfw/Zoe_Ball/Zoe_Ball_0001.jpg"}
    assert rej["lfw/Abdullah_Gul/Abdullah_Gul_0003.jpg"].startswith("not a readable image")
    assert rej["lfw/Abdullah_Gul/Abdullah_Gul_0003.jpg"].endswith("; breaks 2 pairs (pairs.txt lines 3, 6)")
    assert "truncated" in rej["lfw/Zoe_Ball/Zoe_Ball_0001.jpg"]
    assert rej["lfw/Zoe_Ball/Zoe_Ball_0001.jpg"].endswith("(pairs.txt lines 5, 8)")
    assert fs.card["rejects"]["reasons"] == {"image data is corrupt or truncated": 1, "not a readable image": 1}
    p = fs.card["pairs"]
    assert (p["listed"], p["usable"], p["dropped"], p["dropped_lines"]) == (8, 4, 4, [3, 5, 6, 8])
    with pytest.warns(UserWarning, match=r"4 of 8 pairs use a rejected image .*lines \[3, 5, 6, 8\]"):
        pairs = lfw.read_pairs(fs.root)
    assert pairs["line"].tolist() == [2, 4, 7, 9] and pairs.attrs["dropped_lines"] == [3, 5, 6, 8]
    assert pairs["a"].max() < len(fs) and (fs.meta["file"][pairs["b"]].to_numpy() == pairs["file_b"]).all()


@pytest.mark.parametrize("folder", ["lfw-deepfunneled", "lfw-deepfunneled/lfw-deepfunneled", "."])
def test_other_image_folders(tmp_path, folder):
    root = _tree(tmp_path / "LFW", folder=folder, image=lambda: flat_image(64))
    fs = read_faceset(lfw.convert(root, tmp_path / "out", align="resize", progress=False))
    prefix = "" if folder == "." else folder + "/"
    assert fs.meta["file"][0] == prefix + "Aaron_Peirsol/Aaron_Peirsol_0001.jpg" and len(fs) == 7
    assert fs.card["parameters"]["layout"]["images"] == folder and (fs.meta["aligned_by"] == "resize").all()


def test_lfw_crop_auto_takes_the_crops_as_given_and_folder_picks_one(tmp_path):
    root = _tree(tmp_path / "LFW", image=lambda: face_photo(250))
    _tree(root, folder="lfw_crop", image=lambda: flat_image(112, 60))
    fs = read_faceset(lfw.convert(root, tmp_path / "out", folder="lfw_crop", align="auto", progress=False))
    assert fs.meta["file"][0].startswith("lfw_crop/") and (fs.meta["aligned_by"] == "given").all()
    assert abs(float(fs.images.mean()) - 60) < 3 and fs.card["parameters"]["align_requested"] == "auto"
    assert fs.card["parameters"]["align"]["method"] == "none"
    with pytest.raises(SourceError, match=r"lfw_funneled: is not a folder of LFW person folders"):
        lfw.convert(root, tmp_path / "out2", folder="lfw_funneled")
    with pytest.raises(SourceError, match=r"folder= lies outside the root"):
        lfw.convert(root, tmp_path / "out2", folder=tmp_path)
    fs = read_faceset(lfw.convert(root, tmp_path / "out3", folder=root / "lfw_crop", align="none", progress=False))
    assert fs.meta["file"][0].startswith("lfw_crop/") and fs.card["parameters"]["align"]["method"] == "none"


def test_pairs_only_false_converts_every_image(tmp_path):
    root = _tree(tmp_path / "LFW", image=lambda: flat_image(64))
    save(root / "lfw" / "Zico" / "Zico_0002.jpg", flat_image(64))
    save(root / "lfw" / "Bill_Gates" / "Bill_Gates_0001.jpg", flat_image(64))  # in no pair
    save(root / "lfw" / "Zico" / "portrait.jpg", flat_image(64))  # not the LFW scheme
    (root / "lfw" / "Zico" / "notes.txt").write_text("not an image")
    fs = read_faceset(lfw.convert(root, tmp_path / "out", align="resize", pairs_only=False, progress=False))
    assert len(fs) == 9 and {"Bill_Gates", "Zico"} <= set(fs.identities)
    assert read_rejects(fs.root).to_dict("records") == [
        {"file": "lfw/Zico/portrait.jpg", "reason": "file name does not follow the LFW scheme Zico/Zico_NNNN.jpg"}]
    pairs = lfw.read_pairs(fs.root)
    assert len(pairs) == 8 and (fs.meta["file"][pairs["a"]].to_numpy() == pairs["file_a"]).all()


def test_missing_root_bad_layouts_and_all_rejected(tmp_path):
    with pytest.raises(SourceError, match=r"does not exist.*data_cards/lfw.md"):
        lfw.convert(tmp_path / "nope", tmp_path / "out")
    root = _tree(tmp_path / "LFW", image=lambda: flat_image(8))
    (root / "pairs.txt").unlink()
    with pytest.raises(SourceError, match=r"LFW: no pairs.txt found"):
        lfw.convert(root, tmp_path / "out")
    _write(tmp_path / "empty" / "pairs.txt", PAIRS)
    with pytest.raises(SourceError, match=r"no LFW image folder found \(looked for lfw/, "):
        lfw.convert(tmp_path / "empty", tmp_path / "out")
    with pytest.raises(ValueError, match="align='detected'"):
        lfw.convert(tmp_path / "empty", tmp_path / "out", align="detected")
    with pytest.raises(SourceError, match="no path was given"):
        prepare("lfw", "")
    bad = _tree(tmp_path / "bad", image=lambda: flat_image(4))  # every image under 8 px: rejected
    with pytest.raises(SourceError, match=r"all 7 files were rejected \(\{'image is only 4x4 pixels"):
        lfw.convert(bad, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_read_pairs_needs_an_lfw_faceset(tmp_path):
    root = _tree(tmp_path / "LFW", image=lambda: flat_image(64))
    out = lfw.convert(root, tmp_path / "out", align="resize", progress=False)
    (out / "pairs.csv").write_text("fold,a,b,same\n1,0,1,1\n")
    with pytest.raises(SourceError, match=r"pairs.csv: has the columns \['fold', 'a', 'b', 'same'\]"):
        lfw.read_pairs(out)
    (out / "pairs.csv").unlink()
    with pytest.raises(SourceError, match=r"pairs.csv: is missing"):
        lfw.read_pairs(out)


def test_prepare_converts_once(tmp_path, isolated_dirs, monkeypatch):
    root = _tree(tmp_path / "LFW", image=lambda: flat_image(64))
    monkeypatch.setenv("FACEAUG_LFW", str(root))
    out = prepare("lfw", progress=False, align="resize")
    stamp = (out / "card.json").stat().st_mtime_ns
    assert prepare("lfw", root, progress=False, align="resize") == out
    assert (out / "card.json").stat().st_mtime_ns == stamp and len(lfw.read_pairs(out)) == 8
    with pytest.raises(ValueError, match="unknown parameters"):
        prepare("lfw", root, pair_only=False)

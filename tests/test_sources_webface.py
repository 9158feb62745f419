"""CASIA-WebFace adapter: folder-per-identity and train.txt layouts, on fixture trees."""

from __future__ import annotations

import numpy as np
import pytest

from lib.data.faceset import read_faceset
from lib.data.sources import webface
from lib.data.sources.__main__ import main as cli
from lib.data.sources.common import SourceError, read_rejects
from tests.source_fixtures import face_photo, flat_image, save, save_corrupt, save_gray, save_rgba, save_truncated


def _aligned_tree(root, ids=("0000045", "0000099", "0000100"), per=3):
    for k, ident in enumerate(ids):
        for j in range(per):
            save(root / ident / f"{j + 1:03d}.jpg", flat_image(112, 40 + 60 * k, seed=j))
    return root


def test_folders_pre_aligned_streamed_in_chunks(tmp_path):
    root = _aligned_tree(tmp_path / "casia-112x112")
    (root / "0000200").mkdir()  # empty identity folder
    fs = read_faceset(webface.convert(root, tmp_path / "out", chunk=2, progress=False))
    assert len(fs) == 9 and fs.identities == ["0000045", "0000099", "0000100"]
    assert (fs.meta["split"] == "train").all() and (fs.meta["aligned_by"] == "given").all()
    assert fs.meta["file"].tolist()[:2] == ["0000045/001.jpg", "0000045/002.jpg"]
    means = fs.images.reshape(9, -1).mean(1)
    assert np.allclose(means[[0, 3, 6]], [40, 100, 160], atol=4)  # images stay with their rows across chunks
    assert read_rejects(fs.root).to_dict("records") == [{"file": "0000200/", "reason":
                                                          "empty identity folder (no image files)"}]


def test_list_file_layout_labels_and_subset(tmp_path):
    root = _aligned_tree(tmp_path / "casia")
    (tmp_path / "train.txt").write_text("0000045/001.jpg 0\n./0000045/002.jpg 0\n0000099/001.jpg 1\n"
                                        "0000100/003.jpg 2\n0000100/009.jpg 2\n\n")
    fs = read_faceset(webface.convert(root, tmp_path / "out", list_file=tmp_path / "train.txt", max_identities=2,
                                      progress=False))
    assert fs.meta["file"].tolist() == ["0000045/001.jpg", "0000045/002.jpg", "0000099/001.jpg"]
    assert fs.meta["label"].tolist() == [0, 0, 1]
    fs = read_faceset(webface.convert(root, tmp_path / "out2", list_file="../train.txt", progress=False))
    assert read_rejects(fs.root)["file"].tolist() == ["0000100/009.jpg"]  # listed, not on disk
    assert read_rejects(fs.root)["reason"].tolist() == ["file is missing"]


def test_val_split_is_by_identity(tmp_path):
    root = _aligned_tree(tmp_path / "casia", ids=[f"{i:07d}" for i in range(8)], per=2)
    m = read_faceset(webface.convert(root, tmp_path / "out", val_fraction=0.25, progress=False)).meta
    assert (m.groupby("identity")["split"].nunique() == 1).all()
    assert m.drop_duplicates("identity")["split"].value_counts().to_dict() == {"train": 6, "val": 2}


def test_unaligned_photos_are_detected_and_bad_files_recorded(tmp_path):
    root = tmp_path / "CASIA-WebFace"
    save(root / "0000045" / "001.jpg", face_photo(250))
    save_gray(root / "0000045" / "002.jpg", face_photo(250))
    save_rgba(root / "0000045" / "003.png", face_photo(250))
    save(root / "0000045" / "004.jpg", flat_image(250))
    save_corrupt(root / "0000099" / "001.jpg")
    save_truncated(root / "0000099" / "002.jpg", face_photo(250))
    fs = read_faceset(webface.convert(root, tmp_path / "out", progress=False))
    assert fs.meta["file"].tolist() == ["0000045/001.jpg", "0000045/002.jpg", "0000045/003.png"]
    assert (fs.meta["aligned_by"] == "yunet").all()
    reasons = read_rejects(fs.root).set_index("file")["reason"].to_dict()
    assert reasons["0000045/004.jpg"] == "no face found by yunet"
    assert reasons["0000099/001.jpg"].startswith("not a readable image")
    assert "truncated" in reasons["0000099/002.jpg"]
    assert fs.card["rejects"]["reasons"] == {"image data is corrupt or truncated": 1, "no face found by yunet": 1,
                                             "not a readable image": 1}


def test_bad_layouts_and_list_files(tmp_path):
    with pytest.raises(SourceError, match="does not exist.*data_cards/webface.md"):
        webface.convert(tmp_path / "missing", tmp_path / "out")
    (tmp_path / "flat").mkdir()
    save(tmp_path / "flat" / "001.jpg", flat_image(112))
    with pytest.raises(SourceError, match="no identity folders found"):
        webface.convert(tmp_path / "flat", tmp_path / "out")
    (tmp_path / "empties" / "0000001").mkdir(parents=True)
    with pytest.raises(SourceError, match="all empty"):
        webface.convert(tmp_path / "empties", tmp_path / "out")
    root = _aligned_tree(tmp_path / "casia")
    for text, match in [("0000045/001.jpg\n", "line 1"), ("0000045/001.jpg 0\n0000045/002.jpg x\n", "line 2"),
                        ("0000045/001.jpg 0\n0000045/002.jpg 1\n", "2 different labels"), ("\n", "lists no images")]:
        (tmp_path / "bad.txt").write_text(text)
        with pytest.raises(SourceError, match=match):
            webface.convert(root, tmp_path / "out", list_file=tmp_path / "bad.txt")
    with pytest.raises(SourceError, match="list file does not exist"):
        webface.convert(root, tmp_path / "out", list_file="nope.txt")
    assert not (tmp_path / "out").exists()


def test_cli_converts_and_reports(tmp_path, isolated_dirs, capsys):
    root = _aligned_tree(tmp_path / "casia", per=1)
    assert cli(["webface", "--root", str(root), "--quiet", "--set", "max_identities=2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "2 images, 2 identities; splits train 2" and out[2].startswith("0 rejected")
    assert cli(["webface", "--root", str(tmp_path / "nope"), "--quiet"]) == 2
    assert "does not exist" in capsys.readouterr().err

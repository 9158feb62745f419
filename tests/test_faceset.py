"""lib.data.faceset: round trip, streaming writer, atomicity, write-time and read-time errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lib.data.faceset import FaceSetError, FaceSetWriter, faceset_exists, read_faceset, write_faceset

N, H, W = 6, 8, 8
CARD = {"name": "tiny", "kind": "synthetic", "generator": "tests", "version": "0", "seed": 1,
        "parameters": {"n": N}, "data_card": "data_cards/tiny.md"}


def make(seed: int = 0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (N, H, W, 3), dtype=np.uint8)
    meta = pd.DataFrame({"identity": ["NA", "NA", "b", "b", "c", "c"], "session": ["A", "B"] * 3,
                         "emotion": ["neutral", "happy"] * 3, "pose": ["S", ""] * 3,
                         "yaw": [0.0, np.nan, 30.0, -30.0, 0.125, 60.0],
                         "split": ["train", "train", "train", "val", "test", "test"], "source": "synth",
                         "pitch": [0.1, -2.5, 0.0, 1.0, np.nan, 3.0], "person": ["001"] * 6})
    arrays = {"landmarks68": rng.normal(size=(N, 68, 2)),  # float64: cast to float32
              "parsing": rng.integers(0, 25, (N, H, W)),  # int64: range-checked, cast to uint8
              "mask": rng.random((N, H, W)) > 0.5}
    return images, meta, arrays


def test_round_trip_and_card(tmp_path):
    images, meta, arrays = make()
    root = write_faceset(tmp_path / "fs", images, meta, arrays=arrays, card=CARD)
    assert faceset_exists(root)
    fs = read_faceset(root)
    assert len(fs) == N and isinstance(fs.images, np.memmap)
    np.testing.assert_array_equal(fs.images, images)
    np.testing.assert_array_equal(fs.array("parsing"), arrays["parsing"])
    np.testing.assert_array_equal(fs.array("mask"), arrays["mask"])
    assert fs.array("landmarks68").dtype == np.float32 and fs.array("parsing").dtype == np.uint8
    np.testing.assert_allclose(fs.array("landmarks68"), arrays["landmarks68"], rtol=1e-6)
    assert fs.has("parsing") and not fs.has("mesh478")
    expected = meta.assign(index=np.arange(N))[["index", *meta.columns]]
    pd.testing.assert_frame_equal(fs.meta, expected, check_dtype=False)
    assert fs.meta["identity"].iloc[0] == "NA" and fs.meta["person"].iloc[0] == "001"
    assert fs.identities == ["NA", "b", "c"]
    np.testing.assert_array_equal(fs.split("train"), [0, 1, 2])
    counts = fs.card["counts"]
    assert counts["images"] == N and counts["identities"] == 3
    assert counts["splits"]["test"] == {"images": 2, "identities": 1}
    assert set(fs.card["arrays"]) == {"images.npy", "landmarks68.npy", "parsing.npy", "mask.npy"}
    entry = fs.card["arrays"]["parsing.npy"]
    assert entry["shape"] == [N, H, W] and entry["dtype"] == "uint8" and len(entry["sha256"]) == 64
    with pytest.raises(FaceSetError, match="mesh478.npy"):
        fs.array("mesh478")


def test_card_counts_are_computed_not_trusted(tmp_path):
    images, meta, _ = make()
    card = {**CARD, "counts": {"images": 999}, "arrays": {"bogus.npy": {}}}
    fs = read_faceset(write_faceset(tmp_path / "fs", images, meta, card=card))
    assert fs.card["counts"]["images"] == N and set(fs.card["arrays"]) == {"images.npy"}


def test_streaming_writer_equals_one_shot(tmp_path):
    images, meta, arrays = make()
    write_faceset(tmp_path / "one", images, meta, arrays=arrays, card=CARD)
    with FaceSetWriter(tmp_path / "stream", n=N, image_size=(H, W), arrays=list(arrays), card=CARD) as w:
        for lo in range(0, N, 2):
            w.append(images[lo:lo + 2], meta.iloc[lo:lo + 2], {k: v[lo:lo + 2] for k, v in arrays.items()})
    one, stream = read_faceset(tmp_path / "one"), read_faceset(tmp_path / "stream")
    for name in arrays:
        np.testing.assert_array_equal(one.array(name), stream.array(name))
    assert {k: v["sha256"] for k, v in one.card["arrays"].items()} == \
        {k: v["sha256"] for k, v in stream.card["arrays"].items()}
    assert (tmp_path / "one" / "meta.csv").read_bytes() == (tmp_path / "stream" / "meta.csv").read_bytes()


def _bad_inputs():
    images, meta, arrays = make()
    parsing25 = arrays["parsing"].copy()
    parsing25[0, 0, 0] = 25
    return {
        "images.npy": (images.astype(np.float32), meta, arrays),
        "meta.csv": (images, meta.iloc[:5], arrays),
        "parsing.npy": (images, meta, {**arrays, "parsing": parsing25}),
        "parsng.npy": (images, meta, {"parsng": arrays["parsing"]}),
        "landmarks68.npy": (images, meta, {"landmarks68": arrays["landmarks68"][:, :5]}),
        "split": (images, meta.assign(split=["train", "dev", "test", "test", "test", "test"]), arrays),
    }


@pytest.mark.parametrize("what", list(_bad_inputs()))
def test_bad_input_raises_and_writes_nothing(tmp_path, what):
    images, meta, arrays = _bad_inputs()[what]
    with pytest.raises(FaceSetError) as err:
        write_faceset(tmp_path / "fs", images, meta, arrays=arrays, card=CARD)
    msg = str(err.value)
    assert (what if what != "split" else "meta.csv") in msg and "data_cards/tiny.md" in msg
    assert not list(tmp_path.iterdir())


def test_bad_card_and_bad_index(tmp_path):
    images, meta, _ = make()
    card = {k: v for k, v in CARD.items() if k != "generator"}
    with pytest.raises(FaceSetError, match=r"card\.json.*generator or source"):
        write_faceset(tmp_path / "fs", images, meta, card=card)
    with pytest.raises(FaceSetError, match=r"meta\.csv.*'index' must number the rows"):
        write_faceset(tmp_path / "fs", images, meta.assign(index=[0, 1, 2, 3, 5, 4]), card=CARD)
    assert not list(tmp_path.iterdir())


def test_incomplete_or_failing_stream_keeps_old_faceset(tmp_path):
    images, meta, arrays = make()
    root = write_faceset(tmp_path / "fs", images, meta, card=CARD)
    before = (root / "card.json").read_bytes()
    with pytest.raises(RuntimeError, match="boom"):
        with FaceSetWriter(root, n=N, image_size=(H, W), card=CARD) as w:
            w.append(images[:3], meta.iloc[:3])
            raise RuntimeError("boom")
    with pytest.raises(FaceSetError, match="3 rows were appended but n=6"):
        with FaceSetWriter(root, n=N, image_size=(H, W), card=CARD) as w:
            w.append(images[:3], meta.iloc[:3])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fs"]
    assert (root / "card.json").read_bytes() == before
    np.testing.assert_array_equal(read_faceset(root).images, images)


@pytest.fixture
def written(tmp_path):
    images, meta, arrays = make()
    return write_faceset(tmp_path / "fs", images, meta, arrays=arrays, card=CARD)


def test_read_missing_dir_and_files(tmp_path, written):
    with pytest.raises(FaceSetError, match="nope.*no FaceSet directory"):
        read_faceset(tmp_path / "nope")
    (written / "meta.csv").unlink()
    with pytest.raises(FaceSetError, match=r"meta\.csv: is missing.*make paper.*data_cards/tiny\.md"):
        read_faceset(written)
    (written / "card.json").unlink()
    assert not faceset_exists(written)
    with pytest.raises(FaceSetError, match="card.json"):
        read_faceset(written)


def test_read_truncated_images(written):
    data = (written / "images.npy").read_bytes()
    (written / "images.npy").write_bytes(data[:-10])
    with pytest.raises(FaceSetError, match=r"images\.npy.*(truncated|bytes but its header)"):
        read_faceset(written, verify="none")


def test_flipped_byte_fails_full_but_not_fast(written):
    file = written / "parsing.npy"
    data = bytearray(file.read_bytes())
    data[-1] = (data[-1] + 1) % 25
    file.write_bytes(bytes(data))
    read_faceset(written, verify="fast")
    with pytest.raises(FaceSetError, match=r"parsing\.npy.*sha256"):
        read_faceset(written, verify="full")


def test_meta_row_count_mismatch(written):
    meta = pd.read_csv(written / "meta.csv", dtype=str, keep_default_na=False)
    meta.iloc[:5].to_csv(written / "meta.csv", index=False)
    with pytest.raises(FaceSetError, match=r"meta\.csv: has 5 rows but images\.npy has 6"):
        read_faceset(written, verify="fast")


def test_out_of_range_parsing_written_by_hand(written):
    parsing = np.load(written / "parsing.npy")
    parsing[2, 3, 4] = 30
    np.save(written / "parsing.npy", parsing)
    with pytest.raises(FaceSetError, match=r"parsing\.npy: has labels 0\.\.30 outside 0\.\.24"):
        read_faceset(written, verify="fast")

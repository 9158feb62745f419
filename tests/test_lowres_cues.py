"""lib.lowres.cues: 04's LFW-style test with one cue taken away, on a fixture whose persons differ only in hair."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from lib.data.engine.labels import ID
from lib.lowres import cues, evaluate as protocols


def _hair_persons():
    """8 persons (6 test): each person's hair (rows 0-9) has a bright stripe at its own columns; the face (rows
    10-31) is noise, so the hair pattern is the only identity cue."""
    rows, images = [], []
    rng = np.random.default_rng(0)
    for k in range(8):
        for pose in ("FL", "HL", "S", "HR", "FR"):
            for emo in ("happy", "neutral", "sad"):
                rows.append({"identity": f"s{k}", "pose": pose, "emotion": emo, "split": "test" if k < 6 else "train"})
                img = rng.integers(0, 256, (32, 32, 3)).astype(np.uint8)
                img[:10] = 60
                img[:10, 5 * k:5 * k + 5] = 200
                images.append(img)
    parsing = np.ones((len(rows), 32, 32), np.uint8)
    parsing[:, :10] = ID["hair"]
    return SimpleNamespace(meta=pd.DataFrame(rows), images=np.stack(images),
                           array=lambda name: {"parsing": parsing}[name],
                           card={"arrays": {"images.npy": {"sha256": "hair-persons-v1"}}},
                           cache_key=lambda: {"test": "hair_persons"})


def _column_profile(backbone, batch_size=256):
    return lambda images: np.asarray(images, dtype=np.float64).mean(axis=(1, 3))


def test_cue_table_takes_one_cue_away_on_the_same_pairs(isolated_dirs, monkeypatch):
    monkeypatch.setattr(protocols, "backbone_embedder", _column_profile)
    fs = _hair_persons()
    cfg = protocols.EngineProtocol(num_pairs=200, qmul_pairs=120, probes_per_identity=2)
    table = cues.cue_table(fs, cfg, model="m", model_key={"m": 1}, hair_model="h", hair_model_key={"h": 1})
    assert table["variant"].tolist() == [cues.AS_TESTED, "hair recoloured", "hair as background",
                                         "hair recoloured, trained so"]
    t = table.set_index("variant")
    assert t.loc[cues.AS_TESTED, "acc_112"] > 0.8  # the hair pattern tells the persons apart
    # recolouring keeps the strands' light and shade (the pattern); painting the hair as background removes it
    assert t.loc["hair recoloured", "acc_112"] > 0.8
    assert t.loc["hair as background", "acc_112"] < t.loc[cues.AS_TESTED, "acc_112"] - 0.2
    assert t.loc["hair as background", "p_112"] < 0.01 and t.loc["hair as background", "diff_112"] < -20
    assert (t.loc[cues.AS_TESTED, ["diff_7", "diff_112"]] == 0).all()
    assert (t.loc[cues.AS_TESTED, ["p_7", "p_112"]] == 1).all()
    assert t["drop"].to_numpy() == pytest.approx(100 * (t["acc_112"] - t["acc_7"]).to_numpy())
    again = cues.cue_table(fs, cfg, model="m", model_key={"m": 1})  # cached evaluations; no trained-so row
    pd.testing.assert_frame_equal(again, table.iloc[:3])
    from lib import runcache

    evals = [e for e in runcache.log() if e["name"] == "lowres/eval"]
    assert [e["status"] for e in evals[-3:]] == ["loaded"] * 3  # the second call embedded nothing
    wilds = [e for e in runcache.log() if e["name"] == "lowres/wild"]
    assert [e["status"] for e in wilds[-3:]] == ["loaded"] * 3  # ... and drew no test image again


def test_cue_table_needs_the_wild_protocol_and_hair_training_covers_the_pretraining():
    with pytest.raises(ValueError, match="photometric='wild' and hair=False"):
        cues.cue_table(_hair_persons(), protocols.EngineProtocol(photometric="none"), model="m", model_key={})
    assert cues.hair_training({"epochs": 1, "pretrain": {"epochs": 2}}) == {
        "epochs": 1, "wild_hair": True, "pretrain": {"epochs": 2, "wild_hair": True}}
    assert cues.hair_training({}) == {"wild_hair": True}

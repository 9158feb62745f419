"""FRL sources for FRA: pretrained, trained on training identities only, user checkpoints."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from lib.data.faceset import read_faceset, write_faceset
from lib.fra import frl
from lib.recognition.backbones import get_preprocess
from lib.recognition.train import TrainConfig


def _faceset(path, n_ids=4, per=6):
    rng = np.random.default_rng(0)
    images, rows = [], []
    for i in range(n_ids):
        base = rng.integers(0, 255, 3)
        for j in range(per):
            img = np.clip(base + rng.normal(0, 20, (112, 112, 3)), 0, 255).astype(np.uint8)
            images.append(img)
            rows.append({"identity": f"id{i}", "session": "A", "emotion": "neutral", "pose": "S", "yaw": 0.0,
                         "split": "train" if i < n_ids - 1 else "test", "source": "fixture"})
    card = {"name": "fixture", "kind": "synthetic", "version": "1", "seed": 0, "parameters": {}, "generator": "test"}
    return read_faceset(write_faceset(path, np.stack(images), pd.DataFrame(rows), card=card))


def test_train_labels_use_training_identities_only(tmp_path):
    fs = _faceset(tmp_path / "fs")
    rows, labels = frl.train_labels(fs.meta)
    assert (fs.meta["split"].to_numpy()[rows] == "train").all() and sorted(set(labels)) == [0, 1, 2]
    with pytest.raises(ValueError, match="no 'train' rows"):
        frl.train_labels(fs.meta.assign(split="test"))


def test_trained_source_is_cached_and_embeds_every_image(tmp_path, isolated_dirs):
    fs = _faceset(tmp_path / "fs")
    cfg = {"epochs": 1, "batch_size": 8, "threads": 1, "warmup_epochs": 0.0}
    emb = frl.embeddings("cosface", fs, train_cfg=cfg, progress=False)
    assert emb.shape == (len(fs), 128) and np.isfinite(emb).all()
    again = frl.embeddings("cosface", fs, train_cfg=cfg, progress=False)
    assert np.array_equal(emb, again)
    assert len(list((isolated_dirs / "runs" / "fr" / "cosface").iterdir())) == 1
    # the key is the resolved TrainConfig: spelling out a default value finds the same embeddings
    same = frl.embeddings("cosface", fs, train_cfg={**cfg, "lr": TrainConfig().lr}, progress=False)
    assert np.array_equal(emb, same) and len(list((isolated_dirs / "runs" / "frl" / "cosface").iterdir())) == 1
    with pytest.raises(ValueError, match="unknown FRL source"):
        frl.embeddings("vggface", fs)


def test_user_checkpoint_is_fed_like_the_fra_code(tmp_path):
    from lib.recognition.backbones import create_backbone

    model = create_backbone("sphere20", input_size=(96, 112))
    torch.save(model.state_dict(), tmp_path / "ACC99.pth")
    loaded = frl.load_checkpoint_model("cosface", tmp_path / "ACC99.pth")
    spec = get_preprocess(loaded)
    assert (spec.channels, spec.mean, spec.std, tuple(spec.input_size)) == ("BGR", 127.5, 128.0, (96, 112))
    assert not loaded.training
    with pytest.raises(ValueError, match="no checkpoint recipe"):
        frl.load_checkpoint_model("dlib", tmp_path / "ACC99.pth")

"""lib.data.rehearsal: the data sets' layouts written from engine faces convert with their adapters,
and the broken trees stop (naming the file and the data card) or are recorded as rejects."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lib.data import rehearsal
from lib.data.faceset import read_faceset
from lib.data.sources import celeba, celeba_c, facesynthetics, kdef, lfw, qmul, scface, webface
from lib.data.sources.common import Reject, SourceError, read_image, read_rejects

ADAPTERS = {"kdef": kdef, "lfw": lfw, "celeba": celeba, "celeba_c": celeba_c, "facesynthetics": facesynthetics,
            "scface": scface, "qmul": qmul, "webface": webface}


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    from lib.data.engine.build import EngineConfig, build_synth_kdef

    mp = pytest.MonkeyPatch()
    mp.setenv("FACEAUG_DATA", str(tmp_path_factory.mktemp("data")))
    cfg = EngineConfig(n_train=4, n_test=2, emotions=("neutral", "happy"), poses={"S": 0.0, "HR": 30.0}, workers=2)
    fs = read_faceset(build_synth_kdef(cfg, progress=False))
    mp.undo()
    return fs


@pytest.fixture(scope="module")
def converted(engine, tmp_path_factory):
    out = tmp_path_factory.mktemp("trees")
    roots = rehearsal.write_all(engine, out / "trees")
    sets = {}
    for name, mod in ADAPTERS.items():
        kw = {"list_file": roots["webface"].parent / "train.txt"} if name == "webface" else {}
        sets[name] = read_faceset(mod.convert(roots[name], out / "fs" / name, progress=False, **kw))
    return roots, sets


def test_every_tree_converts_with_its_adapter(converted):
    _, sets = converted
    for name, fs in sets.items():
        rejected = fs.card["rejects"]["count"]
        assert len(fs) > 0 and rejected <= len(fs) // 4, (name, len(fs), fs.card["rejects"])
        assert fs.images.shape[1:] == ((256, 256, 3) if name == "celeba_c" else (112, 112, 3)), name


def test_the_trees_keep_each_data_sets_structure(converted, engine):
    roots, sets = converted
    persons = engine.meta["person"].nunique()
    k = sets["kdef"].meta
    assert set(k["session"]) == {"A", "B"} and k["person"].nunique() == min(8, persons) and set(k["pose"]) == {"S", "HR"}
    assert set(sets["scface"].meta["role"]) == {"gallery", "probe"}
    assert sorted(sets["scface"].meta.query("role == 'probe'")["distance"].unique()) == [1, 2, 3]
    assert sets["scface"].card["excluded"]["ir_night_cameras_6_7"] == 5  # one camera-6 probe per person, left out
    assert (roots["lfw"] / "pairs.txt").is_file() and (sets["lfw"].root / "pairs.csv").is_file()
    assert (sets["qmul"].root / "pairs.csv").is_file()
    assert sets["facesynthetics"].has("parsing") and sets["facesynthetics"].has("parsing19")
    assert sets["celeba_c"].has("damaged") and sets["celeba_c"].meta["mask_coverage"].gt(0).all()
    assert set(sets["celeba"].meta["split"]) == {"train", "val", "test"}
    assert sets["webface"].meta["identity"].nunique() == min(8, persons)
    assert sets["celeba"].meta.query("split == 'test'")["identity"].nunique() == 2  # impostor pairs exist


def test_broken_trees_stop_or_are_recorded(engine, tmp_path):
    broken = rehearsal.write_broken(engine, tmp_path / "broken")
    with pytest.raises(SourceError, match=r"no pairs\.txt found.*see data_cards/lfw\.md"):
        lfw.convert(broken["lfw_without_pairs"], tmp_path / "out_lfw", progress=False)
    assert not (tmp_path / "out_lfw").exists()
    fs = read_faceset(kdef.convert(broken["kdef_truncated"], tmp_path / "out_kdef", progress=False))
    first = sorted(broken["kdef_truncated"].rglob("*.JPG"))[0].relative_to(broken["kdef_truncated"]).as_posix()
    reasons = dict(read_rejects(fs.root).to_numpy())
    assert "corrupt or truncated" in reasons[first] and len(fs) > 0
    with pytest.raises(SourceError, match=r"train\.txt: line 1 .*see data_cards/webface\.md"):
        webface.convert(broken["webface_bad_list"], tmp_path / "out_web", list_file=broken["webface_bad_list"].parent
                        / "train.txt", progress=False)


def test_fra_checkpoints_in_the_originals_formats_load_and_a_wrong_one_is_refused(tmp_path):
    from lib.fra import frl
    from lib.recognition.backbones.checkpoint import CheckpointError

    paths = rehearsal.write_checkpoints(tmp_path)
    for name in ("magface", "arcface", "cosface"):
        model = frl.load_checkpoint_model(name, paths[name])
        assert not model.training and model.backbone_name == frl.CHECKPOINT_MODELS[name]["backbone"]
    with pytest.raises(CheckpointError, match=r"wrong_keys\.pth"):
        frl.load_checkpoint_model("arcface", paths["wrong_keys"])


def test_prepare_writes_once_into_a_new_folder_and_never_into_a_foreign_one(engine, tmp_path, monkeypatch):
    written = []
    monkeypatch.setattr(rehearsal, "write_checkpoints", lambda out: written.append(Path(out)) or Path(out).mkdir())
    monkeypatch.delenv(rehearsal.ENV, raising=False)
    out = rehearsal.prepare(tmp_path / "r", fs=engine)
    assert os.environ[rehearsal.ENV] == str(out) and (out / "rehearsal.json").is_file()
    assert not (tmp_path / "r.partial").exists() and written == [tmp_path / "r.partial" / "checkpoints"]
    with pytest.raises(Reject, match="truncated"):  # the truncated photo: a reject the adapters record
        read_image(sorted((out / "KDEF").rglob("*.JPG"))[0])
    stamp = (out / "rehearsal.json").stat().st_mtime_ns
    assert rehearsal.prepare(out, fs=engine) == out and (out / "rehearsal.json").stat().st_mtime_ns == stamp
    assert len(written) == 1  # the second call found it complete
    foreign = tmp_path / "mine"
    (foreign / "notes.txt").parent.mkdir()
    (foreign / "notes.txt").write_text("keep")
    with pytest.raises(FileExistsError, match="was not written by lib.data.rehearsal.prepare"):
        rehearsal.prepare(foreign, fs=engine)
    assert (foreign / "notes.txt").read_text() == "keep"

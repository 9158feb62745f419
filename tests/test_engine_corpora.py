"""lib.data.engine.corpora: roles cut from one person pool, disjoint corpora, atomic builds, bad sizes."""

from dataclasses import replace

import numpy as np
import pytest

from lib.data.engine import candidates, corpora
from lib.data.engine.corpora import CorporaConfig, Sampling

TINY = CorporaConfig(bench_persons=2, heldout_persons=2, train_persons=3, capacity_persons=8,
                     webface=Sampling(3, 60.0, 15.0), celeba=Sampling(2, 20.0, 10.0),
                     facesynthetics=Sampling(2, 60.0, 20.0), bench_emotions=("neutral", "happy"),
                     bench_poses={"S": 0.0, "HR": 30.0}, exclude=tuple(range(40)), workers=2)


class _Done:
    def __init__(self, value):
        self.value = value

    def get(self):
        return self.value

    def wait(self):
        pass


class _SerialPool:
    def map(self, fn, items, chunksize=None):
        return [fn(x) for x in items]

    def map_async(self, fn, items, chunksize=None):
        return _Done(self.map(fn, items))


def _one_hot(args):
    _, i, _ = args
    e = np.zeros(5)
    e[i % 5] = 1.0
    return candidates.Candidate(i, "ok", {}, e)


def test_select_distinct_skips_excluded_and_rejects_their_lookalikes():
    pick = lambda **kw: candidates.select_distinct(_SerialPool(), _one_hot, 0, None, 3, 0.5, **kw).kept  # noqa: E731
    assert pick() == [0, 1, 2]
    assert pick(others=[np.eye(5)[0]]) == [1, 2, 3]  # candidate 0 looks like an excluded person
    assert pick(skip={1}) == [0, 2, 3]
    s = candidates.select_distinct(_SerialPool(), _one_hot, 0, None, 5, 0.5, batch=4)
    assert s.kept == [0, 1, 2, 3, 4] and s.not_distinct == 0 and s.embeddings.shape == (5, 5)
    with pytest.raises(RuntimeError, match="only 5 of 6 distinct"):
        candidates.select_distinct(_SerialPool(), _one_hot, 0, None, 6, 0.5, batch=500)


def test_blocked_sources_are_the_same_faces():
    for i in (0, 7, 15, 16, 33):  # within and across blocks of candidates.BLOCK
        assert np.array_equal(candidates.source_image(0, i, blocked=True), candidates.source_image(0, i))


def test_pose_codes_and_roles():
    assert [corpora.pose_code(y) for y in (-60, -44, -16, 0, 14.9, 31, 59)] == ["FL", "HL", "HL", "S", "S", "HR", "FR"]
    assert corpora.roles(TINY) == ["bench"] * 2 + ["heldout"] * 2 + ["train"] * 3 + ["spare"]
    assert corpora.expected_counts(TINY) == {"synth_webface": 9, "synth_celeba": 10, "synth_facesynthetics": 10,
                                             "synth_bench": 2 * (1 + 4), "synth_capacity": 16}


def test_small_corpora_hold_their_roles_and_are_deterministic(tmp_path, monkeypatch):
    monkeypatch.delenv("FORCE", raising=False)
    monkeypatch.setenv("FACEAUG_DATA", str(tmp_path / "a"))
    dirs = corpora.build_corpora(TINY, progress=False)
    sets = corpora.read_corpora(dirs, verify="full")
    assert {n: len(fs) for n, fs in sets.items()} == corpora.expected_counts(TINY)
    pool = sets["synth_capacity"].card["pool"]["candidates"]
    assert len(pool) == 8 and not set(pool) & set(TINY.exclude)
    cap = sets["synth_capacity"].meta
    persons = list(dict.fromkeys(cap["person"]))
    assert persons == [f"{p:04d}" for p in range(8)] and list(cap["session"]) == ["A", "B"] * 8
    bench, heldout, train = persons[:2], persons[2:4], persons[4:7]
    web, celeba, fsyn, bm = (sets[n].meta for n in ("synth_webface", "synth_celeba", "synth_facesynthetics", "synth_bench"))
    assert sorted(set(web["person"])) == train and (web["split"] == "train").all()
    for m in (celeba, fsyn):
        assert sorted(set(m.loc[m["split"] == "train", "person"])) == train
        assert sorted(set(m.loc[m["split"] == "test", "person"])) == heldout
    assert sorted(set(bm["person"])) == bench  # the benchmark persons are in no training corpus
    assert (celeba["yaw"].abs() <= 20).all() and (web["yaw"].abs() <= 60).all() and web["yaw"].std() > 10
    gallery = bm[bm["session"] == "A"]
    assert len(gallery) == 2 and (gallery["emotion"] == "neutral").all() and (gallery["pose"] == "S").all()
    assert (bm["identity"] == bm["session"] + bm["person"]).all() and (web["identity"] == web["person"]).all()
    assert sets["synth_facesynthetics"].array("parsing").max() <= 24
    assert set(corpora.build_record(dirs)) >= {"seconds", "select_seconds", "render_seconds", "images_per_s"}
    from lib.data.engine import capacity

    curve = capacity.faceset_curve(sets["synth_capacity"], [4, 8])  # dlib, aligned on the exact 68 points
    assert list(curve["persons"]) == [4, 8] and curve["rank1"].iloc[-1] >= 0.75
    monkeypatch.setenv("FACEAUG_DATA", str(tmp_path / "b"))
    again = corpora.read_corpora(corpora.build_corpora(TINY, progress=False))
    assert all(again[n].card["arrays"] == sets[n].card["arrays"] for n in corpora.NAMES)  # byte-identical


def test_a_failed_build_leaves_nothing(tmp_path, monkeypatch):
    from lib.data.faceset import FaceSetError

    monkeypatch.delenv("FORCE", raising=False)
    monkeypatch.setenv("FACEAUG_DATA", str(tmp_path))
    small = replace(TINY, capacity_persons=0, train_persons=1, exclude=())
    counts = corpora.expected_counts(small)
    monkeypatch.setattr(corpora, "expected_counts", lambda cfg: counts | {"synth_bench": 1})  # overflows mid-build
    with pytest.raises(FaceSetError, match="synth_bench"):
        corpora.build_corpora(small, progress=False)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()], "a failed build left files behind"


@pytest.mark.parametrize("changes, message", [
    ({"train_persons": 0}, r"CorporaConfig\.train_persons=0: every role needs at least 1 person"),
    ({"bench_persons": -1}, r"CorporaConfig\.bench_persons=-1"),
    ({"webface": Sampling(0, 60.0, 15.0)}, r"CorporaConfig\.webface=.*per_person must be >= 1"),
    ({"celeba": Sampling(2, 20.0, 10.0, ("bored",))}, r"CorporaConfig\.celeba=.*emotions among"),
    ({"bench_poses": {}}, r"bench_poses"),
    ({"train_persons": 2900}, r"= 3400 persons exceeds the engine's measured capacity of 3000"),
    ({"capacity_persons": 3001}, r"measure_beyond=True"),
])
def test_sizes_the_engine_cannot_give_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        corpora.check(replace(CorporaConfig(), **changes))
    corpora.check(replace(CorporaConfig(), capacity_persons=4000, measure_beyond=True))  # a measurement may go further


def test_make_config_from_notebook_parameters():
    cfg = corpora.make_config(seed=3, exclude=[5, 2], train_persons=10, webface={"per_person": 4},
                              celeba={"emotions": ["happy", "neutral"]}, bench_poses={"S": 0}, bench_emotions=["sad"])
    assert cfg.seed == 3 and cfg.exclude == (5, 2) and cfg.key()["exclude"] == [2, 5]
    assert cfg.webface == replace(CorporaConfig().webface, per_person=4) and cfg.celeba.emotions == ("happy", "neutral")
    assert cfg.bench_poses == {"S": 0.0} and cfg.bench_emotions == ("sad",)
    assert "workers" not in cfg.key() and corpora.corpora_dir(cfg) != corpora.corpora_dir(replace(cfg, seed=4))
    with pytest.raises(ValueError, match=r"\['trainpersons'\] are not CorporaConfig fields"):
        corpora.make_config(trainpersons=3)


def test_render_throughput_reports_the_best_of_its_repeats():
    from lib.speed.engine import render_throughput
    from lib.data.engine.build import EngineConfig

    usable = [i for i in range(60) if candidates.build(0, i)[0] is not None][:2]
    r = render_throughput(usable, EngineConfig(poses={"S": 0.0}, emotions=("neutral",)), workers=2, repeats=2)
    assert r["images"] == 2 * 2 and r["repeats"] == 2 and r["images_per_s"] >= r["median_images_per_s"] > 0


def test_notebook_config_is_00s_corpora_without_the_kdef_persons(tmp_path, monkeypatch):
    from lib import profiles
    from lib.data.engine import build

    import pandas as pd

    from lib.data.faceset import FaceSetWriter

    card = {"name": "fake_kdef", "kind": "synthetic", "version": "1", "seed": 0, "parameters": {}, "generator": "test",
            "selection": {"candidates": [5, 2, 9]}}
    with FaceSetWriter(tmp_path, n=1, image_size=(8, 8), card=card) as w:
        w.append(np.zeros((1, 8, 8, 3), np.uint8), pd.DataFrame({"identity": ["A1"], "split": ["train"], "session": "A",
                                                                 "emotion": "neutral", "pose": "S", "source": "test", "yaw": 0.0}))
    seen = {}

    def fake_build(cfg, progress=True):
        seen["cfg"] = cfg
        return tmp_path

    monkeypatch.setattr(build, "build_synth_kdef", fake_build)
    cfg = corpora.notebook_config("smoke", seed=3)
    p = profiles.effective("00_data_prep", "smoke", ["corpora"])["corpora"]
    assert cfg == corpora.make_config(seed=3, exclude=[5, 2, 9], **p)
    assert cfg.exclude == (5, 2, 9) and cfg.train_persons == p["train_persons"]
    assert seen["cfg"] == build.notebook_config("smoke", 3)  # the profile's synth_kdef, not another

"""lib.crossmethod: the benchmark's conditions and the one protocol, on tiny synthetic inputs."""

import numpy as np
import pandas as pd
import pytest

from lib.crossmethod import benchmark as B
from lib.crossmethod import evaluate as P

EMOTIONS = ("happy", "neutral")


class _FS:
    """The parts of a FaceSet the benchmark reads (meta, images, array)."""

    def __init__(self, n_persons=4, split="test", candidates=None, seed=0):
        rows = []
        for p in range(n_persons):
            for session in "AB":
                for emo in EMOTIONS:
                    for pose in ("S", "HR", "FR"):
                        rows.append({"person": f"{p:03d}", "session": session, "emotion": emo, "pose": pose,
                                     "split": split, "identity": f"{session}{p:03d}",
                                     "source": f"dcgan:{seed}:{(candidates or range(100, 200))[p]}"})
        self.meta = pd.DataFrame(rows)
        rng = np.random.default_rng(0)
        self.images = rng.integers(0, 256, (len(rows), 112, 112, 3), dtype=np.uint8)
        parsing = np.zeros((len(rows), 112, 112), np.uint8)
        parsing[:, 40:60, 30:50], parsing[:, 60:75, 45:65], parsing[:, 85:95, 40:70] = 11, 10, 18
        self._parsing = parsing

    def array(self, name):
        assert name == "parsing"
        return self._parsing


CFG = B.BenchmarkConfig(emotions=EMOTIONS)


def test_benchmark_conditions_cover_every_axis_with_the_right_probes():
    fs = _FS()
    bench = B.build_benchmark(fs, CFG, seed=0)
    m = fs.meta
    assert (m.loc[bench.gallery_rows, ["session", "pose", "emotion"]].drop_duplicates().to_numpy().tolist()
            == [["A", "S", "neutral"]])
    assert sorted(bench.gallery_persons) == sorted(set(m["person"]))
    axes = bench.table().groupby("axis")["level"].apply(list).to_dict()
    assert axes == {"clean": ["0"], "pose": ["30", "60"], "occlusion": list(B.OCCLUSIONS),
                    "resolution": [str(t) for t in B.RESOLUTIONS], "expression": list(EMOTIONS)}
    clean = bench.condition("clean", "0")
    assert (m.loc[clean.rows, "session"] == "B").all() and (m.loc[clean.rows, "pose"] == "S").all()
    assert (m.loc[bench.condition("pose", "60").rows, "pose"] == "FR").all()
    for kind in B.OCCLUSIONS:  # occluded = the clean probes changed exactly inside the mask
        c = bench.condition("occlusion", kind)
        assert c.masks is not None and c.masks.any(axis=(1, 2)).all()
        changed = (c.images != clean.images).any(-1)
        assert not (changed & ~c.masks).any()
    low = bench.condition("resolution", "7")
    assert low.images.std() < clean.images.std()  # 7 px keeps little of the noise images' detail
    expr = np.sort(np.concatenate([bench.condition("expression", e).rows for e in EMOTIONS]))
    np.testing.assert_array_equal(expr, np.sort(clean.rows))


def test_cached_benchmark_equals_the_computed_one_and_is_read_only(isolated_dirs):
    from lib import runcache

    fs = _FS()
    plain = B.build_benchmark(fs, CFG, seed=1)
    for _ in range(2):
        start = len(runcache.log())
        cached = B.build_benchmark(fs, CFG, seed=1, cache=True)
        for a, b in zip(plain.conditions, cached.conditions):
            assert (a.axis, a.level) == (b.axis, b.level) and np.array_equal(a.images, b.images)
            assert (a.masks is None) == (b.masks is None) and (a.masks is None or np.array_equal(a.masks, b.masks))
            assert not b.images.flags.writeable
    # second build: every occluded and down-sampled set (and its digest) loaded, nothing drawn again
    statuses = {(e["name"], e["status"]) for e in runcache.log(start)}
    assert statuses == {("crossmethod/probes", "loaded")}
    other = B.build_benchmark(fs, CFG, seed=2, cache=True)  # another seed redraws the occlusions only
    assert not np.array_equal(other.condition("occlusion", "band").masks, cached.condition("occlusion", "band").masks)


def test_region_erase_touches_only_the_named_region():
    img = np.full((112, 112, 3), 7, np.uint8)
    parsing = np.zeros((112, 112), np.uint8)
    parsing[10:20, 10:20] = 10
    out, mask = B.region_erase(img, parsing, 0, "nose")
    assert mask.sum() == 100 and (out[~mask] == 7).all()
    with pytest.raises(ValueError, match="region 'ears'"):
        B.region_erase(img, parsing, 0, "ears")


def test_benchmark_refuses_training_persons_and_non_test_rows():
    bench = _FS(candidates=[104, 105, 106, 107])
    B.check_held_out(bench, webface=_FS(candidates=[100, 101, 102, 103]), kdef=_FS(candidates=[110, 111, 112, 113]))
    leaky = _FS(candidates=[103, 108, 109, 110])  # candidate 103: a person of the training set
    with pytest.raises(ValueError, match="1 benchmark persons are persons of webface"):
        B.check_held_out(leaky, webface=_FS(candidates=[100, 101, 102, 103]))
    with pytest.raises(ValueError, match="test persons only"):
        B.build_benchmark(_FS(split="train"), CFG)


def test_evaluate_condition_known_values():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(40, 16))
    gallery, persons = centres, np.arange(40)
    probes = np.repeat(centres, 2, axis=0) + 0.01 * rng.normal(size=(80, 16))
    r = P.evaluate_condition(gallery, persons, probes, np.repeat(persons, 2))
    assert r["n_genuine"] == 80 and r["n_impostor"] == 80 * 39
    assert r["tar@far=1e-3"] == 1.0 and r["eer"] == 0.0 and r["rank1"] == 1.0
    shuffled = P.evaluate_condition(gallery, persons, probes, rng.permutation(np.repeat(persons, 2)))
    assert shuffled["rank1"] < 0.2 and shuffled["eer"] > 0.3
    few = P.evaluate_condition(gallery[:5], persons[:5], probes[:10], np.repeat(persons[:5], 2))
    assert np.isnan(few["tar@far=1e-3"])  # 40 impostor comparisons cannot resolve FAR = 1e-3
    with pytest.raises(ValueError, match="no gallery template"):
        P.evaluate_condition(gallery[:5], persons[:5], probes, np.repeat(persons, 2))


def test_cached_condition_metrics_equal_computed_ones_and_are_loaded(isolated_dirs):
    from lib import runcache

    rng = np.random.default_rng(1)
    centres = rng.normal(size=(40, 16))
    probes = np.repeat(centres, 2, axis=0) + 0.8 * rng.normal(size=(80, 16))
    args = (centres, np.arange(40), probes, np.repeat(np.arange(40), 2))
    plain = P.evaluate_condition(*args)
    start = len(runcache.log())
    assert P.evaluate_condition(*args, cache=True) == plain
    assert P.evaluate_condition(*args, cache=True) == plain
    assert [e["status"] for e in runcache.log(start)] == ["built", "loaded"]
    noisier = np.repeat(centres, 2, axis=0) + 1.2 * rng.normal(size=(80, 16))
    other = P.evaluate_condition(*args[:2], noisier, args[3], cache=True)  # other scores: computed, not loaded
    assert runcache.log()[-1]["status"] == "built" and other["eer"] != plain["eer"]


def test_evaluate_method_gallery_extra_and_probe_transform_and_ranking():
    fs = _FS(n_persons=6)
    bench = B.build_benchmark(fs, B.BenchmarkConfig(emotions=EMOTIONS, occlusions=("band",),
                                                    resolutions=(14,)), seed=0)
    mean_colour = lambda x: x.reshape(len(x), -1, 3).mean(1).astype(np.float64)  # noqa: E731
    plain = P.evaluate_method("plain", bench, mean_colour)
    seen = []
    P.evaluate_method("t", bench, mean_colour, probe_transform=lambda c: seen.append(c.axis) or c.images)
    assert seen == [c.axis for c in bench.conditions]
    extra = P.evaluate_method("aug", bench, mean_colour,
                              gallery_extra=lambda g: (g + 1.0, bench.gallery_persons))
    assert len(plain) == len(extra) == len(bench.conditions)
    table = pd.concat([plain.assign(method="baseline"), extra])
    keys = P.metric_keys(table)
    assert "cross.baseline.clean.0" in keys and "cross.aug.occlusion.band" in keys
    rank = P.ranking(table.fillna(0.0))
    assert list(rank["rank"]) == [1, 2] and "gain vs baseline" in rank.columns


def _condition_scores(rng, n_persons, probes_per, separation):
    """Cosine-like scores of probes against persons: genuine ones raised by ``separation``."""
    persons = np.arange(n_persons)
    probe_persons = np.repeat(persons, probes_per)
    same = probe_persons[:, None] == persons[None, :]
    return {"scores": (rng.normal(0, 0.1, same.shape) + separation * same).astype(np.float32), "same": same}


def test_bootstrap_ranking_is_paired_over_persons():
    rng = np.random.default_rng(0)
    scores = {}
    for method, sep in (("baseline", 0.25), ("better", 0.45)):
        for axis, level in (("clean", "0"), ("pose", "30"), ("occlusion", "band")):
            scores[method, axis, level] = _condition_scores(rng, 40, 3, sep)
    ci = P.bootstrap_ranking(scores, metric="tar@far=1e-2", n_boot=60, seed=0)
    # the point estimate is the table's: the mean TAR over the difficulty conditions on all persons
    from lib.evaluation.verification import tar_at_far

    for m in ("baseline", "better"):
        direct = np.mean([tar_at_far(v["scores"].ravel(), v["same"].ravel(), (1e-2,))[1e-2]["tar"]
                          for k, v in scores.items() if k[0] == m and k[1] != "clean"])
        assert ci.loc[m, "mean"] == pytest.approx(direct)
        assert ci.loc[m, "mean_low"] <= ci.loc[m, "mean"] <= ci.loc[m, "mean_high"]
        assert ci.loc[m, "mean_high"] - ci.loc[m, "mean_low"] > 0.01  # 40 persons: a real spread
    assert ci.loc["baseline", ["gain", "gain_low", "gain_high"]].tolist() == [0.0, 0.0, 0.0]  # paired
    assert ci.loc["better", "gain_low"] > 0 and ci.loc["better", "p_gain_above_0"] == 1.0
    again = P.bootstrap_ranking(scores, metric="tar@far=1e-2", n_boot=60, seed=0)
    pd.testing.assert_frame_equal(ci, again)  # seeded


def test_bootstrap_over_replications_averages_the_seeds_on_the_same_draws():
    rng = np.random.default_rng(2)
    reps = [{(m, "pose", "30"): _condition_scores(rng, 30, 2, sep) for m, sep in (("baseline", 0.2), ("x", s))}
            for s in (0.3, 0.5)]  # the method helps more in the second replication
    one = [P.bootstrap_ranking(r, metric="tar@far=1e-1", n_boot=40, seed=0) for r in reps]
    both = P.bootstrap_ranking(reps, metric="tar@far=1e-1", n_boot=40, seed=0)
    assert both.loc["x", "gain"] == pytest.approx((one[0].loc["x", "gain"] + one[1].loc["x", "gain"]) / 2)
    assert [both.loc["x", f"gain_r{i}"] for i in (0, 1)] == pytest.approx([o.loc["x", "gain"] for o in one])
    assert both.loc["x", "gain_low"] <= both.loc["x", "gain"] <= both.loc["x", "gain_high"]


def test_bootstrap_ranking_cache(isolated_dirs):
    from lib import runcache

    rng = np.random.default_rng(1)
    scores = {(m, "pose", "30"): _condition_scores(rng, 20, 2, sep) for m, sep in (("baseline", 0.2), ("x", 0.4))}
    start = len(runcache.log())
    first = P.bootstrap_ranking(scores, metric="tar@far=1e-1", n_boot=20, cache=True)
    second = P.bootstrap_ranking(scores, metric="tar@far=1e-1", n_boot=20, cache=True)
    pd.testing.assert_frame_equal(first, second)
    pd.testing.assert_frame_equal(first, P.bootstrap_ranking(scores, metric="tar@far=1e-1", n_boot=20))
    assert [e["status"] for e in runcache.log()[start:]] == ["built", "loaded"]
    scores["x", "pose", "30"]["scores"][0, 0] += 1.0  # other scores: computed anew
    P.bootstrap_ranking(scores, metric="tar@far=1e-1", n_boot=20, cache=True)
    assert runcache.log()[-1]["status"] == "built"


def test_bootstrap_ranking_rejects_bad_input():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="expected 'tar@far=<far>'"):
        P.bootstrap_ranking({("b", "pose", "30"): _condition_scores(rng, 5, 2, 0.3)}, metric="eer")
    with pytest.raises(ValueError, match="no difficulty conditions"):
        P.bootstrap_ranking({("b", "clean", "0"): _condition_scores(rng, 5, 2, 0.3)})
    mixed = {("b", "pose", "30"): _condition_scores(rng, 5, 2, 0.3), ("b", "pose", "60"): _condition_scores(rng, 6, 2, 0.3)}
    with pytest.raises(ValueError, match="different gallery sizes"):
        P.bootstrap_ranking(mixed)


def test_evaluate_method_keeps_scores_for_the_bootstrap():
    fs = _FS(n_persons=6)
    bench = B.build_benchmark(fs, B.BenchmarkConfig(emotions=EMOTIONS, occlusions=("band",),
                                                    resolutions=(14,)), seed=0)
    mean_colour = lambda x: x.reshape(len(x), -1, 3).mean(1).astype(np.float64)  # noqa: E731
    kept = {}
    table = P.evaluate_method("plain", bench, mean_colour, scores=kept)
    assert sorted(kept) == sorted(("plain", c.axis, c.level) for c in bench.conditions)
    from lib.evaluation.verification import tar_at_far

    for row in table.itertuples():  # the kept scores are the ones the table's TAR came from
        v = kept["plain", row.axis, row.level]
        tar = tar_at_far(v["scores"].ravel(), v["same"].ravel(), (1e-2,))[1e-2]["tar"]
        assert tar == pytest.approx(table.loc[row.Index, "tar@far=1e-2"], nan_ok=True)
    ci = P.bootstrap_ranking(kept, metric="tar@far=1e-1", n_boot=10, baseline="plain")
    assert 0 <= ci.loc["plain", "mean_low"] <= ci.loc["plain", "mean"] <= ci.loc["plain", "mean_high"] <= 1


def test_combined_hook_reads_the_parser_masks_only_when_it_first_runs(monkeypatch):
    from lib.crossmethod import methods as M
    from lib.fserasing import methods as fse_methods

    fs = _FS(split="train")
    n_train = len(fs.meta)
    calls = []
    monkeypatch.setattr(M, "_parser", lambda *a: calls.append("parser"))
    monkeypatch.setattr(fse_methods, "training_masks",
                        lambda *a, **k: calls.append("masks") or np.broadcast_to(fs._parsing[:1], (n_train, 112, 112)))
    monkeypatch.setattr(fse_methods, "parser_key", lambda *a: {"parser": "test"})
    hook, key = M.combined_hook(fs, seed=0)
    assert calls == []  # the key (what a cached model is found by) needs neither
    assert key["fserasing"]["augmentation"] == "fserasing" and key["masks"] == {"parser": "test"}
    batch = np.asarray(fs.images[:8])  # uint8 (n, H, W, 3), as the loop hands its hooks
    for s in range(2):
        out = hook(batch, np.arange(8), np.random.default_rng(s), flipped=np.zeros(8, bool))
        assert out.shape == batch.shape and out.dtype == np.uint8
    assert calls == ["parser", "masks"]  # read once, on the first batch

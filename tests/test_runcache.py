from __future__ import annotations

import numpy as np
import pytest

from lib import runcache


def test_cached_builds_once(isolated_dirs):
    calls = []

    def build(d):
        calls.append(1)
        (d / "model.txt").write_text("weights")

    a = runcache.cached("fr/test", {"lr": 0.1}, build)
    b = runcache.cached("fr/test", {"lr": 0.1}, build)
    assert a == b and len(calls) == 1 and (a / "model.txt").read_text() == "weights"
    c = runcache.cached("fr/test", {"lr": 0.2}, build)
    assert c != a and len(calls) == 2


def test_force_rebuilds(isolated_dirs, monkeypatch):
    calls = []
    runcache.cached("x", {}, lambda d: calls.append(1))
    monkeypatch.setenv("FORCE", "1")
    runcache.cached("x", {}, lambda d: calls.append(1))
    monkeypatch.setenv("FORCE", "0")
    runcache.cached("x", {}, lambda d: calls.append(1))
    assert len(calls) == 2


def test_failed_build_leaves_nothing(isolated_dirs):
    def build(d):
        (d / "partial.pt").write_text("half")
        raise RuntimeError("NaN loss")

    with pytest.raises(RuntimeError, match="NaN loss"):
        runcache.cached("fr/bad", {"a": 1}, build)
    assert not runcache.artifact_dir("fr/bad", {"a": 1}).exists()


def test_cached_json_and_arrays(isolated_dirs):
    n = []
    v = runcache.cached_json("m", {"k": 1}, lambda: n.append(1) or {"acc": 0.5})
    assert v == {"acc": 0.5} and runcache.cached_json("m", {"k": 1}, lambda: n.append(1) or {}) == v
    arr = runcache.cached_arrays("e", {"k": 1}, lambda: {"emb": np.arange(6.0).reshape(2, 3)})
    assert arr["emb"].shape == (2, 3) and len(n) == 1


def test_cached_arrays_one_npy_each_large_ones_mapped_and_the_cache_never_written(isolated_dirs, monkeypatch):
    monkeypatch.setattr(runcache, "MMAP_MIN_BYTES", 1000)
    big, small = np.arange(4000, dtype=np.float32).reshape(40, 100), np.array([3, 1, 2])
    arrays = {"z_big": big, "a_small": small}
    got = runcache.cached_arrays("e2", {"k": 1}, lambda: arrays)
    out = runcache.artifact_dir("e2", {"k": 1})
    assert sorted(p.name for p in (out / "arrays").iterdir()) == ["a_small.npy", "names.json", "z_big.npy"]
    assert list(got) == ["z_big", "a_small"]  # the order given
    assert type(got["z_big"]) is np.ndarray and isinstance(got["z_big"].base, np.memmap)  # mapped, a plain array
    assert not isinstance(got["a_small"].base, np.memmap)
    got["z_big"][0, 0] = -1.0  # copy-on-write: the caller's copy only
    again = runcache.cached_arrays("e2", {"k": 1}, lambda: pytest.fail("rebuilt"))
    assert np.array_equal(again["z_big"], big) and np.array_equal(again["a_small"], small)


def test_cached_arrays_reads_the_earlier_npz_layout(isolated_dirs):
    out = runcache.cached("e3", {"k": 1}, lambda d: np.savez(d / "arrays.npz", emb=np.eye(2)))
    assert out.is_dir()
    got = runcache.cached_arrays("e3", {"k": 1}, lambda: pytest.fail("rebuilt"))
    assert list(got) == ["emb"] and np.array_equal(got["emb"], np.eye(2))


def test_cached_arrays_refuses_names_that_are_not_file_names(isolated_dirs):
    with pytest.raises(ValueError, match=r"array names \['../x'\] cannot be file names"):
        runcache.cached_arrays("e4", {"k": 1}, lambda: {"../x": np.zeros(2)})
    assert not runcache.artifact_dir("e4", {"k": 1}).exists()


def test_log_says_built_then_loaded(isolated_dirs):
    start = len(runcache.log())
    runcache.cached_json("logged/x", {"a": 1}, lambda: {"v": 1})
    runcache.cached_json("logged/x", {"a": 1}, lambda: {"v": 2})
    events = runcache.log(start)
    assert [e["status"] for e in events] == ["built", "loaded"]
    assert events[0]["name"] == "logged/x" and events[0]["hash"] == events[1]["hash"]


def test_cached_resumable_keeps_a_stopped_run_and_resumes_it(isolated_dirs):
    seen = []

    def train(stop: bool):
        def run(work):
            work.mkdir(parents=True, exist_ok=True)
            seen.append((work / "last.pt").read_text() if (work / "last.pt").exists() else None)
            (work / "last.pt").write_text("epoch 1")
            if not stop:
                (work / "model.pt").write_text("final")
                (work / "history.csv").write_text("epoch\n1\n")
            return "trained"
        return run

    with pytest.raises(RuntimeError, match="resume from the checkpoint kept in .*\\.work"):
        runcache.cached_resumable("fr/r", {"a": 1}, train(stop=True), ("model.pt", "history.csv"))
    assert not runcache.artifact_dir("fr/r", {"a": 1}).exists()  # nothing half-cached
    out, result = runcache.cached_resumable("fr/r", {"a": 1}, train(stop=False), ("model.pt", "history.csv"))
    assert seen == [None, "epoch 1"]  # the second call found the first one's checkpoint
    assert result == "trained" and (out / "model.pt").read_text() == "final" and (out / "history.csv").is_file()
    assert not out.with_name(out.name + ".work").exists()
    again, result = runcache.cached_resumable("fr/r", {"a": 1}, train(stop=False), ("model.pt",))
    assert again == out and result is None and len(seen) == 2  # loaded, not retrained

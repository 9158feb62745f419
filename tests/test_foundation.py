"""paths, atomic io, seeding, device, provenance."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from lib import device, io, paths, provenance, seeding


def test_import_lib_is_light():
    code = ("import sys, lib, lib.paths, lib.profiles, lib.paper, lib.notebook, lib.figures, lib.runcache, "
            "lib.env_check, lib.setup_check, lib.faces, lib.faces.assets; "
            "heavy = [m for m in ('torch', 'mediapipe', 'cv2', 'dlib', 'matplotlib', 'papermill') if m in sys.modules]; "
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"import lib pulled in heavy modules: {out.stdout}"


def test_paths_env_overrides(tmp_path, monkeypatch):
    monkeypatch.setenv("FACEAUG_DATA", str(tmp_path / "d"))
    monkeypatch.setenv("FACEAUG_RUNS", str(tmp_path / "r"))
    monkeypatch.delenv("FACEAUG_FIGURES", raising=False)
    monkeypatch.delenv("FACEAUG_ROOT", raising=False)
    monkeypatch.delenv("FACEAUG_BUILD", raising=False)
    assert paths.data_dir() == tmp_path / "d"
    assert paths.runs_dir() == tmp_path / "r"
    root = paths.repo_root()
    assert (root / "lib" / "paths.py").exists()
    assert paths.figures_dir("default") == root / "figures"
    assert paths.figures_dir("full") == root / "figures" / "full"
    assert paths.figures_dir("smoke") == root / "build" / "smoke" / "figures"
    with pytest.raises(ValueError, match="unknown profile 'fast'"):
        paths.figures_dir("fast")


def test_atomic_write_keeps_old_file_on_error(tmp_path):
    target = tmp_path / "a" / "x.txt"
    io.write_text(target, "old")
    with pytest.raises(RuntimeError):
        with io.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash mid-write")
    assert target.read_text() == "old"
    assert [p.name for p in target.parent.iterdir()] == ["x.txt"]  # no temp left behind


def test_atomic_dir_replaces_only_when_complete(tmp_path):
    target = tmp_path / "set"
    with io.atomic_dir(target) as d:
        (d / "f").write_text("1")
    with pytest.raises(ValueError):
        with io.atomic_dir(target) as d:
            (d / "f").write_text("2")
            raise ValueError("bad input")
    assert (target / "f").read_text() == "1"
    with io.atomic_dir(target) as d:
        (d / "g").write_text("3")
    assert sorted(p.name for p in target.iterdir()) == ["g"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set"]


def test_write_json_refuses_nan_and_is_stable(tmp_path):
    with pytest.raises(ValueError, match=r"non-finite number nan at \$\.b\.c"):
        io.write_json(tmp_path / "m.json", {"a": 1, "b": {"c": float("nan")}})
    assert not (tmp_path / "m.json").exists()
    io.write_json(tmp_path / "m.json", {"b": 1, "a": 2})
    first = (tmp_path / "m.json").read_bytes()
    io.write_json(tmp_path / "m.json", {"a": 2, "b": 1})
    assert (tmp_path / "m.json").read_bytes() == first


def test_read_json_corrupt_names_file(tmp_path):
    bad = tmp_path / "MANIFEST.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="MANIFEST.json is not valid JSON"):
        io.read_json(bad)
    assert io.read_json(tmp_path / "missing.json", default={}) == {}


def test_update_json_merges(tmp_path):
    p = tmp_path / "m.json"
    io.update_json(p, lambda d: d.setdefault("x", {}).__setitem__("a", 1))
    io.update_json(p, lambda d: d["x"].__setitem__("b", 2))
    assert json.loads(p.read_text()) == {"x": {"a": 1, "b": 2}}


def test_seeding_repeats_numpy_and_torch():
    import torch

    seeding.seed_everything(7)
    a = (np.random.rand(3), torch.rand(3))
    seeding.seed_everything(7)
    b = (np.random.rand(3), torch.rand(3))
    assert np.array_equal(a[0], b[0]) and torch.equal(a[1], b[1])
    r1, r2 = seeding.numpy_rng(1, "id", 3), seeding.numpy_rng(1, "id", 3)
    assert r1.integers(1 << 30) == r2.integers(1 << 30)
    assert seeding.numpy_rng(1, "id", 3).integers(1 << 30) != seeding.numpy_rng(1, "id", 4).integers(1 << 30)


def test_deterministic_algorithms_switch_matches_torchs_public_call():
    """seeding.deterministic_algorithms sets what torch.use_deterministic_algorithms sets, Inductor's flag
    included (through its environment variable when Inductor is not loaded yet, directly when it is)."""
    import os

    import torch

    code = """
import sys, torch
from lib.seeding import deterministic_algorithms as d
d(True, warn_only=True)
assert 'torch._inductor.config' not in sys.modules  # not imported for it
assert torch.are_deterministic_algorithms_enabled() and torch.is_deterministic_algorithms_warn_only_enabled()
import torch._inductor.config as c
assert c.deterministic is True
d(False)
assert not torch.are_deterministic_algorithms_enabled() and c.deterministic is False
d(True)
assert torch.are_deterministic_algorithms_enabled() and not torch.is_deterministic_algorithms_warn_only_enabled()
assert c.deterministic is True
"""
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "TORCHINDUCTOR_DETERMINISTIC": ""})
    def state():
        return torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()

    before = state()
    try:
        seeding.deterministic_algorithms(False)
        assert not torch.are_deterministic_algorithms_enabled()
    finally:
        seeding.deterministic_algorithms(before[0], warn_only=before[1])
    assert state() == before


def test_device_selection():
    import torch

    assert device.select_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert device.select_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            device.select_device("cuda")
    assert "torch" in device.describe("cpu")


def test_config_hash_ignores_key_order():
    assert provenance.config_hash({"a": 1, "b": [1, 2]}) == provenance.config_hash({"b": [1, 2], "a": 1})
    assert provenance.config_hash({"a": 1}) != provenance.config_hash({"a": 2})
    assert provenance.config_hash({"x": np.float32(0.5)}) == provenance.config_hash({"x": 0.5})
    with pytest.raises(TypeError, match="cannot hash config value"):
        provenance.config_hash({"f": object()})

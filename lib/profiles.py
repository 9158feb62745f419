"""Profiles: notebooks/params/<profile>.yaml, one section per notebook.

A notebook's ``parameters`` cell holds its defaults (the default profile); a profile
section sets only what differs. Keys that are not parameters of that notebook, and
sections that name no notebook, are errors: a typo must never silently fall back to a
default. String values may use ``${VAR}`` or ``${VAR:-fallback}`` to read real data
paths from the environment: a value that IS an unset variable without fallback becomes null (the data
set is not available); an unset variable without fallback inside a longer string (``${FACEAUG_REHEARSAL}/KDEF``)
is an error naming it, never a path that silently lacks its folder.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

from lib import paths

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ProfileError(ValueError):
    """A profile file is missing, malformed, or names an unknown notebook or key."""


def profile_file(profile: str) -> Path:
    return paths.notebooks_dir() / "params" / f"{profile}.yaml"


def _expand(value):
    if isinstance(value, str):
        whole = _VAR.fullmatch(value)
        if whole and os.environ.get(whole.group(1)) is None and whole.group(2) is None:
            return None
        unset = [m.group(1) for m in _VAR.finditer(value) if m.group(1) not in os.environ and m.group(2) is None]
        if unset:
            raise ProfileError(f"{value!r} needs the environment variable ${unset[0]}, which is not set"
                               + (" (python -m lib.paper --profile rehearsal sets it)" if unset[0] == "FACEAUG_REHEARSAL"
                                  else ""))
        return _VAR.sub(lambda m: os.environ.get(m.group(1), m.group(2) or ""), value)
    if isinstance(value, list):
        return [_expand(v) for v in value]
    if isinstance(value, dict):
        return {k: _expand(v) for k, v in value.items()}
    return value


def notebook_names() -> list[str]:
    """Notebooks of notebooks/ in run order (NN_name.ipynb)."""
    return sorted(p.stem for p in paths.notebooks_dir().glob("[0-9][0-9]_*.ipynb"))


def notebook_parameters(name: str) -> dict:
    """The ``parameters`` cell of notebooks/<name>.ipynb as {name: default value's source text}.

    Read with ``ast`` from the first code cell tagged ``parameters`` (papermill's convention):
    every top-level ``name = value`` (or ``name: type = value``). This is what papermill's
    ``inspect_notebook`` reports, without its regex parser's habit of dropping a line whose
    comment or string holds an "=", and without importing papermill (about 5 s) in each kernel.
    """
    nb = paths.notebooks_dir() / f"{name}.ipynb"
    if not nb.exists():
        raise ProfileError(f"no notebook {nb}; known: {notebook_names()}")
    stat = nb.stat()
    return dict(_parameters_cell(str(nb), stat.st_mtime_ns, stat.st_size))


@lru_cache(maxsize=32)
def _parameters_cell(path: str, mtime_ns: int, size: int) -> dict:
    """``notebook_parameters`` of one version of a notebook file (read once: a notebook with outputs is
    megabytes, and a profile check and ``effective`` read the same cell)."""
    import ast
    import json

    nb = Path(path)
    try:
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
    except (ValueError, KeyError, TypeError) as err:
        raise ProfileError(f"{nb} is not a readable notebook ({err}); restore it from git") from err
    src = next(("".join(c.get("source", "")) for c in cells if c.get("cell_type") == "code"
                and "parameters" in c.get("metadata", {}).get("tags", [])), None)
    if src is None:
        return {}
    try:
        tree = ast.parse(src)
    except SyntaxError as err:
        raise ProfileError(f"{nb}: the parameters cell is not valid Python (line {err.lineno}: {err.msg})") from err
    out = {}
    for stmt in tree.body:
        target = stmt.targets[0] if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 else \
            stmt.target if isinstance(stmt, ast.AnnAssign) and stmt.value is not None else None
        if isinstance(target, ast.Name):
            out[target.id] = ast.get_source_segment(src, stmt.value)
    return out


EXTENDS = "extends"  # a profile file's top-level key naming the profile it starts from


def load(profile: str, notebook: str | None = None, *, check: bool = True, _chain: tuple = ()) -> dict:
    """Return the whole profile ({notebook: {key: value}}) or one notebook's section.

    A file whose top level says ``extends: <profile>`` starts from that profile's sections and
    changes only the keys it sets (the rehearsal profile: the smoke sizes plus the real-data roots).

    ``check`` verifies every section and key against the notebooks' parameters cells.
    """
    import yaml

    path = profile_file(profile)
    if profile not in paths.PROFILES:
        raise ProfileError(f"unknown profile {profile!r}; choose from {paths.PROFILES}")
    if not path.exists():
        raise ProfileError(f"profile file {path} is missing")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise ProfileError(f"{path} is not valid YAML: {err}") from err
    base = data.pop(EXTENDS, None) if isinstance(data, dict) else None
    if not isinstance(data, dict) or not all(isinstance(v, (dict, type(None))) for v in data.values()):
        raise ProfileError(f"{path} must map notebook names to sections of key: value")
    data = {k: _expand(v or {}) for k, v in data.items()}
    if base is not None:  # the base profile's sections beneath, key by key (a key here replaces the base's value)
        if base not in paths.PROFILES or base == profile or base in _chain:
            raise ProfileError(f"{path}: {EXTENDS}: {base!r} must name another profile, one of "
                               f"{[p for p in paths.PROFILES if p != profile]}")
        parent = load(base, check=False, _chain=(*_chain, profile))
        data = {k: {**parent.get(k, {}), **data.get(k, {})} for k in [*parent, *(k for k in data if k not in parent)]}
    if check:
        known = notebook_names()
        for section, values in data.items():
            if section not in known:
                raise ProfileError(f"{path}: section {section!r} names no notebook; known: {known}")
            if notebook is not None and section != notebook:
                continue
            if "profile" in values:
                raise ProfileError(f"{path}: section {section!r} must not set 'profile' (the runner sets it)")
            allowed = notebook_parameters(section)
            unknown = sorted(set(values) - set(allowed))
            if unknown:
                raise ProfileError(f"{path}: unknown key(s) {unknown} for notebook {section!r}; "
                                   f"its parameters are {sorted(allowed)}")
    if notebook is None:
        return data
    return dict(data.get(notebook, {}))


def effective(notebook: str, profile: str, keys=None) -> dict:
    """The parameters ``notebook`` runs with under ``profile``: its parameters cell's values with the
    profile's section applied (a profile key replaces the whole value, as papermill's injection does).
    ``keys``: only these. A notebook that uses another notebook's settings reads them here instead of
    copying them (05_cross_method takes 01-04's). Values must be Python literals."""
    import ast

    declared = notebook_parameters(notebook)
    wanted = list(declared) if keys is None else list(keys)
    missing = sorted(set(wanted) - set(declared))
    if missing:
        raise ProfileError(f"{notebook} has no parameter(s) {missing}; its parameters are {sorted(declared)}")
    section = load(profile, notebook)
    out = {}
    for key in wanted:
        if key in section:
            out[key] = section[key]
            continue
        try:
            out[key] = ast.literal_eval(declared[key])
        except (ValueError, SyntaxError) as err:
            raise ProfileError(f"{notebook}: parameter {key} = {declared[key]!r} is not a literal; "
                               f"it cannot be read by another notebook") from err
    return out

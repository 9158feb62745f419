"""Keep generated parts of notebooks and README in sync: ``python -m lib.tools.notebook_cells``.

- every notebooks/NN_*.ipynb gets normalised metadata (kernelspec python3, no editor
  state) and, right after its title cell, the Colab set-up cell (tag ``colab-setup``),
  which acts only inside Colab; an existing generated cell is updated, not duplicated;
- README.md gets the table of notebooks with Colab and Binder badges between the
  ``<!-- notebooks:start -->`` / ``<!-- notebooks:end -->`` markers.

``--check`` changes nothing and exits 1 if a file is out of date (a test runs it).
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib

from lib import io as atomic
from lib import paths

TAG = "colab-setup"
START, END = "<!-- notebooks:start -->", "<!-- notebooks:end -->"
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def repository() -> tuple[str, str]:
    """(owner/name, https URL) from pyproject.toml's [project.urls] Repository."""
    meta = tomllib.loads((paths.repo_root() / "pyproject.toml").read_text())
    url = meta["project"]["urls"]["Repository"].rstrip("/")
    m = re.match(r"https://github\.com/([^/]+/[^/]+)$", url)
    if not m:
        raise ValueError(f"pyproject.toml: Repository {url!r} must be https://github.com/<owner>/<name>")
    return m.group(1), url


def colab_cell_source() -> str:
    _, url = repository()
    name = url.rsplit("/", 1)[1]
    root = f"/content/{name}"
    return f'''# Colab only (does nothing elsewhere): fetch the companion and install it with its pinned extras.
import sys
if "google.colab" in sys.modules:
    import os, subprocess
    if not os.path.isdir("{root}"):
        subprocess.run(["git", "clone", "--depth", "1", "{url}", "{root}"], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", "{root}"], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "-r",
                    "{root}/requirements-nodeps.txt"], check=True)
    sys.path.insert(0, "{root}")
    os.chdir("{root}/notebooks")'''


def title_of(nb) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return ""


def update_notebook(nb) -> None:
    import nbformat

    src = colab_cell_source()
    existing = [c for c in nb.cells if TAG in c.get("metadata", {}).get("tags", [])]
    if existing:
        existing[0].source = src
        for extra in existing[1:]:
            nb.cells.remove(extra)
    else:
        cell = nbformat.v4.new_code_cell(src, metadata={"tags": [TAG]})
        first_md = next((i for i, c in enumerate(nb.cells) if c.cell_type == "markdown"), -1)
        nb.cells.insert(first_md + 1, cell)
    normalise(nb)


def normalise(nb) -> None:
    """Fixed notebook metadata (kernelspec python3, no editor or run state) and cell ids
    from cell positions (nbformat's default ids are random per write)."""
    nb.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}}
    nb.nbformat, nb.nbformat_minor = 4, 5
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i:03d}"


def badge_table(notebooks: dict[str, str]) -> str:
    slug, _ = repository()
    lines = ["| notebook | what it reproduces | open |", "|---|---|---|"]
    for name, title in notebooks.items():
        colab = f"https://colab.research.google.com/github/{slug}/blob/main/notebooks/{name}.ipynb"
        binder = f"https://mybinder.org/v2/gh/{slug}/main?labpath=notebooks%2F{name}.ipynb"
        lines.append(f"| [{name}](notebooks/{name}.ipynb) | {title} | "
                     f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab}) "
                     f"[![Binder](https://mybinder.org/badge_logo.svg)]({binder}) |")
    return "\n".join(lines)


def sync(check: bool = False) -> list[str]:
    """Update notebooks and README; return the paths that were (or would be) changed."""
    import nbformat

    changed, titles = [], {}
    for path in sorted(paths.notebooks_dir().glob("[0-9][0-9]_*.ipynb")):
        text = path.read_text(encoding="utf-8")
        nb = nbformat.reads(text, as_version=4)
        update_notebook(nb)
        titles[path.stem] = title_of(nb)
        new = nbformat.writes(nb) + "\n"
        if new != text:
            changed.append(str(path.relative_to(paths.repo_root())))
            if not check:
                atomic.write_text(path, new)
    readme = paths.repo_root() / "README.md"
    text = readme.read_text(encoding="utf-8")
    if START not in text or END not in text:
        raise ValueError(f"{readme} lacks the {START} / {END} markers")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{START}\n{badge_table(titles)}\n{END}{tail}"
    if new != text:
        changed.append("README.md")
        if not check:
            atomic.write_text(readme, new)
    return changed


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lib.tools.notebook_cells", description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 if out of date")
    args = ap.parse_args(argv)
    changed = sync(check=args.check)
    for path in changed:
        print(("out of date: " if args.check else "updated: ") + path)
    if args.check and changed:
        print("error: generated notebook cells / README badges are stale; run: make badges", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

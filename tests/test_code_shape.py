"""Shape rules of the code base that a reader relies on: short functions, and no citation of a file the
repository does not hold."""

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MAX_LINES = 80


def test_no_function_in_lib_is_longer_than_80_lines():
    long = []
    for path in sorted((REPO / "lib").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_LINES:
                    long.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name} ({n} lines)")
    assert not long, f"split these functions (at most {MAX_LINES} lines): {long}"


def test_every_cited_repository_file_exists():
    cited = re.compile(r"\b((?:docs|data_cards)/[A-Za-z0-9_./-]+\.md)")
    missing = set()
    sources = [*(REPO / "lib").rglob("*.py"), *(REPO / "notebooks").glob("*.ipynb"), *(REPO / "docs").glob("*.md"),
               *(REPO / "data_cards").glob("*.md"), REPO / "README.md"]
    for path in sources:
        text = "\n".join(line for line in path.read_text(encoding="utf-8").splitlines() if "image/png" not in line)
        if "research/" in text:  # the notes this repository was built from are not part of it: cite docs/
            missing.add(f"{path.relative_to(REPO)} cites research/")
        for ref in cited.findall(text):
            if not (REPO / ref).exists() and not (path.parent / ref).exists():
                missing.add(f"{path.relative_to(REPO)} cites {ref}")
    assert not missing, sorted(missing)

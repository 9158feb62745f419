"""``python -m lib.setup_check``: the last step of ``make venv``. Every package the companion imports
loads (lib.env_check) and every bundled pretrained face model is on disk (lib.faces.assets); one line
per problem on stderr, exit 1 if there is any."""

from __future__ import annotations

import sys

from lib.env_check import PACKAGES, check_all
from lib.faces.assets import check_assets


def main() -> int:
    errors = check_all()
    if errors:
        for line in errors:
            print(f"error: {line}", file=sys.stderr)
        return 1
    missing = check_assets()
    for line in missing:
        print(f"error: {line}", file=sys.stderr)
    if not missing:
        print(f"environment ok: {len(PACKAGES)} packages import, all bundled face models found")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())

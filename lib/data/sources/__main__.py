"""Convert a real data set into a FaceSet from the shell.

    python -m lib.data.sources kdef --root /data/KDEF_and_AKDEF/KDEF
    python -m lib.data.sources webface --root /data/casia-112x112 --set list_file=train.txt
    python -m lib.data.sources --list

Prints the FaceSet directory (data/<name>/<hash>/), its counts and the reject reasons.
The FaceSet is reused while the root and parameters are unchanged (FORCE=1 converts again).
"""

from __future__ import annotations

import argparse
import sys

import yaml

from lib.data import sources


def _params(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--set {pair!r}: expected key=value (e.g. size=112)")
        out[key] = yaml.safe_load(value)  # 112 -> int, null -> None, [1,2] -> list
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lib.data.sources", description=__doc__.splitlines()[0])
    ap.add_argument("name", nargs="?", choices=sorted(sources.SOURCES), help="the data set")
    ap.add_argument("--root", help="its directory (default: the environment variable named in --list)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="an adapter parameter")
    ap.add_argument("--list", action="store_true", help="list the adapters, their variables and parameters")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    if args.list or not args.name:
        for name in sorted(sources.SOURCES):
            try:
                mod = sources.adapter(name)
            except ImportError as err:
                print(f"{name:15s} (cannot be imported: {err})")
                continue
            print(f"{name:15s} ${mod.ENV:24s} data_cards/{mod.DATA_CARD}.md  {mod.DEFAULTS}")
        return 0
    from lib.data.faceset import read_faceset
    from lib.data.sources.common import SourceError

    try:
        out = sources.prepare(args.name, args.root, progress=not args.quiet, **_params(args.set))
    except (SourceError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    card = read_faceset(out, verify="fast").card
    counts, rej = card["counts"], card.get("rejects", {})
    print(out)
    print(f"{counts['images']} images, {counts['identities']} identities; splits "
          + ", ".join(f"{s} {v['images']}" for s, v in counts["splits"].items() if v["images"]))
    print(f"{rej.get('count', 0)} rejected (listed in {out / 'rejects.csv'}): {rej.get('reasons', {})}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

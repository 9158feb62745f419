"""LFW (Labeled Faces in the Wild) with the view-2 ``pairs.txt`` protocol -> FaceSet + pairs.csv.

Layout (data_cards/lfw.md): ``<root>/pairs.txt`` and the images as ``<folder>/<Name>/<Name>_0001.jpg``
where ``<folder>`` is the first of ``lfw/``, ``lfw-deepfunneled/`` (also Kaggle's doubled
``lfw-deepfunneled/lfw-deepfunneled/``), ``lfw_funneled/``, ``lfw_crop/`` (the low-res
project's pre-aligned 112x112 crops) that holds person folders, else the root itself (or the
``folder`` parameter). Any image suffix is read (``.jpg`` first).

``pairs.txt``: line 1 ``<folds> <pairs>`` (``10 300``), then per fold ``pairs`` same-person lines
``Name n1 n2`` followed by ``pairs`` different-person lines ``Name1 n1 Name2 n2`` (tabs or spaces).
Anything else is a SourceError naming pairs.txt and the line.

Every image a pair uses gets a crop: YuNet, the face nearest the centre (LFW photos are centred
on the named person), 5 points -> ArcFace template; no face -> the central square, resized,
recorded as ``aligned_by = "center_fallback"`` and counted in the card. ``identity`` = the person's
name, ``split`` = "test" for every image (LFW is an evaluation set).

Pairs are stored by FILE, not by row: ``pairs.csv`` = ``line, fold, same, file_a, file_b`` for
every pair of pairs.txt (``fold`` 1..10 as LFW numbers its sets, ``same`` 1/0, ``line`` in
pairs.txt), written before conversion. ``read_pairs(faceset_dir)`` resolves the files to FaceSet
row indices (``a``, ``b``) when reading, so no index can go stale when an image is rejected. An
image that cannot be used (unreadable) is a reject whose reason names the pairs.txt lines it
breaks; the card's ``pairs`` entry counts the usable and dropped pairs and lists the dropped
lines; ``read_pairs`` warns about them. The protocol is complete only when ``dropped`` is 0.
"""

from __future__ import annotations

import os
import re
import warnings
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

from lib.data.sources.common import (Aligner, IMAGE_SUFFIXES, Reject, Rejects, Sample, auto_align_method,
                                     convert as _convert, read_image, require_dir, source_error)

VERSION = "1"
ENV = "FACEAUG_LFW"
DATA_CARD = "lfw"
DEFAULTS = {"align": "auto", "size": 112, "detector": "yunet", "pick": "center", "fallback": "resize",
            "pairs_only": True, "folder": None, "seed": 0}
ALIGN = ("auto", "detect", "resize", "none")
IMAGE_DIRS = ("lfw", "lfw/lfw", "lfw-deepfunneled", "lfw-deepfunneled/lfw-deepfunneled", "lfw_funneled", "lfw_crop")
PAIRS_FILE = "pairs.txt"
PAIRS_COLUMNS = ("line", "fold", "same", "file_a", "file_b")
_FETCH = "download lfw.tgz and pairs.txt from the LFW page (vis-www.cs.umass.edu/lfw) and unpack them into the root"


def _person_dirs(folder: Path, limit: int = 50) -> bool:
    """Whether ``folder`` holds LFW person folders (``<Name>/<Name>_0001.jpg``); looks at ``limit`` folders."""
    with os.scandir(folder) as it:
        dirs = [e.name for _, e in zip(range(limit), (e for e in it if e.is_dir()))]
    for name in dirs:
        with os.scandir(folder / name) as it:
            if any(e.is_file() and e.name.startswith(name + "_") for e in it):
                return True
    return False


def find_folder(root: Path, folder=None) -> Path:
    """The image folder: ``folder`` if given (relative to the root or absolute), else the first of
    ``IMAGE_DIRS`` that holds person folders, else the root; SourceError if none does."""
    if folder not in (None, ""):
        path = Path(folder).expanduser()
        path = path if path.is_absolute() else root / path
        if not path.is_relative_to(root):
            raise source_error(path, f"folder= lies outside the root {root}", "give a folder under the root, "
                               "next to pairs.txt (file names in the FaceSet are relative to the root)", DATA_CARD)
        if not path.is_dir() or not _person_dirs(path):
            raise source_error(path, "is not a folder of LFW person folders (<Name>/<Name>_0001.jpg)",
                               "give folder= as one of lfw/, lfw-deepfunneled/, lfw_crop/ under the root", DATA_CARD)
        return path
    for rel in IMAGE_DIRS:
        if (root / rel).is_dir() and _person_dirs(root / rel):
            return root / rel
    if _person_dirs(root):
        return root
    raise source_error(root, f"no LFW image folder found (looked for {', '.join(d + '/' for d in IMAGE_DIRS)} and "
                       "person folders <Name>/<Name>_0001.jpg in the root)",
                       f"give the folder that holds pairs.txt and lfw/; {_FETCH}", DATA_CARD)


def parse_pairs(path: Path) -> tuple[int, int, pd.DataFrame]:
    """``pairs.txt`` -> (folds, pairs per class per fold, DataFrame: line, fold (1-based), same (1/0),
    name_a, no_a, name_b, no_b). SourceError naming pairs.txt and the line for anything off-protocol."""
    def bad(no, problem, todo=f"fix that line or download pairs.txt again ({_FETCH})"):
        return source_error(path, f"line {no} {problem}", todo, DATA_CARD)

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (UnicodeDecodeError, OSError) as err:
        raise source_error(path, f"cannot be read as text ({err})", _FETCH, DATA_CARD) from None
    numbered = [(no, line.split()) for no, line in enumerate(lines, 1) if line.strip()]
    if not numbered:
        raise source_error(path, "is empty", _FETCH, DATA_CARD)
    no, head = numbered[0]
    if len(head) != 2 or not all(t.isdigit() and int(t) > 0 for t in head):
        hint = (" (a single count: this looks like view 1's pairsDevTrain.txt / pairsDevTest.txt; the protocol "
                "needs view 2's pairs.txt)") if len(head) == 1 and head[0].isdigit() else ""
        raise bad(no, f"{' '.join(head)!r} is not the header '<folds> <pairs per fold>' (e.g. '10 300'){hint}")
    folds, per = int(head[0]), int(head[1])
    total, rows = folds * 2 * per, []
    for k, (no, tok) in enumerate(numbered[1:]):
        text = " ".join(tok)
        if k >= total:
            raise bad(no, f"{text!r} is pair {k + 1}, but line {numbered[0][0]} announces {folds} folds x "
                      f"{2 * per} pairs = {total}", "remove the extra lines or fix the header")
        if len(tok) not in (3, 4):
            raise bad(no, f"{text!r} has {len(tok)} fields: expected 'Name n1 n2' (same person) or "
                      "'Name1 n1 Name2 n2' (two people)")
        nums = [tok[1], tok[2]] if len(tok) == 3 else [tok[1], tok[3]]
        for t in nums:
            if not (t.isdigit() and int(t) > 0):
                raise bad(no, f"{text!r}: {t!r} is not an image number (a positive integer)")
        fold, r = divmod(k, 2 * per)
        same, want = len(tok) == 3, r < per
        if same != want:
            kind = ("same-person", "different-person")
            raise bad(no, f"{text!r} is a {kind[not same]} pair where fold {fold + 1}'s {kind[not want]} pair "
                      f"{r % per + 1} of {per} was expected (each fold: {per} same-person lines, then {per} "
                      "different-person lines): a fold with the wrong count",
                      "fix the fold or download pairs.txt again")
        a, b = (tok[0], tok[0]) if same else (tok[0], tok[2])
        if not same and a == b:
            raise bad(no, f"{text!r} is a different-person pair that names {a} twice")
        rows.append({"line": no, "fold": fold + 1, "same": int(same), "name_a": a, "no_a": int(nums[0]),
                     "name_b": b, "no_b": int(nums[1])})
    if len(rows) < total:
        last = numbered[-1][0]
        raise source_error(path, f"ends after {len(rows)} pairs (line {last}), but line {numbered[0][0]} announces "
                           f"{folds} folds x {2 * per} pairs = {total} (a truncated file?)",
                           f"download pairs.txt again ({_FETCH})", DATA_CARD)
    return folds, per, pd.DataFrame(rows)


class _Listing:
    """Image files of each person folder, read once."""

    def __init__(self, folder: Path):
        self.folder, self._cache = folder, {}

    def files(self, name: str) -> list[str]:
        if name not in self._cache:
            found = []
            if (self.folder / name).is_dir():
                with os.scandir(self.folder / name) as it:
                    found = sorted(e.name for e in it if e.is_file() and
                                   os.path.splitext(e.name)[1].lower() in IMAGE_SUFFIXES)
            self._cache[name] = found
        return self._cache[name]

    def find(self, name: str, number: int) -> str | None:
        """``<Name>/<Name>_0001.<ext>`` relative to the folder (``.jpg`` preferred), or None."""
        stem = f"{name}_{number:04d}"
        hits = [f for f in self.files(name) if os.path.splitext(f)[0] == stem]
        hits.sort(key=lambda f: (os.path.splitext(f)[1].lower() not in (".jpg", ".jpeg"), f))
        return f"{name}/{hits[0]}" if hits else None


def resolve_pairs(pairs: pd.DataFrame, pairs_path: Path, root: Path, folder: Path) -> pd.DataFrame:
    """Add ``file_a``/``file_b`` (relative to the root); SourceError naming pairs.txt and the line of a
    pair whose image is not on disk."""
    listing, prefix = _Listing(folder), ("" if folder == root else folder.relative_to(root).as_posix() + "/")
    out = {"file_a": [], "file_b": []}
    for row in pairs.itertuples(index=False):
        for side, name, number in (("file_a", row.name_a, row.no_a), ("file_b", row.name_b, row.no_b)):
            found = listing.find(name, number)
            if found is None:
                raise source_error(pairs_path, f"line {row.line} names {name} image {number}, but "
                                   f"{prefix}{name}/{name}_{number:04d}.jpg does not exist",
                                   "check that pairs.txt and the images come from the same LFW copy (or give "
                                   "folder=), or restore the missing image", DATA_CARD)
            out[side].append(prefix + found)
    return pairs.assign(**out)


def scan_folder(root: Path, folder: Path, rejects: Rejects) -> pd.DataFrame:
    """Every ``<Name>/<Name>_NNNN.<ext>`` under ``folder`` (``pairs_only=False``); other image names are rejects."""
    prefix = "" if folder == root else folder.relative_to(root).as_posix() + "/"
    listing, files = _Listing(folder), []
    with os.scandir(folder) as it:
        names = sorted(e.name for e in it if e.is_dir())
    for name in names:
        scheme = re.compile(rf"^{re.escape(name)}_\d{{4}}$")
        for f in listing.files(name):
            if scheme.match(os.path.splitext(f)[0]):
                files.append(f"{prefix}{name}/{f}")
            else:
                rejects.add(f"{prefix}{name}/{f}", f"file name does not follow the LFW scheme {name}/{name}_NNNN.jpg")
    return pd.DataFrame({"file": files})


def _records(files) -> pd.DataFrame:
    files = sorted(set(files))
    parts = [f.split("/")[-2:] for f in files]  # <Name>/<Name>_NNNN.<ext>
    df = pd.DataFrame({"file": files, "identity": [name for name, _ in parts],
                       "image_no": [int(os.path.splitext(f)[0].rsplit("_", 1)[1]) for _, f in parts]})
    for col, value in [("session", ""), ("emotion", ""), ("pose", ""), ("yaw", np.nan), ("split", "test"),
                       ("source", "lfw")]:
        df[col] = value
    return df


def pairs_csv(pairs: pd.DataFrame) -> str:
    return pairs[list(PAIRS_COLUMNS)].to_csv(index=False, lineterminator="\n")


def convert(root, out, *, align: str = "auto", size: int = 112, detector: str = "yunet", pick: str = "center",
            fallback: str | None = "resize", pairs_only: bool = True, folder=None, seed: int = 0,
            progress: bool = True, chunk: int = 256) -> Path:
    """Convert LFW at ``root`` (images + pairs.txt) into the FaceSet ``out`` with pairs.csv (module docstring)."""
    root = require_dir(root, DATA_CARD, "the LFW folder holding pairs.txt and lfw/")
    if align not in ALIGN:
        raise ValueError(f"align={align!r}; choose from {ALIGN}")
    pairs_path = root / PAIRS_FILE
    if not pairs_path.is_file():
        raise source_error(root, f"no {PAIRS_FILE} found (the view-2 protocol: 10 folds of 300 + 300 pairs)",
                           f"put pairs.txt in the root; {_FETCH}", DATA_CARD)
    images = find_folder(root, folder)
    folds, per, pairs = parse_pairs(pairs_path)
    pairs = resolve_pairs(pairs, pairs_path, root, images)
    rejects = Rejects()
    used = set(pairs["file_a"]) | set(pairs["file_b"])
    df = _records(used if pairs_only else list(scan_folder(root, images, rejects)["file"]) + list(used))
    uses = defaultdict(list)
    for row in pairs.itertuples(index=False):
        uses[row.file_a].append(row.line)
        if row.file_b != row.file_a:
            uses[row.file_b].append(row.line)
    method = auto_align_method(root, df["file"].tolist(), size) if align == "auto" else align
    aligner = Aligner(method, size, detector=detector, pick=pick, fallback=fallback)

    def load(row: dict) -> Sample:
        try:
            crop, info = aligner(read_image(root / row["file"]))
        except Reject as err:
            lines = uses.get(row["file"], [])
            if not lines:
                raise
            raise Reject(f"{err}; breaks {len(lines)} pair{'s' if len(lines) > 1 else ''} "
                         f"(pairs.txt line{'s' if len(lines) > 1 else ''} {', '.join(map(str, lines))})") from None
        return Sample(crop, meta=info)

    def summarise(meta: pd.DataFrame) -> dict:
        kept = set(meta["file"])
        ok = pairs["file_a"].isin(kept) & pairs["file_b"].isin(kept)
        fb = set(meta.loc[meta["aligned_by"] == "center_fallback", "file"])
        with_fb = pairs["file_a"].isin(fb) | pairs["file_b"].isin(fb)
        return {"pairs": {"file": "pairs.csv", "read_with": "lib.data.sources.lfw.read_pairs", "folds": folds,
                          "per_fold": {"same": per, "different": per}, "listed": len(pairs), "usable": int(ok.sum()),
                          "dropped": int((~ok).sum()), "dropped_lines": pairs.loc[~ok, "line"].tolist()},
                "alignment": {"aligned_by": dict(Counter(meta["aligned_by"])), "center_fallback": len(fb),
                              "pairs_with_center_fallback": int(with_fb.sum())}}

    card = {"name": "lfw", "kind": "real", "version": VERSION, "seed": seed, "source": str(root),
            "data_card": f"data_cards/{DATA_CARD}.md",
            "parameters": {"align": aligner.describe(), "align_requested": align, "pairs_only": pairs_only,
                           "folder": str(folder) if folder else None, "split_by": "none (every image is test)",
                           "layout": {"images": images.relative_to(root).as_posix() if images != root else ".",
                                      "pairs": PAIRS_FILE}},
            "protocol": f"LFW view 2: {folds} folds x ({per} same-person + {per} different-person pairs)"}
    return _convert(df, out, load, size=size, card=card, rejects=rejects, attach={"pairs.csv": pairs_csv(pairs)},
                    summarise=summarise, progress=progress, desc="lfw", chunk=chunk)


def read_pairs(faceset_dir) -> pd.DataFrame:
    """The pairs of a converted LFW FaceSet: ``fold`` (1..10), ``a``, ``b`` (row indices into the
    FaceSet), ``same`` (1/0), ``line`` (in pairs.txt), ``file_a``, ``file_b``; in pairs.txt order.

    Pairs whose image was rejected at conversion are left out with a warning; their pairs.txt
    lines are in ``df.attrs["dropped_lines"]`` (and in card.json ``pairs``)."""
    from lib.data.faceset import read_faceset

    root = Path(faceset_dir)
    file = root / "pairs.csv"
    meta = read_faceset(root, verify="none").meta
    if not file.is_file():
        raise source_error(file, "is missing (not a FaceSet converted by the LFW adapter, or an older one)",
                           "convert LFW again: lib.data.sources.prepare('lfw', ROOT) (FORCE=1)", DATA_CARD)
    again = "convert LFW again (FORCE=1)"
    try:
        pairs = pd.read_csv(file, dtype=str, keep_default_na=False)
    except (ValueError, pd.errors.ParserError) as err:
        raise source_error(file, f"cannot be parsed ({err})", again, DATA_CARD) from None
    if tuple(pairs.columns) != PAIRS_COLUMNS:
        raise source_error(file, f"has the columns {list(pairs.columns)}, expected {list(PAIRS_COLUMNS)}", again,
                           DATA_CARD)
    try:
        pairs = pairs.astype({"line": "int64", "fold": "int64", "same": "int64"})
    except ValueError as err:
        raise source_error(file, f"line, fold or same is not an integer ({err})", again, DATA_CARD) from None
    index = dict(zip(meta["file"], meta["index"]))
    a, b = pairs["file_a"].map(index), pairs["file_b"].map(index)
    ok = (a.notna() & b.notna()).to_numpy()
    dropped = pairs.loc[~ok, "line"].tolist()
    if dropped:
        warnings.warn(f"{file}: {len(dropped)} of {len(pairs)} pairs use a rejected image and are left out "
                      f"(pairs.txt lines {dropped[:10]}{' ...' if len(dropped) > 10 else ''}; see rejects.csv)",
                      stacklevel=2)
    out = pairs[ok].assign(a=a[ok].astype("int64"), b=b[ok].astype("int64"))
    out = out[["fold", "a", "b", "same", "line", "file_a", "file_b"]].reset_index(drop=True)
    out.attrs["dropped_lines"] = dropped
    return out

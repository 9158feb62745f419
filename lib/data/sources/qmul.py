"""QMUL-SurvFace face verification test set -> FaceSet + pairs.csv.

Layout (data_cards/qmul_survface.md): ``<root>/Face_Verification_Test_Set/`` (or the root itself, or
``<root>/QMUL-SurvFace/Face_Verification_Test_Set/``) holding ``positive_pairs_names.mat``,
``negative_pairs_names.mat`` and ``verification_images/*.jpg``.

Each .mat file (MATLAB v5/v7, ``scipy.io.loadmat``) holds one variable (the first that does not
start with ``__``): an N x 2 cell array of image file names, relative to ``verification_images/``.
More than one variable, another shape or a cell that is not text is a SourceError naming the
file and what was found. A v7.3 (HDF5) .mat is read with h5py when it is importable, else the
error says how to re-save it as v7.

Images are tiny surveillance crops (~24 x 20 pixels): ``align="resize"`` (the central square,
resized to ``size``) by default; ``align="detect"`` keeps an image without a detectable face as
its central square (``aligned_by = "center_fallback"``), so no pair is lost to the detector; an
image of at most 32 x 32 pixels is not given to the detector (common.MIN_DETECT_SIDE: phantom faces).

``identity`` = the file name's prefix before the first "_" (QMUL-SurvFace names its images
``<person id>_<...>.jpg``). This is an assumption, checked against the pairs: the card's
``identity_check`` counts the positive pairs whose two prefixes differ and the negative pairs whose
prefixes agree (both 0 on a consistent copy; a warning otherwise). Every image named by a pair is
converted (``split = "test"``, ``source = "qmul"``); ``width``/``height`` are the source's pixels.

``pairs.csv`` = ``a, b, same, list, row, file_a, file_b``: ``a``/``b`` are FaceSet row indices,
``same`` 1/0, ``list`` positive/negative and ``row`` the 1-based row in that .mat. A pair whose image
is missing, unreadable or misnamed is not in pairs.csv: the image's reject (rejects.csv) names the
pairs it breaks and the card's ``pairs`` entry counts and lists them. ``read_pairs(faceset_dir)``
reads and checks pairs.csv.
"""

from __future__ import annotations

import os
import warnings
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

from lib.data.sources.common import (ALIGN_METHODS, IMAGE_SUFFIXES, Aligner, Reject, Rejects, Sample, SourceError,
                                     convert as _convert, read_image, require_dir, source_error)

VERSION = "1"
ENV = "FACEAUG_QMUL"
DATA_CARD = "qmul_survface"
DEFAULTS = {"align": "resize", "size": 112}
TEST_DIRS = ("Face_Verification_Test_Set", "QMUL-SurvFace/Face_Verification_Test_Set", "")
LISTS = (("positive", "positive_pairs_names.mat", 1), ("negative", "negative_pairs_names.mat", 0))
IMAGE_DIR = "verification_images"
PAIRS_COLUMNS = ("a", "b", "same", "list", "row", "file_a", "file_b")
_FETCH = "download QMUL-SurvFace from its project page (qmul-survface.github.io) and unpack it"


def find_folder(root: Path) -> Path:
    """The Face_Verification_Test_Set folder: the first of ``TEST_DIRS`` (relative to the root) holding a
    pair list or verification_images/; SourceError naming what is missing."""
    for rel in TEST_DIRS:
        folder = root / rel
        if (folder / LISTS[0][1]).is_file() or (folder / LISTS[1][1]).is_file() or (folder / IMAGE_DIR).is_dir():
            break
    else:
        looked = ", ".join(f"{d}/" for d in TEST_DIRS if d)
        raise source_error(root, f"no QMUL-SurvFace verification test set found (looked for {looked} and the root "
                           f"itself, each holding {LISTS[0][1]}, {LISTS[1][1]} and {IMAGE_DIR}/)",
                           f"give the folder that holds Face_Verification_Test_Set/; {_FETCH}", DATA_CARD)
    for name in (LISTS[0][1], LISTS[1][1]):
        if not (folder / name).is_file():
            raise source_error(folder / name, "is missing (the verification protocol needs both pair lists)",
                               f"restore it from the QMUL-SurvFace archive; {_FETCH}", DATA_CARD)
    if not (folder / IMAGE_DIR).is_dir():
        raise source_error(folder / IMAGE_DIR, "is missing (expected the folder of verification images)",
                           f"restore it from the QMUL-SurvFace archive; {_FETCH}", DATA_CARD)
    return folder


def _cell_text(path: Path, var: str, i: int, j: int, cell) -> str:
    """One cell of the pair list as a file name; SourceError naming the file, row and column otherwise."""
    value = cell
    if isinstance(value, np.ndarray) and value.dtype.kind in "US" and value.size == 1:
        value = value.reshape(-1)[0]
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str) or not value.strip():
        found = f"{value.dtype} {value.shape}" if isinstance(value, np.ndarray) else type(value).__name__
        raise source_error(path, f"variable {var!r} row {i + 1} column {j + 1} is {found}, not an image file name",
                           f"re-export the list as an N x 2 cell array of file names, or restore it; {_FETCH}",
                           DATA_CARD)
    return str(value).strip().replace("\\", "/")


def _check_cells(path: Path, var: str, cells) -> list[tuple[str, str]]:
    if not isinstance(cells, np.ndarray) or cells.ndim != 2 or cells.shape[1] != 2 or cells.shape[0] < 1:
        found = f"{cells.dtype} {cells.shape}" if isinstance(cells, np.ndarray) else type(cells).__name__
        raise source_error(path, f"variable {var!r} is {found}, expected an N x 2 cell array of image file names",
                           f"restore the file from the QMUL-SurvFace archive; {_FETCH}", DATA_CARD)
    return [(_cell_text(path, var, i, 0, cells[i, 0]), _cell_text(path, var, i, 1, cells[i, 1]))
            for i in range(cells.shape[0])]


def read_mat(path) -> list[tuple[str, str]]:
    """The (name_a, name_b) rows of a pair-list .mat (v5/v7 via scipy, v7.3 via h5py); SourceError otherwise."""
    from scipy.io import loadmat

    path = Path(path)
    try:
        data = loadmat(path)
    except NotImplementedError:  # scipy: "Please use HDF reader for matlab v7.3 files"
        return _read_mat73(path)
    except Exception as err:  # scipy raises IndexError, ValueError, MatReadError ... on a file that is no .mat
        raise source_error(path, f"is not a readable MATLAB .mat file ({type(err).__name__}: {err})",
                           f"restore it from the QMUL-SurvFace archive; {_FETCH}", DATA_CARD) from None
    found = {k: v for k, v in data.items() if not k.startswith("__")}
    if len(found) != 1:
        desc = ", ".join(f"{k} ({v.dtype} {v.shape})" if isinstance(v, np.ndarray) else k for k, v in found.items())
        raise source_error(path, f"holds {len(found)} variables ({desc or 'none'}), expected exactly one N x 2 cell "
                           "array of image file names", "save only the pair list in it (MATLAB: save("
                           f"'{path.name}', '{path.stem}', '-v7')) or restore it; {_FETCH}", DATA_CARD)
    var, cells = next(iter(found.items()))
    return _check_cells(path, var, cells)


def _read_mat73(path: Path) -> list[tuple[str, str]]:
    """A MATLAB v7.3 (HDF5) cell array of strings: references to uint16 char arrays, stored column-major."""
    resave = (f"re-save it as v7 in MATLAB or Octave: load('{path.name}'); save('{path.name}', '{path.stem}', "
              "'-v7')")
    try:
        import h5py
    except ImportError:
        raise source_error(path, "is a MATLAB v7.3 (HDF5) file and h5py is not installed to read it",
                           f"{resave} (or install h5py)", DATA_CARD) from None
    try:
        with h5py.File(path, "r") as f:
            found = [k for k in f.keys() if not k.startswith("#")]  # "#refs#" holds the cells' contents
            if len(found) != 1:
                raise source_error(path, f"holds {len(found)} variables ({', '.join(found) or 'none'}), expected "
                                   "exactly one N x 2 cell array of image file names", resave, DATA_CARD)
            ds = f[found[0]]
            if h5py.check_dtype(ref=ds.dtype) is None or ds.ndim != 2 or ds.shape[0] != 2:
                raise source_error(path, f"variable {found[0]!r} is {ds.dtype} {ds.shape} (HDF5), expected an "
                                   "N x 2 cell array of image file names (stored 2 x N)", resave, DATA_CARD)
            refs = ds[()]
            cells = np.empty((ds.shape[1], 2), dtype=object)
            for i in range(ds.shape[1]):
                for j in range(2):
                    chars = np.asarray(f[refs[j, i]][()]).ravel()
                    cells[i, j] = "".join(map(chr, chars)) if chars.dtype.kind in "ui" else chars
    except SourceError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as err:  # not HDF5, or a null / dangling reference
        raise source_error(path, f"is not a readable MATLAB v7.3 cell array ({type(err).__name__}: {err})", resave,
                           DATA_CARD) from None
    return _check_cells(path, found[0], cells)


def identity_of(name: str) -> str:
    """The person id of a verification image: its file name's prefix before the first "_"; Reject if none."""
    base = name.rsplit("/", 1)[-1]
    prefix, sep, rest = base.partition("_")
    if not sep or not prefix or not rest:
        raise Reject("file name does not follow the QMUL-SurvFace scheme <person id>_<...>.jpg (no identity prefix "
                     "before a '_')")
    return prefix


def read_lists(folder: Path) -> pd.DataFrame:
    """Both pair lists as one table: list, row (1-based), same, name_a, name_b."""
    rows = []
    for kind, fname, same in LISTS:
        pairs = read_mat(folder / fname)
        rows += [{"list": kind, "row": i, "same": same, "name_a": a, "name_b": b} for i, (a, b) in enumerate(pairs, 1)]
    return pd.DataFrame(rows)


def identity_check(pairs: pd.DataFrame) -> dict:
    """How well ``identity_of`` agrees with the pair labels (names without a prefix are left out)."""
    def prefix(name):
        try:
            return identity_of(name)
        except Reject:
            return None

    pa, pb = pairs["name_a"].map(prefix), pairs["name_b"].map(prefix)
    known = (pa.notna() & pb.notna()).to_numpy()
    equal = (pa == pb).to_numpy()
    pos, neg = (pairs["same"] == 1).to_numpy(), (pairs["same"] == 0).to_numpy()
    bad_pos, bad_neg = known & pos & ~equal, known & neg & equal
    return {"rule": "identity = the file name's prefix before the first '_'",
            "positive_pairs_checked": int((known & pos).sum()),
            "positive_pairs_with_different_prefixes": int(bad_pos.sum()),
            "negative_pairs_checked": int((known & neg).sum()),
            "negative_pairs_with_same_prefix": int(bad_neg.sum()),
            "examples": [f"{r.list} row {r.row}: {r.name_a} / {r.name_b}"
                         for r in pairs[bad_pos | bad_neg].head(5).itertuples(index=False)]}


def _breaks(rows: list[str]) -> str:
    return f"breaks {len(rows)} pair{'s' if len(rows) > 1 else ''}: {', '.join(rows)}"


def convert(root, out, *, align: str = "resize", size: int = 112, progress: bool = True) -> Path:
    """Convert the QMUL-SurvFace verification test set at ``root`` into the FaceSet ``out`` + pairs.csv."""
    root = require_dir(root, DATA_CARD, "the QMUL-SurvFace folder holding Face_Verification_Test_Set/")
    if align not in ALIGN_METHODS:
        raise ValueError(f"align={align!r}; choose from {ALIGN_METHODS}")
    folder = find_folder(root)
    prefix = (folder / IMAGE_DIR).relative_to(root).as_posix() + "/"
    pairs = read_lists(folder)
    pairs["file_a"], pairs["file_b"] = prefix + pairs["name_a"], prefix + pairs["name_b"]
    checked = identity_check(pairs)
    if checked["positive_pairs_with_different_prefixes"] or checked["negative_pairs_with_same_prefix"]:
        warnings.warn(f"{folder}: the identity rule (file name prefix before '_') disagrees with "
                      f"{checked['positive_pairs_with_different_prefixes']} positive and "
                      f"{checked['negative_pairs_with_same_prefix']} negative pairs (e.g. {checked['examples'][:2]}); "
                      f"identities in meta.csv are unreliable, pairs.csv is not affected", stacklevel=2)
    uses = defaultdict(list)
    for r in pairs.itertuples(index=False):
        for f in dict.fromkeys((r.file_a, r.file_b)):
            uses[f].append(f"{r.list} row {r.row}")
    rejects, rows = Rejects(), []
    for f in sorted(uses):
        try:
            rows.append({"identity": identity_of(f), "file": f})
        except Reject as err:
            rejects.add(f, f"{err} ({_breaks(uses[f])})")
    records = pd.DataFrame(rows, columns=["identity", "file"])
    for col, value in [("session", ""), ("emotion", ""), ("pose", ""), ("yaw", np.nan), ("split", "test"),
                       ("source", "qmul")]:
        records[col] = value
    with os.scandir(folder / IMAGE_DIR) as it:
        on_disk = {prefix + e.name for e in it if e.is_file() and os.path.splitext(e.name)[1].lower() in IMAGE_SUFFIXES}
    aligner = Aligner(align, size, fallback="resize" if align == "detect" else None)

    def load(row: dict) -> Sample:
        try:
            image = read_image(root / row["file"])
            crop, info = aligner(image)
        except Reject as err:
            raise Reject(f"{err} ({_breaks(uses[row['file']])})") from None
        return Sample(crop, meta={**info, "width": image.shape[1], "height": image.shape[0]})

    def split_pairs(meta: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(pairs with both images converted, with row indices a/b; pairs that lost an image)."""
        index = dict(zip(meta["file"], meta["index"]))
        a, b = pairs["file_a"].map(index), pairs["file_b"].map(index)
        ok = (a.notna() & b.notna()).to_numpy()
        return pairs[ok].assign(a=a[ok].astype("int64"), b=b[ok].astype("int64")), pairs[~ok]

    attach = {"pairs.csv": lambda meta: split_pairs(meta)[0][list(PAIRS_COLUMNS)].to_csv(index=False,
                                                                                         lineterminator="\n")}

    def summarise(meta: pd.DataFrame) -> dict:
        kept, dropped = split_pairs(meta)
        count = {kind: int((pairs["list"] == kind).sum()) for kind, _, _ in LISTS}
        return {"pairs": {"file": "pairs.csv", "read_with": "lib.data.sources.qmul.read_pairs", "listed": count,
                          "usable": {k: int((kept["list"] == k).sum()) for k in count},
                          "dropped": {k: int((dropped["list"] == k).sum()) for k in count},
                          "dropped_rows": {k: dropped.loc[dropped["list"] == k, "row"].tolist() for k in count},
                          "same_image_pairs": int((pairs["file_a"] == pairs["file_b"]).sum())},
                "identity_check": checked,
                "images": {"named_by_pairs": len(uses), "unpaired_on_disk": len(on_disk - set(uses)),
                           "source_size_median": {"width": float(meta["width"].median()),
                                                  "height": float(meta["height"].median())}},
                "alignment": dict(Counter(meta["aligned_by"]))}

    card = {"name": "qmul", "kind": "real", "version": VERSION, "seed": 0, "source": str(root),
            "data_card": f"data_cards/{DATA_CARD}.md",
            "parameters": {"align": aligner.describe(), "split_by": "none (every image is test)",
                           "layout": {"folder": folder.relative_to(root).as_posix() or ".", "images": prefix}},
            "protocol": "QMUL-SurvFace face verification: positive/negative pairs (pairs.csv); the official "
                        "protocol reports TAR@FAR (docs/lowres.md: the low-res thesis reports accuracy)"}
    return _convert(records, out, load, size=size, card=card, rejects=rejects, attach=attach, summarise=summarise,
                    progress=progress, desc="qmul")


def read_pairs(faceset_dir) -> pd.DataFrame:
    """The pairs of a converted QMUL-SurvFace FaceSet: ``a``, ``b`` (FaceSet row indices), ``same`` (1/0),
    ``list``, ``row``, ``file_a``, ``file_b``; positive pairs first, in .mat order.

    Pairs whose image was rejected at conversion are not in it (a warning says how many; they are in
    ``df.attrs["dropped_rows"]``, card.json ``pairs`` and rejects.csv)."""
    from lib.data.faceset import read_faceset

    root = Path(faceset_dir)
    fs = read_faceset(root, verify="none")
    file, again = root / "pairs.csv", "convert QMUL-SurvFace again: lib.data.sources.prepare('qmul', ROOT) (FORCE=1)"
    if not file.is_file():
        raise source_error(file, "is missing (not a FaceSet converted by the QMUL-SurvFace adapter)", again, DATA_CARD)
    try:
        pairs = pd.read_csv(file, dtype=str, keep_default_na=False)
        if tuple(pairs.columns) != PAIRS_COLUMNS:
            raise ValueError(f"columns {list(pairs.columns)}, expected {list(PAIRS_COLUMNS)}")
        pairs = pairs.astype({"a": "int64", "b": "int64", "same": "int64", "row": "int64"})
    except (ValueError, pd.errors.ParserError) as err:
        raise source_error(file, f"cannot be parsed ({err})", again, DATA_CARD) from None
    files = fs.meta["file"].to_numpy()
    inside = pairs["a"].between(0, len(files) - 1) & pairs["b"].between(0, len(files) - 1)
    if not inside.all() or not (np.array_equal(files[pairs["a"]], pairs["file_a"])
                                and np.array_equal(files[pairs["b"]], pairs["file_b"])):
        raise source_error(file, "row indices do not match meta.csv (the FaceSet was changed after conversion)",
                           again, DATA_CARD)
    dropped = fs.card.get("pairs", {}).get("dropped_rows", {})
    n = sum(len(v) for v in dropped.values())
    if n:
        rows = "; ".join(f"{k} rows {v[:10]}{' ...' if len(v) > 10 else ''}" for k, v in dropped.items() if v)
        warnings.warn(f"{file}: {n} of {n + len(pairs)} pairs use a rejected image and are left out ({rows}; see "
                      "rejects.csv)", stacklevel=2)
    pairs.attrs["dropped_rows"] = dropped
    return pairs

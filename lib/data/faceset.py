"""The FaceSet: one on-disk format for every data set.

A directory: ``images.npy`` (uint8 N x H x W x 3), ``meta.csv`` (``REQUIRED_COLUMNS`` first,
extra columns kept), optional arrays from ``ARRAYS``, ``card.json`` (who made it, counts,
meta column kinds, shape/dtype/sha256 of every array). Writes are atomic (temp dir, then
rename); every problem is a ``FaceSetError`` naming the file, the fix and the data card.

    with FaceSetWriter(path, n=N, image_size=(H, W), arrays=["parsing"], card=card) as w:
        w.append(images_chunk, meta_chunk, {"parsing": parsing_chunk})
    fs = read_faceset(path)  # validated; fs.images[fs.split("train")], fs.array("parsing")
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from lib import io, provenance

REQUIRED_COLUMNS = ("index", "identity", "session", "emotion", "pose", "yaw", "split", "source")
STR_COLUMNS = ("identity", "session", "emotion", "pose", "split", "source")
DEFAULT_KINDS = {"index": "int", "yaw": "float", "pitch": "float"}  # meta column kinds without a card entry
SPLITS = ("train", "val", "test")
KINDS = ("synthetic", "real")
# Person vs identity. ``identity`` is the data set's own class label; where a data set records
# sessions as identities (KDEF and the engine: "A007" and "B007" are one person photographed in two
# sessions) its meta also has a ``person`` column. Face recognition (training classes, genuine /
# impostor pairs, galleries) always uses the PERSON: two images of one person are never an impostor
# pair. Only a paper protocol defined on session identities (FRA's) uses ``identity``.
PERSON = "person"


def person_column(meta) -> str:
    """The column that names the person of each row: ``person`` when meta has it, else ``identity``
    (data sets without sessions: LFW, CelebA, SCface, QMUL-SurvFace, CASIA-WebFace)."""
    return PERSON if PERSON in meta.columns else "identity"


def person_labels(meta) -> np.ndarray:
    """(n_rows,) the person of each row as strings (see :data:`PERSON`)."""
    return meta[person_column(meta)].astype(str).to_numpy()


CARD_KEYS = ("name", "kind", "version", "seed", "parameters")
VERIFY = ("full", "fast", "none")

# Optional arrays: name -> dtype, per-image shape ("H"/"W" = image size), optional max label.
# File name is <name>.npy. Extend by adding an entry here; unknown names are refused.
ARRAYS: dict[str, dict] = {
    "landmarks68": {"dtype": "float32", "shape": (68, 2)},
    "landmarks68_visible": {"dtype": "bool", "shape": (68,)},
    "mesh478": {"dtype": "float32", "shape": (478, 2)},
    "mesh478_visible": {"dtype": "bool", "shape": (478,)},
    "parsing": {"dtype": "uint8", "shape": ("H", "W"), "max": 24},  # the 25 FSErasing classes
    "mask": {"dtype": "bool", "shape": ("H", "W")},  # damage masks
    "damaged": {"dtype": "uint8", "shape": ("H", "W", 3)},  # the damaged copy of each image (CelebA-C)
    "parsing19": {"dtype": "uint8", "shape": ("H", "W"), "max": 255},  # FaceSynthetics' own 19 classes, 255 = ignore
}


class FaceSetError(ValueError):
    """A FaceSet (or the data given to a writer) is missing, malformed or corrupt."""


def _error(file: Path, problem: str, todo: str, card: Mapping | None = None) -> FaceSetError:
    dc = (card or {}).get("data_card")
    see = f"see {dc}" if dc else "see the data set's data card (data_cards/, named in card.json)"
    return FaceSetError(f"{file}: {problem}. To fix: {todo}; {see}.")


def _redo(root: Path, card: Mapping | None) -> str:
    how = {"synthetic": "regenerate it with `make paper`", "real": "re-run the adapter that converted it "
           "(lib.data.sources)"}.get((card or {}).get("kind"), "regenerate it (`make paper`) or re-run its adapter")
    return f"delete {root} and {how}"


def _item_shape(name: str, hw: tuple[int, int]) -> tuple[int, ...]:
    return tuple({"H": hw[0], "W": hw[1]}.get(d, d) for d in ARRAYS[name]["shape"])


def _meta_kind(s: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(s):
        return "bool"
    if pd.api.types.is_integer_dtype(s):
        return "int"
    return "float" if pd.api.types.is_float_dtype(s) else "str"


def _cast_column(s: pd.Series, kind: str) -> pd.Series:
    """Turn a column read as strings back into ``kind`` (empty float cell = NaN)."""
    if kind == "int":
        return s.astype("int64")
    if kind == "float":
        return s.replace("", "nan").astype("float64")
    if kind == "bool":
        if not s.isin(["True", "False"]).all():
            raise ValueError("boolean column holds values other than True/False")
        return s == "True"
    return s


class FaceSetWriter:
    """Streaming FaceSet writer with bounded memory: each array is a .npy header followed by
    rows appended with plain file writes (no memmap, so written pages are page cache, not
    process memory; measured by ``python -m lib.speed.sources``).

    Args:
        path: the FaceSet directory to create (an existing one is replaced only on success).
        n: total number of images that will be appended.
        image_size: (H, W) of every image.
        arrays: names of the optional arrays (keys of ``ARRAYS``) each ``append`` provides.
        card: who made it: name, kind ("synthetic"|"real"), generator or source, version, seed,
            parameters, data_card, anything else JSON-able. Counts and arrays are computed here.
        allow_fewer: ``n`` is an upper bound (adapters that reject unreadable images): the
            arrays are truncated in place to the rows appended, at least one.
    """

    def __init__(self, path, *, n: int, image_size: tuple[int, int], arrays: Iterable[str] | None = None,
                 card: Mapping, allow_fewer: bool = False):
        self.path = Path(path)
        self.card = _clean_card(self.path / "card.json", card)
        self.allow_fewer, self._attached = bool(allow_fewer), {}
        self.n, self.hw, self.names = int(n), tuple(int(v) for v in image_size), sorted(arrays or ())
        if self.n < 1 or len(self.hw) != 2 or min(self.hw) < 1:
            raise self._fail("images.npy", f"n={n}, image_size={image_size} is not a positive count and (H, W)")
        for name in self.names:
            if name not in ARRAYS:
                raise self._fail(f"{name}.npy", f"unknown array name {name!r} (known: {', '.join(ARRAYS)})",
                                 "fix the name or add it to lib.data.faceset.ARRAYS")
        self.count, self._metas, self._files, self._stack = 0, [], {}, None

    def _fail(self, file: str, problem: str, todo: str = "fix the data passed to the writer") -> FaceSetError:
        return _error(self.path / file, problem, todo, self.card)

    def __enter__(self) -> FaceSetWriter:
        return self

    def append(self, images: np.ndarray, meta: pd.DataFrame, arrays: Mapping[str, np.ndarray] | None = None):
        """Validate a chunk, then write it after the rows already appended.

        Args:
            images: uint8 (k, H, W, 3) RGB.
            meta: k rows with ``REQUIRED_COLUMNS`` ("index" optional: added as the global row number).
            arrays: one (k, ...) array per name declared in the constructor.
        """
        images, meta, arrays = self._check_chunk(images, meta, dict(arrays or {}))
        if self._stack is None:
            self._open()
        self._files["images"].write(np.ascontiguousarray(images).tobytes())
        for name, arr in arrays.items():
            self._files[name].write(np.ascontiguousarray(arr).tobytes())
        self._metas.append(meta)
        self.count += len(images)

    def written_meta(self) -> pd.DataFrame:
        """The meta rows appended so far (e.g. for statistics added to the card before finishing)."""
        return pd.concat(self._metas, ignore_index=True) if self._metas else pd.DataFrame(columns=REQUIRED_COLUMNS)

    def attach(self, name: str, text: str) -> None:
        """Write a small text file (e.g. ``rejects.csv``, ``pairs.csv``) into the FaceSet with the rest."""
        if Path(name).name != name or Path(name).stem in ["images", "meta", "card", *ARRAYS]:
            raise self._fail(name, f"{name!r} is not a plain file name or clashes with a FaceSet file",
                             "choose another name")
        self._attached[name] = str(text)

    def _check_chunk(self, images, meta, arrays):
        images, k = np.asarray(images), len(images)
        if self.count + k > self.n:
            raise self._fail("images.npy", f"{self.count + k} rows appended but n={self.n} was declared")
        if images.dtype != np.uint8 or images.shape != (k, *self.hw, 3):
            raise self._fail("images.npy", f"images are {images.dtype} {images.shape}, expected uint8 "
                             f"({k}, {self.hw[0]}, {self.hw[1]}, 3)")
        if sorted(arrays) != self.names:
            raise self._fail("card.json", f"chunk has arrays {sorted(arrays)} but the writer declared {self.names}")
        out = {name: self._check_array(name, np.asarray(arr), k) for name, arr in arrays.items()}
        return images, self._check_meta(meta, k), out

    def _check_array(self, name: str, arr: np.ndarray, k: int) -> np.ndarray:
        spec, shape = ARRAYS[name], (k, *_item_shape(name, self.hw))
        castable = np.can_cast(arr.dtype, spec["dtype"], "same_kind") or ("max" in spec and arr.dtype.kind in "iu")
        if arr.shape != shape or not castable:  # integer labels of any width: their range is checked below
            raise self._fail(f"{name}.npy", f"{name} is {arr.dtype} {arr.shape}, expected {spec['dtype']} {shape}")
        if "max" in spec and arr.size and (arr.min() < 0 or arr.max() > spec["max"]):
            raise self._fail(f"{name}.npy", f"{name} labels span {arr.min()}..{arr.max()}, allowed 0..{spec['max']}")
        return arr.astype(spec["dtype"], copy=False)

    def _check_meta(self, meta: pd.DataFrame, k: int) -> pd.DataFrame:
        if not isinstance(meta, pd.DataFrame) or len(meta) != k:
            raise self._fail("meta.csv", f"meta must be a DataFrame of {k} rows (one per image), got "
                             f"{type(meta).__name__} of {len(meta)} rows")
        meta = meta.reset_index(drop=True).copy()
        missing = [c for c in REQUIRED_COLUMNS[1:] if c not in meta.columns]
        if missing:
            raise self._fail("meta.csv", f"meta lacks the columns {missing}")
        rows = np.arange(self.count, self.count + k)
        if "index" in meta.columns and not np.array_equal(pd.to_numeric(meta["index"], errors="coerce"), rows):
            raise self._fail("meta.csv", f"column 'index' must number the rows 0..N-1 in order "
                             f"(expected {self.count}..{self.count + k - 1} in this chunk); or leave it out")
        meta["index"] = rows
        for col in [c for c in meta.columns
                    if c in STR_COLUMNS or (c not in REQUIRED_COLUMNS and _meta_kind(meta[c]) == "str")]:
            meta[col] = meta[col].where(meta[col].notna(), "").astype(str)
        empty = (meta["identity"].str.strip() == "").to_numpy()
        if empty.any():
            raise self._fail("meta.csv", f"empty identity in rows {rows[empty][:5].tolist()}")
        bad = sorted(set(meta["split"]) - set(SPLITS))
        if bad:
            raise self._fail("meta.csv", f"split values {bad} are not in {SPLITS}")
        try:
            meta["yaw"] = pd.to_numeric(meta["yaw"], errors="raise").astype("float64")
        except (ValueError, TypeError) as err:
            raise self._fail("meta.csv", f"column 'yaw' is not numeric ({err}); use NaN for unknown") from err
        meta = meta[list(REQUIRED_COLUMNS) + [c for c in meta.columns if c not in REQUIRED_COLUMNS]]
        if self._metas and list(meta.columns) != list(self._metas[0].columns):
            raise self._fail("meta.csv", f"chunk columns {list(meta.columns)} differ from the first chunk's")
        return meta

    def _open(self) -> None:
        self._stack = contextlib.ExitStack()
        self.tmp = self._stack.enter_context(io.atomic_dir(self.path))
        specs = {"images": ("uint8", (self.n, *self.hw, 3))}
        specs.update({name: (ARRAYS[name]["dtype"], (self.n, *_item_shape(name, self.hw))) for name in self.names})
        for name, (dtype, shape) in specs.items():
            f = self._stack.enter_context(open(self.tmp / f"{name}.npy", "wb"))
            # the header pads the row count to 21 digits, so _truncate_npy can rewrite it in place
            np.lib.format.write_array_header_1_0(f, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                                                     "fortran_order": False, "shape": shape})
            self._files[name] = f

    def _finish(self) -> None:
        if self.count != self.n and not (self.allow_fewer and 0 < self.count < self.n):
            raise self._fail("images.npy", f"{self.count} rows were appended but n={self.n} was declared")
        for f in self._files.values():
            f.close()
        self._files.clear()
        if self.count < self.n:
            for name in ["images"] + self.names:
                _truncate_npy(self.tmp / f"{name}.npy", self.count)
        for name, text in self._attached.items():
            (self.tmp / name).write_text(text)
        meta = self.written_meta()
        meta.to_csv(self.tmp / "meta.csv", index=False)
        files = ["images"] + self.names
        self.card["arrays"] = {f"{name}.npy": _array_entry(self.tmp / f"{name}.npy") for name in files}
        self.card["columns"] = {c: _meta_kind(meta[c]) for c in meta.columns}
        self.card["counts"] = {"images": len(meta), "identities": int(meta["identity"].nunique()),
                               "splits": {s: {"images": int((meta["split"] == s).sum()),
                                              "identities": int(meta.loc[meta["split"] == s, "identity"].nunique())}
                                          for s in SPLITS}}
        self.card["created"] = provenance.now()
        io.write_json(self.tmp / "card.json", self.card)

    def __exit__(self, exc_type, exc, tb) -> bool:
        """On success rename the temp dir into place; on any error remove it."""
        try:
            if exc_type is None:
                self._finish()
        except BaseException as err:
            exc_type, exc, tb = type(err), err, err.__traceback__
            raise
        finally:
            self._files.clear()
            if self._stack is not None:
                self._stack.__exit__(exc_type, exc, tb)
        return False


def _truncate_npy(file: Path, rows: int) -> None:
    """Shrink a .npy file to its first ``rows`` rows in place: a new header (same length, the
    format pads it to 64 bytes) and a truncated file; no copy, so bounded memory and time."""
    with open(file, "r+b") as f:
        fmt = np.lib.format
        version = fmt.read_magic(f)
        read, write = {(1, 0): (fmt.read_array_header_1_0, fmt.write_array_header_1_0),
                       (2, 0): (fmt.read_array_header_2_0, fmt.write_array_header_2_0)}[version]
        shape, fortran, dtype = read(f)
        offset = f.tell()
        header = {"descr": fmt.dtype_to_descr(dtype), "fortran_order": fortran, "shape": (rows, *shape[1:])}
        f.seek(0)
        write(f, header)
        if f.tell() != offset:  # cannot happen when the row count only loses digits
            raise FaceSetError(f"{file}: header length changed while truncating")
        f.truncate(offset + rows * int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize)


def _clean_card(file: Path, card: Mapping) -> dict:
    """A JSON-plain copy of the caller's card, with the required keys checked."""
    try:
        card = json.loads(json.dumps(dict(card), default=provenance._jsonable, allow_nan=False))
    except (TypeError, ValueError) as err:
        raise _error(file, f"the card is not JSON-able ({err})", "fix the card passed to the writer") from err
    missing = [k for k in CARD_KEYS if k not in card]
    if "generator" not in card and "source" not in card:
        missing.append("generator or source")
    if missing or card["kind"] not in KINDS or not isinstance(card["parameters"], dict):
        raise _error(file, f"the card lacks {missing}, or its kind is not in {KINDS}, or parameters is not a dict",
                     "complete the card passed to the writer", card)
    return card


def _array_entry(file: Path) -> dict:
    arr = np.load(file, mmap_mode="r")
    return {"shape": list(arr.shape), "dtype": str(arr.dtype), "sha256": provenance.sha256_file(file)}


def write_faceset(path, images: np.ndarray, meta: pd.DataFrame, *, arrays: Mapping[str, np.ndarray] | None = None,
                  card: Mapping) -> Path:
    """Validate, then atomically write a whole FaceSet in one go; returns its directory.

    Args:
        path: the FaceSet directory (an existing one is replaced only on success).
        images: uint8 (N, H, W, 3) RGB.
        meta: N rows with ``REQUIRED_COLUMNS`` ("index" optional), extra columns kept.
        arrays: optional arrays by name (keys of ``ARRAYS``), e.g. {"parsing": (N, H, W) uint8}.
        card: see ``FaceSetWriter``.
    """
    images = np.asarray(images)
    if images.ndim != 4:
        raise _error(Path(path) / "images.npy", f"images have shape {images.shape}, expected (N, H, W, 3)",
                     "fix the data passed to the writer", card)
    with FaceSetWriter(path, n=len(images), image_size=images.shape[1:3], arrays=arrays or {}, card=card) as w:
        w.append(images, meta, arrays)
    return Path(path)


@dataclass
class FaceSet:
    """A FaceSet opened by ``read_faceset``: images and optional arrays are memory-mapped."""

    root: Path
    images: np.ndarray
    meta: pd.DataFrame
    card: dict
    _arrays: dict = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.images)

    def cache_key(self) -> dict:
        """What the run cache keys a computation on this FaceSet by (lib.fingerprint): the sha256 of
        every array, recorded in card.json and checked by ``read_faceset``, and the meta table."""
        from lib.fingerprint import digest

        return {"arrays": {k: v["sha256"] for k, v in sorted(self.card.get("arrays", {}).items())},
                "meta": digest(self.meta)}

    def has(self, name: str) -> bool:
        """Whether the optional array ``name`` (e.g. "parsing") is present."""
        return f"{name}.npy" in self.card.get("arrays", {})

    def array(self, name: str) -> np.ndarray:
        """The optional array ``name``, memory-mapped (opened on first use)."""
        if not self.has(name):
            present = [Path(f).stem for f in self.card.get("arrays", {}) if f != "images.npy"]
            raise _error(self.root / f"{name}.npy", f"this FaceSet has no {name!r} array (it has {present})",
                         "use a FaceSet generated with it", self.card)
        if name not in self._arrays:
            self._arrays[name] = _load_npy(self.root / f"{name}.npy", self.root, self.card)
        return self._arrays[name]

    def split(self, name: str) -> np.ndarray:
        """Row indices of split ``name`` ("train", "val" or "test")."""
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; choose from {SPLITS}")
        return self.meta["index"].to_numpy()[self.meta["split"].to_numpy() == name]

    @property
    def identities(self) -> list[str]:
        """Sorted unique identities."""
        return sorted(self.meta["identity"].unique())


def faceset_exists(path) -> bool:
    """Whether ``path`` holds a complete FaceSet (card.json is written last, renamed atomically)."""
    path = Path(path)
    return all((path / f).is_file() for f in ("card.json", "images.npy", "meta.csv"))


def _load_npy(file: Path, root: Path, card: Mapping | None) -> np.ndarray:
    if not file.is_file():
        raise _error(file, "is missing", _redo(root, card), card)
    try:
        arr = np.load(file, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise _error(file, f"is corrupt or truncated ({err})", _redo(root, card), card) from err
    if file.stat().st_size != arr.offset + arr.nbytes:
        raise _error(file, f"is {file.stat().st_size} bytes but its header says {arr.offset + arr.nbytes}",
                     _redo(root, card), card)
    return arr


def _read_card(root: Path) -> dict:
    """card.json first: it names the data card that every later error points to."""
    if not root.is_dir():
        raise _error(root, "no FaceSet directory here", "generate it (`make paper`) or convert the data set with "
                     "its adapter (lib.data.sources), or check the path")
    try:
        card = io.read_json(root / "card.json")
    except ValueError as err:
        raise _error(root / "card.json", f"is not valid JSON ({err})", _redo(root, None)) from err
    if not isinstance(card, dict):
        raise _error(root / "card.json", "is missing (an incomplete or interrupted write?)", _redo(root, None))
    return card


def _read_meta(root: Path, card: dict) -> pd.DataFrame:
    file = root / "meta.csv"
    if not file.is_file():
        raise _error(file, "is missing", _redo(root, card), card)
    kinds = {**DEFAULT_KINDS, **card.get("columns", {})}
    try:
        meta = pd.read_csv(file, dtype=str, keep_default_na=False)
        for col in meta.columns:
            meta[col] = _cast_column(meta[col], kinds.get(col, "str"))
    except (ValueError, TypeError, UnicodeDecodeError, pd.errors.ParserError) as err:
        raise _error(file, f"cannot be parsed ({err})", _redo(root, card), card) from err
    return meta


def _check(ok: bool, file: Path, problem: str, root: Path, card: dict) -> None:
    if not ok:
        raise _error(file, problem, _redo(root, card), card)


def _verify(fs: FaceSet, full: bool) -> None:
    root, card, meta, n = fs.root, fs.card, fs.meta, len(fs.images)
    img = root / "images.npy"
    _check(fs.images.dtype == np.uint8 and fs.images.ndim == 4 and fs.images.shape[3] == 3, img,
           f"holds {fs.images.dtype} {fs.images.shape}, expected uint8 (N, H, W, 3)", root, card)
    _check(tuple(meta.columns[:len(REQUIRED_COLUMNS)]) == REQUIRED_COLUMNS, root / "meta.csv",
           f"columns start {list(meta.columns[:8])}, expected {list(REQUIRED_COLUMNS)}", root, card)
    _check(len(meta) == n, root / "meta.csv", f"has {len(meta)} rows but images.npy has {n} images", root, card)
    _check(np.array_equal(meta["index"].to_numpy(), np.arange(n)), root / "meta.csv",
           "column 'index' is not 0..N-1", root, card)
    _check(meta["split"].isin(SPLITS).all() and (meta["identity"].str.strip() != "").all(), root / "meta.csv",
           f"has split values outside {SPLITS} or empty identities", root, card)
    for fname, entry in card.get("arrays", {}).items():
        name, file = Path(fname).stem, root / fname
        _check(name == "images" or name in ARRAYS, file, f"unknown array {name!r} listed in card.json", root, card)
        arr = fs.images if name == "images" else fs.array(name)
        if name != "images":
            spec, shape = ARRAYS[name], (n, *_item_shape(name, fs.images.shape[1:3]))
            _check(arr.dtype == spec["dtype"] and arr.shape == shape, file,
                   f"holds {arr.dtype} {arr.shape}, expected {spec['dtype']} {shape}", root, card)
            if "max" in spec and arr.size:
                lo, hi = int(arr.min()), int(arr.max())
                _check(0 <= lo and hi <= spec["max"], file,
                       f"has labels {lo}..{hi} outside 0..{spec['max']}", root, card)
        recorded = [entry.get("dtype"), entry.get("shape")]
        _check([str(arr.dtype), list(arr.shape)] == recorded, file,
               f"is {arr.dtype} {arr.shape} but card.json records {recorded}", root, card)
        if full:
            _check(provenance.sha256_file(file) == entry.get("sha256"), file,
                   "sha256 does not match card.json (the file changed or is corrupt)", root, card)


def read_faceset(path, *, verify: str = "full") -> FaceSet:
    """Open a FaceSet; images and arrays are memory-mapped read-only.

    Args:
        path: the FaceSet directory.
        verify: "full" (shapes, dtypes, label ranges and sha256 of every array), "fast"
            (all but checksums) or "none" (only open the files).
    """
    if verify not in VERIFY:
        raise ValueError(f"verify={verify!r}; choose from {VERIFY}")
    root = Path(path)
    card = _read_card(root)
    fs = FaceSet(root, _load_npy(root / "images.npy", root, card), _read_meta(root, card), card)
    if verify != "none":
        _verify(fs, full=verify == "full")
    return fs

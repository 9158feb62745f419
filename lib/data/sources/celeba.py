"""CelebA (aligned-and-cropped images) -> FaceSet.

Layout (data_cards/celeba.md), ``<root>`` holding:
- ``img_align_celeba/000001.jpg`` ... ``202599.jpg`` (178x218 JPEGs; the Kaggle copy nests them
  one level deeper, ``img_align_celeba/img_align_celeba/``, also accepted);
- ``identity_CelebA.txt`` (``000001.jpg 2880``), in the root or ``Anno/``: the master list;
- ``list_eval_partition.txt`` (``000001.jpg 0``, 0/1/2 = train/val/test), in the root or
  ``Eval/``; Kaggle's ``list_eval_partition.csv`` is read too;
- optional ``list_landmarks_align_celeba.txt`` (a count line, a header line, then
  ``000001.jpg 69 109 106 113 77 142 73 152 108 154``), in the root or ``Anno/``; Kaggle's
  ``.csv`` is read too.

The split is the official partition (identity-disjoint). ``align="auto"`` aligns with the 5
given landmarks onto the ArcFace template when the landmark file exists (no detector: every
image is kept), else with YuNet. Problems with one image (missing on disk, on disk but not in
the identity file, no partition entry, no landmarks, corrupt) are rejects; an annotation line
that does not parse is a SourceError naming the file and line.

``scan``, ``find_layout`` and ``select`` are shared with the CelebA-C adapter (celeba_c.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lib.data.sources.common import (Aligner, IMAGE_SUFFIXES, Reject, Rejects, Sample, convert as _convert,
                                     positive_count, read_image, require_dir, source_error)
from lib.seeding import numpy_rng

VERSION = "1"
ENV = "FACEAUG_CELEBA"
DATA_CARD = "celeba"
DEFAULTS = {"align": "auto", "size": 112, "detector": "yunet", "max_identities": None, "max_images": None,
            "seed": 0}
ALIGN = ("auto", "landmarks", "detect", "resize", "none")
IMAGE_DIRS = ("img_align_celeba/img_align_celeba", "img_align_celeba")
IDENTITY_FILES = ("identity_CelebA.txt", "Anno/identity_CelebA.txt")
PARTITION_FILES = ("list_eval_partition.txt", "Eval/list_eval_partition.txt", "list_eval_partition.csv",
                   "Eval/list_eval_partition.csv")
LANDMARK_FILES = ("list_landmarks_align_celeba.txt", "Anno/list_landmarks_align_celeba.txt",
                  "list_landmarks_align_celeba.csv", "Anno/list_landmarks_align_celeba.csv")
LANDMARK_COLUMNS = ("lefteye_x", "lefteye_y", "righteye_x", "righteye_y", "nose_x", "nose_y", "leftmouth_x",
                    "leftmouth_y", "rightmouth_x", "rightmouth_y")
PARTITION = {"0": "train", "1": "val", "2": "test"}
_FETCH = "download it from the CelebA page (Google Drive: Anno/, Eval/) into the root"


@dataclass(frozen=True)
class Layout:
    """Where the parts of one CelebA copy are."""

    root: Path
    images: Path
    identity: Path
    partition: Path
    landmarks: Path | None

    def rel(self, path: Path | None) -> str | None:
        return None if path is None else path.relative_to(self.root).as_posix()


def _find(root: Path, candidates, what: str, todo: str) -> Path | None:
    for rel in candidates:
        if (root / rel).is_file():
            return root / rel
    if todo:
        raise source_error(root, f"no {what} found (looked for {', '.join(candidates)})", todo, DATA_CARD)
    return None


def find_layout(root: Path) -> Layout:
    """Locate the image folder and annotation files under ``root``; SourceError saying what is missing."""
    images = next((root / d for d in IMAGE_DIRS if (root / d).is_dir()), None)
    if images is None:
        loose = any(p.suffix.lower() == ".jpg" and p.stem.isdigit() for p in root.glob("*.jpg"))
        raise source_error(root, "this is the image folder itself" if loose else
                           f"no image folder found (looked for {', '.join(d + '/' for d in IMAGE_DIRS)})",
                           "give the folder that holds img_align_celeba/ and identity_CelebA.txt", DATA_CARD)
    identity = _find(root, IDENTITY_FILES, "identity file", f"{_FETCH} (the Kaggle copy lacks identity_CelebA.txt)")
    partition = _find(root, PARTITION_FILES, "partition file", _FETCH)
    return Layout(root, images, identity, partition, _find(root, LANDMARK_FILES, "landmark file", ""))


def _rows(path: Path, fields: int, usage: str, *, skip: int = 0):
    """(line number, fields) of each non-empty line after ``skip`` lines; a CSV's header line is
    skipped too. SourceError naming the line that does not have ``fields`` fields."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (UnicodeDecodeError, OSError) as err:
        raise source_error(path, f"cannot be read as text ({err})", _FETCH, DATA_CARD) from None
    csv = path.suffix.lower() == ".csv"
    if csv and lines and lines[0].lower().startswith("image_id"):
        skip += 1
    for no, line in enumerate(lines[skip:], skip + 1):
        parts = line.split(",") if csv else line.split()
        parts = [p.strip() for p in parts]
        if not line.strip():
            continue
        if len(parts) != fields or os.path.splitext(parts[0])[1].lower() not in IMAGE_SUFFIXES:
            raise source_error(path, f"line {no} {line.strip()!r} does not parse (expected {usage})",
                               f"fix that line or {_FETCH}", DATA_CARD)
        yield no, parts


def _table(path: Path, fields: int, usage: str, value, *, skip: int = 0) -> dict:
    """``{image name: value(fields[1:])}``; SourceError for a value that does not parse or a name listed twice."""
    out, first = {}, {}
    for no, parts in _rows(path, fields, usage, skip=skip):
        name = parts[0]
        if name in out:
            raise source_error(path, f"line {no} lists {name} again (first on line {first[name]})",
                               f"remove the duplicate or {_FETCH}", DATA_CARD)
        try:
            out[name] = value(parts[1:])
        except (ValueError, KeyError):
            raise source_error(path, f"line {no} {' '.join(parts)!r} does not parse (expected {usage})",
                               f"fix that line or {_FETCH}", DATA_CARD) from None
        first[name] = no
    return out


def _identity(parts) -> str:
    if not parts[0].isdigit():
        raise ValueError(parts[0])
    return str(int(parts[0]))


def read_identities(path: Path) -> dict[str, str]:
    """``identity_CelebA.txt`` -> {image name: identity number as a string}."""
    return _table(path, 2, "'<image>.jpg <identity number>'", _identity)


def read_partition(path: Path) -> dict[str, str]:
    """``list_eval_partition.txt`` (or Kaggle's .csv) -> {image name: "train"|"val"|"test"}."""
    return _table(path, 2, "'<image>.jpg <0|1|2>'", lambda p: PARTITION[p[0]])


def _points5(parts) -> np.ndarray:
    """CelebA's 10 numbers -> 5 points in the template's order (image-left first, by x)."""
    p = np.array([float(v) for v in parts], dtype=np.float64).reshape(5, 2)
    if not np.isfinite(p).all():
        raise ValueError(parts)
    eyes, mouth = p[[0, 1]], p[[3, 4]]
    eyes, mouth = eyes[np.argsort(eyes[:, 0], kind="stable")], mouth[np.argsort(mouth[:, 0], kind="stable")]
    return np.vstack([eyes, p[2:3], mouth])


def read_landmarks(path: Path) -> dict[str, np.ndarray]:
    """``list_landmarks_align_celeba.txt`` (count line, header line, rows) or Kaggle's .csv ->
    {image name: (5, 2) points: image-left eye, other eye, nose, image-left mouth corner, other}."""
    usage = "'<image>.jpg' and 10 numbers " + " ".join(LANDMARK_COLUMNS)
    if path.suffix.lower() == ".csv":
        return _table(path, 11, usage, _points5)
    try:
        head = path.read_text(encoding="utf-8").splitlines()[:2]
    except (UnicodeDecodeError, OSError) as err:
        raise source_error(path, f"cannot be read as text ({err})", _FETCH, DATA_CARD) from None
    if len(head) < 2 or not head[0].strip().isdigit():
        raise source_error(path, f"line 1 {head[0].strip() if head else ''!r} does not parse (expected the "
                           "number of images)", f"fix that line or {_FETCH}", DATA_CARD)
    if tuple(head[1].split()) != LANDMARK_COLUMNS:
        raise source_error(path, f"line 2 {head[1].strip()!r} does not parse (expected the header "
                           f"{' '.join(LANDMARK_COLUMNS)!r})", f"fix that line or {_FETCH}", DATA_CARD)
    out = _table(path, 11, usage, _points5, skip=2)
    if len(out) != int(head[0]):
        raise source_error(path, f"line 1 announces {int(head[0])} images but {len(out)} follow (truncated?)",
                           f"fix the count or {_FETCH}", DATA_CARD)
    return out


def scan(layout: Layout, rejects: Rejects) -> pd.DataFrame:
    """One row per image that is listed in the identity file, on disk and in the partition file:
    ``file`` (relative to the root), ``image_id`` (the bare name), ``identity``, ``split``,
    sorted by name. Every mismatch is a reject with its reason."""
    ids, parts = read_identities(layout.identity), read_partition(layout.partition)
    if not ids:
        raise source_error(layout.identity, "lists no images", _FETCH, DATA_CARD)
    with os.scandir(layout.images) as it:
        disk = {e.name for e in it if e.is_file() and os.path.splitext(e.name)[1].lower() in IMAGE_SUFFIXES}
    folder = layout.rel(layout.images)
    rows = []
    for name in sorted(set(ids) | disk):
        rel = f"{folder}/{name}"
        if name not in ids:
            rejects.add(rel, f"not listed in {layout.identity.name} (no identity)")
        elif name not in disk:
            rejects.add(rel, "file is missing")
        elif name not in parts:
            rejects.add(rel, f"not listed in {layout.partition.name} (no split)")
        else:
            rows.append({"file": rel, "image_id": name, "identity": ids[name], "split": parts[name]})
    if not rows:
        raise source_error(layout.images, f"holds none of the {len(ids)} images that {layout.rel(layout.identity)} "
                           f"lists with a split ({len(disk)} image files; {rejects.counts()})",
                           "check that the images and the annotation files come from the same CelebA copy", DATA_CARD)
    df = pd.DataFrame(rows)
    for col, value in [("session", ""), ("emotion", ""), ("pose", ""), ("yaw", np.nan)]:
        df[col] = value
    return df


def select(df: pd.DataFrame, *, max_identities=None, max_images=None, seed: int = 0) -> pd.DataFrame:
    """A deterministic subset: ``max_identities`` identities drawn at random (``numpy_rng(seed,
    "subset", "identities")``), then ``max_images`` of their images drawn at random
    (``numpy_rng(seed, "subset", "images")``); file order kept. Random, not "the first N": the
    official partition is contiguous in file order (the first 162,770 images are train)."""
    max_identities, max_images = positive_count(max_identities, "max_identities"), positive_count(max_images, "max_images")
    if max_identities and max_identities < df["identity"].nunique():
        ids = np.array(sorted(df["identity"].unique(), key=int))
        keep = ids[numpy_rng(seed, "subset", "identities").choice(len(ids), max_identities, replace=False)]
        df = df[df["identity"].isin(set(keep))]
    if max_images and max_images < len(df):
        rows = numpy_rng(seed, "subset", "images").choice(len(df), max_images, replace=False)
        df = df.iloc[np.sort(rows)]
    return df.reset_index(drop=True)


def convert(root, out, *, align: str = "auto", size: int = 112, detector: str = "yunet", max_identities=None,
            max_images=None, seed: int = 0, progress: bool = True, chunk: int = 256) -> Path:
    """Convert CelebA at ``root`` into the FaceSet ``out`` (see the module docstring)."""
    root = require_dir(root, DATA_CARD, "the CelebA folder holding img_align_celeba/ and identity_CelebA.txt")
    if align not in ALIGN:
        raise ValueError(f"align={align!r}; choose from {ALIGN}")
    layout = find_layout(root)
    method = ("landmarks" if layout.landmarks else "detect") if align == "auto" else align
    if method == "landmarks" and layout.landmarks is None:
        raise source_error(root, f"align='landmarks' but no landmark file found (looked for "
                           f"{', '.join(LANDMARK_FILES)})", f"{_FETCH}, or use align='detect'", DATA_CARD)
    points = read_landmarks(layout.landmarks) if method == "landmarks" else {}
    rejects = Rejects()
    df = select(scan(layout, rejects), max_identities=max_identities, max_images=max_images, seed=seed)
    df["source"] = "celeba"
    aligner = Aligner("detect" if method == "landmarks" else method, size, detector=detector)

    def load(row: dict) -> Sample:
        image = read_image(root / row["file"])
        if method != "landmarks":
            crop, info = aligner(image)
            return Sample(crop, meta=info)
        return Sample(align_landmarks(image, points.get(row["image_id"]), size, layout.landmarks.name),
                      meta={"aligned_by": "landmarks", "det_score": np.nan})

    how = ({"method": "landmarks", "size": size, "file": layout.rel(layout.landmarks), "template": "arcface"}
           if method == "landmarks" else aligner.describe())
    card = {"name": "celeba", "kind": "real", "version": VERSION, "seed": seed, "source": str(root),
            "data_card": f"data_cards/{DATA_CARD}.md",
            "parameters": {"align": how, "align_requested": align, "max_identities": max_identities,
                           "max_images": max_images, "split_by": f"{layout.rel(layout.partition)} (official)",
                           "layout": {"images": layout.rel(layout.images), "identity": layout.rel(layout.identity),
                                      "partition": layout.rel(layout.partition),
                                      "landmarks": layout.rel(layout.landmarks)}}}
    return _convert(df, out, load, size=size, card=card, rejects=rejects, progress=progress, desc="celeba",
                    chunk=chunk)


def align_landmarks(image: np.ndarray, points5, size: int, source: str = "the landmark file") -> np.ndarray:
    """Warp ``image`` so that CelebA's 5 given points land on the ArcFace template; Reject when
    there are none, or they lie outside the image (the photo is not the 178x218 aligned one)."""
    from lib.faces.align import align_face

    if points5 is None:
        raise Reject(f"no landmarks in {source}")
    h, w = image.shape[:2]
    if points5.min() < 0 or (points5[:, 0] >= w).any() or (points5[:, 1] >= h).any():
        raise Reject(f"landmarks fall outside the {w}x{h} image (expected the 178x218 aligned CelebA photo)")
    try:
        return align_face(image, points5, size)
    except ValueError as err:
        raise Reject(f"alignment failed: {err}") from None

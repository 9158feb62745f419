"""Microsoft FaceSynthetics (Wood et al., "Fake It Till You Make It", ICCV 2021) -> FaceSet,
with the FSErasing 25-class label pack (Kawai et al., IET Biometrics 2024) when it is there.

Layout (data_cards/facesynthetics.md): ``<root>/dataset_100000/`` (or the frames directly in
``<root>``; the samples ``dataset_1000/``, ``dataset_100/`` and the FSErasing README's ``images/``
are accepted too) holding per frame
- ``000000.png``: 512x512 RGB render;
- ``000000_seg.png``: one channel, FaceSynthetics' 19 classes 0..18 (``CLASSES19``), 255 = ignore;
- ``000000_ldmks.txt``: 70 lines ``x y`` (pixels): the 68 iBUG points, then the 2 pupils.
The optional FSErasing pack (``detailed_facesynthetics.zip``): ``labels_25/`` (the pack's README
also spells it ``labels25/``; both read) with ``000000_seg.png`` of ``CLASSES25`` (0..24), and
``anno_list.csv`` (columns ``frame_id, with_25``), both in ``labels_root``, else in the root,
else next to the frames. ``labels_9/`` is not used.

Alignment (as FSErasing, docs/fserasing.md): 5 points from the given 68 (eye centres, nose
tip, mouth corners; ``lib.faces.align.points5_from_68``) -> similarity onto the ArcFace template
at ``size``; the image is warped like ``lib.faces.align.align_face`` (bilinear, edge replicated),
both label maps with the same matrix (nearest neighbour, outside the render = 0, background), the
68 points with ``transform_points``. No detector: no frame is lost to detection.

Arrays: ``landmarks68`` (float32, in the crop), ``parsing19`` (the 19 classes + 255 ignore) and,
with the pack, ``parsing`` (the 25 classes). With ``require_25`` (default) a frame without a
25-class label is a reject; with ``require_25=False`` it is kept with an all-background
``parsing`` map and ``with_25 = 0`` in meta (mask such frames out of parsing losses).

Every FaceSynthetics frame is a new random synthetic identity: ``identity`` = the frame id
(``"000123"``), split by a seeded fraction over all frames found (``split_by_group``), so a frame
keeps its split whatever subset (``max_images``) or label filter is converted.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lib.data.sources.common import (IMAGE_SUFFIXES, Reject, Rejects, Sample, convert as _convert, positive_count,
                                     read_image, read_label_image, require_dir, source_error, split_by_group,
                                     transform_points, warp_labels)
from lib.seeding import numpy_rng

VERSION = "1"
ENV = "FACEAUG_FACESYNTHETICS"
DATA_CARD = "facesynthetics"
DEFAULTS = {"labels_root": None, "require_25": True, "size": 112, "test_fraction": 0.1, "seed": 0,
            "max_images": None}
IMAGE_DIRS = ("dataset_100000", "dataset_1000", "dataset_100", "images")  # besides the root itself
LABEL_DIRS = ("labels_25", "labels25")
ANNO_FILE = "anno_list.csv"
N_POINTS = 70  # 68 iBUG + 2 pupils
IGNORE = 255
CLASSES19 = ("background", "skin", "nose", "right_eye", "left_eye", "right_brow", "left_brow", "right_ear",
             "left_ear", "mouth_interior", "top_lip", "bottom_lip", "neck", "hair", "beard", "clothing", "glasses",
             "headwear", "facewear")
CLASSES25 = ("background", "right_cheek", "left_cheek", "right_chin", "left_chin", "right_forehead", "left_forehead",
             "middle_forehead", "around_right_eye", "around_left_eye", "nose", "right_eye", "left_eye", "right_brow",
             "left_brow", "right_ear", "left_ear", "mouth", "upper_lip", "lower_lip", "neck", "hair", "clothing",
             "glasses", "headwear")
FRAME = re.compile(r"^(?P<frame>\d{6})(?P<kind>\.png|_seg\.png|_ldmks\.txt)$")
_FETCH = "download dataset_100000.zip from github.com/microsoft/FaceSynthetics and unzip it into the root"
_PACK = "unzip the whole FSErasing label pack (detailed_facesynthetics.zip: labels_25/ and anno_list.csv) there"


@dataclass(frozen=True)
class LabelPack:
    """Where the FSErasing 25-class labels are."""

    labels: Path  # labels_25/ (or labels25/)
    anno: Path  # anno_list.csv


def _has_frames(folder: Path) -> bool:
    with os.scandir(folder) as it:
        return any(e.is_file() and FRAME.match(e.name) and e.name.endswith(".png") and "_" not in e.name for e in it)


def find_images(root: Path) -> Path:
    """The folder holding ``000000.png`` ...: the root itself, else the first of ``IMAGE_DIRS`` that does."""
    for folder in (root, *(root / d for d in IMAGE_DIRS)):
        if folder.is_dir() and _has_frames(folder):
            return folder
    raise source_error(root, "no FaceSynthetics frames found (looked for 000000.png, 000000_seg.png, "
                       f"000000_ldmks.txt in the root and in {', '.join(d + '/' for d in IMAGE_DIRS)})",
                       f"give the folder that holds dataset_100000/, or {_FETCH}", DATA_CARD)


def find_label_pack(root: Path, images: Path, labels_root=None) -> LabelPack | None:
    """The FSErasing pack in ``labels_root`` (required there), else in the root or the frame folder;
    None when there is none. SourceError for half a pack (labels without anno_list.csv or back)."""
    if labels_root not in (None, ""):
        bases = [require_dir(labels_root, DATA_CARD, "the FSErasing label pack (labels_25/ and anno_list.csv)")]
    else:
        bases = [root] + ([images] if images != root else [])
    for base in bases:
        labels = next((base / d for d in LABEL_DIRS if (base / d).is_dir()), None)
        anno = base / ANNO_FILE if (base / ANNO_FILE).is_file() else None
        if labels and anno:
            return LabelPack(labels, anno)
        if labels or anno:
            problem = (f"has {labels.name}/ but no {ANNO_FILE}" if labels else
                       f"has {ANNO_FILE} but no {' or '.join(d + '/' for d in LABEL_DIRS)}")
            raise source_error(base, f"{problem} (half of the FSErasing label pack)", _PACK, DATA_CARD)
    if labels_root not in (None, ""):
        raise source_error(bases[0], f"holds neither {' nor '.join(d + '/' for d in LABEL_DIRS)} nor {ANNO_FILE}",
                           f"give the folder where you unzipped the FSErasing label pack, or {_PACK}", DATA_CARD)
    return None


def read_anno(path: Path) -> dict[int, int]:
    """``anno_list.csv`` -> {frame id: with_25 (0 or 1)}; SourceError naming the line that does not parse."""
    def bad(no, problem):
        return source_error(path, f"line {no} {problem}", f"fix that line or {_PACK}", DATA_CARD)

    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = [(no, row) for no, row in enumerate(csv.reader(f), 1) if any(c.strip() for c in row)]
    except (UnicodeDecodeError, OSError, csv.Error) as err:
        raise source_error(path, f"cannot be read as CSV text ({err})", _PACK, DATA_CARD) from None
    if not rows:
        raise source_error(path, "is empty (expected the header 'frame_id,with_25' and one row per frame)", _PACK,
                           DATA_CARD)
    no, header = rows[0]
    names = [c.strip().lower() for c in header]
    if "frame_id" not in names or "with_25" not in names:
        raise bad(no, f"{','.join(header)!r} is not a header with the columns frame_id and with_25")
    i_frame, i_with = names.index("frame_id"), names.index("with_25")
    out, first = {}, {}
    for no, row in rows[1:]:
        cells = [c.strip() for c in row]
        if len(cells) != len(names):
            raise bad(no, f"{','.join(row)!r} has {len(cells)} fields, the header {len(names)}")
        frame, with25 = cells[i_frame], cells[i_with]
        if not frame.isdigit() or with25 not in ("0", "1"):
            raise bad(no, f"{','.join(row)!r} does not parse (expected a frame number and with_25 0 or 1)")
        if int(frame) in out:
            raise bad(no, f"lists frame {int(frame)} again (first on line {first[int(frame)]})")
        out[int(frame)], first[int(frame)] = int(with25), no
    if not out:
        raise source_error(path, "lists no frames", _PACK, DATA_CARD)
    return out


def scan(root: Path, images: Path, rejects: Rejects) -> pd.DataFrame:
    """One row per complete frame (image, seg map and landmarks on disk): ``file`` (the image,
    relative to ``root``), ``frame`` (int), ``identity`` (the 6-digit frame id). A frame missing a
    part, or an image file whose name is not a frame's, is a reject."""
    parts: dict[int, set] = {}
    folder = images.relative_to(root).as_posix()
    rel = (lambda name: name) if folder == "." else (lambda name: f"{folder}/{name}")
    with os.scandir(images) as it:
        for e in it:
            if not e.is_file():
                continue
            m = FRAME.match(e.name)
            if m:
                parts.setdefault(int(m["frame"]), set()).add(m["kind"])
            elif os.path.splitext(e.name)[1].lower() in IMAGE_SUFFIXES:
                rejects.add(rel(e.name), "file name does not follow the FaceSynthetics scheme 000000.png / "
                            "000000_seg.png")
    rows = []
    for frame in sorted(parts):
        have, name = parts[frame], f"{frame:06d}"
        if ".png" not in have:
            rejects.add(rel(f"{name}.png"), f"image is missing (the frame has only {', '.join(sorted(have))})")
        elif "_seg.png" not in have:
            rejects.add(rel(f"{name}.png"), f"segmentation map is missing ({name}_seg.png)")
        elif "_ldmks.txt" not in have:
            rejects.add(rel(f"{name}.png"), f"landmarks file is missing ({name}_ldmks.txt)")
        else:
            rows.append({"file": rel(f"{name}.png"), "frame": frame, "identity": name})
    if not rows:
        raise source_error(images, f"holds no complete frame (image + _seg.png + _ldmks.txt; {rejects.counts()})",
                           _FETCH, DATA_CARD)
    df = pd.DataFrame(rows)
    for col, value in [("session", ""), ("emotion", ""), ("pose", ""), ("yaw", np.nan), ("source", "facesynthetics")]:
        df[col] = value
    return df


def read_landmarks(path) -> np.ndarray:
    """A ``_ldmks.txt`` -> (70, 2) float64 (68 iBUG points, then the 2 pupils); ``Reject`` with the
    reason for a missing file, a line that is not two finite numbers, or a count other than 70."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise Reject("landmarks file is missing") from None
    except (UnicodeDecodeError, OSError) as err:
        raise Reject(f"landmarks file is not text ({err})") from None
    pts = []
    for no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        fields = line.split()
        try:
            xy = [float(v) for v in fields]
        except ValueError:
            xy = []
        if len(xy) != 2 or not np.isfinite(xy).all():
            raise Reject(f"landmarks file does not parse (line {no} {line.strip()[:40]!r}: expected two numbers 'x y')")
        pts.append(xy)
    if len(pts) != N_POINTS:
        raise Reject(f"landmarks file has {len(pts)} points (expected {N_POINTS}: the 68 iBUG points and 2 pupils)")
    return np.asarray(pts, dtype=np.float64)


def read_labels(path, shape: tuple[int, int], what: str, top: int, ignore: int | None = None) -> np.ndarray:
    """A label map of ``shape`` with values 0..``top`` (and ``ignore``); ``Reject`` naming ``what``."""
    try:
        labels = read_label_image(path)
    except Reject as err:
        raise Reject(f"{what} is unusable ({err})") from None
    if labels.shape != tuple(shape):
        raise Reject(f"{what} size differs from the image ({labels.shape[1]}x{labels.shape[0]}, image "
                     f"{shape[1]}x{shape[0]})")
    bad = labels > top
    if ignore is not None:
        bad &= labels != ignore
    if bad.any():
        allowed = f"0..{top}" + (f" and {ignore}" if ignore is not None else "")
        raise Reject(f"{what} has values outside {allowed} (found {np.unique(labels[bad])[:5].tolist()})")
    return labels


def align(image: np.ndarray, landmarks68: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(crop, 2x3 matrix): the 5 points of ``landmarks68`` onto the ArcFace template at ``size``,
    warped exactly as ``lib.faces.align.align_face``; ``Reject`` when the points are degenerate."""
    import cv2

    from lib.faces.align import estimate_transform, points5_from_68

    try:
        M = estimate_transform(points5_from_68(landmarks68), size)
    except ValueError as err:
        raise Reject(f"alignment failed ({err})") from None
    crop = cv2.warpAffine(image, M, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return crop, M


def _where(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def convert(root, out, *, labels_root=None, require_25: bool = True, size: int = 112, test_fraction: float = 0.1,
            seed: int = 0, max_images=None, progress: bool = True, chunk: int = 256) -> Path:
    """Convert FaceSynthetics at ``root`` (and the FSErasing pack, if found) into the FaceSet ``out``."""
    root = require_dir(root, DATA_CARD, "the FaceSynthetics folder holding dataset_100000/")
    max_images = positive_count(max_images, "max_images")
    if not 0 <= float(test_fraction) < 1:
        raise ValueError(f"test_fraction={test_fraction!r} must be in [0, 1)")
    images = find_images(root)
    pack = find_label_pack(root, images, labels_root)
    anno = read_anno(pack.anno) if pack else {}
    rejects = Rejects()
    df = scan(root, images, rejects)
    df["split"] = split_by_group(df["identity"], {"train": 1 - test_fraction, "test": test_fraction}
                                 if test_fraction else {"train": 1.0}, seed)
    if pack:
        df["with_25"] = [anno.get(f, 0) for f in df["frame"]]
        if require_25:
            for rel, frame in df.loc[df["with_25"] == 0, ["file", "frame"]].itertuples(index=False):
                rejects.add(rel, "no 25-class label (anno_list.csv with_25 = 0)" if frame in anno else
                            "no 25-class label (frame not listed in anno_list.csv)")
            df = df[df["with_25"] == 1]
            if df.empty:
                raise source_error(pack.anno, "marks none of the frames found with with_25 = 1 "
                                   f"({rejects.counts()})", "check that the label pack belongs to this "
                                   "FaceSynthetics copy, or convert with require_25=False", DATA_CARD)
    if max_images and max_images < len(df):
        df = df.iloc[np.sort(numpy_rng(seed, "subset", "images").choice(len(df), max_images, replace=False))]
    df = df.reset_index(drop=True)
    arrays = ("landmarks68", "parsing19") + (("parsing",) if pack else ())

    def load(row: dict) -> Sample:
        image = read_image(root / row["file"])
        shape = image.shape[:2]
        name = f"{row['frame']:06d}"
        lm = read_landmarks(images / f"{name}_ldmks.txt")
        seg = read_labels(images / f"{name}_seg.png", shape, "segmentation map", len(CLASSES19) - 1, IGNORE)
        out = {}
        if pack:
            out["parsing"] = (read_labels(pack.labels / f"{name}_seg.png", shape, "25-class label",
                                          len(CLASSES25) - 1) if row["with_25"] else np.zeros(shape, np.uint8))
        crop, M = align(image, lm[:68], size)
        out["landmarks68"] = transform_points(lm[:68], M)
        out["parsing19"] = warp_labels(seg, M, size, fill=0)
        if pack:
            out["parsing"] = warp_labels(out["parsing"], M, size, fill=0)
        return Sample(crop, arrays=out, meta={"aligned_by": "landmarks", "det_score": np.nan})

    def summarise(meta: pd.DataFrame) -> dict:
        if not pack:
            return {}
        n25 = int((meta["with_25"] == 1).sum())
        return {"label_pack": {"frames_with_25": n25, "frames_without_25": int(len(meta) - n25)}}

    card = {"name": "facesynthetics", "kind": "real", "version": VERSION, "seed": seed, "source": str(root),
            "data_card": f"data_cards/{DATA_CARD}.md",
            "parameters": {"labels_root": str(labels_root) if labels_root else None, "require_25": require_25,
                           "test_fraction": test_fraction, "max_images": max_images,
                           "align": {"method": "landmarks", "points": "points5_from_68 (eye centres, nose tip 30, "
                                     "mouth corners 48, 54)", "template": "arcface", "size": size},
                           "split_by": "frame (every frame is its own synthetic identity), seeded fraction",
                           "layout": {"images": _where(images, root) if images != root else ".",
                                      "labels_25": _where(pack.labels, root) if pack else None,
                                      "anno_list": _where(pack.anno, root) if pack else None}},
            "classes": {"parsing19": list(CLASSES19), "parsing19_ignore": IGNORE,
                        **({"parsing": list(CLASSES25)} if pack else {})}}
    return _convert(df, out, load, size=size, card=card, arrays=arrays, rejects=rejects, summarise=summarise,
                    progress=progress, desc="facesynthetics", chunk=chunk)

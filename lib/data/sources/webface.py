"""CASIA-WebFace -> FaceSet (the low-resolution paper's training set: 494,414 images of
10,575 identities).

Two layouts (data_cards/webface.md):
- a folder per identity: ``<root>/0000045/001.jpg`` (the original 250x250 photos, or an
  aligned 112x112 copy such as the low-res project's ``casia-112x112``);
- a list file (the low-res project's ``train.txt``): one ``<relative path> <label>`` per line,
  paths relative to ``root``. Every path of one folder must carry one label.

``align="auto"`` looks at the first readable image: 112x112 (``size``) means pre-aligned
("none": taken as is; another size is a reject), anything else is detected and aligned
(YuNet, 5 points, ArcFace template). Conversion streams: memory is bounded by the chunk,
not by the 494k images (benchmark: ``python -m lib.speed.sources``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from lib.data.sources.common import (Aligner, IMAGE_SUFFIXES, Reject, Rejects, Sample, auto_align_method,
                                     convert as _convert, read_image, require_dir, source_error, split_by_group)

VERSION = "1"
ENV = "FACEAUG_WEBFACE"
DATA_CARD = "webface"
DEFAULTS = {"list_file": None, "align": "auto", "size": 112, "detector": "yunet", "val_fraction": 0.0,
            "max_identities": None, "seed": 0}


def scan_folders(root: Path, rejects: Rejects) -> pd.DataFrame:
    """One row per image of ``root/<identity>/<image>``; an empty identity folder is a reject."""
    files, idents = [], []
    with os.scandir(root) as it:
        folders = sorted(e.name for e in it if e.is_dir())
    for name in folders:
        with os.scandir(root / name) as it:
            found = sorted(e.name for e in it if e.is_file() and os.path.splitext(e.name)[1].lower() in IMAGE_SUFFIXES)
        if not found:
            rejects.add(f"{name}/", "empty identity folder (no image files)")
        files += [f"{name}/{f}" for f in found]
        idents += [name] * len(found)
    if not files:
        raise source_error(root, f"no identity folders with images found ({len(folders)} folders, all empty)"
                           if folders else "no identity folders found",
                           "point the root at the folder that holds 0000045/, 0000099/, ... or give list_file",
                           DATA_CARD)
    return pd.DataFrame({"file": files, "identity": idents})


def read_list(list_file: Path) -> pd.DataFrame:
    """Parse ``<relative path> <label>`` lines; SourceError naming the line that does not parse."""
    files, labels = [], []
    try:
        lines = list_file.read_text().splitlines()
    except UnicodeDecodeError as err:
        raise source_error(list_file, f"is not a text file ({err})", "give the train.txt list file", DATA_CARD) from None
    for no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
            raise source_error(list_file, f"line {no} {line.strip()!r} is not '<relative/path.jpg> <integer label>'",
                               "fix or regenerate the list file", DATA_CARD)
        files.append(parts[0][2:] if parts[0].startswith("./") else parts[0])
        labels.append(int(parts[1]))
    if not files:
        raise source_error(list_file, "lists no images", "give the train.txt list file", DATA_CARD)
    df = pd.DataFrame({"file": files, "label": labels})
    df["identity"] = [f.split("/")[0] if "/" in f else str(lb) for f, lb in zip(files, labels)]
    per = df.groupby("identity")["label"].nunique()
    if (per > 1).any():
        who = per[per > 1].index[0]
        raise source_error(list_file, f"folder {who!r} carries {per[who]} different labels",
                           "one label per identity folder: fix the list file", DATA_CARD)
    return df


def convert(root, out, *, list_file=None, align: str = "auto", size: int = 112, detector: str = "yunet",
            val_fraction: float = 0.0, max_identities=None, seed: int = 0, progress: bool = True,
            chunk: int = 256) -> Path:
    """Convert CASIA-WebFace at ``root`` (folders, or ``list_file``) into the FaceSet ``out``."""
    root = require_dir(root, DATA_CARD, "the CASIA-WebFace image folder")
    rejects = Rejects()
    if list_file:
        lf = Path(list_file).expanduser()
        lf = lf if lf.is_absolute() or lf.is_file() else root / lf
        if not lf.is_file():
            raise source_error(lf, "list file does not exist", "give the path of train.txt", DATA_CARD)
        df = read_list(lf)
    else:
        df = scan_folders(root, rejects)
    if max_identities:
        keep = sorted(df["identity"].unique())[: int(max_identities)]
        df = df[df["identity"].isin(keep)].reset_index(drop=True)
    df["split"] = split_by_group(df["identity"], {"train": 1 - val_fraction, "val": val_fraction}
                                 if val_fraction else {"train": 1.0}, seed)
    for col, value in [("session", ""), ("emotion", ""), ("pose", ""), ("yaw", np.nan), ("source", "webface")]:
        df[col] = value
    method = auto_align_method(root, df["file"].tolist(), size) if align == "auto" else align
    aligner = Aligner(method, size, detector=detector)

    def load(row: dict) -> Sample:
        crop, info = aligner(read_image(root / row["file"]))
        return Sample(crop, meta=info)

    card = {"name": "webface", "kind": "real", "version": VERSION, "seed": seed, "source": str(root),
            "data_card": f"data_cards/{DATA_CARD}.md",
            "parameters": {"list_file": str(list_file) if list_file else None, "align": aligner.describe(),
                           "align_requested": align, "val_fraction": val_fraction, "max_identities": max_identities}}
    return _convert(df, out, load, size=size, card=card, rejects=rejects, progress=progress, desc="webface",
                    chunk=chunk)

"""What every real-data adapter shares: clear errors, image reading, alignment, rejects,
group splits and the streaming conversion into a FaceSet.

Two kinds of problems, kept apart:
- ``SourceError``: the data set as a whole is unusable (missing root, wrong layout, an
  annotation file that does not parse). Raised before anything is written.
- ``Reject``: one file is unusable (corrupt, truncated, no face found, a name that does not
  parse). The file is listed in the FaceSet's ``rejects.csv`` with the reason and the
  conversion goes on; never silently dropped.

A conversion writes through ``FaceSetWriter`` (temp dir, renamed on success), so an error
or Ctrl-C never leaves a half-written FaceSet.
"""

from __future__ import annotations

import csv
import io as _io
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from lib.data.faceset import REQUIRED_COLUMNS, SPLITS, FaceSetWriter
from lib.seeding import numpy_rng

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp")


class SourceError(ValueError):
    """A real data set is missing, laid out differently than documented, or mis-annotated."""


class Reject(Exception):
    """One file cannot be used; the message is the reason written to rejects.csv."""


def source_error(path, problem: str, todo: str, card: str) -> SourceError:
    """``<path>: <problem>. To fix: <todo>; see data_cards/<card>.md.``"""
    return SourceError(f"{path}: {problem}. To fix: {todo}; see data_cards/{card}.md.")


def require_dir(path, card: str, what: str) -> Path:
    """``path`` as a Path if it is a directory, else a SourceError naming what was expected."""
    if path is None or str(path).strip() == "":
        raise source_error("(no path)", f"no path was given for {what}",
                           "set it in notebooks/params/full.yaml or the environment variable named there", card)
    path = Path(path).expanduser()
    if not path.is_dir():
        problem = "is a file, not a directory" if path.exists() else "does not exist"
        raise source_error(path, f"{problem} (expected {what})", "give the directory the data card describes", card)
    return path


def find_first(root: Path, candidates: Iterable[str], card: str, what: str, *, kind: str = "file") -> Path:
    """The first of ``candidates`` (paths relative to root) that exists; SourceError listing them if none."""
    candidates = list(candidates)
    for rel in candidates:
        p = root / rel
        if (p.is_file() if kind == "file" else p.is_dir()):
            return p
    raise source_error(root, f"no {what} found (looked for {', '.join(candidates)})",
                       "check that the data set is unpacked with the layout the data card shows", card)


def image_files(folder: Path) -> list[Path]:
    """Image files directly in ``folder`` (case-insensitive suffix), sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def read_image(path) -> np.ndarray:
    """Decode an image file to uint8 RGB (H, W, 3), whatever its storage.

    Grayscale and palette images are expanded, alpha is dropped, 16-bit and 32-bit images are
    scaled to 8 bits, EXIF orientation is applied. Raises ``Reject`` (with the reason) for a
    missing, empty, corrupt or truncated file.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as img:
            img.load()  # decodes fully: a truncated file raises here, not later
            img = ImageOps.exif_transpose(img)
            if img.mode in ("I;16", "I;16B", "I;16L", "I"):
                arr = np.asarray(img, dtype=np.float64)
                top = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
                arr = np.clip(np.rint(arr * (255.0 / top)), 0, 255).astype(np.uint8)
                return np.ascontiguousarray(np.repeat(arr[..., None], 3, axis=-1))
            if img.mode == "F":
                raise Reject(f"floating-point image (mode F) is not a photo; convert it to 8-bit")
            return np.ascontiguousarray(np.asarray(img.convert("RGB"), dtype=np.uint8))
    except FileNotFoundError:
        raise Reject("file is missing") from None
    except UnidentifiedImageError:
        raise Reject("not a readable image (corrupt, empty or unknown format)") from None
    except (OSError, SyntaxError, ValueError) as err:  # PIL: truncated / broken data
        raise Reject(f"image data is corrupt or truncated ({err})") from None


def read_label_image(path) -> np.ndarray:
    """Decode a label map (a segmentation PNG of class ids) to uint8 (H, W); ``Reject`` if it is
    missing, corrupt, or a colour image (labels must be one channel of integers)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            if img.mode not in ("L", "P", "I", "I;16"):
                raise Reject(f"label map is mode {img.mode}, expected one channel of class ids (L/P)")
            arr = np.asarray(img)
    except FileNotFoundError:
        raise Reject("label file is missing") from None
    except UnidentifiedImageError:
        raise Reject("label file is not a readable image") from None
    except (OSError, SyntaxError, ValueError) as err:
        raise Reject(f"label file is corrupt or truncated ({err})") from None
    if arr.min() < 0 or arr.max() > 255:
        raise Reject(f"label values span {arr.min()}..{arr.max()}, expected 0..255")
    return arr.astype(np.uint8)


def warp_labels(labels: np.ndarray, M: np.ndarray, size: int, fill: int = 0) -> np.ndarray:
    """Warp a label map with the 2x3 matrix ``M`` (nearest neighbour, border = ``fill``)."""
    import cv2

    return cv2.warpAffine(labels, M, (size, size), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=int(fill))


def transform_points(points: np.ndarray, M: np.ndarray) -> np.ndarray:
    """Apply the 2x3 affine ``M`` to (K, 2) points."""
    pts = np.asarray(points, dtype=np.float64)
    return (pts @ M[:, :2].T + M[:, 2]).astype(np.float32)


def center_square(image: np.ndarray, size: int) -> np.ndarray:
    """The central square of ``image`` resized to ``size`` x ``size`` (INTER_AREA down, LINEAR up)."""
    import cv2

    h, w = image.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    crop = image[top:top + s, left:left + s]
    interp = cv2.INTER_AREA if s > size else cv2.INTER_LINEAR
    return np.ascontiguousarray(cv2.resize(crop, (size, size), interpolation=interp))


ALIGN_METHODS = ("detect", "resize", "none")
# Measured here (OpenCV 4.14, YuNet 2023mar int8): about 1 detector instance in 10 reports a face of
# score ~0.87 covering the whole image for ANY input of at most 32 x 32 pixels (flat noise included),
# none for larger inputs; a sound instance finds no face at that size either. So such tiny images
# (SCface distance 1, QMUL-SurvFace) never go to the detector: they take the fallback or are rejected.
MIN_DETECT_SIDE = 33


def positive_count(value, name: str) -> int | None:
    """``value`` as a positive int (subset sizes such as ``max_images``), or None; ValueError otherwise."""
    if value is None:
        return None
    try:
        ok = not isinstance(value, (bool, str)) and float(value).is_integer() and int(value) >= 1
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"{name}={value!r} must be a positive integer or None")
    return int(value)


def auto_align_method(root: Path, files, size: int, probe: int = 50) -> str:
    """For ``align="auto"``: "none" when the first readable of ``files`` is already ``size`` x ``size``
    (a pre-aligned set), else "detect"."""
    for rel in list(files)[:probe]:
        try:
            h, w = read_image(root / rel).shape[:2]
        except Reject:
            continue
        return "none" if (h, w) == (size, size) else "detect"
    return "detect"


class Aligner:
    """Bring one photo to a ``size`` x ``size`` face crop.

    Args:
        method: "detect" (detector -> 5 points -> similarity transform onto the ArcFace
            template, lib.faces.align), "resize" (central square, resized: for crops that are
            already aligned, e.g. CelebA-aligned or MTCNN-aligned sets), or "none" (the image
            must already be ``size`` x ``size``).
        size: output side in pixels (the template is scaled from 112).
        detector: lib.faces.detect name for "detect" (YuNet by default).
        pick: which detection when there are several: "score" (best first) or "center" (the
            one whose box centre is nearest the image centre, for LFW-style centred photos).
        fallback: None (no face -> Reject) or "resize" (no face -> central square, recorded
            as ``aligned_by = "center_fallback"``; for protocols that must keep every image).
    Returns from ``__call__``: (crop uint8, info dict with aligned_by and det_score).
    """

    def __init__(self, method: str = "detect", size: int = 112, *, detector: str = "yunet",
                 pick: str = "score", fallback: str | None = None):
        if method not in ALIGN_METHODS:
            raise ValueError(f"align method {method!r}; choose from {ALIGN_METHODS}")
        if method == "detect" and detector != "yunet":
            raise ValueError(f"detector {detector!r} gives no 5 alignment points; adapters align with 'yunet' "
                             "(dlib's HOG detector needs the 68-point predictor: lib.faces.pipeline.detect_and_align)")
        if pick not in ("score", "center") or fallback not in (None, "resize"):
            raise ValueError(f"pick={pick!r} must be 'score' or 'center'; fallback={fallback!r} None or 'resize'")
        self.method, self.size, self.pick, self.fallback = method, int(size), pick, fallback
        self.detector_name = detector
        self._detector = None

    def describe(self) -> dict:
        return {"method": self.method, "size": self.size, "detector": self.detector_name if self.method == "detect"
                else None, "pick": self.pick, "fallback": self.fallback}

    def _detect(self, image):
        if self._detector is None:
            from lib.faces.detect import create_detector

            self._detector = create_detector(self.detector_name)
        dets = [d for d in self._detector(image) if d.points5 is not None]
        if not dets:
            return None
        if self.pick == "center":
            h, w = image.shape[:2]
            dets.sort(key=lambda d: np.hypot(d.box[0] + d.box[2] / 2 - w / 2, d.box[1] + d.box[3] / 2 - h / 2))
        return dets[0]

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, dict]:
        from lib.faces.align import align_face

        if self.method == "none":
            if image.shape[:2] != (self.size, self.size):
                raise Reject(f"image is {image.shape[1]}x{image.shape[0]}, expected a pre-aligned "
                             f"{self.size}x{self.size} crop (use align='resize' or 'detect')")
            return image, {"aligned_by": "given", "det_score": np.nan}
        if self.method == "resize":
            return center_square(image, self.size), {"aligned_by": "resize", "det_score": np.nan}
        h, w = image.shape[:2]
        if min(h, w) < 8:
            raise Reject(f"image is only {w}x{h} pixels: too small to detect a face")
        if max(h, w) < MIN_DETECT_SIDE:
            if self.fallback == "resize":
                return center_square(image, self.size), {"aligned_by": "center_fallback", "det_score": np.nan}
            raise Reject(f"image is only {w}x{h} pixels: too small for {self.detector_name} to find a face "
                         f"(at most {MIN_DETECT_SIDE - 1} px a side it reports phantom faces)")
        det = self._detect(image)
        if det is None:
            if self.fallback == "resize":
                return center_square(image, self.size), {"aligned_by": "center_fallback", "det_score": np.nan}
            raise Reject(f"no face found by {self.detector_name}")
        try:
            crop = align_face(image, det.points5, self.size)
        except ValueError as err:
            raise Reject(f"alignment failed: {err}") from None
        return crop, {"aligned_by": self.detector_name, "det_score": round(float(det.score), 4)}


@dataclass
class Rejects:
    """Files left out of a conversion, each with its reason."""

    rows: list = field(default_factory=list)

    def add(self, file, reason: str) -> None:
        self.rows.append((str(file), str(reason)))

    def __len__(self) -> int:
        return len(self.rows)

    def counts(self) -> dict[str, int]:
        """Reasons with their counts. Detail after ':' or ' (' is folded so similar reasons group:
        adapters write reasons as "<kind>: <detail>" or "<kind> (<detail>)"."""
        short = [r.split(" (")[0].split(":")[0] for _, r in self.rows]
        return dict(sorted(Counter(short).items(), key=lambda kv: (-kv[1], kv[0])))

    def to_csv(self) -> str:
        buf = _io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["file", "reason"])
        w.writerows(self.rows)
        return buf.getvalue()


def split_by_group(groups, fractions: Mapping[str, float], seed: int) -> np.ndarray:
    """Assign each row a split so that every group (person) lies in exactly one split.

    Groups are shuffled with ``numpy_rng(seed, "split")`` and cut by ``fractions`` (e.g.
    {"train": 0.75, "test": 0.25}); a non-empty fraction always gets at least one group.
    """
    groups = np.asarray(groups).astype(str)
    bad = sorted(set(fractions) - set(SPLITS))
    total = sum(fractions.values())
    if bad or not fractions or min(fractions.values()) < 0 or not np.isclose(total, 1.0):
        raise ValueError(f"split fractions {dict(fractions)} must use {SPLITS} and sum to 1")
    unique = np.array(sorted(set(groups)))
    order = unique[numpy_rng(seed, "split").permutation(len(unique))]
    names = [s for s in SPLITS if fractions.get(s, 0) > 0]
    cuts = np.floor(np.cumsum([fractions[s] for s in names]) * len(order) + 1e-9).astype(int)
    cuts[-1] = len(order)
    for i in range(len(cuts) - 1):  # every named split gets a group if there are enough
        cuts[i] = min(max(cuts[i], (cuts[i - 1] if i else 0) + 1), len(order) - (len(names) - 1 - i))
    assign, start = {}, 0
    for name, end in zip(names, cuts):
        assign.update({g: name for g in order[start:end]})
        start = end
    return np.array([assign[g] for g in groups], dtype=object)


@dataclass
class Sample:
    """What an adapter's loader returns for one record."""

    image: np.ndarray  # uint8 (size, size, 3)
    arrays: dict = field(default_factory=dict)  # per-image optional arrays (lib.data.faceset.ARRAYS)
    meta: dict = field(default_factory=dict)  # extra meta columns (e.g. aligned_by, det_score)


def convert(records: pd.DataFrame, out, load: Callable[[dict], Sample], *, size: int, card: Mapping,
            arrays: Iterable[str] = (), rejects: Rejects | None = None, attach: Mapping[str, str | Callable[[pd.DataFrame], str]] | None = None,
            summarise: Callable[[pd.DataFrame], dict] | None = None, chunk: int = 256, progress: bool = True,
            desc: str = "convert") -> Path:
    """Stream ``records`` through ``load`` into the FaceSet ``out``; bounded memory.

    Args:
        records: one row per source file, with ``REQUIRED_COLUMNS`` (but "index"), a ``file``
            column (path relative to the data set root, kept in meta) and any extra columns.
        load: row (a dict) -> Sample; raises ``Reject`` for a file that cannot be used.
        size: the side of every output image.
        card: the FaceSet card (lib.data.faceset.FaceSetWriter); reject counts are added.
        arrays: names of the optional arrays every Sample provides.
        rejects: rejects found before loading (e.g. names that did not parse); extended here.
        attach: extra text files to store in the FaceSet (e.g. {"pairs.csv": ...}); a value may be a
            function of the written rows' meta (for files that need the final row indices).
        summarise: meta of the written rows -> entries added to the card (e.g. statistics
            over the converted images), before the FaceSet becomes visible.
        chunk: images per write; memory is O(chunk), not O(N).
    Returns the FaceSet directory. Raises SourceError when every record was rejected.
    """
    from tqdm import tqdm

    missing = [c for c in (*REQUIRED_COLUMNS[1:], "file") if c not in records.columns]
    if missing:
        raise ValueError(f"convert: records lack the columns {missing}")
    rejects = rejects if rejects is not None else Rejects()
    arrays, out = sorted(arrays), Path(out)
    card = dict(card)
    if len(records) == 0:
        raise source_error(card.get("source", out), "no usable files were found" +
                           (f" ({len(rejects)} rejected: {rejects.counts()})" if len(rejects) else ""),
                           "check the path and the layout", _card_name(card))
    records = records.reset_index(drop=True)
    writer = FaceSetWriter(out, n=len(records), image_size=(size, size), arrays=arrays, card=card, allow_fewer=True)
    buf_img, buf_meta, buf_arr = [], [], {a: [] for a in arrays}

    def flush():
        if buf_img:
            writer.append(np.stack(buf_img), pd.DataFrame(buf_meta), {a: np.stack(v) for a, v in buf_arr.items()})
            buf_img.clear(), buf_meta.clear(), [v.clear() for v in buf_arr.values()]

    bar = tqdm(total=len(records), desc=desc, disable=not progress, unit="img")
    try:
        with writer:
            for row in _rows(records, chunk):
                bar.update(1)
                try:
                    sample = load(row)
                except Reject as err:
                    rejects.add(row["file"], str(err))
                    continue
                if sample.image.shape != (size, size, 3) or sample.image.dtype != np.uint8:
                    raise ValueError(f"{row['file']}: loader returned {sample.image.dtype} {sample.image.shape}, "
                                     f"expected uint8 ({size}, {size}, 3) (an adapter bug)")
                buf_img.append(sample.image)
                buf_meta.append({**row, **sample.meta})
                for a in arrays:
                    buf_arr[a].append(sample.arrays[a])
                if len(buf_img) >= chunk:
                    flush()
            flush()
            if writer.count == 0:
                raise source_error(card.get("source", out), f"all {len(records)} files were rejected "
                                   f"({rejects.counts()})", "check the data and the alignment settings",
                                   _card_name(card))
            written = writer.written_meta()
            if summarise is not None:
                writer.card.update(summarise(written))
            writer.card["rejects"] = {"count": len(rejects), "reasons": rejects.counts(), "file": "rejects.csv"}
            writer.attach("rejects.csv", rejects.to_csv())
            for name, text in (attach or {}).items():
                writer.attach(name, text(written) if callable(text) else text)
    finally:
        bar.close()
    return out


def _rows(records: pd.DataFrame, chunk: int):
    """Rows as plain dicts, materialised ``chunk`` at a time (bounded memory for 500k rows)."""
    for start in range(0, len(records), chunk):
        yield from records.iloc[start:start + chunk].to_dict("records")


def _card_name(card: Mapping) -> str:
    return Path(str(card.get("data_card", card.get("name", "TEMPLATE")))).stem


def read_rejects(faceset_dir) -> pd.DataFrame:
    """The rejects.csv of a converted FaceSet (file, reason); empty when there were none."""
    file = Path(faceset_dir) / "rejects.csv"
    if not file.is_file():
        return pd.DataFrame(columns=["file", "reason"])
    return pd.read_csv(file, dtype=str, keep_default_na=False)

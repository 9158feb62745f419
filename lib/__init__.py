"""FaceAug Companion: the library behind the notebooks.

Importing ``lib`` is cheap on purpose: it imports neither torch nor mediapipe nor cv2.
Heavy modules are imported by the submodules that need them (``lib.faces``,
``lib.recognition``...), so ``make test`` and ``python -m lib.paper`` start fast.
"""

__version__ = "0.1.0"

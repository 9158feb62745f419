"""Person/background segmentation: MediaPipe selfie segmentation (bundled tflite).

``PersonSegmenter()(image) -> (H, W) float32 in [0, 1]`` (probability of "person").
The face engine uses it to tell hair from background in the source photo.
"""

from __future__ import annotations

import numpy as np

from lib.env_check import require
from lib.faces.assets import asset_path
from lib.faces.detect import check_image
from lib.faces.landmarks import _Closable


class PersonSegmenter(_Closable):
    """Args: model_selection 0 (general, 256x256) or 1 (landscape)."""

    def __init__(self, model_selection: int = 0):
        mp = require("mediapipe")
        asset_path("selfie_segmentation")
        self._solution = mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=model_selection)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        return self._solution.process(check_image(image)).segmentation_mask.astype(np.float32)


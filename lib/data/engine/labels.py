"""The 25 FSErasing face-parsing classes (docs/fserasing.md) and how the engine paints them.

Class ids are exactly the paper's. The engine paints them once per head in the NEUTRAL
CANONICAL FRONTAL layout of its mesh; every rendered pixel looks its class up through
the mesh, so labels stay exact under expression and pose (hidden regions are hidden).

The 9 skin sub-regions (1-9) are not published; ours, from mesh geometry (canonical units,
subject's right = negative x):
- forehead (5 right, 7 middle, 6 left): skin above the top of the brows; "middle" between
  the inner brow ends (vertices 107 / 336).
- around eye (8 right, 9 left): the eye contour scaled x1.9 horizontally and x3.2
  vertically about its centre, below the brows.
- cheek (1 right, 2 left): remaining skin between the brows and the mouth-corner line
  (61 / 291), split at the face midline x = 0.
- chin (3 right, 4 left): skin below the mouth-corner line, split at x = 0.
Features on top: nose 10 (nose outline polygon), eyes 11/12, brows 13/14, upper lip 18,
lower lip 19, mouth interior 17 (where the mouth opens). Hair 21 and neck 20 come from
person segmentation of the source outside the face; background 0. The engine cannot
produce ears 15/16, clothing 22, glasses 23 or headwear 24 (stated in the data card).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lib.data.engine import topology as T

CLASSES = ("background", "right_cheek", "left_cheek", "right_chin", "left_chin", "right_forehead",
           "left_forehead", "middle_forehead", "around_right_eye", "around_left_eye", "nose", "right_eye",
           "left_eye", "right_brow", "left_brow", "right_ear", "left_ear", "mouth", "upper_lip", "lower_lip",
           "neck", "hair", "clothing", "glasses", "headwear")
ID = {name: i for i, name in enumerate(CLASSES)}
NOT_PRODUCED = ("right_ear", "left_ear", "clothing", "glasses", "headwear")
# A qualitative palette for overlays (index = class id).
PALETTE = np.array([[0, 0, 0], [0, 200, 80], [0, 120, 60], [90, 160, 255], [40, 40, 200], [255, 230, 0],
                    [255, 60, 120], [255, 140, 0], [160, 255, 200], [100, 190, 170], [255, 0, 255],
                    [0, 255, 255], [0, 150, 170], [120, 60, 20], [200, 120, 60], [128, 128, 0],
                    [128, 0, 128], [40, 0, 70], [255, 40, 40], [150, 0, 0], [230, 190, 160], [90, 60, 30],
                    [70, 70, 160], [220, 220, 220], [250, 250, 120]], np.uint8)


def wild_masks(parsing) -> tuple[np.ndarray, np.ndarray]:
    """(background, hair) bool masks of parsing maps: the pixels lib.data.degrade.wild recolours."""
    parsing = np.asarray(parsing)
    return parsing == ID["background"], parsing == ID["hair"]


@dataclass(frozen=True)
class LabelRaster:
    image: np.ndarray  # (H, W) uint8 class ids in canonical frontal layout
    x0: float
    y0: float
    scale: float  # pixels per canonical unit

    def lookup(self, cx: np.ndarray, cy: np.ndarray) -> np.ndarray:
        r = np.clip(np.round((cy - self.y0) * self.scale).astype(int), 0, self.image.shape[0] - 1)
        c = np.clip(np.round((cx - self.x0) * self.scale).astype(int), 0, self.image.shape[1] - 1)
        return self.image[r, c]


def _scaled(C, chain, sx, sy):
    p = C[chain, :2]
    c = p.mean(0)
    return c + (p - c) * [sx, sy]


def paint(C: np.ndarray, scale: float = 250.0, x0: float = -1.0, y0: float = -1.3,
          size: tuple[int, int] = (650, 500)) -> LabelRaster:
    """Paint the face classes of neutral canonical mesh ``C`` (478, 3)."""
    import cv2

    h, w = size

    def px(points):
        return np.round((points - [x0, y0]) * scale).astype(np.int32)

    def poly(chain):
        return px(C[chain, :2])

    lab = np.zeros((h, w), np.uint8)
    oval = np.zeros_like(lab)
    cv2.fillPoly(oval, [poly(T.OVAL)], 1)
    oval = cv2.dilate(oval, np.ones((15, 15), np.uint8))  # cover pixels on the mesh edge
    yy, xx = np.mgrid[0:h, 0:w]
    X, Y = xx / scale + x0, yy / scale + y0
    y_brow = C[T.BROW_R_UP + T.BROW_L_UP, 1].mean()
    y_mouth = (C[61, 1] + C[291, 1]) / 2
    x_mid = (abs(C[107, 0]) + abs(C[336, 0])) / 2
    right = X < 0  # subject's right is image left
    skin = np.where(Y < y_brow, np.where(X < -x_mid, ID["right_forehead"],
                                         np.where(X > x_mid, ID["left_forehead"], ID["middle_forehead"])),
                    np.where(Y > y_mouth, np.where(right, ID["right_chin"], ID["left_chin"]),
                             np.where(right, ID["right_cheek"], ID["left_cheek"])))
    lab[oval > 0] = skin[oval > 0]
    around = np.zeros_like(lab)
    for chain, cls in ((T.EYE_R_UP + T.EYE_R_LO[::-1], "around_right_eye"),
                       (T.EYE_L_UP + T.EYE_L_LO[::-1], "around_left_eye")):
        cv2.fillPoly(around, [px(_scaled(C, chain, 1.9, 3.2))], ID[cls])
    around[Y < y_brow] = 0
    lab = np.where((around > 0) & (oval > 0), around, lab)
    for chain, cls in ((T.NOSE, "nose"), (T.BROW_R_UP + T.BROW_R_LO[::-1], "right_brow"),
                       (T.BROW_L_UP + T.BROW_L_LO[::-1], "left_brow"),
                       (T.EYE_R_UP + T.EYE_R_LO[::-1], "right_eye"), (T.EYE_L_UP + T.EYE_L_LO[::-1], "left_eye"),
                       (T.LIP_OUT_UP + T.LIP_IN_UP[::-1], "upper_lip"),
                       (T.LIP_OUT_LO + T.LIP_IN_LO[::-1], "lower_lip")):
        cv2.fillPoly(lab, [poly(chain)], ID[cls])
    return LabelRaster(lab, x0, y0, scale)

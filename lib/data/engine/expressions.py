"""The 7 KDEF emotions as landmark deformations of the canonical mesh.

Rule-based: each emotion moves a few control vertices (mouth corners, jaw, lip, brows,
eyelids) with a smooth Gaussian fall-off, mirrored left/right, masked so that upper and
lower lips, lids and brows move independently. Displacements are in canonical units
(face width = 1). KDEF codes: AF afraid, AN angry, DI disgusted, HA happy, NE neutral,
SA sad, SU surprised.
"""

from __future__ import annotations

import numpy as np

from lib.data.engine import topology as T

EMOTIONS = ("afraid", "angry", "disgusted", "happy", "neutral", "sad", "surprised")
KDEF_CODE = {"afraid": "AF", "angry": "AN", "disgusted": "DI", "happy": "HA", "neutral": "NE",
             "sad": "SA", "surprised": "SU"}


def _gauss(C, centre, sigma):
    return np.exp(-((C - centre) ** 2).sum(1) / (2 * sigma * sigma))


def _line_y(C, chain):
    """y of the polyline ``chain`` interpolated at every vertex's x."""
    xs, ys = C[chain, 0], C[chain, 1]
    o = np.argsort(xs)
    return np.interp(C[:, 0], xs[o], ys[o])


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


class _Masks:
    """Soft vertex masks of a neutral mesh: lower lip/jaw, above/below the lids, brows."""

    def __init__(self, C):
        lower = _sigmoid((C[:, 1] - _line_y(C, T.LIP_IN_UP)) / 0.006)
        lower[T.LIP_IN_LO + T.LIP_OUT_LO[1:-1]] = 1
        lower[T.LIP_IN_UP + T.LIP_OUT_UP] = 0
        lower[[61, 291, 78, 308]] = 0.5
        self.lower, self.upper = lower, 1 - lower
        right = C[:, 0] < 0
        y_lid = np.where(right, _line_y(C, T.EYE_R_UP), _line_y(C, T.EYE_L_UP))
        y_brow_lo = np.where(right, _line_y(C, T.BROW_R_LO), _line_y(C, T.BROW_L_LO))
        self.brow = np.clip((y_lid - 0.01 - C[:, 1]) / np.maximum(y_lid - 0.01 - y_brow_lo, 1e-3), 0, 1)
        self.above_lid = _sigmoid((y_lid + 0.004 - C[:, 1]) / 0.004)
        y_lower_lid = np.where(right, _line_y(C, T.EYE_R_LO), _line_y(C, T.EYE_L_LO))
        self.below_lower_lid = _sigmoid((C[:, 1] - (y_lower_lid - 0.004)) / 0.004) * (1 - self.above_lid)


def deform(C: np.ndarray, emotion: str, intensity: float = 1.0) -> np.ndarray:
    """A deformed copy of neutral canonical mesh ``C`` (478, 3) showing ``emotion``."""
    if emotion not in EMOTIONS:
        raise ValueError(f"unknown emotion {emotion!r}; choose from {EMOTIONS}")
    if emotion == "neutral":
        return C.copy()
    m = _Masks(C)
    D = np.zeros_like(C)
    k = intensity

    def move(vertex, d, sigma, mask=1.0, mirror=True):
        for v, sign in ((vertex, 1), (T.MIRROR.get(vertex), -1)):
            if v is None or (sign == -1 and not mirror):
                continue
            dd = np.array(d, float) * k
            dd[0] *= sign
            D[:] += (_gauss(C, C[v], sigma) * mask)[:, None] * dd

    def jaw(drop):
        w = m.lower * np.exp(-(C[:, 0] / 0.32) ** 2) * np.clip((C[:, 1] - C[13, 1] + 0.35) / 0.35, 0, 1)
        w[T.LIP_IN_LO + T.LIP_OUT_LO[1:-1]] = 1
        D[:, 1] += w * drop * k
        D[:, 2] += w * drop * 0.3 * k

    def lids(upper, lower):
        for v in (159, 386):
            D[:, 1] += _gauss(C, C[v], 0.07) * m.above_lid * (1 - m.brow) * upper * k
        for v in (145, 374):
            D[:, 1] += _gauss(C, C[v], 0.07) * m.below_lower_lid * lower * k

    if emotion == "happy":
        move(61, (-0.045, -0.055, 0.03), 0.09)
        move(50, (0, -0.02, -0.005), 0.08, m.below_lower_lid)
        lids(0.004, -0.012)
        move(0, (0, -0.012, 0), 0.05, m.upper, mirror=False)
        jaw(0.025)
    elif emotion == "sad":
        move(61, (0.0, 0.035, 0.0), 0.07)
        move(107, (0.008, -0.045, 0), 0.05, m.brow)
        move(17, (0, -0.012, -0.005), 0.05, m.lower, mirror=False)
        lids(0.01, 0)
    elif emotion == "angry":
        move(107, (0.025, 0.055, -0.005), 0.06, m.brow)
        move(70, (0.0, 0.012, 0), 0.05, m.brow)
        lids(0.01, -0.006)
        move(61, (0.015, 0.0, 0), 0.05)
        move(129, (-0.01, 0.0, 0), 0.03)
    elif emotion == "surprised":
        move(105, (0, -0.06, 0), 0.12, m.brow)
        lids(-0.02, 0.004)
        jaw(0.15)
        move(61, (0.025, 0.02, 0), 0.06)
    elif emotion == "afraid":
        move(105, (0, -0.03, 0), 0.1, m.brow)
        move(107, (0.015, -0.02, 0), 0.05, m.brow)
        lids(-0.02, 0.0)
        move(61, (-0.04, 0.015, 0.01), 0.07)
        jaw(0.05)
    elif emotion == "disgusted":
        move(0, (0, -0.03, -0.005), 0.06, m.upper, mirror=False)
        move(129, (0, -0.015, 0), 0.04)
        move(107, (0.01, 0.03, 0), 0.06, m.brow)
        lids(0.006, -0.01)
        move(61, (0.0, 0.012, 0), 0.05)
        jaw(0.02)
    return C + D

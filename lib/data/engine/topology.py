"""MediaPipe FaceMesh topology: triangles, named vertex chains, left/right pairs.

Coordinates everywhere in the engine: image-like, x right, y down, z away from the
camera. "Right"/"left" in names are the SUBJECT's (KDEF and FSErasing convention): the
subject's right eye appears on the image's left.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from functools import lru_cache

import numpy as np

N_MESH = 478  # 468 face vertices + 10 iris points (refine_landmarks=True)
N_FACE = 468
IRIS_RIGHT, IRIS_LEFT = 468, 473  # iris centres (subject's right / left)

# Eyelid, lip and brow chains (each runs from the image-left end to the image-right end).
EYE_R_UP = [33, 246, 161, 160, 159, 158, 157, 173, 133]
EYE_R_LO = [33, 7, 163, 144, 145, 153, 154, 155, 133]
EYE_L_UP = [362, 398, 384, 385, 386, 387, 388, 466, 263]
EYE_L_LO = [362, 382, 381, 380, 374, 373, 390, 249, 263]
LIP_IN_UP = [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308]
LIP_IN_LO = [78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308]
LIP_OUT_UP = [61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291]
LIP_OUT_LO = [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291]
BROW_R_UP, BROW_R_LO = [70, 63, 105, 66, 107], [46, 53, 52, 65, 55]
BROW_L_UP, BROW_L_LO = [336, 296, 334, 293, 300], [285, 295, 282, 283, 276]
OVAL = [10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
        152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109]
NOSE = [168, 417, 465, 357, 343, 437, 420, 360, 279, 358, 294, 327, 326, 2, 97, 98, 64, 129, 49,
        131, 198, 217, 114, 128, 245, 193]
# Symmetric pairs (subject right, subject left) used to estimate the head frame.
FRAME_PAIRS = [(33, 263), (133, 362), (61, 291), (234, 454), (127, 356), (70, 300), (105, 334),
               (132, 361), (58, 288), (172, 397), (129, 358), (50, 280)]
MIRROR = dict(FRAME_PAIRS) | {b: a for a, b in FRAME_PAIRS} | {
    107: 336, 336: 107, 159: 386, 386: 159, 145: 374, 374: 145}
CHIN, FOREHEAD_TOP, NOSE_TIP = 152, 10, 1
POINTS5 = (IRIS_RIGHT, IRIS_LEFT, NOSE_TIP, 61, 291)  # ArcFace 5 points: iris centres, nose tip, mouth corners
FACE_RIGHT, FACE_LEFT = 234, 454  # cheek extremes (subject right / left): the face-width pair


@lru_cache(maxsize=1)
def face_triangles() -> np.ndarray:
    """Triangles of the 468-vertex mesh, derived from MediaPipe's tesselation edge list.

    Every 3-cycle of the edge graph is a candidate; a cycle whose three edges each belong to
    three or more candidates separates two regions and is not a face (two such false
    triangles exist). Eyes and mouth stay open: see :func:`eye_triangles`, :func:`mouth_triangles`.
    """
    from mediapipe.python.solutions.face_mesh_connections import FACEMESH_TESSELATION

    adj = defaultdict(set)
    for a, b in FACEMESH_TESSELATION:
        adj[a].add(b)
        adj[b].add(a)
    tris = {tuple(sorted((a, b, c))) for a, b in FACEMESH_TESSELATION for c in adj[a] & adj[b]}
    edges = Counter(e for t in tris for e in ((t[0], t[1]), (t[0], t[2]), (t[1], t[2])))
    keep = [t for t in tris if not all(edges[e] >= 3 for e in ((t[0], t[1]), (t[0], t[2]), (t[1], t[2])))]
    return np.array(sorted(keep), dtype=np.int32)


def strip(upper: list[int], lower: list[int]) -> np.ndarray:
    """Triangles filling the gap between two chains that share their end points."""
    out = []
    for i in range(len(upper) - 1):
        for t in ((upper[i], upper[i + 1], lower[i + 1]), (upper[i], lower[i + 1], lower[i])):
            if len(set(t)) == 3:
                out.append(t)
    return np.array(out, dtype=np.int32)


@lru_cache(maxsize=1)
def eye_triangles() -> np.ndarray:
    return np.concatenate([strip(EYE_R_UP, EYE_R_LO), strip(EYE_L_UP, EYE_L_LO)])


@lru_cache(maxsize=1)
def mouth_triangles() -> np.ndarray:
    return strip(LIP_IN_UP, LIP_IN_LO)

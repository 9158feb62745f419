"""A renderable head: fitted mesh + texture atlas + background rings + label raster.

``build_head(face, person)`` does the per-identity work once (~0.1 s); rendering any
pose/emotion/session of the head is then cheap (lib.data.engine.render).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lib.data.engine import labels, texture
from lib.data.engine import topology as T
from lib.data.engine.identity import FittedFace

MOUTH_OPEN_SOURCE = 0.04  # a source with lips this far apart has a real mouth interior


@dataclass
class Head:
    face: FittedFace
    face_tris: np.ndarray  # (852, 3) outward-wound
    rings: texture.Rings
    atlas: np.ndarray  # (H, W, 3): padded source | UV texture + mouth patch
    src_tex: np.ndarray  # (n_ext, 2) atlas coords of every extended vertex in the padded source
    uv_tex: np.ndarray  # (478, 2) atlas coords of mesh vertices in the UV texture
    uv_ext: np.ndarray  # (n_ext, 2) UV atlas coords of extended vertices (face texture feathering)
    blend_ext: np.ndarray  # (n_ext,) 1 on the face oval: feather the face texture into ring 1
    mouth_tex: np.ndarray  # (M, 3, 2) atlas coords of the mouth-strip triangles
    uv_box: tuple[int, int, int, int]  # x0, y0, x1, y1 of the UV texture in the atlas
    person: np.ndarray | None  # (H, W) person probability over the padded source (hair vs background)
    label_raster: labels.LabelRaster

    @property
    def n_ext(self) -> int:
        return T.N_MESH + len(self.rings.points) + len(self.rings.border)

    def is_border(self) -> np.ndarray:
        out = np.zeros(self.n_ext, bool)
        out[T.N_MESH + len(self.rings.points):] = True
        return out


def build_head(face: FittedFace, person: np.ndarray | None = None) -> Head:
    """Build the atlas of ``face``; ``person`` is the source's person mask (SOURCE_SIZE^2)."""
    import cv2

    face_tris = texture.oriented_face_triangles(face.C)
    mouth_open = face.stats["mouth_open"] > MOUTH_OPEN_SOURCE
    uv_img, _ = texture.uv_texture(face, face_tris, mouth_open)
    padded, pad = texture.padded_source(face.image)
    rings = texture.build_rings(face.C)

    skin = face.image[np.clip(face.P[[50, 280, 101, 330, 151], 1].astype(int), 0, face.image.shape[0] - 1),
                      np.clip(face.P[[50, 280, 101, 330, 151], 0].astype(int), 0, face.image.shape[1] - 1)]
    patch = texture.mouth_patch(brightness=float(np.clip(skin.mean() / 150.0, 0.45, 1.0)))
    hs, ws = padded.shape[:2]
    mh, mw = patch.shape[:2]
    atlas = np.zeros((max(hs, texture.UV_H + 4 + mh), ws + max(texture.UV_W, mw), 3), np.uint8)
    atlas[:hs, :ws] = padded
    atlas[:texture.UV_H, ws:ws + texture.UV_W] = uv_img
    my = texture.UV_H + 4
    atlas[my:my + mh, ws:ws + mw] = patch

    src_ext = np.concatenate([face.P[:, :2], face.to_source(rings.points), face.to_source(rings.border)])
    uv_tex = texture.uv_of(face.C) + [ws, 0]
    uv_ext = np.concatenate([uv_tex, texture.uv_of(rings.points) + [ws, 0], np.zeros((len(rings.border), 2)) + [ws, 0]])
    blend = np.zeros(len(uv_ext))
    blend[T.OVAL] = 1.0
    mouth_tex = uv_tex[T.mouth_triangles()] if mouth_open else _mouth_patch_coords(ws, my, mw, mh)
    person_padded = None
    if person is not None:
        person_padded = cv2.copyMakeBorder(person.astype(np.float32), pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    return Head(face, face_tris, rings, atlas, src_ext + pad, uv_tex, uv_ext, blend, mouth_tex,
                (ws, 0, ws + texture.UV_W - 1, texture.UV_H - 1), person_padded, labels.paint(face.C))


def _mouth_patch_coords(x0, y0, w, h) -> np.ndarray:
    """Atlas coordinates of the mouth strip mapped onto the synthetic mouth patch."""
    up = {v: i for i, v in enumerate(T.LIP_IN_UP)}
    n = len(T.LIP_IN_UP) - 1
    tris = T.mouth_triangles()
    out = np.zeros(tris.shape + (2,))
    for ti, tri in enumerate(tris):
        for j, v in enumerate(tri):
            if v in (78, 308):  # mouth corners
                out[ti, j] = (x0 + 2 + (v == 308) * (w - 4), y0 + h / 2)
            elif v in up:
                out[ti, j] = (x0 + 2 + up[v] / n * (w - 4), y0 + 1.0)
            else:
                out[ti, j] = (x0 + 2 + T.LIP_IN_LO.index(v) / n * (w - 4), y0 + h - 2.0)
    return out

"""Texture atlas of a head: the padded source photo (hair/background rings), a cylindrical
UV texture of the face completed by symmetry and inpainting, and a synthetic mouth interior.

A face seen frontally shows its sides poorly: each UV texel gets a confidence (how squarely
the source saw it); poorly seen texels on the SIDES are filled from the mirror side or
inpainted. Mirror-filling the whole face would give a ghost second nose, so the centre
is never mirrored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lib.data.engine import raster
from lib.data.engine import topology as T
from lib.data.engine.identity import FittedFace

UV_W, UV_H, UV_SU, UV_SV = 512, 288, 150.0, 140.0  # UV canvas and its scale (pixels per radian / unit)
RINGS = ((1.12, 0.08), (1.35, 0.25), (1.75, None))  # (scale of the face oval, depth offset or flat)
FLAT_DEPTH = 0.25


def uv_of(C: np.ndarray) -> np.ndarray:
    """Cylindrical unwrap about the vertical head axis: canonical (N, 3) -> UV pixels (N, 2)."""
    u = np.arctan2(C[:, 0], -C[:, 2]) * UV_SU + UV_W / 2
    v = (C[:, 1] + 0.95) * UV_SV
    return np.stack([u, v], 1)


def padded_source(img: np.ndarray) -> tuple[np.ndarray, int]:
    """The source extended by its own size on every side: edge-replicated, increasingly
    blurred and faded to the mean border colour (what the background rings sample when
    the head turns). Replicate, not mirror: mirroring puts ghost faces into the hair ring."""
    import cv2

    s = img.shape[0]
    rep = cv2.copyMakeBorder(img, s, s, s, s, cv2.BORDER_REPLICATE)
    n = rep.shape[0]
    small = cv2.resize(rep, (n // 4, n // 4), interpolation=cv2.INTER_AREA).astype(np.float32)
    blur = cv2.GaussianBlur(small, (0, 0), s / 48)
    yy, xx = np.mgrid[0:n // 4, 0:n // 4] * 4.0
    dx = np.maximum(np.maximum(s - xx, xx - (n - s)), 0)
    dy = np.maximum(np.maximum(s - yy, yy - (n - s)), 0)
    dist = np.hypot(dx, dy)
    border_mean = np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]]).mean(0)
    b = np.clip(dist / (0.6 * s), 0, 1)[..., None]
    far = cv2.resize((1 - b) * blur + b * border_mean, (n, n), interpolation=cv2.INTER_LINEAR)
    a = cv2.resize(np.clip(dist / (0.08 * s), 0, 1).astype(np.float32), (n, n))[..., None]
    a[s:-s, s:-s] = 0
    return np.clip((1 - a) * rep + a * far, 0, 255).astype(np.uint8), s


def oriented_face_triangles(C: np.ndarray) -> np.ndarray:
    """Face triangles wound so that their normals point out of the head."""
    tris = T.face_triangles().copy()
    a, b, c = C[tris[:, 0]], C[tris[:, 1]], C[tris[:, 2]]
    normal = np.cross(b - a, c - a)
    inward = (normal * ((a + b + c) / 3 - np.array([0, 0.1, 0.9]))).sum(1) < 0
    tris[inward] = tris[inward][:, [0, 2, 1]]
    return tris


def _vertex_confidence(P: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """How squarely the source camera saw each vertex: mean cos(normal, view) of its triangles."""
    a, b, c = P[tris[:, 0]], P[tris[:, 1]], P[tris[:, 2]]
    n = np.cross(b - a, c - a)
    n /= np.linalg.norm(n, axis=1, keepdims=True) + 1e-9
    facing = np.clip(-n[:, 2], 0, 1)
    total, count = np.zeros(len(P)), np.zeros(len(P))
    for j in range(3):
        np.add.at(total, tris[:, j], facing)
        np.add.at(count, tris[:, j], 1)
    return total / np.maximum(count, 1)


def uv_texture(face: FittedFace, face_tris: np.ndarray, mouth_open: bool) -> tuple[np.ndarray, np.ndarray]:
    """The face's UV texture (UV_H, UV_W, 3) uint8 and its confidence map."""
    import cv2

    uv = uv_of(face.C)
    tris = np.concatenate([face_tris, T.eye_triangles()] + ([T.mouth_triangles()] if mouth_open else []))
    conf_v = _vertex_confidence(face.P, face_tris)
    eye_v = np.unique(T.eye_triangles())
    conf_v[eye_v] = np.maximum(conf_v[eye_v], 0.8)
    vals = np.concatenate([face.P[tris][:, :, :2], conf_v[tris][:, :, None]], 2)
    A, ok = raster.affine_maps(uv[tris], vals)
    ids = raster.rasterize(uv[tris], np.flatnonzero(ok), (UV_H, UV_W))
    F, valid = raster.interpolate(A, ids)
    tex = cv2.remap(face.image, F[..., 0].astype(np.float32), F[..., 1].astype(np.float32), cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REFLECT).astype(np.float32)
    conf = np.where(valid, F[..., 2], 0).astype(np.float32)
    conf *= 1 - _background_bleed(tex, conf, face)
    tex, conf = _mirror_sides(tex, conf, valid)
    return _inpaint_low_confidence(tex, conf, valid), conf


def _background_bleed(tex, conf, face) -> np.ndarray:
    """Side texels far in chroma from the frontal skin colour are GAN background, not skin."""
    import cv2

    lab = cv2.cvtColor(np.clip(tex, 0, 255).astype(np.uint8), cv2.COLOR_RGB2LAB).astype(np.float32)
    skin = uv_of(face.C[[50, 280, 101, 330, 151, 9, 36, 266]])
    ref = np.median(lab[np.clip(skin[:, 1].astype(int), 0, UV_H - 1), np.clip(skin[:, 0].astype(int), 0, UV_W - 1)], 0)
    chroma = np.linalg.norm((lab - ref)[..., 1:], axis=2)  # a*, b* only: lighting changes L*
    yy, xx = np.mgrid[0:UV_H, 0:UV_W]
    lateral = np.clip((np.abs(xx - UV_W / 2) / UV_SU - 0.55) / 0.25, 0, 1)  # beyond ~30 degrees
    below_brows = np.clip((yy - uv_of(face.C[[105, 334]])[:, 1].mean()) / 15, 0, 1)
    out = np.clip((chroma - 14) / 10, 0, 1) * np.clip((0.8 - conf) / 0.2, 0, 1) * lateral * below_brows
    return cv2.GaussianBlur(out.astype(np.float32), (0, 0), 4)


def _mirror_sides(tex, conf, valid):
    mt, mc = tex[:, ::-1], conf[:, ::-1]
    use = (mc > conf + 0.15) & valid & valid[:, ::-1]
    lateral = np.abs(np.arange(UV_W) - UV_W / 2)[None, :] / UV_SU
    w = np.clip((mc - conf - 0.15) / 0.2, 0, 1) * use * np.clip((lateral - 0.5) / 0.25, 0, 1)
    return tex * (1 - w[..., None]) + mt * w[..., None], conf * (1 - w) + mc * w


def _inpaint_low_confidence(tex, conf, valid) -> np.ndarray:
    import cv2

    hole = ((conf < 0.4) | ~valid).astype(np.uint8)
    src = np.clip(tex, 0, 255).astype(np.uint8)
    half = (UV_W // 2, UV_H // 2)  # inpaint at half resolution for speed
    filled = cv2.inpaint(cv2.resize(src, half, interpolation=cv2.INTER_AREA),
                         cv2.resize(hole, half, interpolation=cv2.INTER_NEAREST), 4, cv2.INPAINT_TELEA)
    filled = cv2.resize(filled, (UV_W, UV_H), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    w = (np.clip((conf - 0.2) / 0.25, 0, 1) * valid)[..., None]
    return np.clip(tex * w + filled * (1 - w), 0, 255).astype(np.uint8)


def mouth_patch(h: int = 40, w: int = 64, brightness: float = 1.0) -> np.ndarray:
    """A synthetic open-mouth interior: teeth on top, dark cavity, tongue-coloured bottom."""
    import cv2

    t = np.linspace(0, 1, h)[:, None]
    p = np.zeros((h, w, 3), np.float32)
    p[..., 0] = 60 - 35 * np.sin(np.pi * t)
    p[..., 1], p[..., 2] = 14, 18
    teeth = int(0.28 * h)
    p[:teeth] = np.array((200, 192, 178)) * brightness
    p[teeth - 2:teeth] = np.array((120, 110, 100)) * brightness
    p[int(0.88 * h):] = np.array((150, 140, 128)) * brightness
    p[:teeth, ::8] *= 0.8
    p *= (1 - 0.55 * np.linspace(-1, 1, w) ** 2)[None, :, None]  # shadowed corners
    return cv2.GaussianBlur(np.clip(p, 0, 255).astype(np.uint8), (5, 5), 0)


@dataclass
class Rings:
    """Points around the face oval that carry hair and background, and their triangles."""

    points: np.ndarray  # (R, 3) canonical ring points (move with the head)
    border: np.ndarray  # (B, 3) canonical image-border points (stay fixed)
    triangles: np.ndarray  # (K, 3) indices into [mesh 0..477, rings, border]


def build_rings(C: np.ndarray) -> Rings:
    import cv2
    from scipy.spatial import Delaunay

    O = C[T.OVAL]
    rings = []
    for k, dz in RINGS:
        r = O.copy()
        r[:, :2] *= k
        r[:, 2] = FLAT_DEPTH if dz is None else O[:, 2] + dz
        rings.append(r)
    rings = np.concatenate(rings)
    g = np.linspace(-2.5, 2.5, 11)
    border = np.array([(x, y) for x in g for y in g if abs(x) == 2.5 or abs(y) == 2.5])
    border = np.c_[border, np.full(len(border), FLAT_DEPTH)]
    pts2 = np.concatenate([O[:, :2], rings[:, :2], border[:, :2]])
    oval = (O[:, :2] * 1000).astype(np.float32)
    keep = [t for t in Delaunay(pts2).simplices
            if not ((t < len(O)).all()
                    and cv2.pointPolygonTest(oval, tuple(map(float, pts2[t].mean(0) * 1000)), False) >= 0)]
    keep = np.array(keep)
    front = raster.signed_area(pts2[keep]) > 0
    keep[front] = keep[front][:, [0, 2, 1]]  # wind like camera-facing face triangles
    glob = np.concatenate([np.array(T.OVAL), T.N_MESH + np.arange(len(rings)),
                           T.N_MESH + len(rings) + np.arange(len(border))])
    return Rings(rings, border, glob[keep].astype(np.int32))

"""Render a head at (yaw, pitch, emotion) under a session look: image, parsing map, and the
478 projected mesh points with visibility.

Camera: orthographic, looking along +z; yaw turns the nose toward the image's right for
positive angles (the subject turns to their own left); pitch > 0 lifts the chin. The image
is rendered at ``render_size`` and area-downsampled to ``size``. Face triangles facing away
are culled; everything is drawn far to near (painter's order); the mouth cavity sits
behind the lips. Labels are looked up in the neutral canonical frontal layout (exact).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lib.data.engine import raster
from lib.data.engine import topology as T
from lib.data.engine.expressions import deform
from lib.data.engine.head import Head
from lib.data.engine.labels import ID

_KIND_BG, _KIND_FACE, _KIND_MOUTH, _KIND_EYE = 0, 1, 2, 3
# Channels of the per-triangle affine maps: atlas coordinates, neutral canonical (x, y) for the label
# lookup, depth, the ring's face-texture coordinates, its feather weight, vertex normals. Only the
# atlas coordinates and the feather are needed at every pixel; the others are evaluated only where used.
_TEX, _NEUTRAL, _DEPTH, _TEX2, _BLEND, _NORMAL = [0, 1], [2, 3], [4], [5, 6], [7], [8, 9, 10]
FACE_HEIGHT = 0.363  # eye-to-mouth distance as a fraction of the render size (ArcFace-like crop)


@dataclass(frozen=True)
class Look:
    """Session appearance. Args: light (unit 3-vector toward the light, camera frame), light_strength
    (0 = flat), gain (per-channel RGB multiplier), background_tint (RGB) and its strength, scale jitter."""

    light: tuple[float, float, float] = (0.0, 0.0, -1.0)
    light_strength: float = 0.0
    gain: tuple[float, float, float] = (1.0, 1.0, 1.0)
    background_tint: tuple[float, float, float] = (128.0, 128.0, 128.0)
    tint_strength: float = 0.0
    scale: float = 1.0


@dataclass
class Rendered:
    image: np.ndarray  # (size, size, 3) uint8
    parsing: np.ndarray  # (size, size) uint8, 25 classes
    mesh478: np.ndarray  # (478, 2) float32 pixel coordinates in the output image
    visible478: np.ndarray  # (478,) bool


def _rotation(yaw: float, pitch: float) -> np.ndarray:
    a, b = np.radians(yaw), np.radians(pitch)
    ry = np.array([[np.cos(a), 0, -np.sin(a)], [0, 1, 0], [np.sin(a), 0, np.cos(a)]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), np.sin(b)], [0, -np.sin(b), np.cos(b)]])
    return rx @ ry


def _vertex_normals(V: np.ndarray, tris: np.ndarray) -> np.ndarray:
    a, b, c = V[tris[:, 0]], V[tris[:, 1]], V[tris[:, 2]]
    n = np.cross(b - a, c - a)  # outward for outward-wound triangles
    out = np.zeros_like(V)
    for j in range(3):
        np.add.at(out, tris[:, j], n)
    out[~np.isfinite(out).all(1) | (np.linalg.norm(out, axis=1) < 1e-12)] = [0, 0, -1]
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def render(head: Head, yaw: float = 0.0, pitch: float = 0.0, emotion: str = "neutral", look: Look = Look(),
           size: int = 112, render_size: int = 224) -> Rendered:
    import cv2

    R = render_size
    face = head.face
    V = deform(face.C, emotion)
    rot = _rotation(yaw, pitch)
    ext = np.concatenate([V, head.rings.points, head.rings.border])
    border = head.is_border()
    moved = ext @ rot.T
    moved[border] = ext[border]
    X, Y, Z = moved[:, 0], moved[:, 1], moved[:, 2]
    scale = FACE_HEIGHT * R / face.eye_mouth * look.scale
    shift = (X[:T.N_FACE].min() + X[:T.N_FACE].max()) / 2 - (face.C[:T.N_FACE, 0].min() + face.C[:T.N_FACE, 0].max()) / 2
    q = np.stack([(X - shift) * scale + R / 2, Y * scale + R / 2], 1)

    bg, ft, et, mt = head.rings.triangles, head.face_tris, T.eye_triangles(), T.mouth_triangles()
    tris = np.concatenate([bg, ft, et, mt])
    kind = np.r_[np.full(len(bg), _KIND_BG), np.full(len(ft), _KIND_FACE), np.full(len(et), _KIND_EYE),
                 np.full(len(mt), _KIND_MOUTH)]
    tex = np.concatenate([head.src_tex[bg], head.uv_tex[ft], head.uv_tex[et], head.mouth_tex])
    tex2 = np.concatenate([head.uv_ext[bg], head.uv_tex[ft], head.uv_tex[et], head.mouth_tex])
    blend = np.concatenate([head.blend_ext[bg], np.zeros(ft.shape), np.zeros(et.shape), np.zeros(mt.shape)])
    neutral = np.concatenate([face.C, head.rings.points, head.rings.border])[:, :2]
    normals = np.zeros_like(ext)
    normals[:T.N_MESH] = _vertex_normals(V, head.face_tris)
    normals[T.N_MESH:] = [0, 0, -1]
    normals = normals @ rot.T
    vals = np.concatenate([tex, neutral[tris], Z[tris][:, :, None], tex2, blend[:, :, None], normals[tris]], 2)
    dst = q[tris]
    A, ok = raster.affine_maps(dst, vals)

    depth = Z[tris].mean(1)
    depth = np.where(kind == _KIND_MOUTH, depth + 0.15, depth)  # cavity behind the lips
    depth = np.where(kind == _KIND_BG, np.maximum(depth, Z[tris].max(1)), depth)
    border_tri = border[tris].any(1) & (kind == _KIND_BG)
    area = raster.signed_area(dst)
    visible = ok & ~(((kind == _KIND_FACE) | ((kind == _KIND_BG) & ~border_tri)) & (area >= 0))
    by_depth = np.argsort(-depth, kind="stable")
    order = np.r_[np.flatnonzero(border_tri & visible), by_depth[(visible & ~border_tri)[by_depth]]]
    ids = raster.rasterize(dst, order, (R, R))
    F, valid = raster.interpolate(A[:, _TEX + _BLEND], ids)  # F[..., :2] atlas (x, y), F[..., 2] feather

    def at(channels, mask):  # the other channels, only at the pixels of ``mask`` (row-major order)
        return raster.interpolate(A[:, channels], ids, at=np.nonzero(mask))[0]

    k = np.where(valid, kind[np.where(valid, ids, 0)], -1)
    image, is_bg = _texture_lookup(head, F, k, at)
    labels = np.zeros((R, R), np.uint8)
    uv = (k == _KIND_FACE) | (k == _KIND_EYE)
    neutral_xy = at(_NEUTRAL, uv)
    labels[uv] = head.label_raster.lookup(neutral_xy[:, 0], neutral_xy[:, 1])
    labels[k == _KIND_MOUTH] = ID["mouth"]
    if head.person is not None:
        labels = np.where(is_bg, _hair_or_background(head, F, q), labels).astype(np.uint8)
    image = _shade(image, lambda lit: at(_NORMAL, lit), np.clip(F[..., 2], 0, 1), k, labels, look)
    image[~valid] = 0

    f = size / R
    out = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    parsing = cv2.resize(labels, (size, size), interpolation=cv2.INTER_NEAREST)
    pix = np.clip(np.round(q[:T.N_MESH]).astype(int), 0, R - 1)
    depth_at, valid_at = raster.interpolate(A[:, _DEPTH], ids, at=(pix[:, 1], pix[:, 0]))
    zbuf = np.where(valid_at, depth_at[:, 0], np.inf)
    vis = Z[:T.N_MESH] <= zbuf + 0.03
    return Rendered(out, parsing, (q[:T.N_MESH] * f).astype(np.float32), vis)


def _texture_lookup(head: Head, F: np.ndarray, k: np.ndarray, at):
    """Sample the atlas: background from the padded source, face/eyes/mouth from the UV
    region, the first ring feathered from face texture to source. ``at(channels, mask)``: the
    ring's face-texture coordinates where they are used."""
    import cv2

    hs, ws = head.atlas.shape[0], head.uv_box[0]
    mapx, mapy = F[..., 0], F[..., 1]
    is_bg = k == _KIND_BG

    def reflect(v, n):
        v = np.abs(v)
        return np.clip((n - 1) - np.abs((n - 1) - v), 0, n - 1)

    mapx = np.where(is_bg, reflect(mapx, ws), mapx)
    mapy = np.where(is_bg, reflect(mapy, ws), mapy)  # the padded source is square (ws x ws)
    x0, y0, x1, y1 = head.uv_box
    uv = (k == _KIND_FACE) | (k == _KIND_EYE)
    mapx = np.where(uv, np.clip(mapx, x0, x1), mapx)
    mapy = np.where(uv, np.clip(mapy, y0, y1), mapy)
    img = cv2.remap(head.atlas, mapx.astype(np.float32), mapy.astype(np.float32), cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REPLICATE)
    w = np.where(is_bg, np.clip(F[..., 2], 0, 1), 0)
    if (w > 1e-3).any():
        mix = w != 0  # elsewhere the blend is exactly img: blend only these pixels (same values, less work)
        t2 = at(_TEX2, mix)
        img2 = cv2.remap(head.atlas, np.clip(t2[:, :1], x0, x1).astype(np.float32),
                         np.clip(t2[:, 1:], y0, y1).astype(np.float32), cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)[:, 0]
        wm = w[mix][:, None]
        img[mix] = (img[mix] * (1 - wm) + img2 * wm).astype(np.uint8)
    return img, is_bg


def _hair_or_background(head: Head, F: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Ring pixels: hair (21) where the source's person mask says person, above the chin;
    neck (20) below it; background (0) elsewhere."""
    n = head.person.shape[0]
    sx = np.clip(np.round(np.abs(F[..., 0])), 0, n - 1).astype(int)
    sy = np.clip(np.round(np.abs(F[..., 1])), 0, n - 1).astype(int)
    person = head.person[sy, sx] > 0.5
    below_chin = np.arange(F.shape[0])[:, None] > q[T.CHIN, 1]
    return np.where(person, np.where(below_chin, ID["neck"], ID["hair"]), ID["background"])


def _shade(image: np.ndarray, normals_at, feather: np.ndarray, k: np.ndarray, labels: np.ndarray,
           look: Look) -> np.ndarray:
    """Directional light on the face (relative to the source's own frontal light), per-channel
    gain, and a background tint. ``normals_at(mask)``: the (n, 3) interpolated normals there."""
    img = image.astype(np.float32)
    if look.light_strength:
        light = np.asarray(look.light, np.float32)
        light /= np.linalg.norm(light)
        weight = np.where(k >= _KIND_FACE, 1.0, np.where(k == _KIND_BG, feather, 0.0))
        lit = weight != 0  # elsewhere the factor is exactly 1: normals only at these pixels (same values, less work)
        nl = normals_at(lit)
        n = nl / np.maximum(np.linalg.norm(nl, axis=1, keepdims=True), 1e-6)
        lambert = np.clip(n @ light, 0, 1)  # normals point out of the head
        frontal = np.clip(-n[:, 2], 0, 1)  # the source's own light: from the camera
        factor = np.clip(1 + look.light_strength * (lambert - frontal), 0.55, 1.12)  # no blown-out highlights
        scale = np.ones(k.shape)  # applied to the whole frame: x 1.0 leaves a pixel's bits as they are, and one
        scale[lit] = 1 + (factor - 1) * weight[lit]  # multiply is faster than gathering and scattering the lit ones
        img *= scale[..., None]
    img *= np.asarray(look.gain, np.float32)
    if look.tint_strength:
        bg = (labels == ID["background"]) & (k == _KIND_BG)
        img[bg] = img[bg] * (1 - look.tint_strength) + np.asarray(look.background_tint, np.float32) * look.tint_strength
    return np.clip(img, 0, 255).astype(np.uint8)

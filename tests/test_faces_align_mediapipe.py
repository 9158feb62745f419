"""CelebA-C eye alignment and yaw measure (lib.faces.align) on hand-made 478-point meshes."""

from __future__ import annotations

import numpy as np
import pytest

from lib.data.sources.common import transform_points
from lib.faces.align import EYE_ALIGN_CENTER, eye_align, eye_align_transform, mesh_yaw


def _mesh(left=(60.0, 80.0), right=(100.0, 80.0), nose_dx=0.0, z=True):
    """A mesh with only what the functions read: iris centres, inner eye corners, nose tip."""
    pts = np.zeros((478, 3 if z else 2), np.float32)
    (lx, ly), (rx, ry) = left, right
    pts[468, :2], pts[473, :2] = left, right
    pts[133, :2] = (lx + 0.3 * (rx - lx), ly + 0.3 * (ry - ly))
    pts[362, :2] = (lx + 0.7 * (rx - lx), ly + 0.7 * (ry - ly))
    pts[1, :2] = ((lx + rx) / 2 + nose_dx, (ly + ry) / 2 + 30)
    return pts


def _rotate(pts, deg, centre=(80.0, 90.0)):
    t = np.radians(deg)
    R = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    out = pts.copy()
    out[:, :2] = (pts[:, :2] - centre) @ R.T + centre
    return out


def test_eyes_land_level_70px_apart_at_the_documented_centre():
    target = np.array(EYE_ALIGN_CENTER) * 256
    assert np.allclose(target, [128, 85])
    for mesh in (_mesh(), _rotate(_mesh(left=(50, 70), right=(95, 90)), 25), _mesh(z=False)):
        M = eye_align_transform(mesh)
        a, b = transform_points(mesh[[468, 473], :2], M)
        assert np.allclose(a, target - [35, 0], atol=1e-3) and np.allclose(b, target + [35, 0], atol=1e-3)
        assert np.isclose(np.linalg.det(M[:, :2]), (70 / np.hypot(*(mesh[473, :2] - mesh[468, :2]))) ** 2)


def test_eye_align_warps_the_image_with_its_matrix():
    image = np.zeros((160, 160, 3), np.uint8)
    mesh = _rotate(_mesh(), -15)
    for x, y in mesh[[468, 473], :2].round().astype(int):
        image[y - 1:y + 2, x - 1:x + 2] = 255  # a white dot on each iris centre
    crop, M = eye_align(image, mesh, size=256, eye_distance=70)
    assert crop.shape == (256, 256, 3) and crop.dtype == np.uint8 and M.shape == (2, 3)
    assert crop[85, 128 - 35].min() > 200 and crop[85, 128 + 35].min() > 200  # the dots, now level
    assert crop[0, 0].max() == 0  # outside the photo is black
    small, _ = eye_align(image, mesh, size=128, eye_distance=35)
    assert small.shape == (128, 128, 3) and small[42, 64 + 17].min() > 100


def test_mesh_yaw_geometry_sign_and_invariance():
    assert mesh_yaw(_mesh()) == pytest.approx(0.0, abs=1e-6)
    inner = 0.4 * 40  # inner eye corner distance of _mesh()
    assert mesh_yaw(_mesh(nose_dx=inner * np.tan(np.radians(30)))) == pytest.approx(30.0, abs=1e-3)
    assert mesh_yaw(_mesh(nose_dx=-inner)) == pytest.approx(-45.0, abs=1e-3)
    # scale and translation do not change it; levelling by eye_align's M removes a head roll
    turned = _mesh(nose_dx=5.0)
    moved = turned.copy()
    moved[:, :2] = turned[:, :2] * 2.5 + [40, -7]
    assert mesh_yaw(moved) == pytest.approx(mesh_yaw(turned), abs=1e-4)
    rolled = _rotate(turned, 30)
    assert abs(mesh_yaw(rolled) - mesh_yaw(turned)) > 5
    levelled = transform_points(rolled[:, :2], eye_align_transform(rolled))
    assert mesh_yaw(levelled) == pytest.approx(mesh_yaw(turned), abs=1e-3)
    assert mesh_yaw(_mesh()[:468]) == pytest.approx(0.0, abs=1e-6)  # no iris points needed


def test_bad_meshes_are_value_errors():
    with pytest.raises(ValueError, match="at least 478"):
        eye_align_transform(np.zeros((468, 3)))
    with pytest.raises(ValueError, match="coincide"):
        eye_align_transform(_mesh(left=(70, 80), right=(70, 80)))
    bad = _mesh()
    bad[468, 0] = np.nan
    with pytest.raises(ValueError, match="not finite"):
        eye_align_transform(bad)
    with pytest.raises(ValueError, match="no yaw"):
        mesh_yaw(np.zeros((478, 2)))
    with pytest.raises(ValueError, match="at least 468"):
        mesh_yaw(np.zeros((5, 2)))

"""Geometric identities of the camera core, pinned against OpenCV where it does the same job."""
import cv2
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from closecap.cameras import (Camera, Rig, camera_centers, distort_normalized, project_points, project_points_torch,
                              ring_rig, undistort_normalized, undistort_pixels)
from closecap.errors import InputError

seeds = st.integers(0, 2**31 - 1)


def random_dist(rng, strength=1.0):
    """Realistic lens distortion (k1, k2, p1, p2, k3)."""
    return np.array([rng.uniform(-0.3, 0.1), rng.uniform(-0.05, 0.1), rng.uniform(-2e-3, 2e-3),
                     rng.uniform(-2e-3, 2e-3), rng.uniform(-0.01, 0.01)]) * strength


def random_rig(rng, num_cameras):
    cams = []
    for i in range(num_cameras):
        a = rng.uniform(0, 2 * np.pi)
        pos = [rng.uniform(3, 6) * np.cos(a), rng.uniform(3, 6) * np.sin(a), rng.uniform(0.5, 3.5)]
        cams.append(Camera.look_at(f"c{i}", pos, rng.uniform(-0.3, 0.3, 3) + [0, 0, 1], focal_px=rng.uniform(600, 2000),
                                   width=int(rng.integers(640, 2000)), height=int(rng.integers(480, 2000)),
                                   dist=random_dist(rng)))
    return Rig(tuple(cams))


@settings(max_examples=40, deadline=None)
@given(seeds)
def test_undistort_inverts_distort(seed):
    rng = np.random.default_rng(seed)
    dist = random_dist(rng)
    xy = rng.uniform(-0.5, 0.5, (50, 2))
    back = undistort_normalized(distort_normalized(xy, dist), dist)
    np.testing.assert_allclose(back, xy, atol=1e-8)


@settings(max_examples=25, deadline=None)
@given(seeds)
def test_projection_matches_opencv(seed):
    rng = np.random.default_rng(seed)
    rig = random_rig(rng, 3)
    points = rng.uniform(-1, 1, (40, 3)) + [0, 0, 1]
    uv, depth = rig.project(points)
    assert (depth > 0).all()
    for v, cam in enumerate(rig):
        rvec, _ = cv2.Rodrigues(cam.R)
        ref, _ = cv2.projectPoints(points, rvec, cam.t, cam.K, cam.dist)
        np.testing.assert_allclose(uv[v], ref[:, 0], atol=1e-6)


@settings(max_examples=25, deadline=None)
@given(seeds)
def test_undistort_pixels_matches_opencv(seed):
    rng = np.random.default_rng(seed)
    rig = random_rig(rng, 2)
    uv, _ = rig.project(rng.uniform(-0.8, 0.8, (30, 3)) + [0, 0, 1])
    ours = rig.undistort(uv)
    for v, cam in enumerate(rig):
        ref = cv2.undistortPoints(uv[v][:, None], cam.K, cam.dist, R=None, P=cam.K, criteria=
                                      (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 50, 1e-12))[:, 0]
        np.testing.assert_allclose(ours[v], ref, atol=1e-4)


@settings(max_examples=20, deadline=None)
@given(seeds)
def test_undistorted_pixels_are_pinhole_projections(seed):
    """Undistorting the distorted projection gives the projection of the distortion-free camera."""
    rng = np.random.default_rng(seed)
    rig = random_rig(rng, 4)
    points = rng.uniform(-1, 1, (25, 3)) + [0, 0, 1]
    uv, _ = rig.project(points)
    pinhole, _ = project_points(points, rig.K, np.zeros((len(rig), 5)), rig.R, rig.t)
    np.testing.assert_allclose(rig.undistort(uv), pinhole, atol=1e-6)
    # and through the projection matrices
    hom = np.einsum("vij,nj->vni", rig.projection_matrices, np.c_[points, np.ones(len(points))])
    np.testing.assert_allclose(hom[..., :2] / hom[..., 2:], pinhole, atol=1e-6)


@settings(max_examples=15, deadline=None)
@given(seeds)
def test_torch_projection_matches_numpy(seed):
    rng = np.random.default_rng(seed)
    rig = random_rig(rng, 3)
    points = rng.uniform(-1, 1, (2, 17, 3)) + [0, 0, 1]
    uv, depth = rig.project(points)
    as_t = lambda a: torch.as_tensor(a, dtype=torch.float64)  # noqa: E731
    uv_t, depth_t = project_points_torch(as_t(points), as_t(rig.K), as_t(rig.dist), as_t(rig.R), as_t(rig.t))
    assert uv_t.shape == (3, 2, 17, 2) and depth_t.shape == (3, 2, 17)
    np.testing.assert_allclose(uv_t.numpy(), uv, atol=1e-8)
    np.testing.assert_allclose(depth_t.numpy(), depth, atol=1e-10)


def test_centres_and_look_at():
    rig = ring_rig(6, radius_m=4.0, height_m=2.0, target_world=(0.0, 0.0, 1.0))
    np.testing.assert_allclose(np.linalg.norm(rig.centers_world[:, :2], axis=1), 4.0, atol=1e-9)
    np.testing.assert_allclose(rig.centers_world[:, 2], 2.0, atol=1e-9)
    # the target projects to the principal point, up in the world is up in the image
    uv, _ = rig.project(np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 1.5]]))
    np.testing.assert_allclose(uv[:, 0], rig.K[:, :2, 2], atol=1e-9)
    assert (uv[:, 1, 1] < uv[:, 0, 1]).all()
    np.testing.assert_allclose(camera_centers(rig.R, rig.t), rig.centers_world)


def test_in_image_and_behind_camera():
    cam = Camera.look_at("a", [0, -4, 1], [0, 0, 1], width=640, height=480)
    rig = Rig((cam,))
    uv, depth = rig.project(np.array([[0, 0, 1.0], [0, -8, 1.0], [100, 0, 1.0]]))
    assert rig.in_image(uv, depth).tolist() == [[True, False, False]]


@pytest.mark.parametrize("kwargs, field", [
    ({"K": np.eye(3)[:2]}, "K"),
    ({"R": np.diag([1.0, 1.0, -1.0])}, "R"),
    ({"t": [0.0, np.nan, 0.0]}, "t"),
    ({"width": 0}, "size"),
])
def test_camera_rejects_bad_fields(kwargs, field):
    base = dict(name="cam_2", K=np.eye(3), dist=np.zeros(5), R=np.eye(3), t=np.zeros(3), width=10, height=10)
    base.update(kwargs)
    with pytest.raises(InputError, match=f"cam_2.{field}"):
        Camera(**base)


def test_rig_rejects_duplicates_and_unknown_names():
    cam = Camera.look_at("a", [0, -4, 1], [0, 0, 1])
    with pytest.raises(InputError, match="duplicate"):
        Rig((cam, cam))
    with pytest.raises(InputError, match="'b' is not in the calibration"):
        Rig((cam,)).index("b")

"""Triangulation identities: project then triangulate returns the points; RANSAC survives a wrong view."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from closecap.cameras import Camera, Rig, ring_rig
from closecap.errors import InputError
from closecap.triangulation import (RansacConfig, reprojection_errors, triangulate_dlt, triangulate_ransac,
                                    undistort_views)


def random_rig(rng: np.random.Generator, num_views: int, distortion: bool = True) -> Rig:
    """Look-at cameras 3-6 m from the origin, all around and above, with real-lens distortion."""
    cams = []
    for v in range(num_views):
        azimuth = 2 * np.pi * v / num_views + rng.uniform(-0.3, 0.3)
        radius, height = rng.uniform(3.0, 6.0), rng.uniform(0.5, 3.0)
        position = [radius * np.cos(azimuth), radius * np.sin(azimuth), height]
        target = rng.uniform([-0.3, -0.3, 0.7], [0.3, 0.3, 1.3])
        dist = [rng.uniform(-0.3, 0.1), rng.uniform(-0.05, 0.1), rng.uniform(-1e-3, 1e-3), rng.uniform(-1e-3, 1e-3),
                0.0] if distortion else [0.0] * 5
        cams.append(Camera.look_at(f"c{v}", position, target, focal_px=rng.uniform(800, 1600), dist=dist))
    return Rig(tuple(cams))


def random_points(rng: np.random.Generator, shape) -> np.ndarray:
    """Points in a 2 m x 2 m x 2 m capture volume: ``shape + (3,)`` metres."""
    return rng.uniform([-1.0, -1.0, 0.0], [1.0, 1.0, 2.0], size=tuple(shape) + (3,))


def views_last(uv_px: np.ndarray) -> np.ndarray:
    """``(V, ..., 2)`` -> ``(..., V, 2)``."""
    return np.moveaxis(uv_px, 0, -2)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), num_views=st.integers(2, 10))
def test_dlt_recovers_exact_points(seed, num_views):
    rng = np.random.default_rng(seed)
    rig = random_rig(rng, num_views)
    points = random_points(rng, (4, 17))  # (P, J, 3)
    uv, _ = rig.project(points)  # (V, P, J, 2)
    und = undistort_views(views_last(uv), rig)  # (P, J, V, 2)
    estimate = triangulate_dlt(und, rig.projection_matrices, np.ones(und.shape[:-1]))
    assert np.abs(estimate - points).max() < 1e-6


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), num_views=st.integers(3, 10))
def test_ransac_recovers_exact_points(seed, num_views):
    rng = np.random.default_rng(seed)
    rig = random_rig(rng, num_views)
    points = random_points(rng, (17,))
    uv, _ = rig.project(points)
    result = triangulate_ransac(views_last(uv), rng.uniform(0.3, 1.0, size=(17, num_views)), rig)
    assert np.abs(result.points_world - points).max() < 1e-6
    assert result.inliers.all()
    assert result.error_px.max() < 1e-6


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_ransac_ignores_one_corrupted_view_of_five(seed):
    rng = np.random.default_rng(seed)
    rig = random_rig(rng, 5)
    points = random_points(rng, (17,))
    uv = views_last(rig.project(points)[0]).copy()  # (J, V, 2)
    bad = rng.integers(0, 5, size=17)  # a different wrong view per joint
    offset = rng.uniform(60, 400, size=(17, 2)) * rng.choice([-1, 1], size=(17, 2))
    uv[np.arange(17), bad] += offset
    result = triangulate_ransac(uv, np.ones((17, 5)), rig)
    assert np.abs(result.points_world - points).max() < 1e-6
    assert not result.inliers[np.arange(17), bad].any()
    assert result.inliers.sum() == 17 * 4


def test_dlt_weights_select_views_and_ignore_nan():
    rig = ring_rig(4)
    point = np.array([0.2, -0.1, 1.2])
    uv = views_last(rig.project(point)[0]).copy()  # (V, 2)
    uv[2] = [np.nan, np.nan]
    uv[3] += 50.0  # wrong, but weight 0
    estimate = triangulate_dlt(uv, rig.projection_matrices, np.array([1.0, 0.5, 0.0, 0.0]))
    assert np.abs(estimate - point).max() < 1e-9
    one_view = triangulate_dlt(uv, rig.projection_matrices, np.array([1.0, 0.0, 0.0, 0.0]))
    assert np.isnan(one_view).all()


def test_dlt_weights_pull_towards_trusted_view():
    rig = ring_rig(3)
    point = np.array([0.0, 0.0, 1.0])
    uv = views_last(rig.project(point)[0]).copy()
    uv[0] += [8.0, 0.0]
    trust_noisy = triangulate_dlt(uv, rig.projection_matrices, np.array([10.0, 1.0, 1.0]))
    trust_clean = triangulate_dlt(uv, rig.projection_matrices, np.array([0.1, 1.0, 1.0]))
    assert np.linalg.norm(trust_clean - point) < np.linalg.norm(trust_noisy - point)


def test_reprojection_errors_against_opencv():
    rng = np.random.default_rng(3)
    rig = random_rig(rng, 3)
    points = random_points(rng, (5,))
    observed = rng.uniform(0, 1000, size=(5, 3, 2))
    errors = reprojection_errors(points, rig, observed)  # (5, V)
    for v, cam in enumerate(rig):
        rvec, _ = cv2.Rodrigues(cam.R)
        uv_cv, _ = cv2.projectPoints(points, rvec, cam.t, cam.K, cam.dist)
        expected = np.linalg.norm(uv_cv[:, 0] - observed[:, v], axis=-1)
        np.testing.assert_allclose(errors[:, v], expected, rtol=1e-7, atol=1e-6)
    same = reprojection_errors(points, (rig.K, rig.dist, rig.R, rig.t), observed)
    np.testing.assert_array_equal(same, errors)


def test_reprojection_behind_camera_is_inf_and_nan_propagates():
    rig = ring_rig(2)
    behind = rig.centers_world[0] * 1.5  # beyond camera 0, seen from camera 1
    errors = reprojection_errors(np.stack([behind, [np.nan] * 3]), rig, np.zeros((2, 2, 2)))
    assert np.isinf(errors[0, 0]) and np.isfinite(errors[0, 1])
    assert np.isnan(errors[1]).all()


def test_ransac_rejects_points_behind_cameras_and_missing_views():
    rig = ring_rig(4)
    point = np.array([0.1, 0.1, 1.0])
    uv = views_last(rig.project(point)[0])
    scores = np.array([1.0, 0.0, 0.0, 0.01])  # only one usable view
    result = triangulate_ransac(uv, scores, rig)
    assert np.isnan(result.points_world).all() and not result.inliers.any() and np.isnan(result.error_px)
    # a pair that agrees only on a point behind the cameras is never accepted
    behind = rig.centers_world[0] + (rig.centers_world[0] - point)  # behind camera 0, in front of camera 2
    uv_b = views_last(rig.project(behind)[0])
    result_b = triangulate_ransac(uv_b, np.ones(4), rig)
    assert not result_b.inliers[0]


def test_ransac_batched_shapes_and_validation():
    rig = ring_rig(3)
    points = random_points(np.random.default_rng(0), (2, 4))
    uv = views_last(rig.project(points)[0])  # (2, 4, V, 2)
    result = triangulate_ransac(uv, np.ones((2, 4, 3)), rig, RansacConfig(threshold_px=5.0))
    assert result.points_world.shape == (2, 4, 3) and result.inliers.shape == (2, 4, 3) and result.error_px.shape == (2, 4)
    np.testing.assert_allclose(result.points_world, points, atol=1e-8)
    with pytest.raises(InputError, match="scores"):
        triangulate_ransac(uv, np.ones((2, 4)), rig)
    with pytest.raises(InputError, match="threshold_px"):
        RansacConfig(threshold_px=0.0)
    with pytest.raises(InputError, match="projection_matrices"):
        triangulate_dlt(np.zeros((3, 2)), np.zeros((2, 3, 4)))

"""Tests of closecap.centers: centre fall-backs, baseline-based centres, anchor volumes' shape and sign."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from closecap.cameras import ring_rig
from closecap.centers import HIP_TO_SHOULDER_WIDTH, anchor_volumes, centers_from_joints, estimate_centers
from closecap.errors import InputError
from closecap.skeleton import COCO17
from closecap.volumes import VoxelGrid, soft_argmax

HIPS = COCO17.indices(["left_hip", "right_hip"])


def test_centre_fall_backs():
    rng = np.random.default_rng(0)
    joints = rng.normal(size=(6, 17, 3))
    joints[1, HIPS[0]] = np.nan  # left hip missing -> right hip moved half the scaled shoulder vector to the middle
    joints[2] = np.nan
    joints[2, 0] = [1.0, 2.0, 3.0]  # only the nose -> mean of valid joints
    joints[3] = np.nan  # nobody
    shoulders = COCO17.indices(["left_shoulder", "right_shoulder"])
    joints[4, HIPS[1]] = np.nan  # right hip and right shoulder missing -> the left hip itself
    joints[4, shoulders[1]] = np.nan
    joints[5, HIPS] = np.nan  # no hip -> mean of the shoulders
    centers = centers_from_joints(joints)
    np.testing.assert_allclose(centers[0], joints[0, HIPS].mean(0))
    across = joints[1, shoulders[0]] - joints[1, shoulders[1]]  # from the right (seen) side to the left
    np.testing.assert_allclose(centers[1], joints[1, HIPS[1]] + 0.5 * HIP_TO_SHOULDER_WIDTH * across)
    np.testing.assert_allclose(centers[2], [1.0, 2.0, 3.0])
    assert np.isnan(centers[3]).all()
    np.testing.assert_allclose(centers[4], joints[4, HIPS[0]])
    np.testing.assert_allclose(centers[5], joints[5, shoulders].mean(0))


def test_one_hip_centre_is_near_the_pelvis_of_a_real_body():
    from closecap.synth.library import load_library

    clip = load_library().clips[0]
    body = np.asarray(clip.joints_world, float).reshape(-1, 17, 3)[::10]  # (T, 17, 3) real motion capture
    pelvis = body[:, HIPS].mean(1)
    one_hip = body.copy()
    one_hip[:, HIPS[0]] = np.nan
    old_fallback = one_hip[:, COCO17.indices(["left_shoulder", "right_shoulder", "right_hip"])].mean(1)
    error = np.linalg.norm(centers_from_joints(one_hip) - pelvis, axis=-1)
    assert np.median(error) < 0.05 < 0.15 < np.median(np.linalg.norm(old_fallback - pelvis, axis=-1))
    with pytest.raises(InputError):
        centers_from_joints(np.zeros((2, 5, 3)))


def test_estimate_centers_finds_two_close_people():
    rig = ring_rig(5)
    rng = np.random.default_rng(3)
    people = rng.normal(size=(2, 17, 3)) * 0.15 + np.array([[[0.0, 0.0, 1.0]], [[0.6, 0.0, 1.0]]])
    uv, depth = rig.project(people)  # (V, P, J, 2)
    views = [np.concatenate([uv[v], np.ones((2, 17, 1))], -1) for v in range(5)]
    centers, joints = estimate_centers(views, rig)
    assert centers.shape == (2, 3) and joints.shape == (2, 17, 3)
    expected = people[:, HIPS].mean(1)
    order = np.argsort(centers[:, 0])
    np.testing.assert_allclose(centers[order], expected, atol=1e-6)


def test_anchor_channel_one_is_zero_for_a_single_person():
    grid = VoxelGrid(2.0, 16)
    anchors = anchor_volumes(torch.tensor([[0.2, -0.1, 1.0]]), grid, 0.15)
    assert anchors.shape == (1, 2, 16, 16, 16)
    assert float(anchors[0, 1].abs().max()) == 0.0
    assert float(anchors[0, 0].max()) > 0.5 and float(anchors.min()) >= 0.0


@settings(max_examples=20, deadline=None)
@given(num=st.integers(2, 4), seed=st.integers(0, 1000))
def test_anchor_peaks_at_own_and_others_centres(num, seed):
    rng = np.random.default_rng(seed)
    grid = VoxelGrid(2.0, 32)
    centers = torch.tensor(rng.uniform(-0.6, 0.6, (num, 3)) + [0.0, 0.0, 1.0])
    cubes = centers + torch.tensor(rng.uniform(-0.05, 0.05, (num, 3)))
    anchors = anchor_volumes(centers, grid, 0.1, cube_centers_world=cubes)  # (P, 2, X, Y, Z)
    assert anchors.shape == (num, 2, 32, 32, 32)
    positive = soft_argmax(torch.log(anchors[:, :1].clamp(min=1e-300)), cubes, grid)  # (P, 1, 3)
    torch.testing.assert_close(positive[:, 0], centers, atol=1e-3, rtol=0)
    for p in range(num):  # the negative anchor is high at every other centre inside the cube, low at one's own
        own = (grid.voxel_centers(cubes[p:p + 1])[0] - centers[p]).norm(dim=-1).argmin()
        assert float(anchors[p, 1].reshape(-1)[own]) < float(anchors[p, 0].reshape(-1)[own])
        for q in range(num):
            if q != p and bool(grid.contains(centers[q][None, None], cubes[p:p + 1])[0, 0]):
                nearest = (grid.voxel_centers(cubes[p:p + 1])[0] - centers[q]).norm(dim=-1).argmin()
                assert float(anchors[p, 1].reshape(-1)[nearest]) > 0.5
                assert float(anchors[p, 0].reshape(-1)[nearest]) < float(anchors[p, 1].reshape(-1)[nearest])

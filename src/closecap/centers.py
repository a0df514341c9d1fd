"""Person centres and the anchor volumes that tell the keypoint network *whom* to localise.

* :func:`centers_from_joints` -- one centre per 3D person: the mid-hip when both hips exist, else the
  mean of the valid torso joints (shoulders, hips), else the mean of all valid joints.
* :func:`estimate_centers` -- per frame, from the views' 2D people: the geometric baseline
  (:func:`closecap.baseline.reconstruct_frame`: cross-view association + triangulation) gives rough 3D
  people, their centres are the cube centres. The previous frame's people are passed on as proposals,
  so a person the association loses for a frame is still proposed.
* :func:`anchor_volumes` -- the paper's conditioning: in person ``p``'s cube, channel 0 is a Gaussian at
  ``p``'s centre (positive anchor), channel 1 the maximum of the Gaussians at the *other* people's
  centres (negative anchor), so the network can tell ``p`` from the people touching it.

Example:
    >>> import torch
    >>> from closecap.volumes import VoxelGrid
    >>> centers = torch.tensor([[0.0, 0.0, 1.0], [0.5, 0.0, 1.0]])
    >>> anchors = anchor_volumes(centers, VoxelGrid(2.0, 16), sigma_m=0.15)
    >>> anchors.shape
    torch.Size([2, 2, 16, 16, 16])
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from closecap.baseline import BaselineConfig, reconstruct_frame
from closecap.cameras import Rig
from closecap.errors import InputError
from closecap.skeleton import COCO17, JointSet
from closecap.volumes import VoxelGrid, gaussian_volume

TORSO_JOINTS = ("left_shoulder", "right_shoulder", "left_hip", "right_hip")
"""Joints whose mean is the fall-back centre when both hips are missing."""
HIP_TO_SHOULDER_WIDTH = 0.5
"""Hip-joint width over shoulder-joint width (the shipped CMU motion library: median 0.53 over its 98 clips,
5th percentile 0.41); used to place the pelvis when one hip is missing."""


def centers_from_joints(joints_world: np.ndarray, joint_set: JointSet = COCO17) -> np.ndarray:
    """Centres of 3D people: the mid-hip (pelvis), estimated when a hip is missing.

    Both hips: their midpoint. One hip: that hip moved towards the body's middle by ``HIP_TO_SHOULDER_WIDTH``
    times half the vector between the shoulders when both are present (the pelvis is narrower than the
    shoulders and turned with them), else the hip itself. No hip: the mean of the valid torso joints, else of
    all valid joints. (The mean of shoulders and one hip, the previous fall-back, lies about 0.25 m above the
    pelvis: on the held-out scenes of ``benchmarks/volumetric.py`` it put 43 of 660 people's centres 0.28 m
    off on average, and the volumetric network, whose anchors expect the pelvis, followed a neighbour.)

    Args:
        joints_world: ``(P, J, 3)`` metres, world frame (NaN = joint absent).
        joint_set: the joint set of ``J`` (needs ``left_hip``, ``right_hip``, shoulders).

    Returns:
        ``(P, 3)`` metres; NaN for a person without any joint.

    Example:
        >>> joints = np.full((2, 17, 3), np.nan)
        >>> joints[0, COCO17.indices(["left_hip", "right_hip"])] = [[0, 0, 1], [0.2, 0, 1]]
        >>> joints[1, COCO17.indices(["left_shoulder", "right_shoulder", "left_hip"])] = [[1, 1, 1.5], [1.4, 1, 1.5], [1, 1, 1.0]]
        >>> np.round(centers_from_joints(joints), 3).tolist()
        [[0.1, 0.0, 1.0], [1.1, 1.0, 1.0]]
    """
    joints_world = np.asarray(joints_world, dtype=float)
    if joints_world.ndim != 3 or joints_world.shape[1:] != (joint_set.num_joints, 3):
        raise InputError(None, "joints_world", f"expected (P, {joint_set.num_joints}, 3), got {joints_world.shape}")
    valid = np.isfinite(joints_world).all(-1)  # (P, J)

    def masked_mean(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # mask (P, J) -> mean (P, 3), any (P,)
        count = mask.sum(-1)
        total = np.where(mask[..., None], joints_world, 0.0).sum(1)
        return total / np.maximum(count, 1)[:, None], count > 0

    hips = np.zeros(joint_set.num_joints, dtype=bool)
    hips[joint_set.indices(["left_hip", "right_hip"])] = True
    torso = np.zeros(joint_set.num_joints, dtype=bool)
    torso[joint_set.indices(list(TORSO_JOINTS))] = True
    mid_hip, _ = masked_mean(valid & hips)
    n_hips = (valid & hips).sum(-1)  # (P,)
    # one hip: shift it towards the middle by the scaled half shoulder vector (other shoulder - same-side shoulder)
    l_hip, r_hip, l_sh, r_sh = joint_set.indices(["left_hip", "right_hip", "left_shoulder", "right_shoulder"])
    left_only = valid[:, l_hip] & ~valid[:, r_hip]  # (P,)
    shoulders = valid[:, l_sh] & valid[:, r_sh]
    across = np.where(left_only[:, None], joints_world[:, r_sh] - joints_world[:, l_sh],
                      joints_world[:, l_sh] - joints_world[:, r_sh])  # (P, 3) from the seen hip's side to the other
    one_hip = mid_hip + np.where(shoulders[:, None], 0.5 * HIP_TO_SHOULDER_WIDTH * np.nan_to_num(across), 0.0)
    torso_mean, has_torso = masked_mean(valid & torso)
    all_mean, has_any = masked_mean(valid)
    out = np.where((n_hips == 2)[:, None], mid_hip, np.where((n_hips == 1)[:, None], one_hip,
                                                             np.where(has_torso[:, None], torso_mean, all_mean)))
    return np.where(has_any[:, None], out, np.nan)


def estimate_centers(keypoints: Sequence[np.ndarray], rig: Rig, config: BaselineConfig = BaselineConfig(),
                     previous_world: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Person centres of one frame from the views' 2D people (geometric association + triangulation).

    Args:
        keypoints: ``V`` arrays ``(P_v, J, 3)`` ``u_px, v_px, score`` (raw image pixels), in ``rig``'s order.
        rig: the ``V`` cameras.
        config: the baseline's settings (association thresholds, RANSAC).
        previous_world: ``(P_prev, J, 3)`` metres, last frame's people (proposals), or ``None``.

    Returns:
        ``centers_world (P, 3)`` metres and the rough ``joints_world (P, J, 3)`` they come from.

    Example:
        >>> from closecap.cameras import ring_rig
        >>> rig = ring_rig(4)
        >>> person = np.random.default_rng(0).normal(size=(17, 3)) * 0.2 + [0.0, 0.0, 1.0]
        >>> uv, _ = rig.project(person)
        >>> views = [np.concatenate([uv[v], np.ones((17, 1))], -1)[None] for v in range(4)]
        >>> centers, joints = estimate_centers(views, rig)
        >>> bool(np.allclose(centers[0], person[COCO17.indices(["left_hip", "right_hip"])].mean(0)))
        True
    """
    joints, _ = reconstruct_frame(keypoints, rig, config, previous_world)
    return centers_from_joints(joints), joints


def anchor_volumes(centers_world: torch.Tensor, grid: VoxelGrid, sigma_m: float,
                   cube_centers_world: torch.Tensor | None = None) -> torch.Tensor:
    """Positive and negative anchor volumes of every person's cube.

    Args:
        centers_world: ``(P, 3)`` metres, the people's centres (non-finite rows = no person, ignored).
        grid: the cube. sigma_m: anchor Gaussian sigma, metres.
        cube_centers_world: ``(P, 3)`` metres, centres of the people's cubes (default: ``centers_world``).

    Returns:
        ``(P, 2, X, Y, Z)``: channel 0 = Gaussian at person ``p``'s centre, channel 1 = maximum over the
        other people ``q != p`` of the Gaussian at ``q``'s centre (all zero when ``p`` is alone).

    Example:
        >>> from closecap.volumes import VoxelGrid
        >>> a = anchor_volumes(torch.tensor([[0.0, 0.0, 1.0]]), VoxelGrid(1.0, 4), 0.1)
        >>> float(a[0, 1].abs().max())
        0.0
    """
    if centers_world.ndim != 2 or centers_world.shape[-1] != 3:
        raise InputError(None, "centers_world", f"expected (P, 3), got {tuple(centers_world.shape)}")
    cubes = centers_world if cube_centers_world is None else cube_centers_world
    if cubes.shape != centers_world.shape:
        raise InputError(None, "cube_centers_world", f"expected {tuple(centers_world.shape)}, got {tuple(cubes.shape)}")
    P = centers_world.shape[0]
    everyone = gaussian_volume(centers_world[None].expand(P, P, 3), cubes, grid, sigma_m)  # (P cubes, P people, X, Y, Z)
    own = torch.eye(P, dtype=torch.bool, device=centers_world.device)
    positive = everyone[torch.arange(P), torch.arange(P)]  # (P, X, Y, Z)
    others = everyone.masked_fill(own[:, :, None, None, None], 0.0)
    negative = others.amax(dim=1) if P > 1 else torch.zeros_like(positive)
    return torch.stack([positive, negative], dim=1)

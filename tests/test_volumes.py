"""Tests of closecap.volumes: unprojection consistency with projection, view masking, soft-argmax exactness."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from closecap.cameras import Camera, Rig, ring_rig
from closecap.errors import InputError
from closecap.synth.rigs import RigConfig, look_at_point, random_rig
from closecap.volumes import (VoxelGrid, distance_mask, gaussian_volume, render_rig_heatmaps, rig_tensors,
                              sample_volume, soft_argmax, unproject_heatmaps)


def _unproject_point(rig: Rig, point_world: np.ndarray, cube_center: np.ndarray, grid: VoxelGrid) -> torch.Tensor:
    uv, depth = rig.project(point_world[None])  # (V, 1, 2), (V, 1)
    seen = rig.in_image(uv, depth)  # (V, 1)
    keypoints = [np.concatenate([uv[v], seen[v, :, None].astype(float)], -1)[None] for v in range(len(rig))]  # V x (1, 1, 3)
    hm = torch.from_numpy(render_rig_heatmaps(keypoints, rig.image_sizes, stride=4, sigma_px=8.0))
    return unproject_heatmaps(hm, **rig_tensors(rig), stride=4, centers_world=torch.tensor(cube_center[None], dtype=torch.float32),
                              grid=grid)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), same_size=st.booleans())
def test_projected_gaussians_unproject_to_a_peak_at_the_point(seed, same_size):
    rng = np.random.default_rng(seed)
    rig = random_rig(rng, RigConfig(same_image_size=same_size))  # distorted lenses, ring / dome / half ring
    point = look_at_point(rig) + rng.uniform(-0.4, 0.4, 3)
    uv, depth = rig.project(point[None])
    if rig.in_image(uv, depth, margin_px=20).sum() < 2:
        return
    # voxels of at least one heatmap pixel (4 image pixels) in every view that sees the point: finer ones are
    # below the heatmaps' resolution, and their peak may fall on a neighbour (seed 1160: 2.5 cm = 1.4 px)
    seen = rig.in_image(uv, depth, margin_px=20)[:, 0]
    voxel_m = max(0.025, float((4.0 * depth[seen, 0] / rig.K[seen, 0, 0]).max()))
    grid = VoxelGrid(size_m=32 * voxel_m, resolution=32)
    voxel = rng.integers(4, 28, 3)  # put the point on voxel `voxel` of a cube around it
    cube_center = point - grid.offsets(dtype=torch.float64).numpy()[voxel]
    volume = _unproject_point(rig, point, cube_center, grid)  # (1, 1, X, Y, Z)
    peak = np.unravel_index(int(volume.reshape(-1).argmax()), volume.shape[2:])
    assert tuple(int(i) for i in peak) == tuple(int(i) for i in voxel)  # the peak is at the point
    # there every seeing view samples its Gaussian near the peak (bilinear between pixels: ~1)
    assert float(volume[0, 0, voxel[0], voxel[1], voxel[2]]) > 0.9


def test_shared_and_per_cube_heatmaps_agree():
    rig = ring_rig(4, width=320, height=240, focal_px=250.0)
    rng = np.random.default_rng(0)
    kp = [np.concatenate([rng.uniform([0, 0], [320, 240], (2, 3, 2)), rng.uniform(0.2, 1, (2, 3, 1))], -1) for _ in range(4)]
    hm = torch.from_numpy(render_rig_heatmaps(kp, rig.image_sizes))  # (V, J, H, W)
    centers = torch.tensor([[0.0, 0.0, 1.0], [0.3, -0.2, 0.9]])
    grid = VoxelGrid(1.0, 8)
    shared = unproject_heatmaps(hm, **rig_tensors(rig), stride=4, centers_world=centers, grid=grid)
    batched = unproject_heatmaps(hm[None].expand(2, -1, -1, -1, -1), **rig_tensors(rig), stride=4, centers_world=centers, grid=grid)
    assert shared.shape == (2, 3, 8, 8, 8)
    torch.testing.assert_close(shared, batched)


def test_views_that_do_not_see_a_voxel_are_masked_not_averaged_as_zero():
    target = np.array([0.0, 0.0, 1.0])
    cams = [
        Camera.look_at("a", [4, 0, 1.5], target, focal_px=300, width=320, height=240),
        Camera.look_at("b", [0, 4, 1.5], target, focal_px=300, width=320, height=240),
        Camera.look_at("behind", [-4, 0, 1.5], [-8, 0, 1.5], focal_px=300, width=320, height=240),  # cube behind it
        Camera.look_at("away", [0, -4, 1.5], [0, -8, 1.5], focal_px=300, width=320, height=240),
        Camera.look_at("aside", [3, -1, 1.0], [3, 9, 1.0], focal_px=2000, width=320, height=240),  # in front, off image
    ]
    rig = Rig(tuple(cams))
    grid = VoxelGrid(0.5, 6)
    center = torch.tensor(target[None], dtype=torch.float32)
    points = grid.voxel_centers(center).reshape(-1, 3).numpy()
    uv, depth = rig.project(points)
    seen = rig.in_image(uv, depth)  # (V, N)
    assert seen[:2].all() and not seen[2:].any() and (depth[4] > 0).all()
    values = torch.arange(1, 6, dtype=torch.float32)  # view v's heatmaps are constant v + 1
    hm = values[:, None, None, None].expand(5, 1, 60, 80).contiguous()
    volume = unproject_heatmaps(hm, **rig_tensors(rig), stride=4, centers_world=center, grid=grid)
    torch.testing.assert_close(volume, torch.full_like(volume, 1.5))  # (1 + 2) / 2, not (1 + 2) / 5
    far = unproject_heatmaps(hm, **rig_tensors(rig), stride=4, centers_world=torch.tensor([[0.0, 0.0, 40.0]]), grid=grid)
    assert float(far.abs().max()) == 0.0  # seen by nobody


@settings(max_examples=40, deadline=None)
@given(offset=st.tuples(*[st.floats(-0.4, 0.4)] * 3), sigma_vox=st.floats(1.0, 2.5))
def test_soft_argmax_is_exact_on_gaussian_volumes_off_the_grid(offset, sigma_vox):
    grid = VoxelGrid(2.0, 32)
    center = torch.tensor([[0.3, -1.0, 0.9]], dtype=torch.float64)
    point = center + torch.tensor([offset], dtype=torch.float64)
    volume = gaussian_volume(point[:, None], center, grid, sigma_m=sigma_vox * grid.voxel_size_m)  # (1, 1, X, Y, Z)
    estimate = soft_argmax(torch.log(volume.clamp(min=1e-300)), center, grid)  # (1, 1, 3)
    assert float((estimate[0, 0] - point[0]).norm()) < 1e-3  # metres
    # beta scales the logits: a log-Gaussian of sigma * sqrt(2) at beta 2 is the same distribution
    wide = gaussian_volume(point[:, None], center, grid, sigma_m=np.sqrt(2) * sigma_vox * grid.voxel_size_m)
    torch.testing.assert_close(soft_argmax(torch.log(wide.clamp(min=1e-300)), center, grid, beta=2.0), estimate)


def test_gaussian_volume_peak_and_missing_points():
    grid = VoxelGrid(1.0, 4)
    center = torch.zeros(1, 3)
    on_voxel = grid.voxel_centers(center)[0, 1, 2, 3]
    vol = gaussian_volume(torch.stack([on_voxel, torch.full((3,), float("nan"))])[None], center, grid, 0.2)
    assert vol.shape == (1, 2, 4, 4, 4)
    assert float(vol[0, 0, 1, 2, 3]) == pytest.approx(1.0) and int(vol[0, 0].argmax()) == 1 * 16 + 2 * 4 + 3
    assert float(vol[0, 1].abs().max()) == 0.0


def test_sample_volume_is_trilinear_and_distance_mask_radius():
    grid = VoxelGrid(1.0, 8)
    center = torch.tensor([[1.0, 2.0, 3.0]])
    coords = grid.voxel_centers(center)  # (1, X, Y, Z, 3)
    linear = (coords @ torch.tensor([1.0, -2.0, 0.5]))[:, None]  # (1, 1, X, Y, Z) a linear field
    point = center + torch.tensor([[0.11, -0.2, 0.3]])
    value = sample_volume(linear, point[:, None], center, grid)
    assert float(value[0, 0]) == pytest.approx(float(point[0] @ torch.tensor([1.0, -2.0, 0.5])), abs=1e-5)
    mask = distance_mask(point[:, None], center, grid, radius_m=0.2)
    d = (coords - point[:, None, None, None]).norm(dim=-1)
    assert torch.equal(mask[:, 0].bool(), d <= 0.2)


def test_bad_shapes_raise_input_error():
    rig = ring_rig(2)
    with pytest.raises(InputError, match="heatmaps"):
        unproject_heatmaps(torch.zeros(2, 1, 4), **rig_tensors(rig), stride=4, centers_world=torch.zeros(1, 3), grid=VoxelGrid())
    with pytest.raises(InputError, match="cameras"):
        unproject_heatmaps(torch.zeros(3, 1, 4, 4), **rig_tensors(rig), stride=4, centers_world=torch.zeros(1, 3), grid=VoxelGrid())
    with pytest.raises(InputError, match="resolution"):
        VoxelGrid(resolution=1)


def test_windowed_soft_argmax_follows_the_stronger_of_two_modes():
    grid, c = VoxelGrid(2.0, 16), torch.zeros(1, 3)
    strong, weak = torch.tensor([[[0.31, -0.2, 0.1]]]), torch.tensor([[[-0.5, 0.4, -0.3]]])
    volume = gaussian_volume(strong, c, grid, 0.1) + 0.8 * gaussian_volume(weak, c, grid, 0.1)
    logits = 8.0 * volume  # two modes: a whole-cube soft-argmax lands between them
    whole = soft_argmax(logits, c, grid)
    local = soft_argmax(logits, c, grid, window=3)
    assert float((whole - strong).norm()) > 0.2
    assert float((local - strong).norm()) < 0.03
    exact = torch.log(gaussian_volume(strong, c, grid, 0.1))
    assert torch.allclose(soft_argmax(exact, c, grid, window=4), strong, atol=2e-3)  # within the window: exact

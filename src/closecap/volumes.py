"""Voxel cubes in metres: heatmap unprojection, 3D Gaussian targets, soft-argmax (PyTorch, pure).

A :class:`VoxelGrid` is a cube of side ``size_m`` split into ``resolution``\\ ³ voxels, axes aligned with
the world axes (X, Y, Z = world x, y, z), placed around a centre ``centers_world (B, 3)``. Voxel
``(i, j, k)`` is the *centre* of its cell:

    x_i = cx - size_m / 2 + (i + 0.5) * voxel_size_m,    voxel_size_m = size_m / resolution

so the cube is symmetric about its centre. Every volume is ``(B, C, X, Y, Z)``.

Unprojection (:func:`unproject_heatmaps`) projects every voxel centre into every view with
:func:`closecap.cameras.project_points_torch` (lens distortion included), converts image pixels to
heatmap pixels with the convention of :mod:`closecap.heatmaps` (``u_hm = (u_px - (stride - 1) / 2) / stride``),
samples the heatmaps bilinearly with ``torch.nn.functional.grid_sample(align_corners=False)`` and
averages over the views that *see* the voxel (in front of the camera and inside the image); views that
do not see it are left out of the mean, not counted as zeros.

Example:
    >>> import torch
    >>> grid = VoxelGrid(size_m=2.0, resolution=8)
    >>> grid.voxel_centers(torch.zeros(1, 3)).shape, grid.voxel_size_m
    (torch.Size([1, 8, 8, 8, 3]), 0.25)
    >>> volume = gaussian_volume(torch.tensor([[[0.1, -0.05, 0.05]]]), torch.zeros(1, 3), grid, sigma_m=0.2)
    >>> soft_argmax(torch.log(volume), torch.zeros(1, 3), grid).double().round(decimals=4).tolist()
    [[[0.1, -0.05, 0.05]]]
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from closecap.cameras import Rig, project_points_torch
from closecap.config import Config
from closecap.errors import InputError
from closecap.heatmaps import heatmap_size, render_heatmaps_batch


@dataclass(frozen=True)
class VoxelGrid(Config):
    """A world-aligned cube of voxels around a centre (the centre itself is an argument, per person)."""

    size_m: float = 2.0
    """Side of the cube, metres. 2 m holds one person with arms stretched; raise for very tall people."""
    resolution: int = 32
    """Voxels per side; the voxel is ``size_m / resolution`` (6.25 cm by default). Cost grows as its cube."""

    def __post_init__(self) -> None:
        if not self.size_m > 0:
            raise InputError(None, "VoxelGrid.size_m", f"must be > 0, got {self.size_m}")
        if int(self.resolution) < 2:
            raise InputError(None, "VoxelGrid.resolution", f"must be >= 2, got {self.resolution}")

    @property
    def voxel_size_m(self) -> float:
        """Side of one voxel, metres."""
        return float(self.size_m) / int(self.resolution)

    def offsets(self, device=None, dtype=torch.float32) -> torch.Tensor:
        """``(R,)`` metres: voxel-centre offsets from the cube centre along each axis."""
        R = int(self.resolution)
        return (torch.arange(R, device=device, dtype=dtype) + 0.5) * self.voxel_size_m - 0.5 * float(self.size_m)

    def voxel_centers(self, centers_world: torch.Tensor) -> torch.Tensor:
        """Voxel centres of cubes around ``centers_world (B, 3)`` metres -> ``(B, X, Y, Z, 3)`` metres, world frame.

        Example:
            >>> VoxelGrid(1.0, 2).voxel_centers(torch.zeros(1, 3))[0, 1, 0, 0].tolist()
            [0.25, -0.25, -0.25]
        """
        centers_world = _check_centers(centers_world)
        o = self.offsets(centers_world.device, centers_world.dtype)
        R = o.shape[0]
        axes = torch.stack(torch.meshgrid(o, o, o, indexing="ij"), dim=-1)  # (X, Y, Z, 3)
        return centers_world[:, None, None, None, :] + axes.reshape(1, R, R, R, 3)

    def contains(self, points_world: torch.Tensor, centers_world: torch.Tensor) -> torch.Tensor:
        """``(B, N)`` bool: ``points_world (B, N, 3)`` finite and inside the cube around ``centers_world (B, 3)``.

        Example:
            >>> VoxelGrid(2.0, 4).contains(torch.tensor([[[0.9, 0, 0], [1.1, 0, 0]]]), torch.zeros(1, 3)).tolist()
            [[True, False]]
        """
        rel = points_world - centers_world[:, None, :]
        inside = (rel.abs() <= 0.5 * float(self.size_m)).all(-1)
        return inside & torch.isfinite(points_world).all(-1)


def _check_centers(centers_world: torch.Tensor) -> torch.Tensor:
    if centers_world.ndim != 2 or centers_world.shape[-1] != 3:
        raise InputError(None, "centers_world", f"expected (B, 3), got {tuple(centers_world.shape)}")
    return centers_world


def rig_tensors(rig: Rig, device=None, dtype=torch.float32) -> dict[str, torch.Tensor]:
    """A rig's cameras as tensors: ``K (V, 3, 3)``, ``dist (V, 5)``, ``R (V, 3, 3)``, ``t (V, 3)`` metres,
    ``image_sizes (V, 2)`` pixels ``(width, height)`` -- the keyword arguments of :func:`unproject_heatmaps`.

    Example:
        >>> from closecap.cameras import ring_rig
        >>> {k: tuple(v.shape) for k, v in rig_tensors(ring_rig(3)).items()}["K"]
        (3, 3, 3)
    """
    def as_tensor(a):
        return torch.as_tensor(np.asarray(a), device=device, dtype=dtype)

    return {"K": as_tensor(rig.K), "dist": as_tensor(rig.dist), "R": as_tensor(rig.R), "t": as_tensor(rig.t),
            "image_sizes": as_tensor(rig.image_sizes)}


def render_rig_heatmaps(keypoints: Sequence[np.ndarray], image_sizes: np.ndarray, stride: int = 4,
                        sigma_px: float = 8.0) -> np.ndarray:
    """Heatmaps of one frame's views, rendered per image size and zero-padded to the largest.

    Args:
        keypoints: ``V`` arrays ``(P_v, J, 3)`` ``u_px, v_px, score`` (raw image pixels), one per camera.
        image_sizes: ``(V, 2)`` ``(width, height)`` pixels of each view.
        stride, sigma_px: as in :func:`closecap.heatmaps.render_heatmaps_batch`.

    Returns:
        ``(V, J, H_max, W_max)`` float32; each view's heatmap sits in the top-left corner, so heatmap pixel
        coordinates are unchanged and :func:`unproject_heatmaps` can take all views at once.

    Example:
        >>> kp = [np.array([[[10.0, 10.0, 1.0]]]), np.zeros((0, 1, 3))]
        >>> render_rig_heatmaps(kp, np.array([[64, 48], [32, 96]])).shape
        (2, 1, 24, 16)
    """
    image_sizes = np.asarray(image_sizes, dtype=np.int64).reshape(-1, 2)
    if len(keypoints) != len(image_sizes):
        raise InputError(None, "keypoints", f"{len(keypoints)} views for {len(image_sizes)} image sizes")
    sizes = [tuple(int(s) for s in size) for size in image_sizes]
    if len(set(sizes)) == 1:
        return render_heatmaps_batch(keypoints, sizes[0], stride, sigma_px)
    hm_sizes = np.array([heatmap_size(s, stride) for s in sizes])  # (V, 2) (W_hm, H_hm)
    J = next((np.asarray(k).shape[1] for k in keypoints if np.asarray(k).ndim == 3), 0)
    out = np.zeros((len(sizes), J, int(hm_sizes[:, 1].max()), int(hm_sizes[:, 0].max())), dtype=np.float32)
    for size in set(sizes):  # one render per distinct image size
        views = [v for v, s in enumerate(sizes) if s == size]
        hm = render_heatmaps_batch([keypoints[v] for v in views], size, stride, sigma_px)
        out[views, :, : hm.shape[2], : hm.shape[3]] = hm
    return out


def unproject_heatmaps(heatmaps: torch.Tensor, K: torch.Tensor, dist: torch.Tensor, R: torch.Tensor,
                       t: torch.Tensor, image_sizes: torch.Tensor, stride: int, centers_world: torch.Tensor,
                       grid: VoxelGrid, min_depth_m: float = 0.05) -> torch.Tensor:
    """Average the views' 2D heatmaps into voxel cubes: the volumetric evidence of every joint.

    Args:
        heatmaps: ``(V, J, H, W)`` heatmaps of one frame shared by all ``B`` cubes, or ``(B, V, J, H, W)``
            one set per cube; heatmap pixels per :mod:`closecap.heatmaps` (views of smaller images may be
            zero-padded at the bottom/right, see :func:`render_rig_heatmaps`).
        K: ``(V, 3, 3)`` intrinsics, pixels. dist: ``(V, 5)`` OpenCV distortion. R: ``(V, 3, 3)``
            camera-from-world. t: ``(V, 3)`` metres.
        image_sizes: ``(V, 2)`` ``(width, height)`` image pixels of each view.
        stride: image pixels per heatmap pixel.
        centers_world: ``(B, 3)`` metres, cube centres, world frame.
        grid: the cube's size and resolution.
        min_depth_m: voxels closer than this to a camera's image plane (or behind it) are unseen by it.

    Returns:
        ``(B, J, X, Y, Z)``: at every voxel centre, the mean over the views that see it of the bilinearly
        sampled heatmap; 0 where no view sees the voxel.

    Example:
        >>> from closecap.cameras import ring_rig
        >>> from closecap.heatmaps import render_heatmaps_batch
        >>> rig = ring_rig(3, width=320, height=240, focal_px=200.0)
        >>> uv, _ = rig.project(np.array([[0.15, -0.05, 1.05]]))  # (V, J, 2), a voxel centre of the cube below
        >>> kp = np.concatenate([uv, np.ones((3, 1, 1))], -1)[:, None]  # (V, P, J, 3)
        >>> hm = torch.from_numpy(render_heatmaps_batch(kp, (320, 240), 4, 8.0))
        >>> grid = VoxelGrid(1.0, 10)
        >>> vol = unproject_heatmaps(hm, **rig_tensors(rig), stride=4, centers_world=torch.tensor([[0.0, 0, 1]]), grid=grid)
        >>> peak = int(vol.reshape(-1).argmax())
        >>> grid.voxel_centers(torch.tensor([[0.0, 0, 1]])).reshape(-1, 3)[peak].double().round(decimals=3).tolist()
        [0.15, -0.05, 1.05]
    """
    centers_world = _check_centers(centers_world)
    B = centers_world.shape[0]
    shared = heatmaps.ndim == 4
    if heatmaps.ndim not in (4, 5) or (not shared and heatmaps.shape[0] != B):
        raise InputError(None, "heatmaps", f"expected (V, J, H, W) or (B={B}, V, J, H, W), got {tuple(heatmaps.shape)}")
    V, J, H, W = heatmaps.shape[-4:]
    if K.shape != (V, 3, 3) or dist.shape != (V, 5) or R.shape != (V, 3, 3) or t.shape != (V, 3):
        raise InputError(None, "cameras", f"expected V={V} cameras, got K {tuple(K.shape)}, dist {tuple(dist.shape)}, "
                                          f"R {tuple(R.shape)}, t {tuple(t.shape)}")
    if image_sizes.shape != (V, 2):
        raise InputError(None, "image_sizes", f"expected ({V}, 2), got {tuple(image_sizes.shape)}")
    dtype = heatmaps.dtype
    points_world = grid.voxel_centers(centers_world.to(dtype))  # (B, X, Y, Z, 3)
    N = points_world.shape[1] * points_world.shape[2] * points_world.shape[3]
    uv_px, depth = project_points_torch(points_world.reshape(B * N, 3), K.to(dtype), dist.to(dtype), R.to(dtype),
                                        t.to(dtype))  # (V, B*N, 2), (V, B*N)
    size = image_sizes.to(dtype)[:, None, :]  # (V, 1, 2)
    seen = (depth > min_depth_m) & ((uv_px >= -0.5) & (uv_px <= size - 0.5)).all(-1)  # (V, B*N)
    uv_hm = (uv_px - (stride - 1) / 2.0) / stride  # (V, B*N, 2) heatmap pixels, centres at integers
    # grid_sample, align_corners=False: pixel centre i sits at normalised (2 i + 1) / W - 1
    norm = (2.0 * uv_hm + 1.0) / torch.tensor([W, H], dtype=dtype, device=uv_hm.device) - 1.0
    norm = torch.where(seen[..., None], norm, torch.full_like(norm, -2.0))  # unseen: outside, sampled as 0
    # The one place that reorders axes for grid_sample: input (N, C, H, W) with the sample points laid
    # out as an image; the last axis of the grid is (x = u, y = v).
    # unseen points sample exactly 0 (far outside, zero padding), so the sum over views needs no weights
    if shared:
        # points along the output's last axis: PyTorch's CPU kernel vectorises along it
        sampled = F.grid_sample(heatmaps, norm[:, None, :, :], mode="bilinear", padding_mode="zeros",
                                align_corners=False)  # (V, J, 1, B*N)
        total = sampled.reshape(V, J, B, N).sum(0).transpose(0, 1)  # (B, J, N)
    else:
        norm_b = norm.reshape(V, B, N, 2).transpose(0, 1).reshape(B * V, 1, N, 2)
        sampled = F.grid_sample(heatmaps.reshape(B * V, J, H, W), norm_b, mode="bilinear", padding_mode="zeros",
                                align_corners=False)  # (B*V, J, 1, N)
        total = sampled.reshape(B, V, J, N).sum(1)  # (B, J, N)
    count = seen.reshape(V, B, N).sum(0).to(dtype)  # (B, N) views that see each voxel
    volume = total / count.clamp(min=1.0)[:, None, :]
    R_ = int(grid.resolution)
    return volume.reshape(B, J, R_, R_, R_)


def gaussian_volume(points_world: torch.Tensor, centers_world: torch.Tensor, grid: VoxelGrid,
                    sigma_m: float) -> torch.Tensor:
    """3D Gaussians at points, sampled at the voxel centres of cubes.

    Args:
        points_world: ``(B, N, 3)`` metres, world frame; non-finite points give an all-zero volume.
        centers_world: ``(B, 3)`` metres, cube centres.
        grid: the cube. sigma_m: Gaussian sigma, metres.

    Returns:
        ``(B, N, X, Y, Z)`` ``exp(-d^2 / (2 sigma_m^2))`` (peak 1 at the point, when it is on a voxel centre).

    Example:
        >>> vol = gaussian_volume(torch.tensor([[[0.25, 0.25, 0.25]]]), torch.zeros(1, 3), VoxelGrid(1.0, 2), 0.1)
        >>> vol.shape, float(vol.max())
        (torch.Size([1, 1, 2, 2, 2]), 1.0)
    """
    centers_world = _check_centers(centers_world)
    if points_world.ndim != 3 or points_world.shape[-1] != 3 or points_world.shape[0] != centers_world.shape[0]:
        raise InputError(None, "points_world", f"expected (B={centers_world.shape[0]}, N, 3), got {tuple(points_world.shape)}")
    o = grid.offsets(points_world.device, points_world.dtype)  # (R,)
    finite = torch.isfinite(points_world).all(-1)  # (B, N)
    rel = torch.where(finite[..., None], points_world - centers_world[:, None, :], torch.zeros_like(points_world))
    inv = -0.5 / float(sigma_m) ** 2
    gx = torch.exp(inv * (o - rel[..., 0:1]) ** 2)  # (B, N, R) separable factors
    gy = torch.exp(inv * (o - rel[..., 1:2]) ** 2)
    gz = torch.exp(inv * (o - rel[..., 2:3]) ** 2) * finite[..., None].to(points_world.dtype)
    return gx[..., :, None, None] * gy[..., None, :, None] * gz[..., None, None, :]


def soft_argmax(volumes: torch.Tensor, centers_world: torch.Tensor, grid: VoxelGrid, beta: float = 1.0,
                window: int = 0) -> torch.Tensor:
    """Expected voxel position under ``softmax(beta * volumes)`` over each channel's voxels (differentiable).

    Args:
        volumes: ``(B, J, X, Y, Z)`` logits (e.g. a network's output; the log of a Gaussian volume gives
            its exact centre).
        centers_world: ``(B, 3)`` metres, cube centres.
        grid: the cube. beta: inverse temperature of the softmax.
        window: if > 0, only voxels within ``window`` voxels (per axis) of each channel's arg-max count
            (a *local* soft-argmax: a second, weaker mode elsewhere in the cube, such as the other person's
            joint, no longer pulls the estimate towards the middle between the two).

    Returns:
        ``(B, J, 3)`` metres, world frame.

    Example:
        >>> grid = VoxelGrid(1.0, 16)
        >>> logits = torch.log(gaussian_volume(torch.tensor([[[0.03, 0.11, -0.1]]]), torch.zeros(1, 3), grid, 0.08))
        >>> soft_argmax(logits, torch.zeros(1, 3), grid).double().round(decimals=4).tolist()
        [[[0.03, 0.11, -0.1]]]
    """
    centers_world = _check_centers(centers_world)
    if volumes.ndim != 5:
        raise InputError(None, "volumes", f"expected (B, J, X, Y, Z), got {tuple(volumes.shape)}")
    B, J = volumes.shape[:2]
    R_ = int(grid.resolution)
    if tuple(volumes.shape[2:]) != (R_, R_, R_):
        raise InputError(None, "volumes", f"expected {R_}^3 voxels, got {tuple(volumes.shape[2:])}")
    flat = beta * volumes.reshape(B, J, -1)
    o = grid.offsets(volumes.device, volumes.dtype)  # (R,)
    if 0 < window and 2 * window + 1 < R_:  # softmax over the (2 w + 1)^3 voxels around the peak only
        peak = flat.argmax(-1)  # (B, J)
        idx = torch.stack([peak // (R_ * R_), (peak // R_) % R_, peak % R_], dim=-1)  # (B, J, 3)
        near = idx[..., None] + torch.arange(-window, window + 1, device=volumes.device)  # (B, J, 3, K)
        inside = (near >= 0) & (near < R_)  # (B, J, 3, K)
        near = near.clamp(0, R_ - 1)
        nx, ny, nz = near[..., 0, :], near[..., 1, :], near[..., 2, :]  # (B, J, K)
        index = (nx[..., :, None, None] * R_ + ny[..., None, :, None]) * R_ + nz[..., None, None, :]  # (B, J, K, K, K)
        keep = inside[..., 0, :, None, None] & inside[..., 1, None, :, None] & inside[..., 2, None, None, :]
        logits = flat.gather(-1, index.reshape(B, J, -1)).masked_fill(~keep.reshape(B, J, -1), float("-inf"))
        prob = torch.softmax(logits, dim=-1).reshape(B, J, *index.shape[2:])  # (B, J, K, K, K)
        x = torch.einsum("bjxyz,bjx->bj", prob, o[nx])
        y = torch.einsum("bjxyz,bjy->bj", prob, o[ny])
        z = torch.einsum("bjxyz,bjz->bj", prob, o[nz])
        return torch.stack([x, y, z], dim=-1) + centers_world[:, None, :].to(volumes.dtype)
    prob = torch.softmax(flat, dim=-1).reshape(B, J, R_, R_, R_)
    x = torch.einsum("bjxyz,x->bj", prob, o)  # marginal means along each axis
    y = torch.einsum("bjxyz,y->bj", prob, o)
    z = torch.einsum("bjxyz,z->bj", prob, o)
    return torch.stack([x, y, z], dim=-1) + centers_world[:, None, :].to(volumes.dtype)


def sample_volume(volumes: torch.Tensor, points_world: torch.Tensor, centers_world: torch.Tensor,
                  grid: VoxelGrid) -> torch.Tensor:
    """Trilinear values of ``volumes (B, C, X, Y, Z)`` at ``points_world (B, C, 3)`` (point c in channel c).

    Returns ``(B, C)``; 0 outside the cube or for non-finite points.

    Example:
        >>> grid = VoxelGrid(1.0, 4)
        >>> vol = gaussian_volume(torch.tensor([[[0.125, 0.125, 0.125]]]), torch.zeros(1, 3), grid, 0.2)
        >>> round(float(sample_volume(vol, torch.tensor([[[0.125, 0.125, 0.125]]]), torch.zeros(1, 3), grid)), 4)
        1.0
    """
    B, C = volumes.shape[:2]
    finite = torch.isfinite(points_world).all(-1)  # (B, C)
    rel = torch.where(finite[..., None], points_world - centers_world[:, None, :], torch.full_like(points_world, 1e3))
    # voxel index i sits at offset (i + 0.5) * voxel - size / 2, i.e. normalised (2 i + 1) / R - 1 = rel / (size / 2)
    norm = rel / (0.5 * float(grid.size_m))  # (B, C, 3) in (x, y, z) order
    # grid_sample on 5D input (N, C, D, H, W) indexes its grid's last axis as (W, H, D) = (Z, Y, X) here
    sample_grid = norm.flip(-1).reshape(B * C, 1, 1, 1, 3)
    out = F.grid_sample(volumes.reshape(B * C, 1, *volumes.shape[2:]), sample_grid, mode="bilinear",
                        padding_mode="zeros", align_corners=False)  # (B*C, 1, 1, 1, 1)
    return out.reshape(B, C) * finite.to(volumes.dtype)


def distance_mask(points_world: torch.Tensor, centers_world: torch.Tensor, grid: VoxelGrid,
                  radius_m: float) -> torch.Tensor:
    """``(B, J, X, Y, Z)`` float mask: 1 at voxels within ``radius_m`` of ``points_world (B, J, 3)``, else 0;
    all ones for a non-finite point (no prior: nothing suppressed). The temporal filter of inference.

    Example:
        >>> m = distance_mask(torch.tensor([[[0.0, 0, 0], [float("nan")] * 3]]), torch.zeros(1, 3), VoxelGrid(2.0, 4), 0.5)
        >>> int(m[0, 0].sum()), int(m[0, 1].sum())
        (8, 64)
    """
    o = grid.offsets(points_world.device, points_world.dtype)
    finite = torch.isfinite(points_world).all(-1)  # (B, J)
    rel = torch.where(finite[..., None], points_world - centers_world[:, None, :], torch.zeros_like(points_world))
    d2 = ((o - rel[..., 0:1]) ** 2)[..., :, None, None] + ((o - rel[..., 1:2]) ** 2)[..., None, :, None] \
        + ((o - rel[..., 2:3]) ** 2)[..., None, None, :]  # (B, J, X, Y, Z)
    inside = (d2 <= float(radius_m) ** 2).to(points_world.dtype)
    return torch.where(finite[..., None, None, None], inside, torch.ones_like(inside))

"""Pinhole cameras with OpenCV lens distortion, and rigs of them.

Convention (one, everywhere): ``x_cam = R @ x_world + t``, OpenCV camera axes (x right, y down,
z forward), metres; pixel (0, 0) is the centre of the top-left pixel. Distortion is OpenCV's
five-coefficient model ``(k1, k2, p1, p2, k3)`` applied to normalised coordinates.

All functions are vectorized over views, people and joints, in NumPy and (``*_torch``) PyTorch.

Example:
    >>> cam = Camera.look_at("c0", position_world=[0, -4, 1.5], target_world=[0, 0, 1.0])
    >>> uv, depth = cam.project(np.array([[0.0, 0.0, 1.0]]))
    >>> np.round(uv, 6).tolist(), round(float(depth[0]), 6)
    ([[959.5, 539.5]], 4.031129)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from closecap.errors import InputError


# ----------------------------------------------------------------------------- pure functions


def distort_normalized(xy: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """Apply OpenCV distortion to normalised image coordinates.

    Args:
        xy: ``(..., 2)`` normalised coordinates ``(x/z, y/z)``.
        dist: ``(..., 5)`` coefficients ``(k1, k2, p1, p2, k3)``, broadcastable against ``xy[..., 0]``.

    Returns:
        ``(..., 2)`` distorted normalised coordinates.

    Example:
        >>> distort_normalized(np.array([0.1, 0.2]), np.zeros(5)).tolist()
        [0.1, 0.2]
    """
    return _distort(xy, dist)


def _distort(xy, dist):
    """Shared NumPy/PyTorch body of :func:`distort_normalized` (only operators common to both)."""
    x, y = xy[..., 0], xy[..., 1]
    k1, k2, p1, p2, k3 = (dist[..., i] for i in range(5))
    r2 = x * x + y * y
    radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    if hasattr(xy, "stack") or type(xy).__module__.startswith("torch"):
        import torch

        return torch.stack([xd, yd], dim=-1)
    return np.stack([xd, yd], axis=-1)


def undistort_normalized(xy_distorted: np.ndarray, dist: np.ndarray, iterations: int = 20) -> np.ndarray:
    """Invert :func:`distort_normalized` by fixed-point iteration (as OpenCV's ``undistortPoints``).

    Args:
        xy_distorted: ``(..., 2)`` distorted normalised coordinates.
        dist: ``(..., 5)`` coefficients, broadcastable against ``xy_distorted[..., 0]``.
        iterations: fixed-point steps; 20 reaches 1e-9 for the distortion of real lenses.

    Returns:
        ``(..., 2)`` undistorted normalised coordinates.

    Example:
        >>> d = np.array([-0.3, 0.1, 0.001, -0.002, 0.0])
        >>> xy = np.array([0.2, -0.1])
        >>> bool(np.allclose(undistort_normalized(distort_normalized(xy, d), d), xy, atol=1e-9))
        True
    """
    xy_distorted = np.asarray(xy_distorted, dtype=float)
    dist = np.asarray(dist, dtype=float)
    k1, k2, p1, p2, k3 = (dist[..., i] for i in range(5))
    x0, y0 = xy_distorted[..., 0], xy_distorted[..., 1]
    x, y = x0.copy(), y0.copy()
    for _ in range(iterations):
        r2 = x * x + y * y
        inv_radial = 1.0 / (1 + r2 * (k1 + r2 * (k2 + r2 * k3)))
        dx = 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
        dy = p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
        x = (x0 - dx) * inv_radial
        y = (y0 - dy) * inv_radial
    return np.stack([x, y], axis=-1)


def project_points(points_world: np.ndarray, K: np.ndarray, dist: np.ndarray, R: np.ndarray,
                   t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project world points into V cameras.

    Args:
        points_world: ``(..., 3)`` metres, world frame.
        K: ``(V, 3, 3)`` intrinsics (pixels). dist: ``(V, 5)``. R: ``(V, 3, 3)``. t: ``(V, 3)`` metres.

    Returns:
        ``uv_px``: ``(V, ..., 2)`` pixels in the raw (distorted) image, and ``depth_m``: ``(V, ...)``
        z in the camera frame (<= 0 means behind the camera; its ``uv_px`` is meaningless).

    Example:
        >>> K = np.array([[[100.0, 0, 50], [0, 100, 40], [0, 0, 1]]])
        >>> uv, z = project_points(np.array([0.1, 0.2, 2.0]), K, np.zeros((1, 5)), np.eye(3)[None], np.zeros((1, 3)))
        >>> uv.tolist(), z.tolist()
        ([[55.0, 50.0]], [2.0])
    """
    points_world = np.asarray(points_world, dtype=float)
    lead = points_world.shape[:-1]
    flat = points_world.reshape(-1, 3)  # (N, 3)
    points_cam = np.einsum("vij,nj->vni", R, flat) + t[:, None, :]  # (V, N, 3)
    depth = points_cam[..., 2]
    safe = np.where(np.abs(depth) < 1e-12, 1e-12, depth)
    xy = points_cam[..., :2] / safe[..., None]  # (V, N, 2)
    xy = distort_normalized(xy, dist[:, None, :])
    uv = np.einsum("vij,vnj->vni", K[:, :2, :2], xy) + K[:, None, :2, 2]
    V = K.shape[0]
    return uv.reshape((V,) + lead + (2,)), depth.reshape((V,) + lead)


def project_points_torch(points_world, K, dist, R, t):
    """PyTorch version of :func:`project_points` (differentiable, any device/dtype).

    Shapes as in :func:`project_points`: ``points_world (..., 3)`` -> ``uv (V, ..., 2)``, ``depth (V, ...)``.

    Example:
        >>> import torch
        >>> K = torch.tensor([[[100.0, 0, 50], [0, 100, 40], [0, 0, 1]]])
        >>> uv, z = project_points_torch(torch.tensor([0.1, 0.2, 2.0]), K, torch.zeros(1, 5), torch.eye(3)[None], torch.zeros(1, 3))
        >>> uv.tolist()
        [[55.0, 50.0]]
    """
    import torch

    lead = points_world.shape[:-1]
    flat = points_world.reshape(-1, 3)
    points_cam = torch.einsum("vij,nj->vni", R, flat) + t[:, None, :]  # (V, N, 3)
    depth = points_cam[..., 2]
    safe = torch.where(depth.abs() < 1e-12, torch.full_like(depth, 1e-12), depth)
    xy = points_cam[..., :2] / safe[..., None]
    if bool((dist != 0).any()):  # ideal pinhole cameras (all-zero distortion) skip the polynomial
        xy = _distort(xy, dist[:, None, :])
    uv = torch.einsum("vij,vnj->vni", K[:, :2, :2], xy) + K[:, None, :2, 2]
    V = K.shape[0]
    return uv.reshape((V,) + tuple(lead) + (2,)), depth.reshape((V,) + tuple(lead))


def undistort_pixels(uv_px: np.ndarray, K: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """Remove lens distortion from raw pixel coordinates, keeping the same intrinsics ``K``.

    Args:
        uv_px: ``(V, ..., 2)`` raw image pixels. K: ``(V, 3, 3)``. dist: ``(V, 5)``.

    Returns:
        ``(V, ..., 2)`` pixels of the ideal (undistorted) pinhole camera with intrinsics ``K``.

    Example:
        >>> K = np.array([[[500.0, 0, 320], [0, 500, 240], [0, 0, 1]]])
        >>> undistort_pixels(np.array([[320.0, 240.0]]), K, np.array([[0.1, 0, 0, 0, 0]])).tolist()
        [[320.0, 240.0]]
    """
    uv_px = np.asarray(uv_px, dtype=float)
    V = K.shape[0]
    shape = uv_px.shape
    flat = uv_px.reshape(V, -1, 2)
    fx, fy = K[:, 0, 0][:, None], K[:, 1, 1][:, None]
    cx, cy, skew = K[:, 0, 2][:, None], K[:, 1, 2][:, None], K[:, 0, 1][:, None]
    y = (flat[..., 1] - cy) / fy
    x = (flat[..., 0] - cx - skew * y) / fx
    xy = undistort_normalized(np.stack([x, y], -1), dist[:, None, :])
    u = fx * xy[..., 0] + skew * xy[..., 1] + cx
    v = fy * xy[..., 1] + cy
    return np.stack([u, v], -1).reshape(shape)


def camera_centers(R: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Camera centres in the world, ``-R^T t``: ``R (..., 3, 3)``, ``t (..., 3)`` -> ``(..., 3)`` metres.

    Example:
        >>> camera_centers(np.eye(3), np.array([1.0, 2.0, 4.0])).tolist()
        [-1.0, -2.0, -4.0]
    """
    return -np.einsum("...ji,...j->...i", R, t)


def look_at_rotation(position_world: np.ndarray, target_world: np.ndarray,
                     up_world: Sequence[float] = (0.0, 0.0, 1.0)) -> np.ndarray:
    """Camera-from-world rotation of a camera at ``position_world`` looking at ``target_world``.

    The camera's z axis points at the target; its y axis (image down) points against ``up_world``.
    Returns ``(3, 3)``.
    """
    position_world = np.asarray(position_world, float)
    forward = np.asarray(target_world, float) - position_world
    forward /= np.linalg.norm(forward)
    up = np.asarray(up_world, float)
    right = np.cross(forward, up)
    if np.linalg.norm(right) < 1e-9:  # looking straight up/down: pick any right vector
        right = np.cross(forward, [1.0, 0.0, 0.0] if abs(forward[0]) < 0.9 else [0.0, 1.0, 0.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    return np.stack([right, down, forward])


# ----------------------------------------------------------------------------- containers


def _as_array(value, shape: tuple[int, ...], name: str, field: str) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if arr.size == int(np.prod(shape)) and arr.shape != shape:
        arr = arr.reshape(shape)
    if arr.shape != shape:
        raise InputError(None, f"{name}.{field}", f"expected shape {shape}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InputError(None, f"{name}.{field}", "contains NaN or infinity")
    return arr


@dataclass(frozen=True)
class Camera:
    """One calibrated camera.

    Attributes:
        name: camera name, as in the calibration and the keypoint folders.
        K: ``(3, 3)`` intrinsics, pixels.
        dist: ``(5,)`` OpenCV distortion ``(k1, k2, p1, p2, k3)``.
        R: ``(3, 3)`` rotation, camera-from-world.
        t: ``(3,)`` translation, metres, camera-from-world (``x_cam = R x_world + t``).
        width, height: image size in pixels.
    """

    name: str
    K: np.ndarray
    dist: np.ndarray
    R: np.ndarray
    t: np.ndarray
    width: int
    height: int

    def __post_init__(self) -> None:
        name = str(self.name)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "K", _as_array(self.K, (3, 3), name, "K"))
        dist = np.asarray(self.dist, dtype=float).ravel()
        if dist.size > 5:
            if np.any(dist[5:] != 0):
                raise InputError(None, f"{name}.dist", f"only 5 coefficients (k1 k2 p1 p2 k3) supported, got {dist.size}")
            dist = dist[:5]
        dist = np.concatenate([dist, np.zeros(5 - dist.size)])
        object.__setattr__(self, "dist", _as_array(dist, (5,), name, "dist"))
        R = _as_array(self.R, (3, 3), name, "R")
        if not np.allclose(R @ R.T, np.eye(3), atol=1e-4) or np.linalg.det(R) < 0:
            raise InputError(None, f"{name}.R", "not a rotation matrix")
        object.__setattr__(self, "R", R)
        object.__setattr__(self, "t", _as_array(self.t, (3,), name, "t"))
        if int(self.width) <= 0 or int(self.height) <= 0:
            raise InputError(None, f"{name}.size", f"image size must be positive, got {self.width}x{self.height}")
        object.__setattr__(self, "width", int(self.width))
        object.__setattr__(self, "height", int(self.height))
        for arr in (self.K, self.dist, self.R, self.t):
            arr.setflags(write=False)

    @classmethod
    def look_at(cls, name: str, position_world, target_world, *, focal_px: float = 1000.0,
                width: int = 1920, height: int = 1080, dist=(0.0, 0.0, 0.0, 0.0, 0.0),
                up_world=(0.0, 0.0, 1.0)) -> "Camera":
        """A camera at ``position_world`` (metres) looking at ``target_world``; principal point at the image centre."""
        R = look_at_rotation(position_world, target_world, up_world)
        t = -R @ np.asarray(position_world, float)
        K = np.array([[focal_px, 0.0, (width - 1) / 2], [0.0, focal_px, (height - 1) / 2], [0.0, 0.0, 1.0]])
        return cls(name=name, K=K, dist=np.asarray(dist, float), R=R, t=t, width=width, height=height)

    @property
    def center_world(self) -> np.ndarray:
        """``(3,)`` metres: the camera centre in the world."""
        return camera_centers(self.R, self.t)

    @property
    def projection_matrix(self) -> np.ndarray:
        """``(3, 4)`` ``K [R | t]`` of the undistorted camera."""
        return self.K @ np.concatenate([self.R, self.t[:, None]], axis=1)

    def project(self, points_world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(..., 3)`` metres -> ``uv_px (..., 2)``, ``depth_m (...)``."""
        uv, depth = project_points(points_world, self.K[None], self.dist[None], self.R[None], self.t[None])
        return uv[0], depth[0]


@dataclass(frozen=True)
class Rig:
    """An ordered set of calibrated, synchronised cameras with unique names."""

    cameras: tuple[Camera, ...]

    def __post_init__(self) -> None:
        cams = tuple(self.cameras)
        if not cams:
            raise InputError(None, "cameras", "a rig needs at least one camera")
        names = [c.name for c in cams]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise InputError(None, "cameras", f"duplicate camera names {dupes}")
        object.__setattr__(self, "cameras", cams)

    def __len__(self) -> int:
        return len(self.cameras)

    def __iter__(self):
        return iter(self.cameras)

    def __getitem__(self, key: int | str) -> Camera:
        if isinstance(key, str):
            return self.cameras[self.index(key)]
        return self.cameras[key]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.cameras)

    def index(self, name: str) -> int:
        """Position of a camera by name."""
        try:
            return self.names.index(name)
        except ValueError:
            raise InputError(None, "cameras", f"camera {name!r} is not in the calibration (has {list(self.names)})") from None

    def subset(self, names: Sequence[str]) -> "Rig":
        """A rig of the named cameras, in the given order."""
        return Rig(tuple(self[n] for n in names))

    @property
    def K(self) -> np.ndarray:
        """``(V, 3, 3)`` intrinsics."""
        return np.stack([c.K for c in self.cameras])

    @property
    def dist(self) -> np.ndarray:
        """``(V, 5)`` distortion."""
        return np.stack([c.dist for c in self.cameras])

    @property
    def R(self) -> np.ndarray:
        """``(V, 3, 3)`` camera-from-world rotations."""
        return np.stack([c.R for c in self.cameras])

    @property
    def t(self) -> np.ndarray:
        """``(V, 3)`` camera-from-world translations, metres."""
        return np.stack([c.t for c in self.cameras])

    @property
    def image_sizes(self) -> np.ndarray:
        """``(V, 2)`` int ``(width, height)`` pixels."""
        return np.array([[c.width, c.height] for c in self.cameras], dtype=np.int64)

    @property
    def centers_world(self) -> np.ndarray:
        """``(V, 3)`` camera centres, metres."""
        return camera_centers(self.R, self.t)

    @property
    def projection_matrices(self) -> np.ndarray:
        """``(V, 3, 4)`` ``K [R | t]`` of the undistorted cameras."""
        return np.einsum("vij,vjk->vik", self.K, np.concatenate([self.R, self.t[:, :, None]], axis=2))

    def project(self, points_world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(..., 3)`` metres -> ``uv_px (V, ..., 2)`` raw-image pixels, ``depth_m (V, ...)``."""
        return project_points(points_world, self.K, self.dist, self.R, self.t)

    def undistort(self, uv_px: np.ndarray) -> np.ndarray:
        """``(V, ..., 2)`` raw pixels -> undistorted pixels (same ``K``)."""
        return undistort_pixels(uv_px, self.K, self.dist)

    def in_image(self, uv_px: np.ndarray, depth_m: np.ndarray, margin_px: float = 0.0) -> np.ndarray:
        """``(V, ...)`` bool: in front of the camera and inside the image (minus ``margin_px``)."""
        size = self.image_sizes.astype(float)  # (V, 2)
        shape = (len(self),) + (1,) * (uv_px.ndim - 2) + (2,)
        lo = np.full(shape, -0.5 + margin_px)
        hi = size.reshape(shape) - 0.5 - margin_px
        return (depth_m > 1e-6) & np.all((uv_px >= lo) & (uv_px <= hi), axis=-1)


def ring_rig(num_cameras: int = 5, radius_m: float = 4.0, height_m: float = 2.2,
             target_world=(0.0, 0.0, 1.0), focal_px: float = 1100.0, width: int = 1920, height: int = 1080,
             arc_deg: float = 360.0, name_format: str = "cam{:02d}") -> Rig:
    """Cameras evenly spaced on a horizontal circle (z up), all looking at ``target_world``.

    Example:
        >>> rig = ring_rig(5)
        >>> rig.names[:2], np.round(np.linalg.norm(rig.centers_world[:, :2], axis=1), 6).tolist()[0]
        (('cam00', 'cam01'), 4.0)
    """
    step = arc_deg / (num_cameras if arc_deg >= 360.0 else max(num_cameras - 1, 1))
    start = 0.0 if arc_deg >= 360.0 else -arc_deg / 2
    cams = []
    for i in range(num_cameras):
        a = np.deg2rad(start + i * step)
        pos = np.array([radius_m * np.cos(a), radius_m * np.sin(a), height_m]) + np.array([target_world[0], target_world[1], 0.0])
        cams.append(Camera.look_at(name_format.format(i), pos, target_world, focal_px=focal_px, width=width, height=height))
    return Rig(tuple(cams))

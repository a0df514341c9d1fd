"""Built-in camera rigs for synthetic training: ring, dome and half ring, randomised within ranges.

All rigs are z up with the floor at z = 0 and look at a point near ``(0, 0, target_height_m)``
(jittered per camera by ``look_at_jitter_m``). Each camera draws its own focal length (from a
horizontal field of view), image size (landscape or portrait) and OpenCV radial/tangential
distortion; the distortion is kept monotone over the image (a lens model that folds back would
project far points into the image).

Example:
    >>> rig = random_rig(np.random.default_rng(0))
    >>> 3 <= len(rig) <= 10, bool(np.linalg.norm(look_at_point(rig)[:2]) < 1.0)
    (True, True)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from closecap.cameras import Camera, Rig, distort_normalized, look_at_rotation
from closecap.config import Config
from closecap.errors import InputError

LAYOUTS = ("ring", "dome", "half_ring")


@dataclass(frozen=True)
class RigConfig(Config):
    """Ranges the rig generators draw from (uniform unless said otherwise)."""

    layouts: tuple[str, ...] = LAYOUTS
    """Layouts :func:`random_rig` picks from, uniformly: ``ring``, ``dome``, ``half_ring``."""
    num_cameras: tuple[int, int] = (3, 10)
    """Inclusive range of the number of cameras."""
    radius_m: tuple[float, float] = (3.0, 6.0)
    """Horizontal distance of the cameras from the centre, metres (one value per rig, +-10 % per camera)."""
    height_m: tuple[float, float] = (0.8, 3.0)
    """Camera heights above the floor, metres (ring and half ring; per camera)."""
    dome_elevation_deg: tuple[float, float] = (5.0, 50.0)
    """Elevation of dome cameras seen from the target, degrees (dome cameras sit on two or three tiers)."""
    half_ring_arc_deg: tuple[float, float] = (100.0, 200.0)
    """Arc covered by a half ring, degrees."""
    target_height_m: float = 1.0
    """Height of the common look-at point, metres."""
    look_at_jitter_m: float = 0.3
    """Standard deviation of each camera's look-at point around the common one, metres (per axis)."""
    hfov_deg: tuple[float, float] = (50.0, 90.0)
    """Horizontal field of view of landscape cameras (of the short side's twin for portrait), degrees."""
    image_sizes: tuple[tuple[int, int], ...] = ((1920, 1080), (1280, 720), (1088, 1920), (2048, 1536), (1280, 1024),
                                                (640, 480))
    """(width, height) pixels picked per rig (``same_image_size``) or per camera; portrait entries included."""
    portrait_probability: float = 0.15
    """Probability that a landscape size is turned to portrait (width and height swapped)."""
    same_image_size: bool = True
    """One image size for the whole rig (most real rigs); False draws per camera."""
    k1: tuple[float, float] = (-0.3, 0.05)
    """Radial distortion k1 (OpenCV), typical of machine-vision and action-camera lenses."""
    k2: tuple[float, float] = (-0.05, 0.15)
    """Radial distortion k2."""
    tangential_max: float = 0.001
    """|p1|, |p2| upper bound."""
    capture_radius_m: float = 1.5
    """Radius of the vertical cylinder around the centre that every camera frames fully, metres: a camera's
    focal length is shortened when the drawn one would crop it (real rigs are set up to see their volume)."""
    capture_height_m: float = 2.2
    """Height of that cylinder above the floor, metres."""

    def __post_init__(self) -> None:
        bad = [k for k in self.layouts if k not in LAYOUTS]
        if bad or not self.layouts:
            raise InputError(None, "RigConfig.layouts", f"unknown layouts {bad}; known {LAYOUTS}")
        lo, hi = self.num_cameras
        if not 2 <= lo <= hi:
            raise InputError(None, "RigConfig.num_cameras", f"need 2 <= min <= max, got {self.num_cameras}")


def _uniform(rng: np.random.Generator, bounds, size=None):
    return rng.uniform(bounds[0], bounds[1], size)


def _draw_distortion(rng: np.random.Generator, config: RigConfig) -> np.ndarray:
    """``(5,)`` OpenCV coefficients ``(k1, k2, p1, p2, 0)`` drawn from the configured ranges."""
    k1, k2 = _uniform(rng, config.k1), _uniform(rng, config.k2)
    p = rng.uniform(-config.tangential_max, config.tangential_max, 2)
    return np.array([k1, k2, p[0], p[1], 0.0])


def _tame(dist: np.ndarray, r_max: float) -> np.ndarray:
    """Scale k1, k2 down until the radial map is monotone (and not collapsing) up to radius ``r_max``."""
    k1, k2 = dist[0], dist[1]
    r = np.linspace(0.0, r_max, 64)
    for _ in range(20):
        slope = 1 + 3 * k1 * r ** 2 + 5 * k2 * r ** 4  # d(r * radial(r)) / dr
        radial = 1 + k1 * r ** 2 + k2 * r ** 4
        if np.all(slope > 0.2) and np.all(radial > 0.5):
            break
        k1, k2 = 0.7 * k1, 0.7 * k2
    return np.array([k1, k2, dist[2], dist[3], dist[4]])


def _camera(rng: np.random.Generator, config: RigConfig, name: str, position_world, target_world,
            size: tuple[int, int]) -> Camera:
    width, height = size
    focal = (max(width, height) / 2) / np.tan(np.deg2rad(_uniform(rng, config.hfov_deg)) / 2)
    target = np.asarray(target_world, float) + rng.normal(0.0, config.look_at_jitter_m, 3)
    dist = _draw_distortion(rng, config)
    for _ in range(6):  # shorten the focal length until the capture volume fits, lens included
        dist = _tame(dist, np.hypot(width, height) / 2 / focal)
        fit = _max_focal(position_world, target, width, height, config, dist)
        if focal <= fit:
            break
        focal = fit
    dist = _tame(dist, np.hypot(width, height) / 2 / focal)
    return Camera.look_at(name, position_world, target, focal_px=float(focal), width=width, height=height,
                          dist=dist)


def _max_focal(position_world, target_world, width: int, height: int, config: RigConfig,
               dist: np.ndarray) -> float:
    """Longest focal length (pixels) whose image holds the capture cylinder with 10 % to spare."""
    az = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    ring_xy = np.stack([config.capture_radius_m * np.cos(az), config.capture_radius_m * np.sin(az)], axis=1)
    points = np.concatenate([np.column_stack([ring_xy, np.full(24, z)]) for z in (0.0, config.capture_height_m)])
    R = look_at_rotation(position_world, target_world)
    cam = (points - np.asarray(position_world, float)) @ R.T  # (N, 3)
    if np.any(cam[:, 2] < 0.1):
        return np.inf  # the camera is inside the volume: nothing to frame
    xy = np.abs(distort_normalized(cam[:, :2] / cam[:, 2:3], dist))  # (N, 2) normalised, distorted
    limits = np.array([(width - 1) / 2, (height - 1) / 2]) * 0.9
    return float(np.min(limits / np.maximum(xy, 1e-9)))


def _sizes(rng: np.random.Generator, config: RigConfig, count: int) -> list[tuple[int, int]]:
    def draw():
        w, h = config.image_sizes[rng.integers(len(config.image_sizes))]
        if w > h and rng.random() < config.portrait_probability:
            w, h = h, w
        return int(w), int(h)

    if config.same_image_size:
        return [draw()] * count
    return [draw() for _ in range(count)]


def _ring_cameras(rng, config: RigConfig, azimuths_rad: np.ndarray, heights_m: np.ndarray) -> Rig:
    count = len(azimuths_rad)
    radius = _uniform(rng, config.radius_m) * rng.uniform(0.9, 1.1, count)
    target = np.array([0.0, 0.0, config.target_height_m])
    sizes = _sizes(rng, config, count)
    cams = []
    for i in range(count):
        pos = np.array([radius[i] * np.cos(azimuths_rad[i]), radius[i] * np.sin(azimuths_rad[i]), heights_m[i]])
        cams.append(_camera(rng, config, f"cam{i:02d}", pos, target, sizes[i]))
    return Rig(tuple(cams))


def _count(rng: np.random.Generator, config: RigConfig) -> int:
    return int(rng.integers(config.num_cameras[0], config.num_cameras[1] + 1))


def ring(rng: np.random.Generator, config: RigConfig = RigConfig()) -> Rig:
    """Cameras around the full circle (evenly spaced, azimuth jitter +-0.3 of a step), heights drawn per camera.

    Example:
        >>> rig = ring(np.random.default_rng(1))
        >>> bool(np.all(np.linalg.norm(rig.centers_world[:, :2], axis=1) > 2.5))
        True
    """
    count = _count(rng, config)
    step = 2 * np.pi / count
    az = rng.uniform(0, 2 * np.pi) + step * (np.arange(count) + rng.uniform(-0.3, 0.3, count))
    return _ring_cameras(rng, config, az, _uniform(rng, config.height_m, count))


def half_ring(rng: np.random.Generator, config: RigConfig = RigConfig()) -> Rig:
    """Cameras along an arc of ``half_ring_arc_deg`` (one side of the room), heights drawn per camera.

    Example:
        >>> rig = half_ring(np.random.default_rng(2))
        >>> len(rig) >= 3
        True
    """
    count = _count(rng, config)
    arc = np.deg2rad(_uniform(rng, config.half_ring_arc_deg))
    az = rng.uniform(0, 2 * np.pi) + np.linspace(-arc / 2, arc / 2, count) + rng.normal(0, 0.05, count)
    return _ring_cameras(rng, config, az, _uniform(rng, config.height_m, count))


def dome(rng: np.random.Generator, config: RigConfig = RigConfig()) -> Rig:
    """Cameras on a hemisphere-like dome: two or three elevation tiers, azimuths interleaved between tiers.

    Example:
        >>> rig = dome(np.random.default_rng(3))
        >>> bool(rig.centers_world[:, 2].max() > 1.0)
        True
    """
    count = _count(rng, config)
    tiers = 2 if count < 7 else 3
    tier = np.arange(count) % tiers
    elev = np.deg2rad(np.linspace(config.dome_elevation_deg[0], config.dome_elevation_deg[1], tiers))[tier]
    elev = elev + np.deg2rad(rng.uniform(-4, 4, count))
    step = 2 * np.pi / count
    az = rng.uniform(0, 2 * np.pi) + step * (np.arange(count) + rng.uniform(-0.2, 0.2, count))
    radius = _uniform(rng, config.radius_m)
    horizontal = radius * np.ones(count)
    heights = np.maximum(config.target_height_m + horizontal * np.tan(elev), 0.3)
    return _ring_cameras(rng, config.replace(radius_m=(radius, radius)), az, heights)


_GENERATORS = {"ring": ring, "dome": dome, "half_ring": half_ring}


def random_rig(rng: np.random.Generator, config: RigConfig = RigConfig()) -> Rig:
    """A rig of a layout drawn from ``config.layouts``, for training across rigs.

    Example:
        >>> a, b = random_rig(np.random.default_rng(5)), random_rig(np.random.default_rng(5))
        >>> bool(np.array_equal(a.K, b.K) and np.array_equal(a.t, b.t))
        True
    """
    layout = config.layouts[int(rng.integers(len(config.layouts)))]
    return _GENERATORS[layout](rng, config)


def look_at_point(rig: Rig) -> np.ndarray:
    """Least-squares intersection of the cameras' optical axes, ``(3,)`` metres, world frame.

    Minimises the summed squared distance to the V axis lines; with parallel axes (ill-posed) the
    minimum-norm solution around the mean camera centre is returned.

    Example:
        >>> from closecap.cameras import ring_rig
        >>> np.round(look_at_point(ring_rig(4, target_world=(1.0, 2.0, 1.0))), 6).tolist()
        [1.0, 2.0, 1.0]
    """
    centers = rig.centers_world  # (V, 3)
    axes = rig.R[:, 2, :]  # (V, 3) optical axis (camera z) in the world
    proj = np.eye(3)[None] - axes[:, :, None] * axes[:, None, :]  # (V, 3, 3)
    A = proj.sum(0)
    b = np.einsum("vij,vj->i", proj, centers)
    mean = centers.mean(0)
    sol, *_ = np.linalg.lstsq(A, b - A @ mean, rcond=None)
    return sol + mean

"""Triangulation: confidence-weighted DLT, reprojection errors and per-joint view-pair RANSAC.

Pure functions over arrays, vectorized over every leading dimension (people, joints): one batched
SVD solves all points at once. Pixels passed to :func:`triangulate_dlt` are *undistorted* (ideal
pinhole with the camera's ``K``); :func:`triangulate_ransac` and :func:`reprojection_errors` take
raw (distorted) image pixels and a :class:`~closecap.cameras.Rig`.

Example:
    >>> from closecap.cameras import ring_rig
    >>> rig = ring_rig(4)
    >>> points_world = np.array([[0.1, 0.2, 1.0], [-0.3, 0.0, 1.5]])  # (2, 3) metres
    >>> uv_px, _ = rig.project(points_world)  # (V, 2, 2)
    >>> estimate = triangulate_dlt(np.moveaxis(uv_px, 0, -2), rig.projection_matrices)
    >>> bool(np.allclose(estimate, points_world, atol=1e-9))
    True
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Union

import numpy as np

from closecap.cameras import Rig, project_points, undistort_pixels
from closecap.config import Config
from closecap.errors import InputError

CameraArrays = tuple  # (K (V, 3, 3), dist (V, 5), R (V, 3, 3), t (V, 3))
RigLike = Union[Rig, CameraArrays]


# ----------------------------------------------------------------------------- DLT


def triangulate_dlt(uv_px: np.ndarray, projection_matrices: np.ndarray,
                    weights: np.ndarray | None = None) -> np.ndarray:
    """Confidence-weighted linear (DLT) triangulation of many points at once.

    Each view contributes two rows ``u P_3 - P_1`` and ``v P_3 - P_2``, normalised to unit length
    and multiplied by the view's weight; the point is the right singular vector of the smallest
    singular value (one batched SVD for all leading dims).

    Args:
        uv_px: ``(..., V, 2)`` UNDISTORTED pixels (see :func:`closecap.cameras.undistort_pixels`).
        projection_matrices: ``(V, 3, 4)`` or ``(..., V, 3, 4)`` (broadcastable) ``K [R | t]``.
        weights: ``(..., V)`` non-negative view weights (detector scores); 0 = view unused.
            ``None`` = all ones. Entries of ``uv_px`` with weight 0 may be NaN.

    Returns:
        ``(..., 3)`` metres, world frame; NaN where fewer than two views have positive weight
        or the solution lies at infinity.

    Example:
        >>> P = np.array([[[1.0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]],
        ...               [[1.0, 0, 0, -1], [0, 1, 0, 0], [0, 0, 1, 0]]])  # (2, 3, 4)
        >>> X = np.array([0.5, 0.2, 2.0])
        >>> uv = np.stack([X[:2] / X[2], (X[:2] - [1, 0]) / X[2]])  # (V=2, 2)
        >>> np.round(triangulate_dlt(uv, P), 9).tolist()
        [0.5, 0.2, 2.0]
    """
    uv = np.asarray(uv_px, dtype=float)
    P = np.asarray(projection_matrices, dtype=float)
    if uv.ndim < 2 or uv.shape[-1] != 2:
        raise InputError(None, "uv_px", f"expected (..., V, 2), got {uv.shape}")
    V = uv.shape[-2]
    if P.ndim < 3 or P.shape[-3:] != (V, 3, 4):
        raise InputError(None, "projection_matrices", f"expected (..., {V}, 3, 4), got {P.shape}")
    lead = uv.shape[:-2]
    if weights is None:
        w = np.ones(lead + (V,))
    else:
        w = np.asarray(weights, dtype=float)
        if w.shape != lead + (V,):
            raise InputError(None, "weights", f"expected {lead + (V,)}, got {w.shape}")
        w = np.where(np.isfinite(w) & (w > 0), w, 0.0)
    used = (w > 0) & np.isfinite(uv).all(-1)  # (..., V)
    w = np.where(used, w, 0.0)
    uv = np.where(used[..., None], uv, 0.0)
    P = np.broadcast_to(P, lead + (V, 3, 4))
    rows = uv[..., :, None] * P[..., 2:3, :] - P[..., :2, :]  # (..., V, 2, 4)
    norm = np.linalg.norm(rows, axis=-1, keepdims=True)
    rows = rows / np.maximum(norm, 1e-300) * w[..., None, None]
    A = rows.reshape(lead + (2 * V, 4))
    if V < 2:
        return np.full(lead + (3,), np.nan)
    _, _, vt = np.linalg.svd(A, full_matrices=False)  # vt: (..., 4, 4)
    X_h = vt[..., -1, :]  # (..., 4)
    scale = X_h[..., 3:]
    ok = (used.sum(-1) >= 2) & (np.abs(scale[..., 0]) > 1e-12)
    points = X_h[..., :3] / np.where(ok[..., None], scale, 1.0)
    return np.where(ok[..., None], points, np.nan)


def project_with_matrices(points_world: np.ndarray, projection_matrices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project points with ``K [R | t]`` matrices (no distortion).

    Args:
        points_world: ``(..., 3)`` metres, world frame (NaN allowed: NaN out).
        projection_matrices: ``(V, 3, 4)`` whose last row is ``[R_3 | t_3]`` (``K``'s last row ``0 0 1``).

    Returns:
        ``uv_px`` ``(..., V, 2)`` undistorted pixels (NaN where depth <= 1e-9) and ``depth_m`` ``(..., V)``.

    Example:
        >>> P = np.array([[[100.0, 0, 50, 0], [0, 100, 40, 0], [0, 0, 1, 0]]])
        >>> uv, z = project_with_matrices(np.array([0.1, 0.2, 2.0]), P)
        >>> uv.tolist(), z.tolist()
        ([[55.0, 50.0]], [2.0])
    """
    points_world = np.asarray(points_world, dtype=float)
    homo = np.concatenate([points_world, np.ones(points_world.shape[:-1] + (1,))], axis=-1)  # (..., 4)
    proj = np.einsum("vij,...j->...vi", projection_matrices, homo)  # (..., V, 3)
    depth = proj[..., 2]
    front = depth > 1e-9
    uv = proj[..., :2] / np.where(front, depth, 1.0)[..., None]
    return np.where(front[..., None], uv, np.nan), depth


def triangulate_two_view(uv_px: np.ndarray, projection_matrices: np.ndarray) -> np.ndarray:
    """Fast two-view DLT for hypotheses: inhomogeneous least squares via a 3x3 normal equation.

    Less robust than :func:`triangulate_dlt` (no points at infinity, no weights) but several times
    faster; used for RANSAC and association hypotheses, which are refit anyway.

    Args:
        uv_px: ``(..., 2, 2)`` undistorted pixels of the two views (NaN allowed: NaN out).
        projection_matrices: ``(..., 2, 3, 4)`` ``K [R | t]``, broadcastable against ``uv_px``.

    Returns:
        ``(..., 3)`` metres, world frame; NaN where degenerate.

    Example:
        >>> P = np.array([[[1.0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]],
        ...               [[1.0, 0, 0, -1], [0, 1, 0, 0], [0, 0, 1, 0]]])
        >>> np.round(triangulate_two_view(np.array([[0.25, 0.1], [-0.25, 0.1]]), P), 9).tolist()
        [0.5, 0.2, 2.0]
    """
    rows = uv_px[..., :, None] * projection_matrices[..., 2:3, :] - projection_matrices[..., :2, :]  # (..., 2, 2, 4)
    rows = rows / np.maximum(np.linalg.norm(rows, axis=-1, keepdims=True), 1e-300)
    A = rows.reshape(rows.shape[:-3] + (4, 4))  # (..., 4 rows, 4)
    M = np.einsum("...ri,...rj->...ij", A[..., :3], A[..., :3])  # (..., 3, 3)
    b = -np.einsum("...ri,...r->...i", A[..., :3], A[..., 3])  # (..., 3)
    # solve by the adjugate (vectorized Cramer's rule): M is symmetric
    c0 = np.cross(M[..., 1, :], M[..., 2, :])
    c1 = np.cross(M[..., 2, :], M[..., 0, :])
    c2 = np.cross(M[..., 0, :], M[..., 1, :])
    det = np.einsum("...i,...i->...", M[..., 0, :], c0)
    adj_b = c0 * b[..., 0:1] + c1 * b[..., 1:2] + c2 * b[..., 2:3]  # adj(M) b, M symmetric
    ok = np.abs(det) > 1e-12 * np.maximum(np.abs(M).max(axis=(-1, -2)) ** 3, 1e-300)
    with np.errstate(invalid="ignore"):
        ok &= np.isfinite(adj_b).all(-1)
    return np.where(ok[..., None], adj_b / np.where(ok, det, 1.0)[..., None], np.nan)


# ----------------------------------------------------------------------------- reprojection


def _camera_arrays(rig: RigLike) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    if isinstance(rig, Rig):
        return rig.K, rig.dist, rig.R, rig.t
    try:
        K, dist, R, t = (np.asarray(a, dtype=float) for a in rig)
    except (TypeError, ValueError):
        raise InputError(None, "rig", "expected a Rig or a tuple (K, dist, R, t)") from None
    V = K.shape[0]
    for name, arr, shape in (("K", K, (V, 3, 3)), ("dist", dist, (V, 5)), ("R", R, (V, 3, 3)), ("t", t, (V, 3))):
        if arr.shape != shape:
            raise InputError(None, f"rig.{name}", f"expected {shape}, got {arr.shape}")
    return K, dist, R, t


def reprojection_errors(points_world: np.ndarray, rig: RigLike, uv_px: np.ndarray) -> np.ndarray:
    """Distance in raw-image pixels between projected points and observed keypoints.

    Args:
        points_world: ``(..., 3)`` metres, world frame.
        rig: a :class:`~closecap.cameras.Rig` or ``(K (V, 3, 3), dist (V, 5), R (V, 3, 3), t (V, 3))``.
        uv_px: ``(..., V, 2)`` observed raw (distorted) image pixels.

    Returns:
        ``(..., V)`` pixels; ``inf`` where the point is behind the camera, NaN where the point or
        the observation is NaN.

    Example:
        >>> from closecap.cameras import ring_rig
        >>> rig = ring_rig(3)
        >>> X = np.array([0.0, 0.0, 1.0])
        >>> uv, _ = rig.project(X)  # (V, 2)
        >>> np.round(reprojection_errors(X, rig, uv + [3.0, 4.0]), 9).tolist()
        [5.0, 5.0, 5.0]
    """
    K, dist, R, t = _camera_arrays(rig)
    V = K.shape[0]
    points_world = np.asarray(points_world, dtype=float)
    uv_obs = np.asarray(uv_px, dtype=float)
    if uv_obs.shape != points_world.shape[:-1] + (V, 2):
        raise InputError(None, "uv_px", f"expected {points_world.shape[:-1] + (V, 2)}, got {uv_obs.shape}")
    with np.errstate(all="ignore"):
        uv, depth = project_points(np.nan_to_num(points_world), K, dist, R, t)  # (V, ..., 2), (V, ...)
    uv = np.moveaxis(uv, 0, -2)
    depth = np.moveaxis(depth, 0, -1)
    err = np.linalg.norm(uv - uv_obs, axis=-1)  # (..., V)
    err = np.where(depth > 1e-9, err, np.inf)
    bad = ~np.isfinite(points_world).all(-1)[..., None] | ~np.isfinite(uv_obs).all(-1)
    return np.where(bad, np.nan, err)


# ----------------------------------------------------------------------------- RANSAC


@dataclass(frozen=True)
class RansacConfig(Config):
    """Settings of :func:`triangulate_ransac` (per-joint robust triangulation over view pairs)."""

    threshold_px: float = 20.0
    """A view is an inlier of a joint when the joint reprojects within this many (undistorted) pixels.
    Raise it for low-resolution cameras or noisy detectors; lower it for sharp, high-resolution views."""
    min_score: float = 0.05
    """2D keypoints with a detector score at or below this (0..1) are ignored."""
    min_views: int = 2
    """Fewest inlier views for a joint to be kept; fewer -> NaN."""
    min_depth_m: float = 0.05
    """A point closer than this (metres, along the optical axis) or behind a camera is an outlier there."""
    refine_iterations: int = 2
    """Rounds of (weighted refit on inliers -> re-select inliers) after the best view pair."""
    irls_iterations: int = 0
    """Rounds of Cauchy-weighted refit after the inlier refit (0 = plain weighted DLT on the inliers)."""
    irls_scale: float = 0.5
    """Cauchy scale of those rounds, as a fraction of the inlier threshold."""
    score_power: float = 0.0
    """Inlier views are weighted by ``score ** score_power`` in the refit. 0 (all inliers equal) measured
    best: a detector's score says little about how precisely a correct joint is placed, and wrong joints
    are already removed as outliers (benchmarks/results.md, "baseline-tuning")."""

    def __post_init__(self) -> None:
        if not self.threshold_px > 0:
            raise InputError(None, "RansacConfig.threshold_px", f"must be > 0, got {self.threshold_px}")
        if int(self.min_views) < 2:
            raise InputError(None, "RansacConfig.min_views", f"must be >= 2, got {self.min_views}")
        if int(self.refine_iterations) < 0:
            raise InputError(None, "RansacConfig.refine_iterations", f"must be >= 0, got {self.refine_iterations}")


class RansacResult(NamedTuple):
    """Output of :func:`triangulate_ransac`.

    Attributes:
        points_world: ``(..., 3)`` metres, world frame; NaN where fewer than ``min_views`` inliers.
        inliers: ``(..., V)`` bool, the views used for each point (all False where NaN).
        error_px: ``(...,)`` mean reprojection error over the inlier views, undistorted pixels (NaN where NaN).
    """

    points_world: np.ndarray
    inliers: np.ndarray
    error_px: np.ndarray


def undistort_views(uv_px: np.ndarray, rig: RigLike) -> np.ndarray:
    """Undistort keypoints laid out with views on axis ``-2``.

    Args:
        uv_px: ``(..., V, 2)`` raw image pixels (non-finite entries stay NaN).
        rig: :class:`~closecap.cameras.Rig` or ``(K, dist, R, t)``.

    Returns:
        ``(..., V, 2)`` undistorted pixels (same ``K``).

    Example:
        >>> from closecap.cameras import ring_rig
        >>> rig = ring_rig(2)
        >>> undistort_views(np.array([[10.0, 20.0], [30.0, 40.0]]), rig).tolist()
        [[10.0, 20.0], [30.0, 40.0]]
    """
    K, dist, _, _ = _camera_arrays(rig)
    uv = np.asarray(uv_px, dtype=float)
    finite = np.isfinite(uv).all(-1)
    centre = K[:, :2, 2]  # (V, 2)
    safe = np.where(finite[..., None], uv, centre)
    with np.errstate(all="ignore"):
        und = undistort_pixels(np.moveaxis(safe, -2, 0), K, dist)  # (V, ..., 2)
    und = np.moveaxis(und, 0, -2)
    return np.where(finite[..., None] & np.isfinite(und).all(-1, keepdims=True), und, np.nan)


def triangulate_ransac(uv_px: np.ndarray, scores: np.ndarray, rig: RigLike,
                       config: RansacConfig = RansacConfig()) -> RansacResult:
    """Robust triangulation of every point from its best view pair, then a weighted refit on inliers.

    Per point (vectorized over all of them): every view pair (``V (V-1) / 2``, 45 for 10 views) is
    triangulated; the pair whose point has the most views reprojecting within ``threshold_px``
    (ties: smaller mean error) wins; then ``refine_iterations`` rounds of score-weighted DLT on the
    inliers and inlier re-selection. Views with a point behind them are outliers.

    Args:
        uv_px: ``(..., V, 2)`` raw (distorted) image pixels, e.g. ``(J, V, 2)``.
        scores: ``(..., V)`` detector scores in [0, 1]; ``<= min_score`` = missing.
        rig: :class:`~closecap.cameras.Rig` (``V`` cameras) or ``(K, dist, R, t)``.
        config: thresholds, see :class:`RansacConfig`.

    Returns:
        :class:`RansacResult` ``(points_world (..., 3) m, inliers (..., V) bool, error_px (...,))``.

    Example:
        >>> from closecap.cameras import ring_rig
        >>> rig = ring_rig(5)
        >>> X = np.array([[0.0, 0.0, 1.0], [0.2, -0.1, 1.4]])  # (J=2, 3)
        >>> uv = np.moveaxis(rig.project(X)[0], 0, -2).copy()  # (J, V, 2)
        >>> uv[0, 3] += 200.0  # one wrong view
        >>> res = triangulate_ransac(uv, np.ones((2, 5)), rig)
        >>> bool(np.allclose(res.points_world, X, atol=1e-9)), res.inliers[0].tolist()
        (True, [True, True, True, False, True])
    """
    K, dist, R, t = _camera_arrays(rig)
    V = K.shape[0]
    uv = np.asarray(uv_px, dtype=float)
    s = np.asarray(scores, dtype=float)
    if uv.ndim < 2 or uv.shape[-2:] != (V, 2):
        raise InputError(None, "uv_px", f"expected (..., {V}, 2), got {uv.shape}")
    if s.shape != uv.shape[:-1]:
        raise InputError(None, "scores", f"expected {uv.shape[:-1]}, got {s.shape}")
    projection = np.einsum("vij,vjk->vik", K, np.concatenate([R, t[:, :, None]], axis=2))  # (V, 3, 4)
    und = undistort_views(uv, (K, dist, R, t))
    return ransac_undistorted(und, s, projection, config)


def ransac_undistorted(uv_px: np.ndarray, scores: np.ndarray, projection_matrices: np.ndarray,
                       config: RansacConfig = RansacConfig(), threshold_px: np.ndarray | None = None) -> RansacResult:
    """:func:`triangulate_ransac` on already UNDISTORTED pixels ``(..., V, 2)`` with ``K [R | t]`` ``(V, 3, 4)``.

    ``threshold_px`` (optional, broadcastable to ``(..., V)``) replaces ``config.threshold_px`` with a
    threshold per point and view, e.g. scaled by the size of the person in that view.

    Example:
        >>> P = np.array([[[1.0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]],
        ...               [[1.0, 0, 0, -1], [0, 1, 0, 0], [0, 0, 1, 0]]])
        >>> uv = np.array([[0.25, 0.1], [-0.25, 0.1]])  # the point (0.5, 0.2, 2.0)
        >>> np.round(ransac_undistorted(uv, np.ones(2), P, RansacConfig(threshold_px=0.01)).points_world, 9).tolist()
        [0.5, 0.2, 2.0]
    """
    uv = np.asarray(uv_px, dtype=float)
    scores = np.asarray(scores, dtype=float)
    P = np.asarray(projection_matrices, dtype=float)
    lead, V = uv.shape[:-2], uv.shape[-2]
    uv = uv.reshape((-1, V, 2))  # (N, V, 2)
    scores = scores.reshape((-1, V))
    N = uv.shape[0]
    valid = (scores > config.min_score) & np.isfinite(uv).all(-1)  # (N, V)
    if threshold_px is None:
        thr = np.full((N, V), float(config.threshold_px))
    else:
        thr = np.broadcast_to(np.asarray(threshold_px, dtype=float), lead + (V,)).reshape(N, V)

    view_a, view_b = np.triu_indices(V, 1)  # (Q,)
    if view_a.size == 0 or N == 0:
        empty = np.zeros((N, V), bool)
        return RansacResult(np.full(lead + (3,), np.nan), empty.reshape(lead + (V,)), np.full(lead, np.nan))
    pair_uv = np.stack([uv[:, view_a], uv[:, view_b]], axis=-2)  # (N, Q, 2, 2)
    pair_P = np.stack([P[view_a], P[view_b]], axis=1)  # (Q, 2, 3, 4)
    pair_ok = valid[:, view_a] & valid[:, view_b]  # (N, Q)
    candidates = triangulate_two_view(pair_uv, pair_P)  # (N, Q, 3)
    proj, depth = project_with_matrices(candidates, P)  # (N, Q, V, 2), (N, Q, V)
    err = np.linalg.norm(proj - uv[:, None], axis=-1)  # (N, Q, V), NaN where unusable
    inl = valid[:, None] & (depth > config.min_depth_m) & (err < thr[:, None])  # (N, Q, V)
    q = np.arange(view_a.size)
    pair_in = inl[:, q, view_a] & inl[:, q, view_b] & pair_ok  # (N, Q): both pair views agree
    count = inl.sum(-1)
    mean_err = np.where(inl, err, 0.0).sum(-1) / np.maximum(count, 1)
    rank = np.where(pair_in, count - mean_err / (2.0 * thr.max(-1, keepdims=True)), -np.inf)  # count first, error breaks ties
    best = np.argmax(rank, axis=1)  # (N,)
    has = np.isfinite(rank[np.arange(N), best])
    inlier = inl[np.arange(N), best] & has[:, None]  # (N, V)

    weights = np.where(valid, np.maximum(scores, 1e-6) ** float(config.score_power), 0.0)
    points = triangulate_dlt(uv, P, weights * inlier)
    for _ in range(int(config.refine_iterations)):
        proj, depth = project_with_matrices(points, P)  # (N, V, 2)
        err = np.linalg.norm(proj - uv, axis=-1)  # (N, V)
        new_inlier = valid & (depth > config.min_depth_m) & (err < thr)
        keep_old = new_inlier.sum(-1) < config.min_views
        inlier = np.where(keep_old[:, None], inlier, new_inlier)
        points = triangulate_dlt(uv, P, weights * inlier)
    for _ in range(int(config.irls_iterations)):  # Cauchy-weighted refit: soft down-weighting of far inliers
        proj, depth = project_with_matrices(points, P)
        err = np.linalg.norm(proj - uv, axis=-1)
        scale = config.irls_scale * thr
        soft = 1.0 / (1.0 + np.square(np.where(np.isfinite(err), err, 0.0) / scale))
        refit = triangulate_dlt(uv, P, weights * inlier * soft)
        points = np.where(np.isfinite(refit).all(-1, keepdims=True), refit, points)
    proj, depth = project_with_matrices(points, P)
    err = np.linalg.norm(proj - uv, axis=-1)
    final_ok = inlier & (depth > config.min_depth_m)
    ok = (final_ok.sum(-1) >= config.min_views) & np.isfinite(points).all(-1)
    inlier = final_ok & ok[:, None]
    points = np.where(ok[:, None], points, np.nan)
    error = np.where(ok, np.where(inlier, err, 0.0).sum(-1) / np.maximum(inlier.sum(-1), 1), np.nan)
    return RansacResult(points.reshape(lead + (3,)), inlier.reshape(lead + (V,)), error.reshape(lead))

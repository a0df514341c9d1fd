"""The classic geometric multi-person baseline: 2D people -> cross-view association -> triangulation -> tracks.

Per frame (all people x all joints x all view pairs at once, NumPy):

1. **Proposals.** Every pair of usable 2D people from two different views is triangulated (two-view
   DLT on undistorted pixels); the previous frame's 3D people are added as proposals too.
2. **Validation.** Each proposal is projected into every view and compared with every 2D person
   there: the cost is the (lower) median over shared joints of the pixel distance converted to metres
   at the joint's depth (``error_px * depth_m / focal_px``), so one threshold works for near and far,
   large and small people. A view *supports* a proposal when its cheapest unused 2D person costs
   less than ``match_threshold_m``.
3. **Greedy selection.** The proposal with the most supporting views (then the lowest cost) becomes a
   person: its supporting 2D people (at most one per view) are triangulated, re-matched against the
   refined 3D person and marked used; proposals built from used 2D people die. Repeat while some
   proposal has ``min_views`` supporting views.
4. **Refinement.** A Hungarian assignment per view between the 3D people and all 2D people (gated by
   ``match_threshold_m``) fixes greedy-order mistakes; then per-joint view-pair RANSAC
   (:func:`closecap.triangulation.ransac_undistorted`) drops wrong joints, e.g. a 2D person whose arms
   belong to someone else.

Across frames, :func:`closecap.track.track_people` assigns ids and smooths.

Example:
    >>> from closecap.cameras import ring_rig
    >>> rig = ring_rig(4)
    >>> person = np.random.default_rng(0).normal(size=(17, 3)) * 0.2 + [0.0, 0.0, 1.0]  # (J, 3) metres
    >>> uv, _ = rig.project(person)  # (V, J, 2)
    >>> views = [np.concatenate([uv[v], np.ones((17, 1))], -1)[None] for v in range(4)]  # V x (1, J, 3)
    >>> joints, confidence = reconstruct_frame(views, rig)
    >>> joints.shape, bool(np.abs(joints[0] - person).max() < 1e-6)
    ((1, 17, 3), True)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from closecap.cameras import Rig
from closecap.config import Config
from closecap.errors import InputError
from closecap.poses import Detections2D, Poses3D
from closecap.track import TrackConfig, track_people
from closecap.triangulation import (RansacConfig, project_with_matrices, ransac_undistorted, triangulate_dlt,
                                    triangulate_two_view, undistort_views)


@dataclass(frozen=True)
class BaselineConfig(Config):
    """Settings of :func:`reconstruct_baseline` (association, triangulation, tracking)."""

    min_keypoint_score: float = 0.1
    """2D joints with a detector score at or below this (0..1) are ignored."""
    min_joints_2d: int = 5
    """A 2D person needs at least this many confident joints to be used at all (drops tiny false people)."""
    min_common_joints: int = 4
    """A 2D person and a 3D proposal are compared only when they share at least this many joints."""
    match_threshold_m: float = 0.1
    """A 2D person matches a 3D person when the median reprojection error of their shared joints,
    converted to metres at the joint's depth, is below this. Raise for noisy detectors; lower for
    people in very close contact with a precise detector."""
    pair_threshold_m: float = 0.1
    """A two-view proposal is kept only when it reprojects into its own two views within this
    (median, metres at depth): the epipolar consistency of the pair."""
    min_views: int = 2
    """Fewest views (2D people) that must support a 3D person."""
    min_joints_3d: int = 6
    """A 3D person needs at least this many triangulated joints, otherwise it is discarded."""
    use_previous_frame: bool = True
    """Add the previous frame's 3D people as proposals (cheap and robust when pairs are ambiguous)."""
    refine_assignment: bool = True
    """Re-assign 2D people to the 3D people by a Hungarian matching per view before the final triangulation."""
    ransac_threshold_rel: float = 0.0
    """If > 0, the per-joint RANSAC inlier threshold in each view is this fraction of the person's 2D box
    diagonal there (floored at a quarter of ``ransac.threshold_px``) instead of a fixed pixel count: a
    detector's jitter scales with the person's image size."""
    ransac: RansacConfig = field(default_factory=RansacConfig)
    """Per-joint robust triangulation of each person from its assigned views."""
    track: TrackConfig = field(default_factory=TrackConfig)
    """Identities over time and temporal smoothing."""

    def __post_init__(self) -> None:
        for name in ("min_joints_2d", "min_common_joints", "min_joints_3d"):
            if int(getattr(self, name)) < 1:
                raise InputError(None, f"BaselineConfig.{name}", f"must be >= 1, got {getattr(self, name)}")
        if int(self.min_views) < 2:
            raise InputError(None, "BaselineConfig.min_views", f"must be >= 2, got {self.min_views}")
        for name in ("match_threshold_m", "pair_threshold_m"):
            if not getattr(self, name) > 0:
                raise InputError(None, f"BaselineConfig.{name}", f"must be > 0, got {getattr(self, name)}")


@dataclass(frozen=True)
class _FrameViews:
    """One frame's 2D people laid out dense: ``V`` views x ``Pmax`` slots (padding unused)."""

    uv_px: np.ndarray  # (V, Pmax, J, 2) undistorted pixels, NaN where the joint is unusable
    scores: np.ndarray  # (V, Pmax, J) scores, 0 where unusable
    joint_ok: np.ndarray  # (V, Pmax, J) bool
    usable: np.ndarray  # (V, Pmax) bool: a real 2D person with >= min_joints_2d joints


def _layout(keypoints: Sequence[np.ndarray], rig: Rig, J: int, config: BaselineConfig) -> _FrameViews:
    V = len(keypoints)
    p_max = max((k.shape[0] for k in keypoints), default=0)
    dense = np.zeros((V, p_max, J, 3))
    exists = np.zeros((V, p_max), dtype=bool)
    for v, arr in enumerate(keypoints):  # loop over views only, to pad
        dense[v, : arr.shape[0]] = arr
        exists[v, : arr.shape[0]] = True
    scores = dense[..., 2]
    joint_ok = exists[..., None] & (scores > config.min_keypoint_score) & np.isfinite(dense[..., :2]).all(-1)
    raw = np.where(joint_ok[..., None], dense[..., :2], np.nan)  # (V, Pmax, J, 2)
    und = np.moveaxis(undistort_views(np.moveaxis(raw, 0, -2), rig), -2, 0) if p_max else raw
    joint_ok &= np.isfinite(und).all(-1)
    usable = exists & (joint_ok.sum(-1) >= config.min_joints_2d)
    return _FrameViews(und, np.where(joint_ok, scores, 0.0), joint_ok, usable)


def _match_costs(points_world: np.ndarray, views: _FrameViews, projection: np.ndarray, focal_px: np.ndarray,
                 min_common: int) -> np.ndarray:
    """Costs between 3D people and 2D people.

    Args:
        points_world: ``(C, J, 3)`` metres (NaN = joint absent).
        views: the frame's 2D people ``(V, Pmax, ...)``.
        projection: ``(V, 3, 4)``. focal_px: ``(V,)``. min_common: fewest shared joints.

    Returns:
        ``(C, V, Pmax)`` metres: lower median over shared joints of ``error_px * depth_m / focal_px``;
        ``inf`` where fewer than ``min_common`` joints are shared.
    """
    proj, depth = project_with_matrices(points_world, projection)  # (C, J, V, 2), (C, J, V)
    proj = np.moveaxis(proj, 2, 1)[:, :, None]  # (C, V, 1, J, 2)
    depth = np.moveaxis(depth, 2, 1)[:, :, None]  # (C, V, 1, J)
    diff = proj - views.uv_px[None]  # (C, V, Pmax, J, 2)
    err_m = np.sqrt(diff[..., 0] ** 2 + diff[..., 1] ** 2) * depth / focal_px[None, :, None, None]  # (C, V, Pmax, J)
    return _lower_median(err_m, views.joint_ok[None] & np.isfinite(err_m), min_common)


def _lower_median(values: np.ndarray, valid: np.ndarray, min_count: int) -> np.ndarray:
    """Lower median over the last axis of ``values (..., J)`` where ``valid``; ``inf`` with fewer than ``min_count``."""
    count = valid.sum(-1)
    ordered = np.sort(np.where(valid, values, np.inf), axis=-1)
    median = np.take_along_axis(ordered, np.maximum((count - 1) // 2, 0)[..., None], axis=-1)[..., 0]
    return np.where(count >= min_count, median, np.inf)


def _gather(views: _FrameViews, assignment: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``assignment (P, V)`` slot index or -1 -> ``uv (P, J, V, 2)`` undistorted pixels, ``scores (P, J, V)``."""
    V = assignment.shape[1]
    slot = np.maximum(assignment, 0)
    uv = views.uv_px[np.arange(V)[None], slot]  # (P, V, J, 2)
    scores = np.where(assignment[..., None] >= 0, views.scores[np.arange(V)[None], slot], 0.0)  # (P, V, J)
    return np.moveaxis(uv, 1, 2), np.moveaxis(scores, 1, 2)


def _best_per_view(cost: np.ndarray, free: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """``cost (..., V, Pmax)``, ``free (V, Pmax)`` -> best slot ``(..., V)`` (-1 if none under threshold), its cost."""
    masked = np.where(free, cost, np.inf)
    if masked.shape[-1] == 0:
        shape = masked.shape[:-1]
        return np.full(shape, -1), np.full(shape, np.inf)
    slot = np.argmin(masked, axis=-1)
    best = np.take_along_axis(masked, slot[..., None], axis=-1)[..., 0]
    return np.where(best < threshold, slot, -1), best


def reconstruct_frame(keypoints: Sequence[np.ndarray], rig: Rig, config: BaselineConfig = BaselineConfig(),
                      previous_world: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Associate one frame's 2D people across views and triangulate them.

    Args:
        keypoints: ``V`` arrays ``(P_v, J, 3)`` (``u_px, v_px`` raw image pixels, score), in the
            order of ``rig``'s cameras; ``P_v`` may be 0.
        rig: the ``V`` calibrated cameras.
        config: see :class:`BaselineConfig`.
        previous_world: ``(P_prev, J, 3)`` metres, last frame's people used as extra proposals, or ``None``.

    Returns:
        ``joints (P, J, 3)`` metres, world frame (NaN = joint not triangulated) and ``confidence (P, J)``
        (mean detector score of the inlier views), in no particular order.

    Example:
        >>> from closecap.cameras import ring_rig
        >>> joints, conf = reconstruct_frame([np.zeros((0, 17, 3))] * 3, ring_rig(3))
        >>> joints.shape, conf.shape
        ((0, 17, 3), (0, 17))
    """
    V = len(rig)
    if len(keypoints) != V:
        raise InputError(None, "keypoints", f"expected {V} views (one per camera), got {len(keypoints)}")
    arrays = [np.asarray(k, dtype=float) for k in keypoints]
    J = next((a.shape[1] for a in arrays if a.ndim == 3), 17)
    arrays = [a.reshape(-1, J, 3) if a.size else np.zeros((0, J, 3)) for a in arrays]
    empty = (np.zeros((0, J, 3)), np.zeros((0, J)))
    K = rig.K
    projection = rig.projection_matrices  # (V, 3, 4)
    focal_px = 0.5 * (K[:, 0, 0] + K[:, 1, 1])  # (V,)
    views = _layout(arrays, rig, J, config)
    p_max = views.usable.shape[1]
    thr = float(config.match_threshold_m)

    # 1. proposals: all cross-view pairs of usable 2D people, plus the previous frame's people
    flat = np.flatnonzero(views.usable.reshape(-1))  # (N,) indices into V * Pmax
    view_of = flat // max(p_max, 1)
    ia, ib = np.triu_indices(flat.size, 1)
    cross = view_of[ia] != view_of[ib]
    src_a, src_b = flat[ia[cross]], flat[ib[cross]]  # (C2,) flat slot indices
    uv_flat = views.uv_px.reshape(-1, J, 2)
    ok_flat = views.joint_ok.reshape(-1, J)
    pair_uv = np.stack([uv_flat[src_a], uv_flat[src_b]], axis=-2)  # (C2, J, 2, 2)
    pair_view = np.stack([src_a, src_b], axis=1) // max(p_max, 1)  # (C2, 2)
    pair_P = projection[pair_view]  # (C2, 2, 3, 4)
    pair_points = triangulate_two_view(pair_uv, pair_P[:, None])  # (C2, J, 3)
    both = ok_flat[src_a] & ok_flat[src_b]  # (C2, J)
    pair_points = np.where(both[..., None], pair_points, np.nan)
    # epipolar consistency of each pair: reprojection into its own two views, metres at depth
    homo = np.concatenate([pair_points, np.ones(pair_points.shape[:-1] + (1,))], axis=-1)  # (C2, J, 4)
    own = np.einsum("cvik,cjk->cjvi", pair_P, homo)  # (C2, J, 2, 3)
    with np.errstate(invalid="ignore", divide="ignore"):
        own_err_m = np.linalg.norm(own[..., :2] - pair_uv * own[..., 2:], axis=-1) / focal_px[pair_view][:, None]  # (C2, J, 2)
    own_ok = both[..., None] & (own[..., 2] > config.ransac.min_depth_m) & np.isfinite(own_err_m)
    own_cost = _lower_median(np.moveaxis(own_err_m, -1, 0), np.moveaxis(own_ok, -1, 0), config.min_common_joints)
    consistent = own_cost.max(0) < config.pair_threshold_m  # (C2,)
    proposals = [pair_points[consistent]]
    sources = [np.stack([src_a, src_b], axis=1)[consistent]]
    if config.use_previous_frame and previous_world is not None and len(previous_world):
        proposals.append(np.asarray(previous_world, dtype=float).reshape(-1, J, 3))
        sources.append(np.full((len(previous_world), 2), -1))
    points = np.concatenate(proposals)  # (C, J, 3)
    source = np.concatenate(sources)  # (C, 2), -1 = not built from 2D people
    if len(points) == 0:
        return empty
    cost = _match_costs(points, views, projection, focal_px, config.min_common_joints)  # (C, V, Pmax)
    is_pair = source[:, 0] >= 0
    alive = np.ones(len(points), dtype=bool)
    pair_rows = np.flatnonzero(is_pair)

    # 2-3. greedy selection of the best-supported proposal
    used = np.zeros_like(views.usable)
    assignments = []
    people = []
    while alive.any():
        free = views.usable & ~used
        slot, best = _best_per_view(cost, free, thr)  # (C, V)
        support = slot >= 0
        count = support.sum(-1)
        mean_cost = np.where(support, best, 0.0).sum(-1) / np.maximum(count, 1)
        rank = np.where(alive & (count >= config.min_views), count - 0.5 * mean_cost / thr, -np.inf)
        c = int(np.argmax(rank))
        if not np.isfinite(rank[c]):
            break
        alive[c] = False
        assign = slot[c]  # (V,)
        joints = np.full((J, 3), np.nan)
        for _ in range(2):  # triangulate from the supporting views, then re-match with the refined person
            uv, scores = _gather(views, assign[None])
            joints = triangulate_dlt(uv[0], projection, scores[0])  # (J, 3)
            new_assign, _ = _best_per_view(_match_costs(joints[None], views, projection, focal_px,
                                                        config.min_common_joints)[0], free, thr)
            if np.array_equal(new_assign, assign) or (new_assign >= 0).sum() < config.min_views:
                break
            assign = new_assign
        if (assign >= 0).sum() < config.min_views or np.isfinite(joints).all(-1).sum() < config.min_joints_3d:
            continue
        used[np.flatnonzero(assign >= 0), assign[assign >= 0]] = True
        assignments.append(assign)
        people.append(joints)
        used_flat = used.reshape(-1)
        alive[pair_rows] &= ~(used_flat[source[pair_rows, 0]] | used_flat[source[pair_rows, 1]])
    if not people:
        return empty
    assignment = np.stack(assignments)  # (P, V)

    # 4. Hungarian re-assignment per view, then per-joint RANSAC
    if config.refine_assignment:
        person_cost = _match_costs(np.stack(people), views, projection, focal_px, config.min_common_joints)  # (P, V, Pmax)
        person_cost = np.where(views.usable[None], person_cost, np.inf)
        assignment = np.full_like(assignment, -1)
        for v in range(V):  # V <= ~10 small assignment problems
            gated = np.where(person_cost[:, v] < thr, person_cost[:, v], 1e6)
            r, s = linear_sum_assignment(gated)
            good = gated[r, s] < thr
            assignment[r[good], v] = s[good]
    uv, scores = _gather(views, assignment)  # (P, J, V, 2), (P, J, V)
    threshold = None
    if config.ransac_threshold_rel > 0:
        seen = (scores > config.ransac.min_score)[..., None] & np.isfinite(uv)  # (P, J, V, 2)
        lo = np.where(seen, uv, np.inf).min(1)
        hi = np.where(seen, uv, -np.inf).max(1)  # (P, V, 2)
        size_px = np.linalg.norm(hi - lo, axis=-1)  # (P, V) 2D box diagonal of the person in each view
        size_px = np.where(np.isfinite(size_px), size_px, 0.0)
        threshold = np.maximum(config.ransac_threshold_rel * size_px, config.ransac.threshold_px * 0.25)[:, None, :]
    result = ransac_undistorted(uv, scores, projection, config.ransac, threshold)
    joints = result.points_world  # (P, J, 3)
    inlier_scores = np.where(result.inliers, scores, 0.0)
    confidence = inlier_scores.sum(-1) / np.maximum(result.inliers.sum(-1), 1)  # (P, J)
    keep = (np.isfinite(joints).all(-1).sum(-1) >= config.min_joints_3d) & ((assignment >= 0).sum(-1) >= config.min_views)
    return joints[keep], np.where(np.isfinite(joints[keep]).all(-1), confidence[keep], 0.0)


def reconstruct_baseline(detections: Detections2D, rig: Rig, config: BaselineConfig = BaselineConfig(),
                         progress: bool = False) -> Poses3D:
    """Reconstruct and track 3D people from multi-view 2D keypoints by geometry alone.

    Args:
        detections: 2D people per frame and view (views are matched to ``rig`` by camera name).
        rig: calibrated cameras containing every camera of ``detections``.
        config: see :class:`BaselineConfig`.
        progress: show a progress bar over frames.

    Returns:
        :class:`~closecap.poses.Poses3D` ``(T, P, J, 3)`` metres with track ids.

    Example:
        >>> from closecap.cameras import ring_rig
        >>> rig = ring_rig(3)
        >>> person = np.random.default_rng(1).normal(size=(17, 3)) * 0.2 + [0.0, 0.0, 1.0]
        >>> uv, _ = rig.project(person)  # (V, J, 2)
        >>> frame = tuple(np.concatenate([uv[v], np.ones((17, 1))], -1)[None] for v in range(3))
        >>> det = Detections2D(rig.names, tuple(range(6)), (frame,) * 6)
        >>> poses = reconstruct_baseline(det, rig, BaselineConfig(track=TrackConfig(min_track_len=1)))
        >>> poses.joints.shape, bool(np.abs(poses.joints - person).max() < 1e-6)
        ((6, 1, 17, 3), True)
    """
    rig = rig.subset(detections.camera_names)
    frames_iter = detections.keypoints
    if progress:
        from tqdm import tqdm

        frames_iter = tqdm(frames_iter, desc="baseline", unit="frame")
    per_frame = []
    previous = None
    for views in frames_iter:
        joints, confidence = reconstruct_frame(views, rig, config, previous)
        per_frame.append((joints, confidence))
        previous = joints if len(joints) else None
    return track_people(detections.frames, per_frame, config.track, detections.joint_set)

"""Inference of the conditional volumetric network: 2D detections + rig + checkpoint -> tracked 3D people.

Per frame (all people of the frame in one forward pass):

1. 2D heatmaps of every view from the detected keypoints (:func:`closecap.volumes.render_rig_heatmaps`,
   the stride and sigma the model was trained with);
2. person centres from the geometric baseline (:func:`closecap.centers.estimate_centers`; last frame's
   people are proposals too) and online identities (:class:`closecap.track.Tracker` on those rough people);
3. a cube per person around its centre: unprojected heatmaps, anchors (own centre / others' centres);
4. HEM -> sigmoid -> **temporal filter** (``temporal_filter``, off by default, see there): for a person whose
   track was seen in the last ``max_prior_gap_frames`` frames, the heatmap of joint ``j`` is zeroed farther
   than ``temporal_radius_m`` from that track's last estimate of ``j`` (a new or lost track gets no mask; a
   mask that keeps no strong response is dropped) -> KLM -> soft-argmax within ``soft_argmax_window``
   voxels of the peak;
5. refinement (:func:`refine_with_detections`): each person is matched in every view to the 2D detection its
   whole skeleton fits; each joint's supporting keypoints are triangulated; joints no two views support are
   dropped (``drop_unsupported``);
6. per-joint confidence = HEM's (masked) heatmap at the estimated joint.

Over the clip, :func:`closecap.track.track_people` cleans and smooths the tracks (it re-links the
per-frame people by the same Hungarian matching, on the network's complete skeletons).

Example:
    >>> from closecap.cameras import ring_rig
    >>> from closecap.model import ModelConfig, VolumetricNet
    >>> from closecap.volumes import VoxelGrid
    >>> rig = ring_rig(3, width=320, height=240, focal_px=250.0)
    >>> person = np.random.default_rng(0).normal(size=(17, 3)) * 0.2 + [0.0, 0.0, 1.0]
    >>> uv, _ = rig.project(person)
    >>> frame = tuple(np.concatenate([uv[v], np.ones((17, 1))], -1)[None] for v in range(3))
    >>> det = Detections2D(rig.names, (0, 1, 2), (frame,) * 3)
    >>> model = VolumetricNet(ModelConfig(grid=VoxelGrid(2.0, 8), widths=(4, 8))).eval()
    >>> config = VolumetricConfig(track=TrackConfig(min_track_len=1, smoothing="none"))
    >>> reconstruct_volumetric(det, rig, model, config).joints.shape
    (3, 1, 17, 3)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from closecap.baseline import BaselineConfig
from closecap.cameras import Rig
from closecap.centers import anchor_volumes, estimate_centers
from closecap.config import Config
from closecap.errors import InputError
from closecap.model import VolumetricNet
from closecap.model.blocks import fuse_batch_norms
from closecap.poses import Detections2D, Poses3D
from closecap.track import TrackConfig, Tracker, track_people
from closecap.triangulation import RansacConfig, triangulate_ransac
from closecap.volumes import distance_mask, render_rig_heatmaps, rig_tensors, sample_volume, unproject_heatmaps


@dataclass(frozen=True)
class VolumetricConfig(Config):
    """Settings of :func:`reconstruct_volumetric` (the network's own settings come with its checkpoint)."""

    baseline: BaselineConfig = field(default_factory=BaselineConfig)
    """The geometric association that gives the person centres (thresholds, RANSAC)."""
    track: TrackConfig = field(default_factory=TrackConfig)
    """Identities, cleaning and smoothing over the clip (also the online centre tracker's gate)."""
    temporal_filter: bool = False
    """Suppress HEM responses far from the track's previous joints before KLM (the paper's temporal filter).
    Off by default: on the network alone it hurts (a wrong joint masks out the right answer in the next
    frames: 77.7 vs 65.3 mm on the held-out scenes of ``benchmarks/volumetric.py``, section "volumetric" of
    benchmarks/results.md, even with the fall-back of ``mask_keep_ratio``), and after the refinement it
    changes nothing (30.8 mm both ways). Turn it on for a network whose per-frame joints are already close."""
    temporal_radius_m: float = 0.3
    """Responses farther than this from the previous estimate of the same joint are zeroed, metres.
    Raise for fast motion or low frame rates (the joint must move less than this between frames)."""
    mask_keep_ratio: float = 0.5
    """A joint's temporal mask is dropped for the frame when the strongest HEM response inside it is below this
    fraction of the joint's strongest response anywhere in the cube (the previous estimate was wrong or the
    joint moved fast): without this fall-back one wrong frame masks out the right answer in all later ones."""
    max_prior_gap_frames: int = 1
    """A track's previous joints mask the heatmaps only if it was seen within this many frames."""
    min_confidence: float = 0.0
    """Joints whose confidence (HEM heatmap at the joint, 0..1) is below this are returned as NaN."""
    soft_argmax_window: int = 2
    """Joints are the soft-argmax of KLM's volume within this many voxels of its arg-max (0 = the whole cube,
    as in training): a weaker second mode (the other person's joint) cannot drag the joint between the two."""
    refine_radius_m: float = 0.2
    """Detection refinement (:func:`refine_with_detections`): in each view, the 2D keypoint of the same joint
    type nearest to the network's joint, if it lies within this radius (metres, at the joint's depth), is
    that joint's observation; the observations are triangulated robustly (``baseline.ransac``) and replace
    the network's joint when they agree with it within this radius. The network decides *which* detections
    belong to whom (the hard part in contact), triangulation gives sub-voxel precision. 0 = off (raw
    soft-argmax joints)."""
    device: str = "cpu"
    """``cpu``, ``cuda`` or ``auto``."""

    refine_exclusive: bool = True
    """In the refinement, a detected keypoint supports at most one person (see :func:`refine_with_detections`)."""
    drop_unsupported: bool = True
    """With the refinement on, joints that no two views' detections support (not refined) are returned as NaN
    instead of the network's estimate; the clip's clean-up (``track``) then fills short gaps from the
    neighbouring frames. The network's guess for such joints (a wrist seen in one view) is poor: on the held-out
    scenes of ``benchmarks/volumetric.py`` (session 2's 4800-step model) they were 13 % of the joints with 236 mm
    mean error, and dropping them took MPJPE from 41.6 to 31.1 mm while 2.2 % of the joints stay missing (the
    geometric baseline leaves 2.5 %)."""
    refine_person_radius_m: float = 0.8
    """Person-level refinement (``person_radius_m`` of :func:`refine_with_detections`): each person's own 2D
    detection in each view, matched on the whole body, supplies its joints within this radius of the network's
    joints (0 = off: per-joint matching only). On the held-out scenes of ``benchmarks/volumetric.py`` (4800-step
    model, with ``drop_unsupported``): 0.4 m 31.6, 0.8 m 31.1, 1.2 m 31.4 mm MPJPE; without it 51.0 mm."""

    def __post_init__(self) -> None:
        if not self.temporal_radius_m > 0:
            raise InputError(None, "VolumetricConfig.temporal_radius_m", f"must be > 0, got {self.temporal_radius_m}")
        if int(self.max_prior_gap_frames) < 1:
            raise InputError(None, "VolumetricConfig.max_prior_gap_frames", f"must be >= 1, got {self.max_prior_gap_frames}")
        if not 0.0 <= self.mask_keep_ratio <= 1.0:
            raise InputError(None, "VolumetricConfig.mask_keep_ratio", f"must be in [0, 1], got {self.mask_keep_ratio}")
        if not self.refine_person_radius_m >= 0:
            raise InputError(None, "VolumetricConfig.refine_person_radius_m", f"must be >= 0, got {self.refine_person_radius_m}")
        if not self.refine_radius_m >= 0:
            raise InputError(None, "VolumetricConfig.refine_radius_m", f"must be >= 0, got {self.refine_radius_m}")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise InputError(None, "VolumetricConfig.min_confidence", f"must be in [0, 1], got {self.min_confidence}")


@dataclass(frozen=True)
class FramePeople:
    """One frame's people: ``ids (P,)`` online track ids, ``joints_world (P, J, 3)`` metres (NaN = absent),
    ``confidence (P, J)`` in [0, 1], ``centers_world (P, 3)`` metres (the cube centres)."""

    ids: np.ndarray
    joints_world: np.ndarray
    confidence: np.ndarray
    centers_world: np.ndarray
    network_joints_world: np.ndarray | None = None
    """``(P, J, 3)`` metres: the network's own joints before refinement (complete skeletons; used to link people
    over frames). ``None`` = same as ``joints_world``."""


def _exclusive(d: np.ndarray, rounds: int = 2) -> np.ndarray:
    """Keep only mutual-nearest (person, detection) pairs per joint type, ``rounds`` times on what is left.

    ``d``: ``(P, Q, J)`` distances (inf = not allowed). Returns the same with every pair that is not kept set
    to inf: each detection goes to at most one person and each person gets at most one detection per joint.
    """
    P, Q, _ = d.shape
    out = np.full_like(d, np.inf)
    left = d.copy()
    rows, cols = np.arange(P)[:, None, None], np.arange(Q)[None, :, None]
    for _ in range(rounds):  # a fixed, small number of vectorised rounds (greedy matching)
        finite = np.isfinite(left)
        mutual = finite & (left.argmin(1)[:, None, :] == cols) & (left.argmin(0)[None, :, :] == rows)
        out = np.where(mutual, left, out)
        taken_p = mutual.any(1, keepdims=True)  # (P, 1, J)
        taken_q = mutual.any(0, keepdims=True)  # (1, Q, J)
        left = np.where(taken_p | taken_q, np.inf, left)
    return out


def _person_matches(r: np.ndarray, seen: np.ndarray, max_cost: float = 1.0, min_joints: int = 3) -> np.ndarray:
    """One view's 2D detection of every network person (Hungarian matching on whole skeletons).

    ``r``: ``(P, Q, J)`` distance from each network joint's projection to detection ``q``'s keypoint of the same
    type, in units of the refinement radius (NaN / inf = not comparable); ``seen``: ``(Q, J)`` usable keypoints.
    The cost of a pair is the median over their shared joints of ``min(r, 3)`` (a few grossly wrong network
    joints do not change it); pairs sharing fewer than ``min_joints`` joints, or costing more than
    ``max_cost``, are not matched. Returns ``(P,)`` int, the matched detection or -1.
    """
    from scipy.optimize import linear_sum_assignment

    P, Q, _ = r.shape
    match = np.full(P, -1, np.int64)
    if Q == 0:
        return match
    both = seen[None] & np.isfinite(r)  # (P, Q, J)
    capped = np.sort(np.where(both, np.minimum(r, 3.0), np.inf), axis=-1)  # (P, Q, J), shared joints first
    count = both.sum(-1)  # (P, Q)
    lower = np.take_along_axis(capped, np.clip((count - 1) // 2, 0, None)[..., None], -1)[..., 0]
    upper = np.take_along_axis(capped, np.clip(count // 2, 0, None)[..., None], -1)[..., 0]
    with np.errstate(invalid="ignore"):
        cost = np.where(count >= min_joints, 0.5 * (lower + upper), np.inf)  # (P, Q) median over shared joints
    rows, cols = linear_sum_assignment(np.where(np.isfinite(cost), cost, 1e6))
    ok = cost[rows, cols] <= max_cost
    match[rows[ok]] = cols[ok]
    return match


def refine_with_detections(joints_world: np.ndarray, keypoints: Sequence[np.ndarray], rig: Rig, radius_m: float = 0.2,
                           ransac: RansacConfig = RansacConfig(), exclusive: bool = True,
                           person_radius_m: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Network joints -> the 2D detections that support them -> robust triangulation.

    For every person ``p``, joint ``j`` and view ``v``, the detected keypoint of type ``j`` (of any 2D person
    in ``v``) nearest to the projection of ``joints_world[p, j]`` is its observation when it lies within
    ``radius_m`` of it (converted to pixels at the joint's depth). Each joint's observations are triangulated
    with :func:`closecap.triangulation.triangulate_ransac`; the result replaces the network's joint when at
    least ``ransac.min_views`` views agree and it lies within ``radius_m`` of the network's joint.

    Args:
        joints_world: ``(P, J, 3)`` metres, the network's joints (NaN = absent).
        keypoints: ``V`` arrays ``(P_v, J, 3)`` ``u_px, v_px, score`` (raw image pixels), in ``rig``'s order.
        rig: the ``V`` cameras.
        radius_m: gate around the network's joint, metres.
        ransac: triangulation thresholds (inlier pixels, minimum score and views).
        exclusive: in each view, a detected keypoint supports at most one person's joint and a joint takes
            at most one keypoint (mutual nearest pairs, two greedy rounds): in contact, a joint that the
            network put nearer to the other person's keypoint than that person's own joint is does not
            steal it.
        person_radius_m: 0 = off. Otherwise, first, in each view, every person is matched to one whole 2D
            detection (Hungarian matching; cost = the median over joints of the distance from the network's
            joint to the detection's keypoint, which must be below ``radius_m``): that detection's keypoint of
            joint ``j`` is the observation of ``j`` if it lies within ``person_radius_m`` of the network's joint.
            A network joint that is grossly off (a wrist on the other person's wrist) is then corrected by its
            own person's detections, as long as the rest of the body identifies them. Joints without such a
            keypoint (merged detections, a person undetected in the view) fall back to the per-joint rule on
            the keypoints left. The refined joint may then lie up to ``person_radius_m`` from the network's.

    Returns:
        ``(joints (P, J, 3) metres, refined (P, J) bool)``: refined joints, and which were replaced.

    Example:
        >>> from closecap.cameras import ring_rig
        >>> rig = ring_rig(4, width=640, height=480, focal_px=500.0)
        >>> truth = np.array([[[0.0, 0.0, 1.0], [0.3, 0.1, 1.2]]])  # (P=1, J=2, 3)
        >>> uv, _ = rig.project(truth)  # (V, 1, 2, 2)
        >>> views = [np.concatenate([uv[v], np.ones((1, 2, 1))], -1) for v in range(4)]
        >>> joints, refined = refine_with_detections(truth + 0.05, views, rig)
        >>> bool(np.allclose(joints, truth, atol=1e-6)), refined.tolist()
        (True, [[True, True]])
    """
    joints_world = np.asarray(joints_world, dtype=float)
    P, J = joints_world.shape[:2]
    V = len(rig)
    if len(keypoints) != V:
        raise InputError(None, "keypoints", f"expected {V} views (one per camera), got {len(keypoints)}")
    if P == 0:
        return joints_world.copy(), np.zeros((0, J), bool)
    uv_net, depth = rig.project(joints_world)  # (V, P, J, 2), (V, P, J)
    focal = rig.K[:, [0, 1], [0, 1]].mean(-1)  # (V,)
    with np.errstate(invalid="ignore", divide="ignore"):
        gate_px = radius_m * focal[:, None, None] / depth  # (V, P, J)
    uv = np.full((P, J, V, 2), np.nan)
    scores = np.zeros((P, J, V))
    cols = np.arange(J)[None, :]
    person_scale = person_radius_m / radius_m if radius_m > 0 else 0.0
    for v, kp in enumerate(keypoints):  # loop over views only
        kp = np.asarray(kp, dtype=float)
        if kp.shape[0] == 0:
            continue
        seen = (kp[..., 2] > ransac.min_score) & np.isfinite(kp[..., :2]).all(-1)  # (Q, J)
        d_raw = np.linalg.norm(uv_net[v][:, None] - kp[None, ..., :2], axis=-1)  # (P, Q, J) pixels
        front = depth[v] > ransac.min_depth_m  # (P, J)
        picked = np.zeros((P, J), bool)
        if person_scale > 0:
            with np.errstate(invalid="ignore", divide="ignore"):
                r = d_raw / gate_px[v][:, None]  # (P, Q, J) in refinement radii
            q_person = _person_matches(np.where(front[:, None], r, np.nan), seen)  # (P,)
            matched = q_person >= 0
            q_safe = np.where(matched, q_person, 0)
            r_own = np.take_along_axis(r, q_safe[:, None, None], 1)[:, 0]  # (P, J)
            with np.errstate(invalid="ignore"):
                picked = matched[:, None] & seen[q_safe] & front & (r_own <= person_scale)
            own = kp[q_safe[:, None], cols]  # (P, J, 3)
            uv[:, :, v] = np.where(picked[..., None], own[..., :2], np.nan)
            scores[:, :, v] = np.where(picked, own[..., 2], 0.0)
            claimed = np.zeros(seen.shape, bool)  # (Q, J) keypoints taken by a person-level match
            p_idx, j_idx = np.nonzero(picked)
            claimed[q_safe[p_idx], j_idx] = True
            seen = seen & ~claimed
        d = np.where(seen[None] & np.isfinite(d_raw) & (d_raw < gate_px[v][:, None]) & ~picked[:, None], d_raw, np.inf)
        if exclusive:
            d = _exclusive(d)
        q = d.argmin(1)  # (P, J)
        best = np.take_along_axis(d, q[:, None], 1)[:, 0]  # (P, J)
        hit = np.isfinite(best) & front & ~picked
        chosen = kp[q, cols]  # (P, J, 3)
        uv[:, :, v] = np.where(hit[..., None], chosen[..., :2], uv[:, :, v])
        scores[:, :, v] = np.where(hit, chosen[..., 2], scores[:, :, v])
    refined = triangulate_ransac(uv, scores, rig, ransac).points_world  # (P, J, 3)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(refined).all(-1) & (np.linalg.norm(refined - joints_world, axis=-1) <= max(radius_m, person_radius_m))
    return np.where(ok[..., None], refined, joints_world), ok


class VolumetricReconstructor:
    """Streaming, frame-by-frame inference (holds the online tracks used by the temporal filter).

    Example:
        >>> from closecap.cameras import ring_rig
        >>> from closecap.model import ModelConfig, VolumetricNet
        >>> from closecap.volumes import VoxelGrid
        >>> rig = ring_rig(3, width=320, height=240, focal_px=250.0)
        >>> runner = VolumetricReconstructor(VolumetricNet(ModelConfig(grid=VoxelGrid(2.0, 8), widths=(4, 8))), rig)
        >>> runner.step([np.zeros((0, 17, 3))] * 3).joints_world.shape
        (0, 17, 3)
    """

    def __init__(self, model: VolumetricNet, rig: Rig, config: VolumetricConfig = VolumetricConfig()) -> None:
        from closecap.train import resolve_device

        self.device = resolve_device(config.device)
        self.model = fuse_batch_norms(model.to(self.device).eval())  # a copy; batch norms folded into the convs
        if self.device.type == "cpu":
            self.model = self.model.to(memory_format=torch.channels_last_3d)
        self.rig = rig
        self.config = config
        self._rig_torch = rig_tensors(rig, device=self.device)
        self._tracker = Tracker(config.track)
        self._last: dict[int, tuple[int, np.ndarray]] = {}  # track id -> (frame index, joints (J, 3))
        self._previous_world: np.ndarray | None = None  # (P, J, 3) last frame's people, baseline proposals
        self._frame = 0

    def step(self, keypoints: Sequence[np.ndarray]) -> FramePeople:
        """Reconstruct one frame.

        Args:
            keypoints: ``V`` arrays ``(P_v, J, 3)`` ``u_px, v_px, score`` (raw image pixels), in the rig's order.

        Returns:
            :class:`FramePeople`.
        """
        mc = self.model.config
        J = mc.num_joints
        if len(keypoints) != len(self.rig):
            raise InputError(None, "keypoints", f"expected {len(self.rig)} views (one per camera), got {len(keypoints)}")
        frame = self._frame
        self._frame += 1
        centers, rough = estimate_centers(keypoints, self.rig, self.config.baseline, self._previous_world)
        keep = np.isfinite(centers).all(-1)
        centers, rough = centers[keep], rough[keep]
        ids = self._tracker.update(rough)  # (P,)
        P = len(centers)
        if P == 0:
            self._previous_world = None
            return FramePeople(np.zeros(0, np.int64), np.zeros((0, J, 3)), np.zeros((0, J)), np.zeros((0, 3)))
        heatmaps = torch.from_numpy(render_rig_heatmaps(keypoints, self.rig.image_sizes, mc.stride, mc.heatmap_sigma_px))
        centers_t = torch.tensor(centers, dtype=torch.float32, device=self.device)
        prior = np.full((P, J, 3), np.nan)
        if self.config.temporal_filter:
            for i, pid in enumerate(ids.tolist()):  # loop over people only
                seen = self._last.get(pid)
                if seen is not None and frame - seen[0] <= self.config.max_prior_gap_frames:
                    prior[i] = seen[1]
        with torch.inference_mode():
            unprojected = unproject_heatmaps(heatmaps.to(self.device), **self._rig_torch, stride=mc.stride,
                                             centers_world=centers_t, grid=mc.grid)
            anchors = None if mc.unconditional else anchor_volumes(centers_t, mc.grid, mc.anchor_sigma_m)
            mask = None
            if np.isfinite(prior).all(-1).any():
                mask = distance_mask(torch.tensor(prior, dtype=torch.float32, device=self.device), centers_t, mc.grid,
                                     self.config.temporal_radius_m)
            if self.device.type == "cpu":  # oneDNN's 3D convolutions are ~1.5x faster channels-last on CPU
                unprojected = unprojected.contiguous(memory_format=torch.channels_last_3d)
            out = self.model(unprojected, anchors, centers_t, mask, self.config.soft_argmax_window,
                             self.config.mask_keep_ratio)
            confidence = sample_volume(out.heatmaps, out.joints_world, centers_t, mc.grid).clamp(0.0, 1.0)
        joints = network_joints = out.joints_world.double().cpu().numpy()  # (P, J, 3)
        confidence = confidence.double().cpu().numpy()  # (P, J)
        if self.config.refine_radius_m > 0:
            joints, refined = refine_with_detections(joints, keypoints, self.rig, self.config.refine_radius_m,
                                                     self.config.baseline.ransac, self.config.refine_exclusive,
                                                     self.config.refine_person_radius_m)
            if self.config.drop_unsupported:
                joints = np.where(refined[..., None], joints, np.nan)
                confidence = np.where(refined, confidence, 0.0)
        low = confidence < self.config.min_confidence
        joints = np.where(low[..., None], np.nan, joints)
        confidence = np.where(low, 0.0, confidence)
        for i, pid in enumerate(ids.tolist()):
            self._last[pid] = (frame, joints[i])
        self._previous_world = rough  # next frame's proposals: the geometric association's own people, so that a
        # network error (a cube that latched onto a neighbour) cannot move the next frame's centres
        return FramePeople(ids, joints, confidence, centers, network_joints)


def reconstruct_volumetric(detections: Detections2D, rig: Rig, model: VolumetricNet | str | Path,
                           config: VolumetricConfig = VolumetricConfig(), progress: bool = False) -> Poses3D:
    """3D people of a clip with the conditional volumetric network.

    Args:
        detections: 2D people per frame and view (views matched to ``rig`` by camera name).
        rig: calibrated cameras containing every camera of ``detections``.
        model: a :class:`~closecap.model.VolumetricNet` or a checkpoint path (:func:`closecap.train.load_model`).
        config: see :class:`VolumetricConfig`.
        progress: show a progress bar over frames.

    Returns:
        :class:`~closecap.poses.Poses3D` ``(T, P, J, 3)`` metres with track ids, cleaned and smoothed per
        ``config.track``.
    """
    if not isinstance(model, VolumetricNet):
        from closecap.train import load_model

        model, _ = load_model(model, device="cpu")
    missing = [n for n in detections.camera_names if n not in rig.names]
    if missing:
        raise InputError(None, "cameras", f"keypoints for cameras {missing} that are not in the calibration")
    rig = rig.subset(detections.camera_names)
    runner = VolumetricReconstructor(model, rig, config)
    frames_iter = detections.keypoints
    if progress:
        from tqdm import tqdm

        frames_iter = tqdm(frames_iter, desc="volumetric", unit="frame")
    per_frame, link = [], []
    for views in frames_iter:
        people = runner.step(views)
        per_frame.append((people.joints_world, people.confidence))
        link.append(people.network_joints_world)
    return track_people(detections.frames, per_frame, config.track, detections.joint_set, link_joints=link)

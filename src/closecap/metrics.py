"""Evaluation of 3D multi-person poses against ground truth: a pure function over two :class:`Poses3D`.

:func:`evaluate` scores a prediction against ground truth (both COCO-17, metres) and returns an
:class:`EvalResult`; :func:`format_table` renders it as plain text and ``EvalResult.to_dict`` as JSON.

Conventions used by every metric below:

* **Evaluated frames.** The ground-truth frame numbers define the evaluated set. A ground-truth frame
  without a prediction frame of the same number counts as all its people missed; prediction frames
  that ground truth lacks are ignored.
* **People and joints.** A ground-truth (GT) person-frame exists when the person has at least one
  finite joint in that frame; a joint is *GT-valid* when it is finite. A predicted person-frame exists
  likewise; its joints may be NaN (not reconstructed). GT confidences are ignored.
* **Matching.** Per frame, predicted and GT people are paired by Hungarian assignment
  (``scipy.optimize.linear_sum_assignment``) on the mean per-joint distance over the joints valid in
  both; a pair is kept only if that distance is ``< match_threshold_m``. An unmatched GT person-frame
  is *missed*, an unmatched predicted person-frame a *false positive*. MPJPE, PA-MPJPE, PCK, PCP,
  ID switches and the closeness breakdown use this matching; AP and recall@500 use VoxelPose's own
  nearest-GT assignment (see :func:`voxelpose_ap`).
* **Units.** Distances are reported in millimetres (names end in ``_mm``), rates as fractions in
  [0, 1], except AP which is in percent as VoxelPose's papers report it (``ap_percent``). A metric
  with nothing to average over is NaN (``None`` in ``to_dict``).

Example:
    >>> gt = Poses3D(frames=[0], ids=[1], joints=np.random.default_rng(0).normal(size=(1, 1, 17, 3)),
    ...              confidence=np.ones((1, 1, 17)))
    >>> r = evaluate(gt, gt)
    >>> r.mpjpe_mm, r.pck[100.0], r.num_false_positives
    (0.0, 1.0, 0)
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from closecap.config import Config
from closecap.errors import InputError
from closecap.poses import Poses3D
from closecap.skeleton import COCO17, SHELF14, convert

# Shelf/Campus PCP body parts (VoxelPose `shelf.py` evaluate): 9 limbs of SHELF14 plus the torso
# (mid-hip to bottom of head). Endpoints are SHELF14 joint names; "mid_hip" is the mean of both hips.
PCP_PARTS: tuple[tuple[str, str, str], ...] = (
    ("left_lower_leg", "left_knee", "left_ankle"),
    ("right_lower_leg", "right_knee", "right_ankle"),
    ("left_upper_leg", "left_hip", "left_knee"),
    ("right_upper_leg", "right_hip", "right_knee"),
    ("left_lower_arm", "left_elbow", "left_wrist"),
    ("right_lower_arm", "right_elbow", "right_wrist"),
    ("left_upper_arm", "left_shoulder", "left_elbow"),
    ("right_upper_arm", "right_shoulder", "right_elbow"),
    ("head", "bottom_head", "top_head"),
    ("torso", "mid_hip", "bottom_head"),
)
# VoxelPose's reporting groups of the parts above.
PCP_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("head", ("head",)),
    ("torso", ("torso",)),
    ("upper_arms", ("left_upper_arm", "right_upper_arm")),
    ("lower_arms", ("left_lower_arm", "right_lower_arm")),
    ("upper_legs", ("left_upper_leg", "right_upper_leg")),
    ("lower_legs", ("left_lower_leg", "right_lower_leg")),
)

_CHUNK_FRAMES = 256  # frames per block in the pairwise distance computations (bounds memory)


@dataclass(frozen=True)
class EvalConfig(Config):
    """Settings of :func:`evaluate`.

    Attributes:
        match_threshold_m: a predicted and a GT person are matched only if their mean per-joint distance
            (joints valid in both) is below this, metres. Lower it for strict scoring of crowded scenes.
        pck_thresholds_mm: PCK thresholds, millimetres.
        ap_thresholds_mm: AP thresholds (VoxelPose: 25, 50, ..., 150), millimetres.
        recall_threshold_mm: VoxelPose's recall threshold (recall@500), millimetres.
        pcp_alpha: a PCP part is correct when the mean endpoint error is <= ``pcp_alpha`` times the GT part
            length (Shelf/Campus protocol: 0.5).
        distance_bins_m: increasing bin edges for the closeness breakdown, metres; ``(0.3, 1.0)`` gives bins
            ``< 0.3``, ``0.3 - 1``, ``>= 1`` m.
        bin_pck_threshold_mm: PCK threshold reported per closeness bin, millimetres.
        min_procrustes_joints: fewest joints valid in both for a person-frame to enter PA-MPJPE.
    """

    match_threshold_m: float = 0.5
    pck_thresholds_mm: tuple[float, ...] = (50.0, 100.0, 150.0)
    ap_thresholds_mm: tuple[float, ...] = (25.0, 50.0, 75.0, 100.0, 125.0, 150.0)
    recall_threshold_mm: float = 500.0
    pcp_alpha: float = 0.5
    distance_bins_m: tuple[float, ...] = (0.3, 1.0)
    bin_pck_threshold_mm: float = 100.0
    min_procrustes_joints: int = 3

    def __post_init__(self) -> None:
        for name in ("match_threshold_m", "recall_threshold_mm", "pcp_alpha", "bin_pck_threshold_mm"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise InputError("config", f"EvalConfig.{name}", f"expected a positive number, got {value!r}")
        for name in ("pck_thresholds_mm", "ap_thresholds_mm", "distance_bins_m"):
            values = tuple(float(v) for v in getattr(self, name))
            if not values or any(not math.isfinite(v) or v <= 0 for v in values):
                raise InputError("config", f"EvalConfig.{name}", f"expected positive numbers, got {values!r}")
            if any(b <= a for a, b in zip(values, values[1:])):
                raise InputError("config", f"EvalConfig.{name}", f"expected increasing values, got {values!r}")
            object.__setattr__(self, name, values)
        if int(self.min_procrustes_joints) < 3:
            raise InputError("config", "EvalConfig.min_procrustes_joints", "must be at least 3")


@dataclass(frozen=True)
class DistanceBinResult:
    """Scores of the GT person-frames whose nearest other GT person lies in ``[low_m, high_m)``.

    Attributes:
        label: human-readable bin name (``"< 0.3 m"``).
        low_m, high_m: bin edges, metres (``0`` and ``inf`` at the ends).
        count: GT person-frames in the bin.
        recall: fraction of them matched (Hungarian matching).
        mpjpe_mm: MPJPE over the matched ones, millimetres.
        pck: PCK at ``EvalConfig.bin_pck_threshold_mm`` over all of them (missed people fail).
    """

    label: str
    low_m: float
    high_m: float
    count: int
    recall: float
    mpjpe_mm: float
    pck: float


@dataclass(frozen=True)
class EvalResult:
    """Scores of one prediction against ground truth (see the module docstring for the conventions).

    Attributes:
        num_frames: evaluated (GT) frames.
        num_gt: GT person-frames.
        num_pred: predicted person-frames in evaluated frames.
        num_matched: matched pairs; ``num_gt - num_matched`` are missed.
        num_missed: GT person-frames without a match.
        num_false_positives: predicted person-frames without a match.
        false_positives_per_frame: ``num_false_positives / num_frames``.
        mpjpe_mm: mean Euclidean error over all (matched pair, joint) with the joint valid in GT and
            predicted, millimetres (pooled over joints, not averaged per person first).
        pa_mpjpe_mm: the same after aligning each matched prediction to its GT with a similarity
            transform (rotation, translation, scale; least squares over the joints valid in both),
            millimetres; person-frames with fewer than ``min_procrustes_joints`` such joints are left out.
        joints_missing: fraction of the GT-valid joints of matched pairs that the prediction lacks (NaN);
            these are excluded from MPJPE and PA-MPJPE and fail PCK.
        pck: threshold (mm) -> fraction of the GT-valid joints of all GT person-frames whose matched
            prediction is within the threshold (strictly less); missed people and missing joints fail.
        pcp: part name -> Shelf/Campus PCP over GT person-frames with both part endpoints valid in GT
            (missed people and missing predicted endpoints count as incorrect).
        pcp_groups: VoxelPose's groups (head, torso, upper_arms, ...) -> PCP.
        pcp_mean: PCP over all parts and person-frames.
        ap_percent: threshold (mm) -> VoxelPose AP, percent.
        ap_recall: threshold (mm) -> VoxelPose's final recall of the AP curve, fraction.
        recall_500mm: VoxelPose recall at ``recall_threshold_mm``, fraction.
        voxelpose_mpjpe_mm: VoxelPose's MPJPE (score-ranked predictions, each GT claimed once, below
            ``recall_threshold_mm``, per-person means averaged), millimetres.
        id_switches: total identity switches over GT tracks.
        id_switches_per_track: GT id -> switches.
        identity_purity: GT id -> fraction of its matched frames matched to its most frequent prediction id
            (NaN for a track never matched).
        mota: CLEAR-MOT accuracy ``1 - (missed + false positives + id switches) / num_gt``.
        distance_bins: the closeness breakdown, one entry per bin.
        config: the configuration used.
    """

    num_frames: int
    num_gt: int
    num_pred: int
    num_matched: int
    num_missed: int
    num_false_positives: int
    false_positives_per_frame: float
    mpjpe_mm: float
    pa_mpjpe_mm: float
    joints_missing: float
    pck: dict[float, float]
    pcp: dict[str, float]
    pcp_groups: dict[str, float]
    pcp_mean: float
    ap_percent: dict[float, float]
    ap_recall: dict[float, float]
    recall_500mm: float
    voxelpose_mpjpe_mm: float
    id_switches: int
    id_switches_per_track: dict[int, int]
    identity_purity: dict[int, float]
    mota: float
    distance_bins: tuple[DistanceBinResult, ...]
    config: EvalConfig = field(default_factory=EvalConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-compatible dict: dict keys become strings (``"100"`` for 100 mm), NaN / inf become None.

        Example:
            >>> import json
            >>> gt = Poses3D([0], [7], np.zeros((1, 1, 17, 3)), np.ones((1, 1, 17)))
            >>> d = evaluate(gt, gt).to_dict()
            >>> d["pck"]["50"], d["identity_purity"]["7"], d["pa_mpjpe_mm"]
            (1.0, 1.0, None)
            >>> _ = json.dumps(d, allow_nan=False)
        """
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Config):
                out[f.name] = value.to_dict()
            elif f.name == "distance_bins":
                out[f.name] = [_plain(dataclasses.asdict(b)) for b in value]
            else:
                out[f.name] = _plain(value)
        return out


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {_key(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, (np.integer,)):
        return int(obj)
    return obj


def _key(k: Any) -> str:
    return f"{k:g}" if isinstance(k, float) else str(k)


def _ratio(num: float, den: float) -> float:
    """``num / den`` as float, NaN when ``den`` is 0."""
    return float(num) / float(den) if den else float("nan")


def pairwise_mpjpe(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean per-joint distance between every person of ``a`` and every person of ``b``, frame by frame.

    Args:
        a: ``(T, Pa, J, 3)`` metres, NaN = absent joint.
        b: ``(T, Pb, J, 3)`` metres, NaN = absent joint.

    Returns:
        ``(T, Pa, Pb)`` metres: mean over the joints finite in both; ``inf`` where there is none.

    Example:
        >>> a = np.zeros((1, 1, 17, 3)); b = np.zeros((1, 2, 17, 3)); b[0, 1, :, 0] = 0.2
        >>> pairwise_mpjpe(a, b).round(3).tolist()
        [[[0.0, 0.2]]]
    """
    T, Pa, Pb = a.shape[0], a.shape[1], b.shape[1]
    out = np.full((T, Pa, Pb), np.inf)
    for start in range(0, T, _CHUNK_FRAMES):
        sl = slice(start, start + _CHUNK_FRAMES)
        dist = np.linalg.norm(a[sl, :, None] - b[sl, None, :], axis=-1)  # (t, Pa, Pb, J), NaN if either absent
        valid = np.isfinite(dist)
        count = valid.sum(-1)
        total = np.where(valid, dist, 0.0).sum(-1)
        out[sl] = np.where(count > 0, total / np.maximum(count, 1), np.inf)
    return out


def procrustes_align(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Least-squares similarity alignment (rotation, translation, scale) of each ``pred`` onto its ``gt``.

    Solved in closed form (Umeyama) with one batched SVD over the joints where ``valid``; reflections excluded.

    Args:
        pred: ``(N, J, 3)`` metres (any frame).
        gt: ``(N, J, 3)`` metres.
        valid: ``(N, J)`` bool, joints used for the fit (finite in both); at least 3 per row for a unique fit.

    Returns:
        ``(N, J, 3)`` metres: ``s R pred + t`` per row, which minimises the sum of squared distances to ``gt``
        over the valid joints (NaN rows where the fit is degenerate: all valid predicted joints coincide).

    Example:
        >>> rng = np.random.default_rng(0); gt = rng.normal(size=(1, 17, 3))
        >>> pred = 2.0 * gt[..., ::-1] * [1, -1, 1] + 5.0  # scaled, rotated, shifted
        >>> np.allclose(procrustes_align(pred, gt, np.ones((1, 17), bool)), gt)
        True
    """
    w = valid.astype(float)  # (N, J)
    count = np.maximum(w.sum(-1), 1.0)[:, None, None]  # (N, 1, 1)
    pred0 = np.where(valid[..., None], pred, 0.0)
    gt0 = np.where(valid[..., None], gt, 0.0)
    mu_pred = (w[..., None] * pred0).sum(1, keepdims=True) / count  # (N, 1, 3)
    mu_gt = (w[..., None] * gt0).sum(1, keepdims=True) / count
    pc = (pred0 - mu_pred) * w[..., None]  # (N, J, 3)
    gc = (gt0 - mu_gt) * w[..., None]
    cov = np.einsum("nja,njb->nab", pc, gc)  # (N, 3, 3) = sum p g^T
    u, s, vt = np.linalg.svd(cov)
    sign = np.sign(np.linalg.det(np.einsum("nba,ncb->nac", vt, u)))  # det(V U^T)
    sign = np.where(sign == 0, 1.0, sign)
    d = np.ones((len(pred), 3))
    d[:, 2] = sign
    rot = np.einsum("nba,nb,ncb->nac", vt, d, u)  # V D U^T, (N, 3, 3)
    var_pred = (pc ** 2).sum((1, 2))  # (N,)
    ok = var_pred > 1e-18
    scale = np.where(ok, (s * d).sum(-1) / np.where(ok, var_pred, 1.0), np.nan)  # (N,)
    aligned = scale[:, None, None] * np.einsum("nab,njb->nja", rot, pred - mu_pred) + mu_gt
    return aligned


def voxelpose_ap(mpjpe_mm: np.ndarray, gt_index: np.ndarray, score: np.ndarray, total_gt: int,
                 threshold_mm: float) -> tuple[float, float]:
    """VoxelPose's AP and final recall at one MPJPE threshold (``_eval_list_to_ap`` of ``panoptic.py``).

    Each prediction carries the MPJPE to its closest GT person in its frame and that GT's index. Predictions
    are ranked by descending score (stable: ties keep input order); a prediction is a true positive if its
    MPJPE is ``< threshold_mm`` and its GT has not been claimed by a higher-ranked true positive, else a false
    positive. With ``recall = cumTP / (total_gt + 1e-5)`` and ``precision = cumTP / (cumTP + cumFP + 1e-5)``
    (VoxelPose's epsilons kept), precision is replaced by its running maximum from the right, the curves are
    padded with ``(recall 0, precision 0)`` in front and ``(recall 1, precision 0)`` behind, and
    ``AP = sum over recall changes of (r[i+1] - r[i]) * p[i+1]``.

    Args:
        mpjpe_mm: ``(N,)`` MPJPE of each prediction to its closest GT, millimetres (``inf``: no GT comparable).
        gt_index: ``(N,)`` int, global index of that GT person-frame.
        score: ``(N,)`` ranking score of each prediction.
        total_gt: number of GT person-frames.
        threshold_mm: MPJPE threshold, millimetres.

    Returns:
        ``(ap, recall)`` as fractions; ``recall`` is the recall after the last prediction.

    Example:
        >>> voxelpose_ap(np.array([10.0, 10.0]), np.array([0, 1]), np.array([0.9, 0.8]), 2, 25.0)[0] > 0.9999
        True
        >>> round(voxelpose_ap(np.array([10.0, 60.0]), np.array([0, 0]), np.array([0.1, 0.9]), 1, 25.0)[0], 4)
        0.5
    """
    order = np.argsort(-np.asarray(score, dtype=float), kind="stable")
    err = np.asarray(mpjpe_mm, dtype=float)[order]
    gts = np.asarray(gt_index, dtype=np.int64)[order]
    candidate = np.flatnonzero(err < threshold_mm)
    _, first = np.unique(gts[candidate], return_index=True)
    tp = np.zeros(len(err))
    tp[candidate[first]] = 1.0
    tp_cum = np.cumsum(tp)
    fp_cum = np.cumsum(1.0 - tp)
    recall = tp_cum / (total_gt + 1e-5)
    precision = tp_cum / (tp_cum + fp_cum + 1e-5)
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    precision = np.concatenate(([0.0], precision, [0.0]))
    recall = np.concatenate(([0.0], recall, [1.0]))
    change = np.flatnonzero(recall[1:] != recall[:-1])
    ap = float(np.sum((recall[change + 1] - recall[change]) * precision[change + 1]))
    return ap, float(recall[-2])


def nearest_other_distance(joints: np.ndarray) -> np.ndarray:
    """Distance from each person to the nearest other person of the same frame.

    The distance between two people is the minimum over all joint pairs (every joint of one against every
    joint of the other, NaN joints skipped).

    Args:
        joints: ``(T, P, J, 3)`` metres, NaN = absent.

    Returns:
        ``(T, P)`` metres; ``inf`` where the frame has nobody else with a finite joint (or the person is absent).

    Example:
        >>> j = np.full((1, 3, 17, 3), np.nan); j[0, 0, 0] = 0; j[0, 1, :2] = [[0.5, 0, 0], [0.2, 0, 0]]
        >>> nearest_other_distance(j).round(3).tolist()
        [[0.2, 0.2, inf]]
    """
    T, P, J, _ = joints.shape
    out = np.full((T, P), np.inf)
    if P < 2:
        return out
    flat = joints.reshape(T, P * J, 3)
    owner = np.repeat(np.arange(P), J)
    same = owner[:, None] == owner[None, :]  # (PJ, PJ)
    for start in range(0, T, _CHUNK_FRAMES):
        block = flat[start:start + _CHUNK_FRAMES]  # (t, PJ, 3)
        dist = np.linalg.norm(block[:, :, None] - block[:, None, :], axis=-1)  # (t, PJ, PJ)
        dist = np.where(np.isfinite(dist) & ~same, dist, np.inf)
        out[start:start + _CHUNK_FRAMES] = dist.min(-1).reshape(-1, P, J).min(-1)
    return out


def _align_frames(pred: Poses3D, gt_frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Prediction joints and confidences on the GT frames: ``(T, Pp, J, 3)`` NaN-filled, ``(T, Pp, J)``."""
    T, Pp, J = len(gt_frames), pred.num_people, pred.joint_set.num_joints
    joints = np.full((T, Pp, J, 3), np.nan)
    conf = np.zeros((T, Pp, J))
    _, gt_idx, pred_idx = np.intersect1d(gt_frames, pred.frames, assume_unique=True, return_indices=True)
    joints[gt_idx] = pred.joints[pred_idx]
    conf[gt_idx] = pred.confidence[pred_idx]
    return joints, conf


def _match(dist_m: np.ndarray, gt_present: np.ndarray, pred_present: np.ndarray, threshold_m: float) -> np.ndarray:
    """Per-frame Hungarian matching; ``(T, Pg)`` int index of the matched prediction, -1 if none."""
    T, Pg, _ = dist_m.shape
    match = np.full((T, Pg), -1, dtype=np.int64)
    big = 1e6
    for t in range(T):  # one small assignment per frame
        g = np.flatnonzero(gt_present[t])
        p = np.flatnonzero(pred_present[t])
        if len(g) == 0 or len(p) == 0:
            continue
        cost = dist_m[t][np.ix_(g, p)]
        allowed = cost < threshold_m
        rows, cols = linear_sum_assignment(np.where(allowed, cost, big))
        keep = allowed[rows, cols]
        match[t, g[rows[keep]]] = p[cols[keep]]
    return match


def _pcp_points(joints: np.ndarray) -> tuple[np.ndarray, list[tuple[str, int, int]]]:
    """SHELF14 joints plus mid-hip, ``(..., 15, 3)`` metres, and the parts as index pairs into them."""
    shelf, _ = convert(joints, COCO17, SHELF14)  # (..., 14, 3), NaN where a source joint is missing
    mid_hip = 0.5 * (shelf[..., SHELF14.index("left_hip"), :] + shelf[..., SHELF14.index("right_hip"), :])
    points = np.concatenate([shelf, mid_hip[..., None, :]], axis=-2)
    index = {name: i for i, name in enumerate(SHELF14.joint_names)}
    index["mid_hip"] = SHELF14.num_joints
    return points, [(name, index[a], index[b]) for name, a, b in PCP_PARTS]


def evaluate(pred: Poses3D, gt: Poses3D, config: EvalConfig | None = None) -> EvalResult:
    """Score predicted 3D people against ground truth (conventions in the module docstring).

    Metrics, precisely:

    * **Matching**: per GT frame, Hungarian assignment on the mean per-joint distance over joints valid in
      both, pairs kept if ``< match_threshold_m``; unmatched GT = missed, unmatched prediction = false
      positive (``false_positives_per_frame`` = false positives / evaluated frames).
    * **MPJPE / PA-MPJPE / joints missing / PCK**: see the :class:`EvalResult` attributes.
    * **PCP** (Shelf/Campus, VoxelPose ``shelf.py``): both skeletons are mapped COCO-17 -> SHELF14
      (:func:`closecap.skeleton.convert`; head from ears and shoulders), a part ``(s, e)`` is correct if
      ``(|p_s - g_s| + |p_e - g_e|) / 2 <= pcp_alpha * |g_s - g_e|``. Parts: lower/upper legs, lower/upper
      arms, head, torso (mid-hip to bottom of head). Counted per GT person-frame where both GT endpoints
      exist; the prediction is the matched one (VoxelPose uses the nearest prediction instead), a missed
      person scores 0.
    * **AP@25..150 / recall@500 / VoxelPose MPJPE**: each predicted person-frame in a GT frame with at least
      one GT person gets its closest GT by MPJPE (over joints valid in both, mm) and a score = its mean
      confidence over all ``J`` joints (missing joints count 0); then :func:`voxelpose_ap`. Recall@500 is
      the fraction of GT person-frames that are the closest GT of some prediction with MPJPE
      ``< recall_threshold_mm`` (VoxelPose ``_eval_list_to_recall``).
    * **ID switches**: for each GT track, the sequence of matched prediction ids over frames, skipping
      frames where it is unmatched; a switch is counted when the id differs from the last matched id.
      Identity purity: share of the track's matched frames that carry its most frequent prediction id.
    * **Closeness**: each GT person-frame's distance to the nearest other GT person of that frame
      (:func:`nearest_other_distance`) is binned by ``distance_bins_m`` (left-closed bins); a person alone
      in the frame goes to the last bin (distance ``inf``). Per bin: count, recall (fraction matched),
      MPJPE of the matched, PCK at ``bin_pck_threshold_mm``.

    Args:
        pred: predicted people, COCO-17, metres; ``confidence`` ranks them for AP.
        gt: ground-truth people, COCO-17, metres; its frames are the evaluated set.
        config: settings; default :class:`EvalConfig()`.

    Returns:
        :class:`EvalResult`.

    Raises:
        InputError: a joint set other than COCO-17.

    Example:
        >>> rng = np.random.default_rng(1)
        >>> gt = Poses3D([0, 1], [1, 2], rng.normal(size=(2, 2, 17, 3)) + [[[[0]]], [[[3]]]], np.ones((2, 2, 17)))
        >>> pred = Poses3D(gt.frames, gt.ids, gt.joints + [0.03, 0, 0], gt.confidence)
        >>> r = evaluate(pred, gt)
        >>> round(r.mpjpe_mm, 6), round(r.pa_mpjpe_mm, 6), r.ap_percent[25.0], round(r.ap_percent[50.0])
        (30.0, 0.0, 0.0, 100)
    """
    config = EvalConfig() if config is None else config
    for name, poses in (("pred", pred), ("gt", gt)):
        if poses.joint_set.name != COCO17.name:
            raise InputError(None, f"{name}.joint_set", f"expected coco17, got {poses.joint_set.name}")

    gt_joints = np.asarray(gt.joints)  # (T, Pg, J, 3)
    pred_joints, pred_conf = _align_frames(pred, gt.frames)  # (T, Pp, J, 3), (T, Pp, J)
    T, Pg, J = gt_joints.shape[:3]
    gt_valid = np.isfinite(gt_joints).all(-1)  # (T, Pg, J)
    pred_valid = np.isfinite(pred_joints).all(-1)  # (T, Pp, J)
    gt_present = gt_valid.any(-1)  # (T, Pg)
    pred_present = pred_valid.any(-1)  # (T, Pp)

    dist_m = pairwise_mpjpe(gt_joints, pred_joints)  # (T, Pg, Pp)
    match = _match(dist_m, gt_present, pred_present, config.match_threshold_m)  # (T, Pg)
    matched = match >= 0
    num_gt = int(gt_present.sum())
    num_pred = int(pred_present.sum())
    num_matched = int(matched.sum())
    num_fp = num_pred - num_matched

    # Joint errors of the matched prediction for every GT person-frame (NaN where none).
    paired = np.full(gt_joints.shape, np.nan)  # (T, Pg, J, 3)
    if pred_joints.shape[1]:
        safe = np.where(matched, match, 0)
        paired = np.take_along_axis(pred_joints, safe[..., None, None], axis=1)
        paired = np.where(matched[..., None, None], paired, np.nan)
    err_m = np.linalg.norm(paired - gt_joints, axis=-1)  # (T, Pg, J), NaN where either missing
    err_ok = np.isfinite(err_m)
    err_mm = np.where(err_ok, err_m, np.inf) * 1000.0

    gt_valid_matched = gt_valid & matched[..., None]
    mpjpe_mm = _ratio(np.where(err_ok, err_m, 0.0).sum() * 1000.0, err_ok.sum())
    joints_missing = _ratio((gt_valid_matched & ~err_ok).sum(), gt_valid_matched.sum())

    enough = err_ok.sum(-1) >= int(config.min_procrustes_joints)  # (T, Pg)
    pa_mpjpe_mm = float("nan")
    if enough.any():
        aligned = procrustes_align(paired[enough], gt_joints[enough], err_ok[enough])  # (N, J, 3)
        pa_err = np.linalg.norm(aligned - gt_joints[enough], axis=-1)
        pa_ok = err_ok[enough] & np.isfinite(pa_err)
        pa_mpjpe_mm = _ratio(np.where(pa_ok, pa_err, 0.0).sum() * 1000.0, pa_ok.sum())

    num_gt_joints = int(gt_valid.sum())
    pck = {float(th): _ratio((err_mm < th).sum(), num_gt_joints) for th in config.pck_thresholds_mm}

    pcp, pcp_groups, pcp_mean = _pcp(paired, gt_joints, config.pcp_alpha)

    ap_percent, ap_recall, recall_500, vp_mpjpe = _voxelpose_scores(
        gt_joints, pred_joints, pred_conf, gt_present, pred_present, config)

    switches, purity = _identity(match, pred.ids, gt.ids)
    num_switches = int(sum(switches.values()))
    mota = 1.0 - _ratio((num_gt - num_matched) + num_fp + num_switches, num_gt)

    bins = _closeness(gt_joints, gt_present, gt_valid, matched, err_m, err_mm, config)

    return EvalResult(
        num_frames=T, num_gt=num_gt, num_pred=num_pred, num_matched=num_matched,
        num_missed=num_gt - num_matched, num_false_positives=num_fp,
        false_positives_per_frame=_ratio(num_fp, T),
        mpjpe_mm=mpjpe_mm, pa_mpjpe_mm=pa_mpjpe_mm, joints_missing=joints_missing, pck=pck,
        pcp=pcp, pcp_groups=pcp_groups, pcp_mean=pcp_mean,
        ap_percent=ap_percent, ap_recall=ap_recall, recall_500mm=recall_500, voxelpose_mpjpe_mm=vp_mpjpe,
        id_switches=num_switches, id_switches_per_track=switches, identity_purity=purity, mota=mota,
        distance_bins=bins, config=config,
    )


def _pcp(paired: np.ndarray, gt_joints: np.ndarray, alpha: float) -> tuple[dict[str, float], dict[str, float], float]:
    """Shelf/Campus PCP per part, per group and mean, from ``(T, Pg, J, 3)`` matched predictions and GT."""
    gt_pts, parts = _pcp_points(gt_joints)  # (T, Pg, 15, 3)
    pred_pts, _ = _pcp_points(paired)
    start = np.array([a for _, a, _ in parts])
    end = np.array([b for _, _, b in parts])
    err = np.linalg.norm(pred_pts - gt_pts, axis=-1)  # (T, Pg, 15), NaN if either missing
    length = np.linalg.norm(gt_pts[..., start, :] - gt_pts[..., end, :], axis=-1)  # (T, Pg, K)
    counted = np.isfinite(length)  # both GT endpoints exist (and the person is present)
    mean_err = 0.5 * (err[..., start] + err[..., end])  # (T, Pg, K)
    correct = counted & np.isfinite(mean_err) & (np.nan_to_num(mean_err, nan=np.inf) <= alpha * np.nan_to_num(length))
    n_correct = correct.reshape(-1, len(parts)).sum(0)  # (K,)
    n_counted = counted.reshape(-1, len(parts)).sum(0)
    names = [name for name, _, _ in parts]
    pcp = {name: _ratio(c, n) for name, c, n in zip(names, n_correct, n_counted)}
    col = {name: i for i, name in enumerate(names)}
    groups = {}
    for group, members in PCP_GROUPS:
        idx = [col[m] for m in members]
        groups[group] = _ratio(n_correct[idx].sum(), n_counted[idx].sum())
    return pcp, groups, _ratio(n_correct.sum(), n_counted.sum())


def _voxelpose_scores(gt_joints, pred_joints, pred_conf, gt_present, pred_present, config: EvalConfig):
    """AP per threshold (percent), its final recall, recall@500 and VoxelPose MPJPE (see :func:`evaluate`)."""
    T, Pg = gt_present.shape
    total_gt = int(gt_present.sum())
    gt_index = np.cumsum(gt_present.reshape(-1)).reshape(T, Pg) - 1  # global index of each GT person-frame
    dist_mm = pairwise_mpjpe(pred_joints, gt_joints) * 1000.0  # (T, Pp, Pg)
    dist_mm = np.where(gt_present[:, None, :], dist_mm, np.inf)
    entries = pred_present & gt_present.any(-1)[:, None]  # (T, Pp) predictions in frames that have GT people
    t_idx, p_idx = np.nonzero(entries)  # frame-major order, as VoxelPose builds its list
    closest = np.argmin(dist_mm[t_idx, p_idx], axis=-1) if len(t_idx) else np.zeros(0, dtype=np.int64)  # (N,)
    err = dist_mm[t_idx, p_idx, closest]
    gt_id = gt_index[t_idx, closest]
    score = pred_conf[t_idx, p_idx].mean(-1)
    ap_percent, ap_recall = {}, {}
    for th in config.ap_thresholds_mm:
        ap, rec = voxelpose_ap(err, gt_id, score, total_gt, th)
        ap_percent[float(th)] = 100.0 * ap
        ap_recall[float(th)] = rec
    hit = err < config.recall_threshold_mm
    recall_500 = _ratio(len(np.unique(gt_id[hit])), total_gt)
    # VoxelPose _eval_list_to_mpjpe: score-ranked, each GT claimed once, below the recall threshold.
    order = np.argsort(-score, kind="stable")
    cand = order[hit[order]]
    _, first = np.unique(gt_id[cand], return_index=True)
    vp_mpjpe = float(err[cand[first]].mean()) if len(first) else float("nan")
    return ap_percent, ap_recall, recall_500, vp_mpjpe


def _identity(match: np.ndarray, pred_ids: np.ndarray, gt_ids: np.ndarray) -> tuple[dict[int, int], dict[int, float]]:
    """ID switches and identity purity per GT track from the ``(T, Pg)`` matching."""
    T, Pg = match.shape
    Pp = len(pred_ids)
    matched = match >= 0
    frame = np.where(matched, np.arange(T)[:, None], -1)
    last = np.maximum.accumulate(frame, axis=0)  # (T, Pg) last matched frame up to t
    prev = np.vstack([np.full((1, Pg), -1), last[:-1]])  # last matched frame before t
    prev_match = np.take_along_axis(match, np.maximum(prev, 0), axis=0)
    switch = matched & (prev >= 0) & (prev_match != match)
    counts = np.zeros((Pg, Pp), dtype=np.int64)
    g_idx = np.broadcast_to(np.arange(Pg), (T, Pg))[matched]
    np.add.at(counts, (g_idx, match[matched]), 1)
    total = counts.sum(-1)
    best = counts.max(-1) if Pp else np.zeros(Pg, dtype=np.int64)
    switches = {int(g): int(n) for g, n in zip(gt_ids, switch.sum(0))}
    purity = {int(g): _ratio(b, n) for g, b, n in zip(gt_ids, best, total)}
    return switches, purity


def _bin_labels(edges: tuple[float, ...]) -> list[tuple[str, float, float]]:
    lows = (0.0,) + tuple(edges)
    highs = tuple(edges) + (math.inf,)
    labels = []
    for i, (lo, hi) in enumerate(zip(lows, highs)):
        if i == 0:
            text = f"< {hi:g} m"
        elif math.isinf(hi):
            text = f">= {lo:g} m"
        else:
            text = f"{lo:g}-{hi:g} m"
        labels.append((text, lo, hi))
    return labels


def _closeness(gt_joints, gt_present, gt_valid, matched, err_m, err_mm,
               config: EvalConfig) -> tuple[DistanceBinResult, ...]:
    """The closeness breakdown (see :func:`evaluate`)."""
    nearest = nearest_other_distance(gt_joints)  # (T, Pg) metres, inf when alone
    which = np.searchsorted(np.asarray(config.distance_bins_m), nearest, side="right")  # (T, Pg)
    err_ok = np.isfinite(err_m)
    out = []
    for b, (label, lo, hi) in enumerate(_bin_labels(config.distance_bins_m)):
        in_bin = gt_present & (which == b)  # (T, Pg)
        ok = err_ok & in_bin[..., None]
        out.append(DistanceBinResult(
            label=label, low_m=lo, high_m=hi, count=int(in_bin.sum()),
            recall=_ratio((matched & in_bin).sum(), in_bin.sum()),
            mpjpe_mm=_ratio(np.where(ok, err_m, 0.0).sum() * 1000.0, ok.sum()),
            pck=_ratio(((err_mm < config.bin_pck_threshold_mm) & in_bin[..., None]).sum(),
                       (gt_valid & in_bin[..., None]).sum()),
        ))
    return tuple(out)


def _fmt(value: float, spec: str = ".1f") -> str:
    return "-" if value is None or not math.isfinite(value) else format(value, spec)


def format_table(result: EvalResult) -> str:
    """A compact plain-text report of an :class:`EvalResult` (for the CLI to print).

    Example:
        >>> gt = Poses3D([0], [1], np.random.default_rng(0).normal(size=(1, 1, 17, 3)), np.ones((1, 1, 17)))
        >>> print(format_table(evaluate(gt, gt)).splitlines()[0])
        frames 1  GT people 1  predictions 1  matched 1  missed 0  false positives 0 (0.00/frame)
    """
    r = result
    lines = [
        f"frames {r.num_frames}  GT people {r.num_gt}  predictions {r.num_pred}  matched {r.num_matched}  "
        f"missed {r.num_missed}  false positives {r.num_false_positives} "
        f"({_fmt(r.false_positives_per_frame, '.2f')}/frame)",
        f"MPJPE {_fmt(r.mpjpe_mm)} mm  PA-MPJPE {_fmt(r.pa_mpjpe_mm)} mm  joints missing "
        f"{_fmt(100 * r.joints_missing)} %  ID switches {r.id_switches}  MOTA {_fmt(r.mota, '.3f')}",
        "PCK   " + "  ".join(f"@{th:g}mm {_fmt(v, '.3f')}" for th, v in r.pck.items()),
        "AP %  " + "  ".join(f"@{th:g} {_fmt(v)}" for th, v in r.ap_percent.items())
        + f"  recall@{r.config.recall_threshold_mm:g} {_fmt(r.recall_500mm, '.3f')}"
        + f"  VoxelPose MPJPE {_fmt(r.voxelpose_mpjpe_mm)} mm",
        "PCP   " + "  ".join(f"{name} {_fmt(v, '.3f')}" for name, v in r.pcp_groups.items())
        + f"  mean {_fmt(r.pcp_mean, '.3f')}",
        f"{'nearest other person':<22}{'count':>8}{'recall':>9}{'MPJPE mm':>10}"
        f"{f'PCK@{r.config.bin_pck_threshold_mm:g}':>10}",
    ]
    for b in r.distance_bins:
        lines.append(f"{b.label:<22}{b.count:>8}{_fmt(b.recall, '.3f'):>9}{_fmt(b.mpjpe_mm):>10}"
                     f"{_fmt(b.pck, '.3f'):>10}")
    purity = [v for v in r.identity_purity.values() if math.isfinite(v)]
    if purity:
        lines.append(f"identity purity: mean {np.mean(purity):.3f}  min {min(purity):.3f} over {len(purity)} GT tracks")
    return "\n".join(lines)

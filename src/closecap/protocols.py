"""The published evaluation protocols of Shelf, Campus and CMU Panoptic, as VoxelPose computes them.

Pure functions over :class:`~closecap.poses.Poses3D` (no I/O); the readers of the dataset files live in
:mod:`closecap.io.datasets`. These protocols reproduce the numbers papers print; they deliberately
differ from :func:`closecap.metrics.evaluate` (closecap's own, Hungarian-matched metrics):

* **Shelf / Campus PCP** (:func:`shelf_campus_pcp`; VoxelPose ``lib/dataset/shelf.py`` and ``campus.py``,
  ``evaluate``). For each evaluated frame and each annotated GT actor, the prediction with the lowest
  MPJPE to that actor (over the 14 Shelf joints) is chosen, *independently per actor* (two actors may
  pick the same prediction; no Hungarian assignment). Ten parts are scored: the 8 limbs, the head
  (bottom of head to top of head) and the torso (mid-hip to bottom of head). A part ``(s, e)`` is correct
  when ``(|p_s - g_s| + |p_e - g_e|) / 2 <= alpha |g_s - g_e|`` (``alpha`` = 0.5). COCO-17 predictions are
  first mapped to the 14 Shelf joints by :func:`coco_to_shelf14`, which derives the head bottom and top
  from COCO's nose, ears and shoulders with VoxelPose's *dataset-specific* formulas (``coco2shelf3D`` for
  Shelf, ``coco2campus3D`` for Campus); :func:`closecap.skeleton.convert` uses the Campus formula for
  both, so closecap.metrics' head PCP on Shelf differs from the published one.
* **Panoptic AP / MPJPE / recall** (:func:`panoptic_ap`; VoxelPose ``lib/dataset/panoptic.py``): 15 joints;
  each prediction of a frame gets its nearest GT body by MPJPE over the GT's visible joints; ranked by
  score; AP at 25..150 mm (:func:`closecap.metrics.voxelpose_ap`), MPJPE of the score-ranked first claims
  under 500 mm, recall@500.

Deviations from VoxelPose (all forced by closecap's containers; none changes a result on complete data):

* A predicted joint may be NaN in closecap. Person-to-person MPJPE is the mean over the joints finite in
  both (VoxelPose's predictions are always complete); a part with a NaN endpoint is incorrect.
* A frame without any prediction scores 0 for every annotated actor (VoxelPose would crash on it).
* The prediction score (VoxelPose: one score per person) is the mean joint confidence, missing joints
  counting 0, as in :func:`closecap.metrics.evaluate`.
* An actor never annotated in the evaluated frames has PCP NaN (VoxelPose: 0). The "Average" column of
  :func:`format_pcp_table` averages the first ``num_actors`` actors in every row (VoxelPose's print script
  averages all actors in the part rows and the first three in the total row).

Example:
    >>> rng = np.random.default_rng(0)
    >>> gt = Poses3D([0, 1], [1, 2], rng.normal(size=(2, 2, 14, 3)), np.ones((2, 2, 14)), SHELF14)
    >>> r = shelf_campus_pcp(gt, gt, frames=[0, 1], num_actors=2)
    >>> r.actor_pcp.tolist(), r.average_pcp
    ([1.0, 1.0], 1.0)
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from closecap.config import Config
from closecap.errors import InputError
from closecap.metrics import pairwise_mpjpe, voxelpose_ap
from closecap.poses import Poses3D
from closecap.skeleton import COCO17, PANOPTIC15, PANOPTIC19, SHELF14, convert

__all__ = [
    "SHELF_FRAMES", "CAMPUS_FRAMES", "PANOPTIC_VAL_SEQUENCES", "PANOPTIC_TRAIN_SEQUENCES", "PANOPTIC_CAMERAS",
    "PCP_PARTS", "PCP_GROUPS", "PCPConfig", "PCPResult", "PanopticConfig", "PanopticResult",
    "coco_to_shelf14", "shelf14_to_coco17", "shelf_campus_pcp", "panoptic_ap", "format_pcp_table",
    "format_panoptic_table",
]

SHELF_FRAMES: tuple[int, ...] = tuple(range(300, 601))
"""Shelf's evaluated frames (0-based ``actor3D`` rows, images ``img_000300.png`` ...): 300-600 inclusive."""
CAMPUS_FRAMES: tuple[int, ...] = tuple(range(350, 471)) + tuple(range(650, 751))
"""Campus' evaluated frames: 350-470 and 650-750 inclusive."""
PANOPTIC_VAL_SEQUENCES: tuple[str, ...] = ("160906_pizza1", "160422_haggling1", "160906_ian5", "160906_band4")
"""VoxelPose's Panoptic validation sequences."""
PANOPTIC_TRAIN_SEQUENCES: tuple[str, ...] = (
    "160422_ultimatum1", "160224_haggling1", "160226_haggling1", "161202_haggling1", "160906_ian1",
    "160906_ian2", "160906_ian3", "160906_band1", "160906_band2", "160906_band3",
)
"""VoxelPose's Panoptic training sequences."""
PANOPTIC_CAMERAS: tuple[str, ...] = ("00_03", "00_06", "00_12", "00_13", "00_23")
"""VoxelPose's five HD cameras (panel 0, nodes 3, 6, 12, 13, 23), in calibration-file order."""

# VoxelPose's ten PCP parts, in its order (index = column of ``PCPResult.correct``). "mid_hip" is the
# mean of both hips; every other endpoint is a SHELF14 joint name.
PCP_PARTS: tuple[tuple[str, str, str], ...] = (
    ("right_lower_leg", "right_ankle", "right_knee"),
    ("right_upper_leg", "right_knee", "right_hip"),
    ("left_upper_leg", "left_hip", "left_knee"),
    ("left_lower_leg", "left_knee", "left_ankle"),
    ("right_lower_arm", "right_wrist", "right_elbow"),
    ("right_upper_arm", "right_elbow", "right_shoulder"),
    ("left_upper_arm", "left_shoulder", "left_elbow"),
    ("left_lower_arm", "left_elbow", "left_wrist"),
    ("head", "bottom_head", "top_head"),
    ("torso", "mid_hip", "bottom_head"),
)
# The rows of the published table: label -> part names.
PCP_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Head", ("head",)),
    ("Torso", ("torso",)),
    ("Upper arms", ("right_upper_arm", "left_upper_arm")),
    ("Lower arms", ("right_lower_arm", "left_lower_arm")),
    ("Upper legs", ("right_upper_leg", "left_upper_leg")),
    ("Lower legs", ("right_lower_leg", "left_lower_leg")),
)

_HEAD_FORMULAS = ("shelf", "campus")
# coco2shelf3D's per-axis weights of (nose - mid-shoulder) in the preliminary head top (z is up in Shelf).
_SHELF_TOP_AXIS_WEIGHTS = np.array([0.75, 0.75, 1.5])
_SHELF_BLEND = 0.75  # coco2shelf3D: weight of the nose-based head points against the ear-based ones


# ============================================================================ joint mappings


def coco_to_shelf14(joints_coco: np.ndarray, head: str = "campus") -> np.ndarray:
    """COCO-17 joints to the 14 Shelf/Campus joints, with VoxelPose's head formulas.

    Body joints are copied. With ``mid_sho`` = mean of the shoulders, ``centre`` = mean of the ears,
    ``bottom0 = (mid_sho + centre) / 2`` and ``top0 = 2 centre - bottom0``:

    * ``head="campus"`` (``coco2campus3D``): bottom_head = ``bottom0``, top_head = ``top0``.
    * ``head="shelf"`` (``coco2shelf3D``): bottom_head = ``0.75 (mid_sho + nose) / 2 + 0.25 bottom0``,
      top_head = ``0.75 (mid_sho + w * (nose - mid_sho)) + 0.25 top0`` with ``w = (0.75, 0.75, 1.5)`` per
      world axis (Shelf's z is up).

    Args:
        joints_coco: ``(..., 17, 3)`` metres (any unit), NaN = missing.
        head: ``"shelf"`` or ``"campus"``.

    Returns:
        ``(..., 14, 3)`` in the input unit; NaN where a contributing joint is missing.

    Example:
        >>> coco = np.zeros((17, 3)); coco[COCO17.indices(["left_ear", "right_ear"])] = [0, 0, 0.2]
        >>> coco_to_shelf14(coco, "campus")[SHELF14.indices(["bottom_head", "top_head"]), 2].round(3).tolist()
        [0.1, 0.3]
    """
    if head not in _HEAD_FORMULAS:
        raise InputError(None, "head", f"expected one of {list(_HEAD_FORMULAS)}, got {head!r}")
    joints_coco = np.asarray(joints_coco, dtype=float)
    if joints_coco.shape[-2:] != (COCO17.num_joints, 3):
        raise InputError(None, "joints", f"expected (..., 17, 3), got {joints_coco.shape}")
    body = [n for n in SHELF14.joint_names if n in COCO17.joint_names]
    out = np.full(joints_coco.shape[:-2] + (SHELF14.num_joints, 3), np.nan)
    out[..., SHELF14.indices(body), :] = joints_coco[..., COCO17.indices(body), :]
    joint = {n: joints_coco[..., COCO17.index(n), :] for n in ("nose", "left_ear", "right_ear",
                                                                 "left_shoulder", "right_shoulder")}
    mid_sho = 0.5 * (joint["left_shoulder"] + joint["right_shoulder"])  # (..., 3)
    centre = 0.5 * (joint["left_ear"] + joint["right_ear"])
    bottom0 = 0.5 * (mid_sho + centre)
    top0 = 2.0 * centre - bottom0
    if head == "campus":
        bottom, top = bottom0, top0
    else:
        nose = joint["nose"]
        top_nose = mid_sho + (nose - mid_sho) * _SHELF_TOP_AXIS_WEIGHTS
        bottom_nose = 0.5 * (mid_sho + nose)
        top = _SHELF_BLEND * top_nose + (1.0 - _SHELF_BLEND) * top0
        bottom = _SHELF_BLEND * bottom_nose + (1.0 - _SHELF_BLEND) * bottom0
    out[..., SHELF14.index("bottom_head"), :] = bottom
    out[..., SHELF14.index("top_head"), :] = top
    return out


def _head_inverse(head: str) -> np.ndarray:
    """``(3, 2, 2)``: per axis, the pseudo-inverse taking (bottom, top) - mid_sho to (nose, ear centre) - mid_sho."""
    if head == "campus":  # unknowns (nose unused -> 0, centre): bottom = 0.5 dc, top = 1.5 dc
        A = np.array([[0.0, 0.5], [0.0, 1.5]])
        return np.stack([np.linalg.pinv(A)] * 3)
    # shelf: bottom = 0.375 dn + 0.125 dc, top = 0.75 w dn + 0.375 dc (w per axis; singular for w = 1.5)
    mats = [np.array([[0.375, 0.125], [0.75 * w, 0.375]]) for w in _SHELF_TOP_AXIS_WEIGHTS]
    return np.stack([np.linalg.pinv(A) for A in mats])


def shelf14_to_coco17(joints_shelf: np.ndarray, head: str | None = None) -> np.ndarray:
    """The 14 Shelf/Campus joints to COCO-17, optionally with face joints fitted to the head.

    Body joints are copied; the eyes are always missing. ``head=None`` leaves nose and ears missing
    (what the data really has). ``head="shelf"`` / ``"campus"`` places *virtual* face joints (both ears at
    one point, the nose) so that :func:`coco_to_shelf14` with the same formula gives back the GT head
    bottom and top as closely as possible (least squares, minimum distance from the mid-shoulder). They are
    not anatomical: use them only to feed GT through a COCO-17 pipeline, never to score face joints.
    Exactness: Campus' formula has one free point for two targets, so bottom and top come back only if
    ``top - mid_sho = 3 (bottom - mid_sho)``; Shelf's is exact in x and y but singular in z
    (``w_z = 1.5``), where the same relation is needed.

    Args:
        joints_shelf: ``(..., 14, 3)`` metres, NaN = missing.
        head: ``None``, ``"shelf"`` or ``"campus"``.

    Returns:
        ``(..., 17, 3)`` metres, NaN where missing.

    Example:
        >>> shelf = np.zeros((14, 3)); shelf[SHELF14.index("bottom_head")] = [0, 0, 0.1]
        >>> shelf[SHELF14.index("top_head")] = [0, 0, 0.3]
        >>> back = coco_to_shelf14(shelf14_to_coco17(shelf, "campus"), "campus")
        >>> back[SHELF14.indices(["bottom_head", "top_head"]), 2].round(3).tolist()
        [0.1, 0.3]
    """
    joints_shelf = np.asarray(joints_shelf, dtype=float)
    if joints_shelf.shape[-2:] != (SHELF14.num_joints, 3):
        raise InputError(None, "joints", f"expected (..., 14, 3), got {joints_shelf.shape}")
    out, _ = convert(joints_shelf, SHELF14, COCO17)  # (..., 17, 3), face joints NaN
    if head is None:
        return out
    if head not in _HEAD_FORMULAS:
        raise InputError(None, "head", f"expected None or one of {list(_HEAD_FORMULAS)}, got {head!r}")
    mid_sho = 0.5 * (joints_shelf[..., SHELF14.index("left_shoulder"), :]
                     + joints_shelf[..., SHELF14.index("right_shoulder"), :])  # (..., 3)
    rel = np.stack([joints_shelf[..., SHELF14.index("bottom_head"), :] - mid_sho,
                    joints_shelf[..., SHELF14.index("top_head"), :] - mid_sho], axis=-1)  # (..., 3 axes, 2)
    solved = np.einsum("aij,...aj->...ai", _head_inverse(head), rel)  # (..., 3, 2): (nose, centre) - mid_sho
    nose = mid_sho + solved[..., 0]
    centre = mid_sho + solved[..., 1]
    if head == "shelf":
        out[..., COCO17.index("nose"), :] = nose
    out[..., COCO17.index("left_ear"), :] = centre
    out[..., COCO17.index("right_ear"), :] = centre
    return out


def _as_shelf14(poses: Poses3D, head: str, name: str) -> np.ndarray:
    """``(T, P, 14, 3)`` metres from COCO-17 (VoxelPose head formula) or SHELF14 poses."""
    if poses.joint_set.name == SHELF14.name:
        return np.asarray(poses.joints)
    if poses.joint_set.name == COCO17.name:
        return coco_to_shelf14(poses.joints, head)
    raise InputError(None, f"{name}.joint_set", f"expected coco17 or shelf14, got {poses.joint_set.name}")


def _as_panoptic15(poses: Poses3D, name: str) -> np.ndarray:
    """``(T, P, 15, 3)`` metres from COCO-17 (neck = mid-shoulder, mid-hip = mid-hips) or Panoptic poses."""
    if poses.joint_set.name == PANOPTIC15.name:
        return np.asarray(poses.joints)
    if poses.joint_set.name == PANOPTIC19.name:
        return np.asarray(poses.joints)[..., PANOPTIC19.indices(PANOPTIC15.joint_names), :]
    if poses.joint_set.name == COCO17.name:
        return convert(poses.joints, COCO17, PANOPTIC15)[0]
    raise InputError(None, f"{name}.joint_set",
                     f"expected coco17, panoptic15 or panoptic19, got {poses.joint_set.name}")


def _on_frames(poses: Poses3D, frames: np.ndarray, joints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``joints`` of ``poses`` and its mean confidences on ``frames``: ``(T, P, J, 3)`` NaN-filled, ``(T, P)``."""
    T, P = len(frames), poses.num_people
    out = np.full((T, P) + joints.shape[2:], np.nan)
    score = np.zeros((T, P))
    _, want, have = np.intersect1d(frames, poses.frames, assume_unique=True, return_indices=True)
    out[want] = joints[have]
    score[want] = np.asarray(poses.confidence)[have].mean(-1)
    return out, score


def _ratio(num: np.ndarray | float, den: np.ndarray | float) -> np.ndarray | float:
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    out = np.divide(num, den, out=np.full(np.broadcast(num, den).shape, np.nan), where=den > 0)
    return float(out) if out.ndim == 0 else out


def _plain(obj: Any) -> Any:
    if isinstance(obj, Config):
        return obj.to_dict()
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist())
    if isinstance(obj, dict):
        return {(f"{k:g}" if isinstance(k, float) else str(k)): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def _fmt(value: float, spec: str) -> str:
    return "-" if value is None or not math.isfinite(value) else format(value, spec)


def _ascii_table(header: list[str], rows: list[list[str]]) -> str:
    """A PrettyTable-like box: ``+---+`` rules, ``| cell |`` rows, first column left-aligned."""
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"

    def line(cells: list[str]) -> str:
        parts = [f" {c:<{w}} " if i == 0 else f" {c:^{w}} " for i, (c, w) in enumerate(zip(cells, widths))]
        return "|" + "|".join(parts) + "|"

    return "\n".join([rule, line(header), rule] + [line(r) for r in rows] + [rule])


# ============================================================================ Shelf / Campus PCP


@dataclass(frozen=True)
class PCPConfig(Config):
    """Settings of :func:`shelf_campus_pcp` (defaults = the published protocol).

    Attributes:
        frames: evaluated frame numbers; ``None`` = the dataset's protocol (:data:`SHELF_FRAMES`,
            :data:`CAMPUS_FRAMES`). Change only to evaluate an excerpt.
        alpha: a part is correct when its mean endpoint error is <= ``alpha`` x its GT length (0.5).
        num_actors: actors in the table and in the average (the first ``num_actors`` of the file; 3).
        recall_threshold_mm: an annotated actor counts as recalled when its nearest prediction's MPJPE is
            below this, millimetres (500).
        head: COCO-17 -> Shelf head formula, ``"shelf"`` or ``"campus"``; ``None`` = the dataset's own.
    """

    frames: tuple[int, ...] | None = None
    alpha: float = 0.5
    num_actors: int = 3
    recall_threshold_mm: float = 500.0
    head: str | None = None

    def __post_init__(self) -> None:
        if self.frames is not None:
            frames = tuple(int(f) for f in self.frames)
            if not frames or len(set(frames)) != len(frames):
                raise InputError("config", "PCPConfig.frames", "expected distinct frame numbers")
            object.__setattr__(self, "frames", frames)
        for name in ("alpha", "recall_threshold_mm"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise InputError("config", f"PCPConfig.{name}", f"expected a positive number, got {value!r}")
        if not (isinstance(self.num_actors, int) and self.num_actors >= 1):
            raise InputError("config", "PCPConfig.num_actors", f"expected an integer >= 1, got {self.num_actors!r}")
        if self.head is not None and self.head not in _HEAD_FORMULAS:
            raise InputError("config", "PCPConfig.head", f"expected one of {list(_HEAD_FORMULAS)}, got {self.head!r}")


@dataclass(frozen=True)
class PCPResult:
    """Shelf/Campus PCP as VoxelPose computes it (see the module docstring).

    Attributes:
        dataset: ``"shelf"`` or ``"campus"`` (sets the default head formula).
        frames: ``(T,)`` evaluated frame numbers.
        actor_ids: ``(A,)`` GT actor ids (all actors of the file).
        parts: the ten part names, columns of ``correct``.
        correct: ``(A, 10)`` correct parts per actor.
        annotated: ``(A,)`` annotated person-frames per actor (each contributes one instance of every part).
        actor_pcp: ``(A,)`` fraction of correct parts per actor; NaN if never annotated.
        group_pcp: table row label (``"Head"`` ... ``"Lower legs"``) -> ``(A,)`` PCP per actor.
        average_pcp: mean of ``actor_pcp`` over the first ``num_actors`` actors (the papers' number).
        recall_500mm: fraction of annotated person-frames (all actors) with a prediction under
            ``recall_threshold_mm`` MPJPE.
        num_actors: actors shown and averaged.
        config: the settings used.
    """

    dataset: str
    frames: np.ndarray
    actor_ids: np.ndarray
    parts: tuple[str, ...]
    correct: np.ndarray
    annotated: np.ndarray
    actor_pcp: np.ndarray
    group_pcp: dict[str, np.ndarray]
    average_pcp: float
    recall_500mm: float
    num_actors: int
    config: PCPConfig = field(default_factory=PCPConfig)

    def group_average(self, label: str) -> float:
        """Mean of a table row over the first ``num_actors`` actors (NaN actors skipped)."""
        values = np.asarray(self.group_pcp[label])[: self.num_actors]
        values = values[np.isfinite(values)]
        return float(values.mean()) if len(values) else float("nan")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON dict (NaN -> None); PCP values as fractions.

        Example:
            >>> gt = Poses3D([0], [1], np.zeros((1, 1, 14, 3)) + np.arange(14)[:, None], np.ones((1, 1, 14)), SHELF14)
            >>> d = shelf_campus_pcp(gt, gt, frames=[0], num_actors=1).to_dict()
            >>> d["actor_pcp"], d["average_pcp"], d["group_pcp"]["Head"]
            ([1.0], 1.0, [1.0])
        """
        out = {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}
        out["group_average"] = {label: _plain(self.group_average(label)) for label, _ in PCP_GROUPS}
        return out


def shelf_campus_pcp(pred: Poses3D, gt: Poses3D, dataset: str = "shelf", config: PCPConfig | None = None,
                     **overrides: Any) -> PCPResult:
    """VoxelPose's Shelf/Campus PCP of ``pred`` against ``gt`` (protocol in the module docstring).

    Args:
        pred: predicted people, COCO-17 (mapped with :func:`coco_to_shelf14`) or SHELF14 (used as is), metres,
            the dataset's world frame; frame numbers = the dataset's 0-based frame index.
        gt: ground truth, SHELF14, metres (:func:`closecap.io.datasets.read_actors_gt`); a person-frame is
            annotated when all 14 joints are finite. Its ids are the actors (table order = id order).
        dataset: ``"shelf"`` or ``"campus"``: default frames and head formula.
        config: settings; default :class:`PCPConfig()`.
        **overrides: fields of :class:`PCPConfig` replacing those of ``config`` (``frames=[0, 1]``).

    Returns:
        :class:`PCPResult`.

    Raises:
        InputError: wrong joint sets, unknown dataset, or evaluated frames that ``gt`` lacks.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> gt = Poses3D([5], [1], rng.normal(size=(1, 1, 14, 3)), np.ones((1, 1, 14)), SHELF14)
        >>> far = Poses3D([5], [9], gt.joints + 10.0, gt.confidence, SHELF14)
        >>> r = shelf_campus_pcp(far, gt, "campus", frames=[5], num_actors=1)
        >>> r.actor_pcp.tolist(), r.recall_500mm
        ([0.0], 0.0)
    """
    if dataset not in ("shelf", "campus"):
        raise InputError(None, "dataset", f"expected 'shelf' or 'campus', got {dataset!r}")
    config = config or PCPConfig()
    if overrides:
        config = PCPConfig.from_dict({**config.to_dict(), **overrides})
    if gt.joint_set.name != SHELF14.name:
        raise InputError(None, "gt.joint_set", f"expected shelf14, got {gt.joint_set.name}")
    head = config.head or dataset
    frames = np.asarray(config.frames if config.frames is not None
                        else (SHELF_FRAMES if dataset == "shelf" else CAMPUS_FRAMES), dtype=np.int64)
    missing = np.setdiff1d(frames, gt.frames)
    if len(missing):
        raise InputError(None, "frames", f"ground truth lacks {len(missing)} evaluated frames "
                                         f"(first {int(missing[0])}; it has {gt.frames.min()}..{gt.frames.max()})")
    gt_joints, _ = _on_frames(gt, frames, np.asarray(gt.joints))  # (T, A, 14, 3)
    pred_joints, _ = _on_frames(pred, frames, _as_shelf14(pred, head, "pred"))  # (T, P, 14, 3)
    annotated = np.isfinite(gt_joints).all((-1, -2))  # (T, A)

    # (T, A, P) mean distance over the joints finite in both; a column of inf stands for "no prediction"
    dist_mm = np.concatenate([pairwise_mpjpe(gt_joints, pred_joints) * 1000.0,
                              np.full(annotated.shape + (1,), np.inf)], axis=-1)
    nearest = np.argmin(dist_mm, axis=-1)  # (T, A): the lowest-error prediction of each actor (no assignment)
    min_mpjpe_mm = np.take_along_axis(dist_mm, nearest[..., None], -1)[..., 0]  # (T, A)
    has_pred = np.isfinite(min_mpjpe_mm)
    nearest = np.where(has_pred, nearest, 0)
    chosen = np.full(gt_joints.shape, np.nan)
    if pred_joints.shape[1]:
        chosen = np.take_along_axis(pred_joints, nearest[..., None, None], axis=1)  # (T, A, 14, 3)
        chosen = np.where(has_pred[..., None, None], chosen, np.nan)

    def with_mid_hip(j: np.ndarray) -> np.ndarray:  # (..., 14, 3) -> (..., 15, 3)
        hip = 0.5 * (j[..., SHELF14.index("left_hip"), :] + j[..., SHELF14.index("right_hip"), :])
        return np.concatenate([j, hip[..., None, :]], axis=-2)

    index = {n: i for i, n in enumerate(SHELF14.joint_names)} | {"mid_hip": SHELF14.num_joints}
    start = np.array([index[s] for _, s, _ in PCP_PARTS])
    end = np.array([index[e] for _, _, e in PCP_PARTS])
    g, p = with_mid_hip(gt_joints), with_mid_hip(chosen)  # (T, A, 15, 3)
    err = np.linalg.norm(p - g, axis=-1)  # (T, A, 15), NaN where the prediction lacks the joint
    mean_err = 0.5 * (err[..., start] + err[..., end])  # (T, A, 10)
    length = np.linalg.norm(g[..., start, :] - g[..., end, :], axis=-1)
    ok = np.isfinite(mean_err) & annotated[..., None]
    correct_part = ok & (np.where(ok, mean_err, np.inf) <= config.alpha * np.where(ok, length, 0.0))
    correct = correct_part.sum(0)  # (A, 10)
    n_annotated = annotated.sum(0)  # (A,)
    actor_pcp = _ratio(correct.sum(-1), 10 * n_annotated)
    col = {name: i for i, (name, _, _) in enumerate(PCP_PARTS)}
    group_pcp = {label: np.atleast_1d(_ratio(correct[:, [col[m] for m in members]].sum(-1),
                                             len(members) * n_annotated))
                 for label, members in PCP_GROUPS}
    head_actors = np.atleast_1d(actor_pcp)[: config.num_actors]
    head_actors = head_actors[np.isfinite(head_actors)]
    recalled = (annotated & (min_mpjpe_mm < config.recall_threshold_mm)).sum()
    return PCPResult(
        dataset=dataset, frames=frames, actor_ids=np.asarray(gt.ids), parts=tuple(n for n, _, _ in PCP_PARTS),
        correct=correct, annotated=n_annotated, actor_pcp=np.atleast_1d(actor_pcp), group_pcp=group_pcp,
        average_pcp=float(head_actors.mean()) if len(head_actors) else float("nan"),
        recall_500mm=_ratio(recalled, annotated.sum()), num_actors=config.num_actors, config=config)


def format_pcp_table(result: PCPResult) -> str:
    """The papers' PCP table (VoxelPose / mvpose layout), percent.

    Columns Actor 1..``num_actors`` and Average; rows Head, Torso, Upper arms, Lower arms, Upper legs,
    Lower legs and Total (all ten parts), then recall@500 on its own line.

    Example:
        >>> gt = Poses3D([0], [1], np.zeros((1, 1, 14, 3)) + np.arange(14)[:, None], np.ones((1, 1, 14)), SHELF14)
        >>> print(format_pcp_table(shelf_campus_pcp(gt, gt, frames=[0], num_actors=1)).splitlines()[2])
        | Bone Group | Actor 1 | Average |
    """
    n = result.num_actors
    header = ["Bone Group"] + [f"Actor {i + 1}" for i in range(n)] + ["Average"]

    def cells(values: np.ndarray) -> list[str]:
        shown = list(np.asarray(values, dtype=float)[:n]) + [float("nan")] * (n - len(values))
        return [_fmt(100.0 * v, ".1f") for v in shown]

    rows = [[label] + cells(result.group_pcp[label]) + [_fmt(100.0 * result.group_average(label), ".1f")]
            for label, _ in PCP_GROUPS]
    rows.append(["Total"] + cells(result.actor_pcp) + [_fmt(100.0 * result.average_pcp, ".1f")])
    text = _ascii_table(header, rows)
    return (f"{result.dataset.capitalize()} PCP (VoxelPose protocol), {len(result.frames)} frames, "
            f"alpha {result.config.alpha:g}\n{text}\n"
            f"Recall@{result.config.recall_threshold_mm:g}mm: {_fmt(result.recall_500mm, '.4f')}")


# ============================================================================ Panoptic AP


@dataclass(frozen=True)
class PanopticConfig(Config):
    """Settings of :func:`panoptic_ap` and of reading Panoptic GT for it (defaults = VoxelPose's protocol).

    Attributes:
        sequences: evaluated sequences (:data:`PANOPTIC_VAL_SEQUENCES`).
        interval: every ``interval``-th annotation file of a sequence (sorted by name) is evaluated (12).
            Set 1 to evaluate every frame.
        min_joint_confidence: a GT joint with Panoptic confidence <= this is ignored (0.1).
        root_joint: a GT body whose root joint is ignored is dropped (``"mid_hip"``, VoxelPose's root).
        ap_thresholds_mm: AP thresholds, millimetres (25, 50, ..., 150).
        recall_threshold_mm: recall@ and MPJPE threshold, millimetres (500).
    """

    sequences: tuple[str, ...] = PANOPTIC_VAL_SEQUENCES
    interval: int = 12
    min_joint_confidence: float = 0.1
    root_joint: str = "mid_hip"
    ap_thresholds_mm: tuple[float, ...] = (25.0, 50.0, 75.0, 100.0, 125.0, 150.0)
    recall_threshold_mm: float = 500.0

    def __post_init__(self) -> None:
        if isinstance(self.sequences, str) or not self.sequences:
            raise InputError("config", "PanopticConfig.sequences", f"expected a list of names, got {self.sequences!r}")
        object.__setattr__(self, "sequences", tuple(str(s) for s in self.sequences))
        if not (isinstance(self.interval, int) and self.interval >= 1):
            raise InputError("config", "PanopticConfig.interval", f"expected an integer >= 1, got {self.interval!r}")
        if self.root_joint not in PANOPTIC15.joint_names:
            raise InputError("config", "PanopticConfig.root_joint", f"not a Panoptic-15 joint: {self.root_joint!r}")
        values = tuple(float(v) for v in self.ap_thresholds_mm)
        if not values or any(not math.isfinite(v) or v <= 0 for v in values):
            raise InputError("config", "PanopticConfig.ap_thresholds_mm", f"expected positive numbers, got {values!r}")
        object.__setattr__(self, "ap_thresholds_mm", values)
        if not (isinstance(self.recall_threshold_mm, (int, float)) and self.recall_threshold_mm > 0):
            raise InputError("config", "PanopticConfig.recall_threshold_mm", "expected a positive number")


@dataclass(frozen=True)
class PanopticResult:
    """VoxelPose's Panoptic scores.

    Attributes:
        ap_percent: threshold (mm) -> AP, percent.
        recall_percent: threshold (mm) -> recall at the end of the AP curve, percent (VoxelPose's "Recall" row).
        mpjpe_mm: MPJPE of the score-ranked first claims under ``recall_threshold_mm``, millimetres (inf if none).
        recall_500mm: fraction of GT bodies claimed by some prediction under ``recall_threshold_mm``.
        num_frames: evaluated frames (with at least one GT body), all sequences.
        num_gt: GT bodies in them.
        num_pred: predictions in them.
        config: the settings used.
    """

    ap_percent: dict[float, float]
    recall_percent: dict[float, float]
    mpjpe_mm: float
    recall_500mm: float
    num_frames: int
    num_gt: int
    num_pred: int
    config: PanopticConfig = field(default_factory=PanopticConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON dict (threshold keys as strings, NaN / inf -> None)."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}


def panoptic_ap(pred: Poses3D | Sequence[Poses3D], gt: Poses3D | Sequence[Poses3D],
                config: PanopticConfig | None = None) -> PanopticResult:
    """VoxelPose's Panoptic AP@25..150, per-threshold recall, MPJPE and recall@500.

    Evaluated frames are the GT frames with at least one body; in each, every predicted person gets its
    nearest GT body by MPJPE over the GT's finite joints (and the prediction's finite ones) and the score
    = its mean joint confidence; the list is pooled over all sequences (GT indices kept apart) and
    scored with :func:`closecap.metrics.voxelpose_ap`. Predicted people in other frames are ignored.

    Args:
        pred: predictions of one sequence, or a list (one per sequence, same order as ``gt``); COCO-17
            (neck = mid-shoulders, mid-hip = mid-hips) or Panoptic-15/19; metres, the GT's world frame.
        gt: ground truth of one sequence or a list; Panoptic-15/19 (or COCO-17), metres, NaN = ignored joint
            (:func:`closecap.io.datasets.read_panoptic_gt` applies VoxelPose's filters).
        config: thresholds; default :class:`PanopticConfig()` (its sequence fields are not used here).

    Returns:
        :class:`PanopticResult`.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> gt = Poses3D([0], [1, 2], rng.normal(size=(1, 2, 15, 3)) + [[[0]], [[2]]], np.ones((1, 2, 15)),
        ...              PANOPTIC15)
        >>> r = panoptic_ap(gt, gt)
        >>> r.ap_percent[25.0] > 99.99, r.mpjpe_mm, r.recall_500mm
        (True, 0.0, 1.0)
    """
    config = config or PanopticConfig()
    preds = [pred] if isinstance(pred, Poses3D) else list(pred)
    gts = [gt] if isinstance(gt, Poses3D) else list(gt)
    if len(preds) != len(gts):
        raise InputError(None, "pred", f"{len(preds)} prediction sets for {len(gts)} ground-truth sets")
    errs, gt_ids, scores = [], [], []
    total_gt = num_frames = num_pred = 0
    for p, g in zip(preds, gts):
        gt_j = _as_panoptic15(g, "gt")  # (Tg, G, 15, 3)
        present = np.isfinite(gt_j).all(-1).any(-1)  # (Tg, G)
        keep = present.any(-1)
        frames = np.asarray(g.frames)[keep]
        gt_j, present = gt_j[keep], present[keep]
        pred_j, score = _on_frames(p, frames, _as_panoptic15(p, "pred"))  # (T, P, 15, 3), (T, P)
        pred_present = np.isfinite(pred_j).all(-1).any(-1)  # (T, P)
        dist_mm = np.where(present[:, None, :], pairwise_mpjpe(pred_j, gt_j) * 1000.0, np.inf)  # (T, P, G)
        gt_index = total_gt + np.cumsum(present.reshape(-1)).reshape(present.shape) - 1  # (T, G)
        t_idx, p_idx = np.nonzero(pred_present)  # frame-major, as VoxelPose builds its list
        nearest = np.argmin(dist_mm[t_idx, p_idx], axis=-1) if len(t_idx) else np.zeros(0, np.int64)
        errs.append(dist_mm[t_idx, p_idx, nearest])
        gt_ids.append(gt_index[t_idx, nearest])
        scores.append(score[t_idx, p_idx])
        total_gt += int(present.sum())
        num_frames += len(frames)
        num_pred += len(t_idx)
    err = np.concatenate(errs) if errs else np.zeros(0)
    gt_id = np.concatenate(gt_ids).astype(np.int64) if gt_ids else np.zeros(0, np.int64)
    score = np.concatenate(scores) if scores else np.zeros(0)
    ap_percent, recall_percent = {}, {}
    for th in config.ap_thresholds_mm:
        ap, rec = voxelpose_ap(err, gt_id, score, total_gt, th)
        ap_percent[th], recall_percent[th] = 100.0 * ap, 100.0 * rec
    hit = err < config.recall_threshold_mm
    order = np.argsort(-score, kind="stable")
    claims = order[hit[order]]
    _, first = np.unique(gt_id[claims], return_index=True)
    mpjpe = float(err[claims[first]].mean()) if len(first) else float("inf")
    return PanopticResult(ap_percent=ap_percent, recall_percent=recall_percent, mpjpe_mm=mpjpe,
                          recall_500mm=_ratio(len(np.unique(gt_id[hit])), total_gt), num_frames=num_frames,
                          num_gt=total_gt, num_pred=num_pred, config=config)


def format_panoptic_table(result: PanopticResult) -> str:
    """VoxelPose's Panoptic table: AP and Recall rows per threshold (percent), then MPJPE and recall@500.

    Example:
        >>> gt = Poses3D([0], [1], np.zeros((1, 1, 15, 3)), np.ones((1, 1, 15)), PANOPTIC15)
        >>> print(format_panoptic_table(panoptic_ap(gt, gt)).splitlines()[2])
        | Threshold/mm |   25   |   50   |   75   |  100   |  125   |  150   |
    """
    ths = list(result.ap_percent)
    header = ["Threshold/mm"] + [f"{th:g}" for th in ths]
    rows = [["AP"] + [_fmt(result.ap_percent[th], ".2f") for th in ths],
            ["Recall"] + [_fmt(result.recall_percent[th], ".2f") for th in ths]]
    return (f"Panoptic (VoxelPose protocol): {result.num_frames} frames, {result.num_gt} GT bodies, "
            f"{result.num_pred} predictions\n{_ascii_table(header, rows)}\n"
            f"MPJPE: {_fmt(result.mpjpe_mm, '.2f')}mm  "
            f"Recall@{result.config.recall_threshold_mm:g}mm: {_fmt(100.0 * result.recall_500mm, '.2f')}")

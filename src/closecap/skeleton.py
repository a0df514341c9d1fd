"""Joint sets as data: names, bones, left/right pairs, and linear maps between joint sets.

closecap works in COCO-17 inside. Other joint sets (OpenPose BODY_25 and COCO-18 on input,
Panoptic-15/19 and Shelf/Campus-14 for evaluation) are reached through :func:`convert`, whose
maps are tables of weights indexed by joint *name*.

Example:
    >>> COCO17.index("left_wrist")
    9
    >>> len(COCO17.bones), COCO17.num_joints
    (16, 17)
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from closecap.errors import InputError


@dataclass(frozen=True)
class JointSet:
    """A named, ordered set of joints.

    Attributes:
        name: identifier used in files (``"coco17"``).
        joint_names: joint names in storage order.
        bones: pairs of joint names connected by a bone (for drawing and bone lengths).
        left_right: pairs (left joint, right joint) swapped by a mirror.
    """

    name: str
    joint_names: tuple[str, ...]
    bones: tuple[tuple[str, str], ...] = ()
    left_right: tuple[tuple[str, str], ...] = ()
    _index: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(set(self.joint_names)) != len(self.joint_names):
            raise ValueError(f"{self.name}: duplicate joint names")
        object.__setattr__(self, "_index", {n: i for i, n in enumerate(self.joint_names)})
        for a, b in self.bones + self.left_right:
            if a not in self._index or b not in self._index:
                raise ValueError(f"{self.name}: unknown joint in pair ({a}, {b})")

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    def index(self, name: str) -> int:
        """Index of a joint by name."""
        return self._index[name]

    def indices(self, names) -> np.ndarray:
        """Indices of several joints by name, ``(N,)`` int."""
        return np.array([self._index[n] for n in names], dtype=np.int64)

    @property
    def bone_indices(self) -> np.ndarray:
        """``(B, 2)`` int joint indices of the bones."""
        return np.array([[self._index[a], self._index[b]] for a, b in self.bones], dtype=np.int64).reshape(-1, 2)

    @property
    def flip_permutation(self) -> np.ndarray:
        """``(J,)`` permutation that swaps left and right joints."""
        perm = np.arange(self.num_joints)
        for a, b in self.left_right:
            ia, ib = self._index[a], self._index[b]
            perm[ia], perm[ib] = ib, ia
        return perm


COCO17 = JointSet(
    name="coco17",
    joint_names=(
        "nose", "left_eye", "right_eye", "left_ear", "right_ear",
        "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
        "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    ),
    bones=(
        ("left_ankle", "left_knee"), ("left_knee", "left_hip"),
        ("right_ankle", "right_knee"), ("right_knee", "right_hip"),
        ("left_hip", "right_hip"), ("left_shoulder", "left_hip"), ("right_shoulder", "right_hip"),
        ("left_shoulder", "right_shoulder"), ("left_shoulder", "left_elbow"), ("right_shoulder", "right_elbow"),
        ("left_elbow", "left_wrist"), ("right_elbow", "right_wrist"),
        ("nose", "left_eye"), ("nose", "right_eye"), ("left_eye", "left_ear"), ("right_eye", "right_ear"),
    ),
    left_right=(
        ("left_eye", "right_eye"), ("left_ear", "right_ear"), ("left_shoulder", "right_shoulder"),
        ("left_elbow", "right_elbow"), ("left_wrist", "right_wrist"), ("left_hip", "right_hip"),
        ("left_knee", "right_knee"), ("left_ankle", "right_ankle"),
    ),
)

BODY25 = JointSet(
    name="body25",
    joint_names=(
        "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
        "left_wrist", "mid_hip", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee",
        "left_ankle", "right_eye", "left_eye", "right_ear", "left_ear", "left_big_toe", "left_small_toe",
        "left_heel", "right_big_toe", "right_small_toe", "right_heel",
    ),
)

COCO18 = JointSet(
    name="coco18",
    joint_names=(
        "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
        "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
        "right_eye", "left_eye", "right_ear", "left_ear",
    ),
)

PANOPTIC19 = JointSet(
    name="panoptic19",
    joint_names=(
        "neck", "nose", "mid_hip", "left_shoulder", "left_elbow", "left_wrist", "left_hip", "left_knee",
        "left_ankle", "right_shoulder", "right_elbow", "right_wrist", "right_hip", "right_knee",
        "right_ankle", "left_eye", "left_ear", "right_eye", "right_ear",
    ),
)

PANOPTIC15 = JointSet(name="panoptic15", joint_names=PANOPTIC19.joint_names[:15])

SHELF14 = JointSet(
    name="shelf14",
    joint_names=(
        "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "right_wrist",
        "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist", "bottom_head", "top_head",
    ),
    bones=(  # the limbs and head of the Shelf/Campus PCP protocol (metrics adds the torso)
        ("left_knee", "left_ankle"), ("right_knee", "right_ankle"),
        ("left_hip", "left_knee"), ("right_hip", "right_knee"),
        ("left_elbow", "left_wrist"), ("right_elbow", "right_wrist"),
        ("left_shoulder", "left_elbow"), ("right_shoulder", "right_elbow"),
        ("bottom_head", "top_head"),
    ),
)

JOINT_SETS: dict[str, JointSet] = {s.name: s for s in (COCO17, BODY25, COCO18, PANOPTIC19, PANOPTIC15, SHELF14)}


def _identity(names):
    return {n: {n: 1.0} for n in names}


_MID_SHOULDER = {"left_shoulder": 0.5, "right_shoulder": 0.5}
_MID_HIP = {"left_hip": 0.5, "right_hip": 0.5}

# target joint -> {source joint: weight}; each row sums to 1 (affine combinations).
_MAPS: dict[tuple[str, str], dict[str, dict[str, float]]] = {
    ("body25", "coco17"): _identity(COCO17.joint_names),
    ("coco18", "coco17"): _identity(COCO17.joint_names),
    ("coco17", "panoptic19"): {
        **_identity(n for n in PANOPTIC19.joint_names if n in COCO17.joint_names),
        "neck": _MID_SHOULDER, "mid_hip": _MID_HIP,
    },
    ("coco17", "panoptic15"): {
        **_identity(n for n in PANOPTIC15.joint_names if n in COCO17.joint_names),
        "neck": _MID_SHOULDER, "mid_hip": _MID_HIP,
    },
    # A generic COCO -> Shelf/Campus head (VoxelPose's Campus formula): head centre = mid-ears, bottom = half way
    # to mid-shoulder, top = bottom mirrored through the centre. The published per-dataset protocols (Shelf's own
    # head formula included) live in closecap.protocols.
    ("coco17", "shelf14"): {
        **_identity(n for n in SHELF14.joint_names if n in COCO17.joint_names),
        "bottom_head": {"left_shoulder": 0.25, "right_shoulder": 0.25, "left_ear": 0.25, "right_ear": 0.25},
        "top_head": {"left_ear": 0.75, "right_ear": 0.75, "left_shoulder": -0.25, "right_shoulder": -0.25},
    },
    ("panoptic19", "coco17"): _identity(COCO17.joint_names),
    ("shelf14", "coco17"): {  # joints Shelf lacks (face) are absent
        n: {n: 1.0} for n in COCO17.joint_names if n in SHELF14.joint_names
    },
}


def mapping_matrix(src: str | JointSet, dst: str | JointSet) -> np.ndarray:
    """``(J_dst, J_src)`` weights such that ``dst = W @ src``; a row of zeros = joint unavailable.

    Example:
        >>> W = mapping_matrix("coco17", "panoptic15")
        >>> W.shape, float(W[PANOPTIC15.index("neck")].sum())
        ((15, 17), 1.0)
    """
    src_set = src if isinstance(src, JointSet) else get_joint_set(src)
    dst_set = dst if isinstance(dst, JointSet) else get_joint_set(dst)
    if src_set.name == dst_set.name:
        return np.eye(src_set.num_joints)
    key = (src_set.name, dst_set.name)
    if key not in _MAPS:
        raise InputError(None, "skeleton", f"no mapping from {src_set.name} to {dst_set.name}")
    weights = np.zeros((dst_set.num_joints, src_set.num_joints))
    for dst_name, row in _MAPS[key].items():
        for src_name, w in row.items():
            weights[dst_set.index(dst_name), src_set.index(src_name)] = w
    return weights


def get_joint_set(name: str) -> JointSet:
    """Joint set by its file name (``coco17``, ``body25``, ``coco18``, ``panoptic15/19``, ``shelf14``)."""
    try:
        return JOINT_SETS[name]
    except KeyError:
        raise InputError(None, "skeleton", f"unknown joint set {name!r}; known: {sorted(JOINT_SETS)}") from None


def convert(points: np.ndarray, src: str | JointSet, dst: str | JointSet,
            confidence: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Map joints between joint sets.

    Args:
        points: ``(..., J_src, D)`` coordinates (any unit, any D); NaN where missing.
        src, dst: joint sets or their names.
        confidence: ``(..., J_src)`` in [0, 1]; 0 = missing. Default: 1 where ``points`` is finite.

    Returns:
        ``(..., J_dst, D)`` points (NaN where any contributing joint is missing) and
        ``(..., J_dst)`` confidences (minimum over contributing joints; 0 where missing).

    Example:
        >>> p = np.zeros((25, 2)); p[5] = [10, 0]; p[2] = [0, 0]
        >>> q, c = convert(p, "body25", "coco17")
        >>> q.shape, q[COCO17.index("left_shoulder")].tolist()
        ((17, 2), [10.0, 0.0])
    """
    weights = mapping_matrix(src, dst)  # (Jd, Js)
    points = np.asarray(points, dtype=float)
    if points.shape[-2] != weights.shape[1]:
        raise InputError(None, "joints", f"expected {weights.shape[1]} joints, got {points.shape[-2]}")
    if confidence is None:
        confidence = np.isfinite(points).all(-1).astype(float)
    confidence = np.where(np.isfinite(points).all(-1), confidence, 0.0)
    used = weights != 0  # (Jd, Js)
    valid = confidence > 0  # (..., Js)
    clean = np.where(valid[..., None], points, 0.0)
    out = np.einsum("ds,...sk->...dk", weights, clean)
    # confidence: min over contributing joints; 0 if none contribute
    big = np.where(used, 1.0, np.inf)  # (Jd, Js)
    conf_out = np.min(np.where(used, confidence[..., None, :], np.inf) * big, axis=-1)
    conf_out = np.where(used.any(-1), conf_out, 0.0)
    conf_out = np.where(np.isfinite(conf_out), conf_out, 0.0)
    out = np.where((conf_out > 0)[..., None], out, np.nan)
    return out, conf_out

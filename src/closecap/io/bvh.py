"""BVH export of 3D poses: one skeleton (one file) per person, for Blender and other animation tools.

The hierarchy is built over COCO-17 (eyes and ears are left out: they ride on the head)::

    Hips (root: mid-hip; pelvis frame)            6 channels: X/Y/Z position, Z/X/Y rotation
      LHipJoint -> LeftUpLeg (left hip) -> LeftLeg (knee) -> LeftFoot (ankle) -> End Site (10 cm toe stub)
      RHipJoint -> RightUpLeg -> RightLeg -> RightFoot -> End Site
      Spine -> Neck (mid-shoulder; shoulder frame)
        LeftShoulder -> LeftArm (left shoulder) -> LeftForeArm (elbow) -> LeftHand (wrist) -> End Site
        RightShoulder -> RightArm -> RightForeArm -> RightHand -> End Site
        Head -> End Site (nose)

The joints named ``LHipJoint``, ``RHipJoint``, ``Spine``, ``LeftShoulder``, ``RightShoulder`` and ``Head``
sit at their parent's position (zero offset) and only aim one bone each, the CMU way, so every bone
end is reproduced exactly. Names follow the CMU MotionBuilder conversion, so
:func:`closecap.synth.motion.load_bvh` reads the files back.

Conventions of the file:

* **Y up**, right-handed, rest pose a T-pose facing +Z with the subject's left at +X. A world with
  ``world_up="z"`` (closecap's default; the demo and the mocap are z up) is written as
  ``(x, y, z) -> (x, z, -y)``; Blender's BVH importer at its defaults (forward ``-Z``, up ``Y``)
  maps this back onto the same world ``(x, y, z)``, z up.
* **Lengths in metres** by default: Blender reads BVH lengths as Blender units (metres) with
  ``Scale = 1.0``, so the people come in at their true size and place. ``unit="cm"`` writes
  centimetres (MotionBuilder, CMU style; import those into Blender with ``Scale = 0.01``).
* Root ``OFFSET`` is ``0 0 0`` and the root position channels hold the mid-hip position itself
  (Blender subtracts the rest offset; readers that add it see the same value).
* Rotations: ``Zrotation Xrotation Yrotation`` degrees, ``R_local = Rz Rx Ry`` applied to column
  vectors, unwrapped over time (no 360-degree jumps). Each aiming joint holds the *swing* (smallest
  rotation, no twist) that takes its rest bone onto the observed direction in its parent's frame;
  ``Hips`` and ``Neck`` hold full frames (left = right -> left hip / shoulder, up = the spine).
* Offsets: rest bones point along fixed directions with the person's **median** bone lengths
  (metres over the frames where both ends are known). Reconstructed bone ends therefore have the
  observed directions exactly and the median lengths.
* Timing: one row per frame number from the first to the last of ``poses.frames`` (gaps are held),
  ``Frame Time = 1 / fps``. All files of one export share the frame range, so they stay in sync.
* Missing joints (NaN): a bone whose direction is unknown keeps its last known local rotation (the
  first known one before that); the root keeps its last known position. A person never seen in
  the range gets no file.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from closecap.config import atomic_write_text
from closecap.errors import InputError
from closecap.poses import Poses3D
from closecap.skeleton import COCO17

# Points of the hierarchy: the COCO-17 joints plus two midpoints.
_MID = {"mid_hip": ("left_hip", "right_hip"), "mid_shoulder": ("left_shoulder", "right_shoulder")}

_X, _Y, _Z = np.eye(3)


@dataclass(frozen=True)
class _BvhBone:
    """One BVH joint: where it sits, what it aims at (``None``: frame joint or leaf), its rest aim direction."""

    name: str
    parent: str | None
    at: str  # point where the joint sits
    aim: str | None  # point its single child bone ends at (None for frame joints and leaves)
    rest_dir: tuple[float, float, float] = (0.0, 0.0, 0.0)  # unit rest direction of the aimed bone (file axes)
    end_site: tuple[float, float, float] | None = None  # unit direction of a leaf's stub end site


def _leg(side: str, sign: float) -> tuple[_BvhBone, ...]:
    s, c = side[0].upper(), side.capitalize()
    return (
        _BvhBone(f"{s}HipJoint", "Hips", "mid_hip", f"{side}_hip", (sign, 0.0, 0.0)),
        _BvhBone(f"{c}UpLeg", f"{s}HipJoint", f"{side}_hip", f"{side}_knee", (0.0, -1.0, 0.0)),
        _BvhBone(f"{c}Leg", f"{c}UpLeg", f"{side}_knee", f"{side}_ankle", (0.0, -1.0, 0.0)),
        _BvhBone(f"{c}Foot", f"{c}Leg", f"{side}_ankle", None, end_site=(0.0, 0.0, 1.0)),
    )


def _arm(side: str, sign: float) -> tuple[_BvhBone, ...]:
    c = side.capitalize()
    return (
        _BvhBone(f"{c}Shoulder", "Neck", "mid_shoulder", f"{side}_shoulder", (sign, 0.0, 0.0)),
        _BvhBone(f"{c}Arm", f"{c}Shoulder", f"{side}_shoulder", f"{side}_elbow", (sign, 0.0, 0.0)),
        _BvhBone(f"{c}ForeArm", f"{c}Arm", f"{side}_elbow", f"{side}_wrist", (sign, 0.0, 0.0)),
        _BvhBone(f"{c}Hand", f"{c}ForeArm", f"{side}_wrist", None, end_site=(sign, 0.0, 0.0)),
    )


# Parents come before children (the order of the file).
BVH_SKELETON: tuple[_BvhBone, ...] = (
    (_BvhBone("Hips", None, "mid_hip", None),)
    + _leg("left", 1.0) + _leg("right", -1.0)
    + (_BvhBone("Spine", "Hips", "mid_hip", "mid_shoulder", (0.0, 1.0, 0.0)),
       _BvhBone("Neck", "Spine", "mid_shoulder", None))
    + _arm("left", 1.0) + _arm("right", -1.0)
    + (_BvhBone("Head", "Neck", "mid_shoulder", "nose", (0.0, 1.0, 0.0)),)
)
"""The BVH hierarchy over COCO-17, as data (see the module docstring)."""

# Frame joints: (name, left point, right point, lower point, upper point) -> x = left, y = up.
_FRAMES = {"Hips": ("left_hip", "right_hip", "mid_hip", "mid_shoulder"),
           "Neck": ("left_shoulder", "right_shoulder", "mid_hip", "mid_shoulder")}

_END_STUB_M = 0.10  # length of the toe and hand end sites, metres
_DEFAULT_LENGTH_M = 0.25  # bone length used when a bone is never observed, metres
_UNITS = {"m": 1.0, "cm": 100.0}


_UP_ROTATIONS = {  # world up axis -> (3, 3) proper rotation whose rows are the file's x, y, z in world axes
    "z": ((1, 0, 0), (0, 0, 1), (0, -1, 0)),  # the inverse of load_bvh's y-up -> z-up turn
    "-z": ((1, 0, 0), (0, 0, -1), (0, 1, 0)),
    "y": ((1, 0, 0), (0, 1, 0), (0, 0, 1)),
    "-y": ((1, 0, 0), (0, -1, 0), (0, 0, -1)),
    "x": ((0, -1, 0), (1, 0, 0), (0, 0, 1)),
    "-x": ((0, 1, 0), (-1, 0, 0), (0, 0, 1)),
}


def _up_rotation(world_up: str) -> np.ndarray:
    """``(3, 3)`` proper rotation taking the world axis ``world_up`` (``"z"``, ``"-y"``, ...) to file +Y."""
    key = str(world_up).lower().lstrip("+")
    if key not in _UP_ROTATIONS:
        raise InputError(None, "world_up", f"expected one of {sorted(_UP_ROTATIONS)}, got {world_up!r}")
    return np.array(_UP_ROTATIONS[key], dtype=float)


def _points(joints: np.ndarray) -> dict[str, np.ndarray]:
    """Named points ``(T, 3)`` of one person: COCO-17 joints and the midpoints of ``_MID``."""
    out = {name: joints[:, i] for i, name in enumerate(COCO17.joint_names)}
    for name, (a, b) in _MID.items():
        out[name] = 0.5 * (out[a] + out[b])
    return out


def _normalize(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 1e-9, v / n, np.nan)


def swing_rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotation taking unit vector ``a`` onto unit vector ``b``.

    Args:
        a, b: ``(..., 3)`` unit vectors (NaN rows give NaN rotations).

    Returns:
        ``(..., 3, 3)`` rotations ``R`` with ``R @ a = b`` (a half turn about an axis normal to ``a``
        when they are opposite).

    Example:
        >>> R = swing_rotation(np.array([1.0, 0, 0]), np.array([0.0, 1, 0]))
        >>> np.round(R @ [1.0, 0, 0], 6).tolist(), np.round(R @ [0.0, 0, 1], 6).tolist()
        ([0.0, 1.0, 0.0], [0.0, 0.0, 1.0])
    """
    a, b = np.broadcast_arrays(np.asarray(a, float), np.asarray(b, float))
    axis = np.cross(a, b)  # (..., 3)
    cos = np.sum(a * b, axis=-1)  # (...)
    # a half turn where a ~ -b: the axis is any unit normal of a
    helper = np.where((np.abs(a[..., :1]) < 0.9), _X, _Y)
    normal = _normalize(np.cross(a, helper))
    opposite = (cos < -1.0 + 1e-9)[..., None]
    # Rodrigues with k = axis (|k| = sin): R = I + [k]x + [k]x^2 / (1 + cos)
    kx = _skew(axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        R = np.eye(3) + kx + kx @ kx / (1.0 + np.where(opposite[..., 0], 1.0, cos))[..., None, None]
    half_turn = 2.0 * normal[..., :, None] * normal[..., None, :] - np.eye(3)
    return np.where(opposite[..., None], half_turn, R)


def _skew(v: np.ndarray) -> np.ndarray:
    z = np.zeros_like(v[..., 0])
    return np.stack([np.stack([z, -v[..., 2], v[..., 1]], -1),
                     np.stack([v[..., 2], z, -v[..., 0]], -1),
                     np.stack([-v[..., 1], v[..., 0], z], -1)], -2)


def matrix_to_euler_zxy(R: np.ndarray) -> np.ndarray:
    """Euler angles (degrees) of ``R = Rz(a) Rx(b) Ry(c)``, the BVH ``Zrotation Xrotation Yrotation`` order.

    Args:
        R: ``(..., 3, 3)`` rotations.

    Returns:
        ``(..., 3)`` degrees ``(a, b, c)`` about z, x, y; ``b`` in [-90, 90].

    Example:
        >>> from closecap.synth.motion import euler_to_matrix
        >>> angles = np.array([[30.0, -20.0, 110.0]])
        >>> np.round(matrix_to_euler_zxy(euler_to_matrix(angles, "zxy")), 6).tolist()
        [[30.0, -20.0, 110.0]]
    """
    b = np.arcsin(np.clip(R[..., 2, 1], -1.0, 1.0))
    gimbal = np.abs(R[..., 2, 1]) > 1.0 - 1e-9
    a = np.where(gimbal, np.arctan2(R[..., 1, 0], R[..., 0, 0]), np.arctan2(-R[..., 0, 1], R[..., 1, 1]))
    c = np.where(gimbal, 0.0, np.arctan2(-R[..., 2, 0], R[..., 2, 2]))
    return np.rad2deg(np.stack([a, b, c], axis=-1))


def _hold(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Hold the last valid row along axis 0 (leading invalid rows take the first valid one).

    ``values (T, ...)``, ``valid (T,)`` bool; rows never valid anywhere stay as they are.
    """
    T = len(valid)
    if not valid.any():
        return values
    idx = np.where(valid, np.arange(T), -1)
    idx = np.maximum.accumulate(idx)
    idx = np.where(idx < 0, int(np.argmax(valid)), idx)
    return values[idx]


def _frame_rotation(pts: dict[str, np.ndarray], left: str, right: str, low: str, high: str) -> np.ndarray:
    """``(T, 3, 3)`` global rotations with columns (left, up, forward) in file axes; NaN where unknown."""
    x = _normalize(pts[left] - pts[right])
    up = pts[high] - pts[low]
    up = _normalize(up - np.sum(up * x, -1, keepdims=True) * x)
    z = np.cross(x, up)
    return np.stack([x, up, z], axis=-1)


def solve_bvh_motion(joints_file: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Offsets and per-frame rotations of :data:`BVH_SKELETON` for one person.

    Args:
        joints_file: ``(T, 17, 3)`` COCO-17 joints in file axes (Y up), metres; NaN = unknown.

    Returns:
        ``offsets``: name -> ``(3,)`` rest offset from the parent, metres (end sites under ``<name>_end``);
        ``local_rotations``: ``(T, N, 3, 3)`` rotations relative to the parent, in the order of
        :data:`BVH_SKELETON`, unknown ones held as described in the module docstring;
        ``root_m``: ``(T, 3)`` mid-hip positions, metres, held likewise.

    Example:
        >>> j = np.random.default_rng(0).normal(size=(3, 17, 3))
        >>> offsets, local, root = solve_bvh_motion(j)
        >>> local.shape, root.shape, offsets["Hips"].tolist()
        ((3, 20, 3, 3), (3, 3), [0.0, 0.0, 0.0])
    """
    pts = _points(joints_file)
    T = joints_file.shape[0]
    names = [b.name for b in BVH_SKELETON]
    by_name = {b.name: b for b in BVH_SKELETON}
    offsets: dict[str, np.ndarray] = {}
    for bone in BVH_SKELETON:
        parent = by_name.get(bone.parent) if bone.parent else None
        if parent is None or parent.at == bone.at:
            offsets[bone.name] = np.zeros(3)
        else:
            length = np.linalg.norm(pts[bone.at] - pts[parent.at], axis=-1)
            length = length[np.isfinite(length)]
            offsets[bone.name] = np.asarray(parent.rest_dir) * (float(np.median(length)) if length.size
                                                                  else _DEFAULT_LENGTH_M)
        if bone.aim is not None and not any(b.parent == bone.name for b in BVH_SKELETON):  # aims at an end site
            length = np.linalg.norm(pts[bone.aim] - pts[bone.at], axis=-1)
            length = length[np.isfinite(length)]
            offsets[bone.name + "_end"] = np.asarray(bone.rest_dir) * (float(np.median(length)) if length.size
                                                                        else _DEFAULT_LENGTH_M)
        if bone.end_site is not None:
            offsets[bone.name + "_end"] = np.asarray(bone.end_site) * _END_STUB_M

    global_R = np.zeros((T, len(names), 3, 3))
    local_R = np.zeros((T, len(names), 3, 3))
    eye = np.broadcast_to(np.eye(3), (T, 3, 3))
    for k, bone in enumerate(BVH_SKELETON):  # parents first; vectorized over frames
        parent_R = global_R[:, names.index(bone.parent)] if bone.parent else eye
        if bone.name in _FRAMES:
            target = _frame_rotation(pts, *_FRAMES[bone.name])  # (T, 3, 3) global
            local = np.swapaxes(parent_R, -1, -2) @ target
        elif bone.aim is not None:
            direction = _normalize(pts[bone.aim] - pts[bone.at])  # (T, 3) file axes
            in_parent = np.einsum("tji,tj->ti", parent_R, direction)  # parent_R^T @ direction
            local = swing_rotation(np.asarray(bone.rest_dir), in_parent)
        else:
            local = eye.copy()
        valid = np.isfinite(local).all(axis=(-1, -2))  # (T,)
        local = _hold(local, valid)
        local = np.where(np.isfinite(local).all(axis=(-1, -2))[:, None, None], local, eye)
        local_R[:, k] = local
        global_R[:, k] = parent_R @ local
    root = pts["mid_hip"]
    root_ok = np.isfinite(root).all(-1)
    root = _hold(root, root_ok)
    root = np.where(np.isfinite(root), root, 0.0)
    return offsets, local_R, root


def _hierarchy_text(offsets: dict[str, np.ndarray], scale: float) -> list[str]:
    children: dict[str | None, list[_BvhBone]] = {}
    for bone in BVH_SKELETON:
        children.setdefault(bone.parent, []).append(bone)
    lines = ["HIERARCHY"]

    def fmt(v: np.ndarray) -> str:
        return " ".join(f"{x * scale:.6f}" for x in v)

    def emit(bone: _BvhBone, depth: int) -> None:
        pad = "  " * depth
        kind = "ROOT" if bone.parent is None else "JOINT"
        lines.append(f"{pad}{kind} {bone.name}")
        lines.append(f"{pad}{{")
        lines.append(f"{pad}  OFFSET {fmt(offsets[bone.name])}")
        if bone.parent is None:
            lines.append(f"{pad}  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation")
        else:
            lines.append(f"{pad}  CHANNELS 3 Zrotation Xrotation Yrotation")
        for child in children.get(bone.name, []):
            emit(child, depth + 1)
        if bone.name + "_end" in offsets:
            lines.extend([f"{pad}  End Site", f"{pad}  {{", f"{pad}    OFFSET {fmt(offsets[bone.name + '_end'])}",
                      f"{pad}  }}"])
        lines.append(f"{pad}}}")

    emit(children[None][0], 0)
    return lines


def bvh_text(joints_world: np.ndarray, *, fps: float = 30.0, world_up: str = "z", unit: str = "m") -> str:
    """The BVH text of one person's joint track.

    Args:
        joints_world: ``(T, 17, 3)`` COCO-17 metres, world frame; NaN = unknown (held, see module docstring).
        fps: frames per second (``Frame Time = 1 / fps``).
        world_up: the world axis pointing up (``"z"``, ``"y"``, ``"-y"``, ...).
        unit: ``"m"`` (Blender at Scale 1.0) or ``"cm"``.

    Returns:
        The file's text.

    Example:
        >>> j = np.random.default_rng(0).normal(size=(2, 17, 3))
        >>> text = bvh_text(j)
        >>> text.splitlines()[:2], "Frames: 2" in text, text.count("JOINT")
        (['HIERARCHY', 'ROOT Hips'], True, 19)
    """
    if unit not in _UNITS:
        raise InputError(None, "unit", f"expected 'm' or 'cm', got {unit!r}")
    if not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
        raise InputError(None, "fps", f"expected a frame rate > 0, got {fps!r}")
    joints_world = np.asarray(joints_world, float)
    if joints_world.ndim != 3 or joints_world.shape[1:] != (COCO17.num_joints, 3):
        raise InputError(None, "joints_world", f"expected (T, {COCO17.num_joints}, 3), got {joints_world.shape}")
    scale = _UNITS[unit]
    joints_file = joints_world @ _up_rotation(world_up).T  # (T, 17, 3)
    offsets, local_R, root = solve_bvh_motion(joints_file)
    angles = np.unwrap(matrix_to_euler_zxy(local_R), period=360.0, axis=0)  # (T, N, 3)
    rows = np.concatenate([root * scale, angles.reshape(len(root), -1)], axis=1)  # (T, 3 + 3N)
    lines = _hierarchy_text(offsets, scale)
    lines += ["MOTION", f"Frames: {len(rows)}", f"Frame Time: {1.0 / fps:.8f}"]
    lines += [" ".join(f"{v:.6f}" for v in row) for row in rows]
    return "\n".join(lines) + "\n"


def write_bvh(poses: Poses3D, path: str | Path, fps: float = 30.0, *, world_up: str = "z",
              unit: str = "m") -> list[Path]:
    """Write one BVH per person: ``<stem>_id<id>.bvh`` beside ``path`` (``path`` itself is not written).

    Blender: *File > Import > Motion Capture (.bvh)* with the defaults (Scale 1.0, forward ``-Z``,
    up ``Y``) puts each person at its place in the world of the calibration (z up) for
    ``unit="m"``; all files share the frame range of ``poses``.

    Args:
        poses: the 3D poses (COCO-17, metres, world frame).
        path: where to write, suffix ``.bvh``; the stem names the files.
        fps: frames per second of ``poses.frames``.
        world_up: world axis pointing up (``"z"`` for closecap's rigs; ``"-y"`` for Panoptic).
        unit: ``"m"`` or ``"cm"`` (see the module docstring).

    Returns:
        The files written, in the order of ``poses.ids`` (people never present are skipped).

    Example:
        >>> import tempfile
        >>> from closecap.synth.motion import load_bvh
        >>> rng = np.random.default_rng(0)
        >>> joints = rng.normal(scale=0.3, size=(4, 1, 17, 3)) + [0, 0, 1]
        >>> poses = Poses3D(np.arange(4), np.array([7]), joints, np.ones((4, 1, 17)))
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     files = write_bvh(poses, Path(tmp) / "take.bvh")
        ...     back = load_bvh(files[0], scale=1.0)
        >>> [f.name for f in files], back.joints_world.shape
        (['take_id7.bvh'], (4, 17, 3))
    """
    path = Path(path)
    if path.suffix.lower() != ".bvh":
        raise InputError(path, None, f"expected a .bvh path, got suffix {path.suffix!r}")
    if poses.joint_set.name != COCO17.name:
        raise InputError(path, "skeleton", f"BVH export needs COCO-17 poses, got {poses.joint_set.name}")
    if poses.num_frames == 0:
        raise InputError(path, "frames", "no frames to write")
    frames = poses.frames
    full = np.arange(frames[0], frames[-1] + 1)  # (T_full,)
    dense = np.full((len(full), poses.num_people, COCO17.num_joints, 3), np.nan)
    dense[frames - frames[0]] = poses.joints
    written = []
    for p, pid in enumerate(poses.ids.tolist()):
        if not poses.present[:, p].any():
            continue
        out = path.with_name(f"{path.stem}_id{pid}.bvh")
        atomic_write_text(out, bvh_text(dense[:, p], fps=fps, world_up=world_up, unit=unit))
        written.append(out)
    return written

"""Motion capture loaders: BVH, CMU ASF/AMC, CMU Panoptic JSON and NPZ -> COCO-17 joint tracks.

Every loader returns :class:`Motion` objects: ``joints_world (T, 17, 3)`` metres, COCO-17 order,
world frame right-handed with **z up** (the floor of the capture is normally z = 0), plus the frame
rate. Unit conversion and the change of up axis happen here, once.

Conventions of the sources (see ``../shared/mocap/README.md``):

* BVH and ASF/AMC are Y up. They are turned z up with ``(x, y, z) -> (x, -z, y)``, a proper
  rotation of +90 degrees about x (no mirroring: the subject's left stays left).
* CMU Panoptic is y *down*, centimetres. It is turned z up with ``(x, y, z) -> (x, z, -y)``, a proper
  rotation of -90 degrees about x; the floor stays where Panoptic puts it (not moved to z = 0).
* Face keypoints of skeletons without a face (CMU) are synthesised from the head segment: with
  ``f, u, l`` the head's forward, up and left directions and ``c`` the head-centre joint,
  nose = c + 0.10 f - 0.03 u, eyes = c + 0.075 f +- 0.032 l, ears = c - 0.01 f - 0.01 u +- 0.075 l.
  Skeletons with eye joints (DAZ, CC_Base) use the eyes' midpoint m:
  nose = m + 0.025 f - 0.035 u, ears = m - 0.085 f - 0.01 u +- 0.075 l.
  The head directions are the head joint's global rotation applied to the rest pose's body axes
  (left = right hip -> left hip, up = the file's up axis, forward = left x up).

Example:
    >>> m = Motion(np.zeros((4, 17, 3)), fps=30.0, name="still", source="example")
    >>> m.num_frames, m.duration_s, m.resample(15.0).num_frames
    (4, 0.13333333333333333, 2)
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from closecap.errors import InputError
from closecap.skeleton import COCO17, JOINT_SETS, convert

CMU_UNIT_M = 0.0254 / 0.45
"""Metres per CMU length unit (ASF ``length 0.45``: 1 unit = 1/0.45 inch)."""

# (x, y, z) y-up -> (x, -z, y) z-up: rotation of +90 degrees about x.
_Y_UP_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
# Panoptic (x, y, z) y-down -> (x, z, -y) z-up: rotation of -90 degrees about x.
_Y_DOWN_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])

_BODY12 = ("left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
           "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")


@dataclass(frozen=True)
class Motion:
    """One person's joint track.

    Attributes:
        joints_world: ``(T, 17, 3)`` float metres, COCO-17 order, world frame z up. NaN only where the
            source did not observe a joint (Panoptic); the BVH/ASF/NPZ loaders give finite values.
        fps: frames per second.
        name: a short label (file stem, ``<stem>/p<k>`` for a person of a multi-person file).
        source: where it came from (a path, or a take id).
    """

    joints_world: np.ndarray
    fps: float
    name: str
    source: str

    def __post_init__(self) -> None:
        joints = np.array(self.joints_world, dtype=np.float64)
        if joints.ndim != 3 or joints.shape[1:] != (COCO17.num_joints, 3):
            raise InputError(self.source or None, "joints_world", f"expected (T, 17, 3), got {joints.shape}")
        if not np.isfinite(self.fps) or float(self.fps) <= 0:
            raise InputError(self.source or None, "fps", f"must be positive, got {self.fps}")
        joints.setflags(write=False)
        object.__setattr__(self, "joints_world", joints)
        object.__setattr__(self, "fps", float(self.fps))
        object.__setattr__(self, "name", str(self.name))
        object.__setattr__(self, "source", str(self.source))

    @property
    def num_frames(self) -> int:
        return int(self.joints_world.shape[0])

    @property
    def duration_s(self) -> float:
        return self.num_frames / self.fps

    def resample(self, fps: float) -> "Motion":
        """The same motion at ``fps`` frames per second (linear interpolation in time, first frame kept).

        Frame k of the result is at time k / fps; the last frame is at or before the source's last frame.
        """
        if fps <= 0:
            raise InputError(self.source or None, "fps", f"must be positive, got {fps}")
        if self.num_frames == 0:
            return Motion(self.joints_world, fps, self.name, self.source)
        count = int(np.floor((self.num_frames - 1) * fps / self.fps + 1e-9)) + 1
        src_index = np.arange(count) * (self.fps / fps)  # (T',) fractional source frames
        return Motion(interpolate_frames(self.joints_world, src_index), fps, self.name, self.source)

    def slice(self, start: int, stop: int) -> "Motion":
        """Frames ``[start, stop)``."""
        return Motion(self.joints_world[start:stop], self.fps, self.name, self.source)


def interpolate_frames(track: np.ndarray, src_index: np.ndarray) -> np.ndarray:
    """Linear interpolation of a track at fractional frame indices.

    Args:
        track: ``(T, ...)`` values per frame.
        src_index: ``(N,)`` fractional frame indices in ``[0, T - 1]`` (clipped).

    Returns:
        ``(N, ...)`` interpolated values.

    Example:
        >>> interpolate_frames(np.array([0.0, 10.0, 20.0]), np.array([0.5, 2.0])).tolist()
        [5.0, 20.0]
    """
    track = np.asarray(track, dtype=float)
    idx = np.clip(np.asarray(src_index, dtype=float), 0, track.shape[0] - 1)
    lo = np.floor(idx).astype(np.int64)
    hi = np.minimum(lo + 1, track.shape[0] - 1)
    w = (idx - lo).reshape((-1,) + (1,) * (track.ndim - 1))
    return track[lo] * (1 - w) + track[hi] * w


# ----------------------------------------------------------------------------- rotations


def _axis_rotation(axis: str, angle_rad: np.ndarray) -> np.ndarray:
    """``(N,)`` angles -> ``(N, 3, 3)`` rotations about ``axis`` (x, y or z)."""
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    one, zero = np.ones_like(c), np.zeros_like(c)
    if axis == "x":
        rows = ((one, zero, zero), (zero, c, -s), (zero, s, c))
    elif axis == "y":
        rows = ((c, zero, s), (zero, one, zero), (-s, zero, c))
    else:
        rows = ((c, -s, zero), (s, c, zero), (zero, zero, one))
    return np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)


def euler_to_matrix(angles_deg: np.ndarray, axes: str) -> np.ndarray:
    """Rotation matrices of intrinsic Euler angles, the BVH way: ``R = R_{axes[0]} R_{axes[1]} ...``.

    Args:
        angles_deg: ``(N, k)`` degrees, column i about ``axes[i]``.
        axes: ``k`` letters from ``xyz`` (case-insensitive), in the order written in the file.

    Returns:
        ``(N, 3, 3)`` rotations applied to column vectors.

    Example:
        >>> R = euler_to_matrix(np.array([[90.0, 0.0]]), "zx")
        >>> np.round(R[0] @ [1.0, 0.0, 0.0], 6).tolist()
        [0.0, 1.0, 0.0]
    """
    angles = np.deg2rad(np.asarray(angles_deg, dtype=float))
    R = np.broadcast_to(np.eye(3), (angles.shape[0], 3, 3)).copy()
    for i, axis in enumerate(axes.lower()):
        R = R @ _axis_rotation(axis, angles[:, i])
    return R


# ----------------------------------------------------------------------------- COCO-17 from named joints


@dataclass(frozen=True)
class _NameMap:
    """How one skeleton's joints give COCO-17: body joints by name, face from head or eyes."""

    skeleton: str
    body: dict  # COCO name -> source joint name
    head_rotation: str  # joint whose global rotation orients the head segment
    head_centre: str | None = None  # head-centre joint (CMU style face)
    eyes: tuple[str, str] | None = None  # (left eye, right eye) joints (DAZ / CC style face)


def _body(prefix_l: str, prefix_r: str, names: tuple[str, ...]) -> dict:
    out = {}
    for coco, name in zip(("shoulder", "elbow", "wrist", "hip", "knee", "ankle"), names):
        out[f"left_{coco}"] = prefix_l + name
        out[f"right_{coco}"] = prefix_r + name
    return out


_BVH_NAME_MAPS = (
    _NameMap("cmu_bvh_mb", _body("Left", "Right", ("Arm", "ForeArm", "Hand", "UpLeg", "Leg", "Foot")),
             head_rotation="Head", head_centre="Head_end"),
    _NameMap("cmu_bvh_max", _body("Left", "Right", ("Shoulder", "Elbow", "Wrist", "Hip", "Knee", "Ankle")),
             head_rotation="Head", head_centre="Head_end"),
    _NameMap("daz", _body("l", "r", ("Shldr", "ForeArm", "Hand", "Thigh", "Shin", "Foot")),
             head_rotation="head", eyes=("leftEye", "rightEye")),
    _NameMap("cc_base_bvh", _body("CC_Base_L_", "CC_Base_R_", ("Upperarm", "Forearm", "Hand", "Thigh", "Calf", "Foot")),
             head_rotation="CC_Base_Head", eyes=("CC_Base_L_Eye", "CC_Base_R_Eye")),
)

_ASF_NAME_MAP = _NameMap(
    "cmu_asf", _body("l", "r", ("clavicle", "humerus", "radius", "hipjoint", "femur", "tibia")),
    head_rotation="head", head_centre="head")


def _pick_name_map(names, path) -> _NameMap:
    present = set(names)
    for nm in _BVH_NAME_MAPS:
        needed = set(nm.body.values()) | {nm.head_rotation}
        needed |= {nm.head_centre} if nm.head_centre else set(nm.eyes)
        if needed <= present:
            return nm
    raise InputError(path, "HIERARCHY", "unknown joint names: expected a CMU MotionBuilder (Hips, LeftUpLeg, ...), "
                     "CMU 3dsMax (LeftHip, LeftKnee, ...), DAZ (lThigh, lShin, ...) or CC_Base skeleton")


def _coco_from_named(positions: np.ndarray, rotations: np.ndarray, index: dict, name_map: _NameMap,
                     rest_left: np.ndarray, rest_up: np.ndarray) -> np.ndarray:
    """COCO-17 from a posed skeleton, in the skeleton's own frame and units (metres expected).

    Args:
        positions: ``(T, N, 3)`` metres, joints (and end sites) of the skeleton.
        rotations: ``(T, N, 3, 3)`` global rotations of the joints (end sites: their parent's).
        index: joint name -> column of ``positions``.
        rest_left, rest_up: ``(3,)`` unit body axes of the rest pose.

    Returns:
        ``(T, 17, 3)`` metres.
    """
    T = positions.shape[0]
    coco = np.zeros((T, COCO17.num_joints, 3))
    for coco_name, joint in name_map.body.items():
        coco[:, COCO17.index(coco_name)] = positions[:, index[joint]]
    rest_fwd = np.cross(rest_left, rest_up)
    R_head = rotations[:, index[name_map.head_rotation]]  # (T, 3, 3)
    f, u, l = (R_head @ axis for axis in (rest_fwd, rest_up, rest_left))  # (T, 3) each
    if name_map.eyes is None:
        c = positions[:, index[name_map.head_centre]]
        face = {"nose": c + 0.10 * f - 0.03 * u, "left_eye": c + 0.075 * f + 0.032 * l,
                "right_eye": c + 0.075 * f - 0.032 * l, "left_ear": c - 0.01 * f - 0.01 * u + 0.075 * l,
                "right_ear": c - 0.01 * f - 0.01 * u - 0.075 * l}
    else:
        le, re = positions[:, index[name_map.eyes[0]]], positions[:, index[name_map.eyes[1]]]
        m = 0.5 * (le + re)
        face = {"nose": m + 0.025 * f - 0.035 * u, "left_eye": le, "right_eye": re,
                "left_ear": m - 0.085 * f - 0.01 * u + 0.075 * l, "right_ear": m - 0.085 * f - 0.01 * u - 0.075 * l}
    for coco_name, value in face.items():
        coco[:, COCO17.index(coco_name)] = value
    return coco


def _rest_axes(rest_positions: np.ndarray, index: dict, name_map: _NameMap, up: np.ndarray):
    left = rest_positions[index[name_map.body["left_hip"]]] - rest_positions[index[name_map.body["right_hip"]]]
    left = left - (left @ up) * up
    norm = np.linalg.norm(left)
    if norm < 1e-9:
        raise InputError(None, "HIERARCHY", "left and right hips coincide in the rest pose")
    return left / norm, up


def _unit_scale(height: float, path, what: str) -> float:
    """Metres per file unit from the rest pose's vertical extent (pelvis-to-head-centre-to-feet)."""
    for lo, hi, scale in ((0.5, 2.6, 1.0), (10.0, 46.0, CMU_UNIT_M), (50.0, 260.0, 0.01), (500.0, 2600.0, 0.001)):
        if lo <= height <= hi:
            return scale
    raise InputError(path, what, f"cannot tell the length unit from a rest-pose height of {height:.3g}; pass scale=")


# ----------------------------------------------------------------------------- BVH


@dataclass
class _BvhJoint:
    name: str
    parent: int
    offset: np.ndarray
    channels: list


def _parse_bvh(path: Path):
    try:
        text = path.read_text(errors="replace")
    except OSError as err:
        raise InputError(path, None, f"cannot read: {err.strerror}") from None
    head, sep, motion = text.partition("MOTION")
    if not sep:
        raise InputError(path, "MOTION", "missing MOTION section")
    tokens = head.split()
    joints: list[_BvhJoint] = []
    stack: list[int] = []
    pending_name = None
    i = 0
    try:
        while i < len(tokens):
            tok = tokens[i]
            if tok in ("ROOT", "JOINT"):
                pending_name = tokens[i + 1]
                i += 2
            elif tok == "End":
                pending_name = joints[stack[-1]].name + "_end"
                i += 2
            elif tok == "{":
                parent = stack[-1] if stack else -1
                joints.append(_BvhJoint(pending_name, parent, np.zeros(3), []))
                stack.append(len(joints) - 1)
                i += 1
            elif tok == "}":
                stack.pop()
                i += 1
            elif tok == "OFFSET":
                joints[stack[-1]].offset = np.array([float(v) for v in tokens[i + 1:i + 4]])
                i += 4
            elif tok == "CHANNELS":
                n = int(tokens[i + 1])
                joints[stack[-1]].channels = [c.lower() for c in tokens[i + 2:i + 2 + n]]
                i += 2 + n
            else:
                i += 1
    except (IndexError, ValueError, TypeError) as err:
        raise InputError(path, "HIERARCHY", f"malformed hierarchy near token {i}: {err}") from None
    if not joints:
        raise InputError(path, "HIERARCHY", "no joints")
    frames_m = re.search(r"Frames:\s*(\d+)", motion)
    time_m = re.search(r"Frame Time:\s*([0-9.eE+-]+)", motion)
    if not frames_m or not time_m:
        raise InputError(path, "MOTION", "missing 'Frames:' or 'Frame Time:'")
    num_frames = int(frames_m.group(1))
    frame_time = float(time_m.group(1))
    data_text = motion[time_m.end():]
    num_channels = sum(len(j.channels) for j in joints)
    try:
        values = np.array(data_text.split(), dtype=float)
    except ValueError:
        raise InputError(path, "MOTION", "non-numeric frame data") from None
    if num_channels == 0 or values.size < num_frames * num_channels:
        raise InputError(path, "MOTION", f"expected {num_frames} x {num_channels} values, got {values.size}")
    values = values[:num_frames * num_channels].reshape(num_frames, num_channels)
    return joints, values, frame_time


def _bvh_forward_kinematics(joints: list[_BvhJoint], values: np.ndarray):
    """Global joint positions ``(T, N, 3)`` and rotations ``(T, N, 3, 3)`` in file units and axes.

    Loops over the hierarchy's joints, vectorized over frames. A joint with position channels uses
    them (plus its offset) as its local translation.
    """
    T, N = values.shape[0], len(joints)
    positions = np.zeros((T, N, 3))
    rotations = np.zeros((T, N, 3, 3))
    col = 0
    for j, joint in enumerate(joints):
        chans = joint.channels
        block = values[:, col:col + len(chans)]
        col += len(chans)
        rot_idx = [k for k, c in enumerate(chans) if c.endswith("rotation")]
        pos_idx = {c[0]: k for k, c in enumerate(chans) if c.endswith("position")}
        if rot_idx:
            local_R = euler_to_matrix(block[:, rot_idx], "".join(chans[k][0] for k in rot_idx))
        else:
            local_R = np.broadcast_to(np.eye(3), (T, 3, 3))
        local_t = np.broadcast_to(joint.offset, (T, 3)).copy()
        for a, axis in enumerate("xyz"):
            if axis in pos_idx:
                local_t[:, a] += block[:, pos_idx[axis]]
        if joint.parent < 0:
            rotations[:, j] = local_R
            positions[:, j] = local_t
        else:
            parent_R = rotations[:, joint.parent]
            rotations[:, j] = parent_R @ local_R
            positions[:, j] = positions[:, joint.parent] + np.einsum("tij,tj->ti", parent_R, local_t)
    return positions, rotations


def _rest_positions(parents: list[int], offsets: np.ndarray) -> np.ndarray:
    rest = np.zeros_like(offsets)
    for j, p in enumerate(parents):
        rest[j] = offsets[j] + (rest[p] if p >= 0 else 0.0)
    return rest


def load_bvh(path: str | Path, *, scale: float | None = None, fps: float | None = None,
             name: str | None = None) -> Motion:
    """Read a BVH file (Y up) as a COCO-17 :class:`Motion` (metres, z up).

    Joint names of the CMU conversions are recognised: MotionBuilder-friendly (``Hips``, ``LeftUpLeg``,
    ``LeftArm``...), 3dsMax-friendly (``LeftHip``, ``LeftShoulder``...), DAZ-friendly (``lThigh``, ``lShldr``,
    ``leftEye``...) and CC_Base (``CC_Base_L_Thigh``...). End sites are named ``<parent>_end``.

    Args:
        path: the ``.bvh`` file.
        scale: metres per file unit; default: guessed from the rest pose's height (metres, CMU units
            0.0254 / 0.45, centimetres or millimetres).
        fps: frame rate override (the DAZ-friendly CMU files claim 120 fps but hold 60 fps); default
            ``1 / Frame Time``.
        name: label; default the file stem.

    Returns:
        ``Motion`` with ``joints_world (T, 17, 3)`` metres, z up.

    Example:
        >>> import tempfile, os
        >>> text = ("HIERARCHY\\nROOT Hips\\n{ OFFSET 0 0 0 CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation\\n"
        ...         + "".join(f"JOINT {s}UpLeg {{ OFFSET {x} -0.1 0 CHANNELS 3 Zrotation Xrotation Yrotation "
        ...                   f"JOINT {s}Leg {{ OFFSET 0 -0.42 0 CHANNELS 3 Zrotation Xrotation Yrotation "
        ...                   f"JOINT {s}Foot {{ OFFSET 0 -0.4 0 CHANNELS 3 Zrotation Xrotation Yrotation "
        ...                   f"End Site {{ OFFSET 0 0 0.1 }} }} }} }}\\n" for s, x in (("Left", 0.1), ("Right", -0.1)))
        ...         + "JOINT Spine { OFFSET 0 0.5 0 CHANNELS 3 Zrotation Xrotation Yrotation "
        ...         + "".join(f"JOINT {s}Arm {{ OFFSET {x} 0 0 CHANNELS 3 Zrotation Xrotation Yrotation "
        ...                   f"JOINT {s}ForeArm {{ OFFSET 0 -0.28 0 CHANNELS 3 Zrotation Xrotation Yrotation "
        ...                   f"JOINT {s}Hand {{ OFFSET 0 -0.25 0 CHANNELS 3 Zrotation Xrotation Yrotation "
        ...                   f"End Site {{ OFFSET 0 -0.1 0 }} }} }} }}\\n" for s, x in (("Left", 0.18), ("Right", -0.18)))
        ...         + "JOINT Head { OFFSET 0 0.1 0 CHANNELS 3 Zrotation Xrotation Yrotation End Site { OFFSET 0 0.1 0 } } } }\\n"
        ...         + "MOTION\\nFrames: 2\\nFrame Time: 0.0333333\\n" + ("0 0.92 0 " + "0 " * 45 + "\\n") * 2)
        >>> path = os.path.join(tempfile.mkdtemp(), "tiny.bvh")
        >>> _ = open(path, "w").write(text)
        >>> m = load_bvh(path)
        >>> m.joints_world.shape, round(m.fps), np.round(m.joints_world[0, COCO17.index("left_hip")], 3).tolist()
        ((2, 17, 3), 30, [0.1, 0.0, 0.82])
    """
    path = Path(path)
    joints, values, frame_time = _parse_bvh(path)
    names = [j.name for j in joints]
    index = {n: i for i, n in enumerate(names)}
    name_map = _pick_name_map(names, path)
    parents = [j.parent for j in joints]
    offsets = np.stack([j.offset for j in joints])
    rest = _rest_positions(parents, offsets)
    if scale is None:
        scale = _unit_scale(float(np.ptp(rest[:, 1])), path, "HIERARCHY")
    if fps is None:
        if frame_time <= 0:
            raise InputError(path, "Frame Time", f"must be positive, got {frame_time}; pass fps=")
        fps = 1.0 / frame_time
    positions, rotations = _bvh_forward_kinematics(joints, values)
    # end sites take their parent's rotation (already the case: they have no channels)
    left, up = _rest_axes(rest, index, name_map, np.array([0.0, 1.0, 0.0]))
    coco = _coco_from_named(positions * scale, rotations, index, name_map, left, up)
    return Motion(coco @ _Y_UP_TO_Z_UP.T, fps, name or path.stem, str(path))


# ----------------------------------------------------------------------------- ASF / AMC


@dataclass
class _AsfBone:
    name: str
    direction: np.ndarray
    length: float
    axis_deg: np.ndarray
    axis_order: str
    dof: list


def _parse_asf(path: Path):
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError as err:
        raise InputError(path, None, f"cannot read: {err.strerror}") from None
    section = None
    units = {"length": 1.0, "angle": "deg"}
    root = {"order": ["tx", "ty", "tz", "rx", "ry", "rz"], "axis": "XYZ", "position": np.zeros(3),
            "orientation": np.zeros(3)}
    bones: dict[str, _AsfBone] = {}
    children: dict[str, list[str]] = {}
    current: dict | None = None
    try:
        for raw in lines:
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            if line.startswith(":"):
                parts = line.split()
                section = parts[0][1:].lower()
                continue
            parts = line.split()
            key = parts[0].lower()
            if section == "units" and key in units:
                units[key] = float(parts[1]) if key == "length" else parts[1].lower()
            elif section == "root":
                if key == "order":
                    root["order"] = [p.lower() for p in parts[1:]]
                elif key == "axis":
                    root["axis"] = parts[1].upper()
                elif key in ("position", "orientation"):
                    root[key] = np.array([float(v) for v in parts[1:4]])
            elif section == "bonedata":
                if key == "begin":
                    current = {"dof": [], "axis": np.zeros(3), "axis_order": "XYZ", "direction": np.zeros(3),
                               "length": 0.0}
                elif key == "end" and current is not None:
                    bones[current["name"]] = _AsfBone(current["name"], current["direction"], current["length"],
                                                      current["axis"], current["axis_order"], current["dof"])
                    current = None
                elif current is not None:
                    if key == "name":
                        current["name"] = parts[1]
                    elif key == "direction":
                        current["direction"] = np.array([float(v) for v in parts[1:4]])
                    elif key == "length":
                        current["length"] = float(parts[1])
                    elif key == "axis":
                        current["axis"] = np.array([float(v) for v in parts[1:4]])
                        current["axis_order"] = parts[4].upper() if len(parts) > 4 else "XYZ"
                    elif key == "dof":
                        current["dof"] = [p.lower() for p in parts[1:]]
            elif section == "hierarchy" and key not in ("begin", "end"):
                children.setdefault(parts[0], []).extend(parts[1:])
    except (ValueError, IndexError, KeyError) as err:
        raise InputError(path, section, f"malformed line: {err}") from None
    if not bones or "root" not in children:
        raise InputError(path, "hierarchy", "no bones or no hierarchy rooted at 'root'")
    order, parents = [], {}
    queue = ["root"]
    while queue:
        node = queue.pop(0)
        for child in children.get(node, []):
            if child not in bones:
                raise InputError(path, "hierarchy", f"bone {child!r} has no bonedata")
            parents[child] = node
            order.append(child)
            queue.append(child)
    return units, root, bones, order, parents


def _parse_amc(path: Path, dof_counts: dict[str, int]):
    """AMC frames -> dict bone name -> ``(T, k)`` values."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError as err:
        raise InputError(path, None, f"cannot read: {err.strerror}") from None
    rows: dict[str, list] = {}
    num_frames = 0
    for lineno, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith(("#", ":")):
            continue
        parts = line.split()
        if len(parts) == 1 and parts[0].isdigit():
            num_frames += 1
            continue
        if num_frames == 0:
            continue
        bone = parts[0]
        if bone not in dof_counts:
            raise InputError(path, f"line {lineno}", f"bone {bone!r} is not in the ASF skeleton")
        try:
            vals = [float(v) for v in parts[1:]]
        except ValueError:
            raise InputError(path, f"line {lineno}", "non-numeric value") from None
        if len(vals) != dof_counts[bone]:
            raise InputError(path, f"line {lineno}", f"{bone}: expected {dof_counts[bone]} values, got {len(vals)}")
        rows.setdefault(bone, []).append(vals)
    if num_frames == 0:
        raise InputError(path, "frames", "no frames")
    out = {}
    for bone, vals in rows.items():
        if len(vals) != num_frames:
            raise InputError(path, bone, f"present in {len(vals)} of {num_frames} frames")
        out[bone] = np.array(vals, dtype=float)
    return out, num_frames


def _order_matrix(angles_deg: np.ndarray, order: str) -> np.ndarray:
    """ASF ``axis``/``order`` rotation: the first letter is applied first, ``R = R_last ... R_first``."""
    letters = order.lower()
    cols = {a: angles_deg[:, i] for i, a in enumerate("xyz")}
    return euler_to_matrix(np.stack([cols[a] for a in letters[::-1]], axis=1), letters[::-1])


def load_asf_amc(asf_path: str | Path, amc_path: str | Path, *, scale: float | None = None, fps: float = 120.0,
                 name: str | None = None) -> Motion:
    """Read an Acclaim skeleton + motion (the original CMU format) as a COCO-17 :class:`Motion`.

    Conventions (CMU): a bone's global rotation is ``R_parent C L C^T`` with ``C`` from its ``axis``
    (first letter applied first) and ``L = Rz Ry Rx`` of its AMC values; its end is
    ``start + R (direction x length)``. Y up, turned z up.

    Args:
        asf_path, amc_path: the skeleton and the motion.
        scale: metres per ASF length unit; default ``0.0254 / length`` from the ASF ``:units``
            (CMU: ``length 0.45`` -> 0.0564 m per unit).
        fps: frame rate (AMC files do not store it; CMU is 120 fps except some subjects at 60).
        name: label; default the AMC file stem.

    Returns:
        ``Motion`` with ``joints_world (T, 17, 3)`` metres, z up.

    Example:
        >>> from pathlib import Path
        >>> d = Path(__file__).resolve().parents[4] / "shared" / "mocap" / "samples"
        >>> m = load_asf_amc(d / "35.asf", d / "35_01_first150.amc") if d.exists() else None
        >>> m is None or (m.num_frames, m.fps) == (150, 120.0)
        True
    """
    asf_path, amc_path = Path(asf_path), Path(amc_path)
    units, root, bones, order, parents = _parse_asf(asf_path)
    missing = [b for b in _ASF_NAME_MAP.body.values() if b not in bones] + (["head"] if "head" not in bones else [])
    if missing:
        raise InputError(asf_path, "bonedata", f"missing CMU bones {missing}")
    if scale is None:
        scale = 0.0254 / float(units["length"])
    to_rad = 1.0 if units["angle"].startswith("deg") else 180.0 / np.pi  # values -> degrees
    dof_counts = {b: len(bones[b].dof) for b in order}
    dof_counts["root"] = len(root["order"])
    values, T = _parse_amc(amc_path, dof_counts)
    if "root" not in values:
        raise InputError(amc_path, "root", "no root lines")
    root_vals = values["root"]
    col = {c: root_vals[:, i] for i, c in enumerate(root["order"])}
    zeros = np.zeros(T)
    root_pos = np.stack([col.get(f"t{a}", zeros) for a in "xyz"], axis=1) + root["position"]
    root_L = _order_matrix(np.stack([col.get(f"r{a}", zeros) for a in "xyz"], axis=1) * to_rad, root["axis"])
    root_C = _order_matrix(root["orientation"][None], root["axis"])[0]
    names = ["root"] + order
    index = {n: i for i, n in enumerate(names)}
    positions = np.zeros((T, len(names), 3))
    rotations = np.zeros((T, len(names), 3, 3))
    rest = np.zeros((len(names), 3))
    positions[:, 0] = root_pos
    rotations[:, 0] = root_C @ root_L @ root_C.T
    for bone_name in order:
        bone, j, p = bones[bone_name], index[bone_name], index[parents[bone_name]]
        C = _order_matrix(bone.axis_deg[None], bone.axis_order)[0]
        amc = values.get(bone_name)
        angles = np.zeros((T, 3))
        for k, dof in enumerate(bone.dof):
            if dof.startswith("r") and amc is not None:
                angles[:, "xyz".index(dof[1])] = amc[:, k] * to_rad
        L = euler_to_matrix(angles[:, ::-1], "zyx")  # Rz Ry Rx
        rotations[:, j] = rotations[:, p] @ C @ L @ C.T
        vec = bone.direction * bone.length
        positions[:, j] = positions[:, p] + rotations[:, j] @ vec
        rest[j] = rest[p] + vec
    left, up = _rest_axes(rest, index, _ASF_NAME_MAP, np.array([0.0, 1.0, 0.0]))
    coco = _coco_from_named(positions * scale, rotations, index, _ASF_NAME_MAP, left, up)
    return Motion(coco @ _Y_UP_TO_Z_UP.T, fps, name or amc_path.stem, str(amc_path))


# ----------------------------------------------------------------------------- CMU Panoptic


_PANOPTIC_FPS = {"hd_29_97": 29.97, "vga_25": 25.0}


def load_panoptic(folder: str | Path, *, fps: float | None = None) -> list[Motion]:
    """Read a CMU Panoptic ``hdPose3d_stage1_coco19`` folder of ``body3DScene_<frame>.json`` files.

    Panoptic is centimetres in a y-down world; it is turned into metres, z up, with
    ``(x, y, z) -> (x, z, -y)`` (a proper rotation, -90 degrees about x). The floor is not moved.

    Args:
        folder: the folder of JSON files (sorted by the frame number in their names; gaps are not filled).
        fps: frame rate; default from ``fpsType`` (``hd_29_97`` -> 29.97, ``vga_25`` -> 25).

    Returns:
        One :class:`Motion` per body id (sorted by id), all with the folder's ``T`` frames; a body's
        joints are NaN in frames where it is absent or where Panoptic's confidence is negative.
        Names are ``<sequence>/body<id>``.

    Example:
        >>> from pathlib import Path
        >>> d = Path(__file__).resolve().parents[4] / "shared/datasets/panoptic/160906_band1/hdPose3d_stage1_coco19"
        >>> people = load_panoptic(d) if d.exists() else None
        >>> people is None or (len(people) >= 1 and people[0].joints_world.shape[1:] == (17, 3))
        True
    """
    folder = Path(folder)
    files = sorted(folder.glob("body3DScene_*.json"), key=lambda p: int(re.sub(r"\D", "", p.stem) or 0))
    if not files:
        raise InputError(folder, None, "no body3DScene_*.json files")
    per_frame = []
    fps_type = None
    for f in files:
        try:
            data = json.loads(f.read_text())
            bodies = {int(b["id"]): np.asarray(b["joints19"], dtype=float).reshape(19, 4) for b in data["bodies"]}
        except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
            raise InputError(f, "bodies", f"cannot read Panoptic bodies: {err}") from None
        fps_type = fps_type or data.get("fpsType")
        per_frame.append(bodies)
    if fps is None:
        fps = _PANOPTIC_FPS.get(str(fps_type), 29.97)
    ids = sorted({i for bodies in per_frame for i in bodies})
    seq = folder.parent.name if folder.name.startswith("hdPose3d") or folder.name.startswith("vgaPose3d") else folder.name
    out = []
    for pid in ids:
        raw = np.full((len(files), 19, 4), np.nan)
        for t, bodies in enumerate(per_frame):
            if pid in bodies:
                raw[t] = bodies[pid]
        points = np.where((raw[..., 3:] >= 0), raw[..., :3], np.nan) * 0.01 @ _Y_DOWN_TO_Z_UP.T  # (T, 19, 3) m
        coco, _ = convert(points, "panoptic19", "coco17")
        out.append(Motion(coco, fps, f"{seq}/body{pid}", str(folder)))
    return out


# ----------------------------------------------------------------------------- NPZ


def load_npz(path: str | Path) -> list[Motion]:
    """Read joint positions from an ``.npz`` file; one :class:`Motion` per person.

    Two layouts are accepted:

    * closecap layout: ``joints`` ``(T, J, 3)`` or ``(P, T, J, 3)`` metres, z up; ``fps`` scalar;
      ``joint_names`` ``(J,)`` strings, either COCO-17 names (taken as they are) or the names of a joint set
      closecap knows (``body25``, ``coco18``, ``panoptic19``...; converted to COCO-17, missing joints NaN).
    * the ``../shared/mocap`` layout: ``coco17`` ``(T, 17, 3)`` or pair ``(2, T, 17, 3)``, ``fps``; the two
      people of a pair file share one world frame.

    Names are the file stem, with ``/p<k>`` for each person of a multi-person file.

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "clip.npz")
        >>> np.savez(path, joints=np.zeros((5, 17, 3)), fps=30.0, joint_names=np.array(COCO17.joint_names))
        >>> [m.joints_world.shape for m in load_npz(path)]
        [(5, 17, 3)]
    """
    path = Path(path)
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise InputError(path, None, f"cannot read npz: {err}") from None
    with data:
        keys = set(data.files)
        if "coco17" in keys:
            joints = np.asarray(data["coco17"], dtype=float)
            names = COCO17.joint_names
            source = str(data["take_id"]) if "take_id" in keys else str(path)
        elif "joints" in keys:
            joints = np.asarray(data["joints"], dtype=float)
            if "joint_names" not in keys:
                raise InputError(path, "joint_names", "missing key (needed with 'joints')")
            names = tuple(str(n) for n in data["joint_names"])
            source = str(path)
        else:
            raise InputError(path, "joints", f"missing key 'joints' (or 'coco17'); file has {sorted(keys)}")
        if "fps" not in keys:
            raise InputError(path, "fps", "missing key")
        fps = float(data["fps"])
    if joints.ndim == 3:
        joints = joints[None]
    if joints.ndim != 4 or joints.shape[-1] != 3 or joints.shape[-2] != len(names):
        raise InputError(path, "joints", f"expected (T, {len(names)}, 3) or (P, T, {len(names)}, 3), got {joints.shape}")
    if names != COCO17.joint_names:
        match = [s for s in JOINT_SETS.values() if s.joint_names == names]
        if not match:
            raise InputError(path, "joint_names", "not COCO-17 nor a joint set closecap knows "
                             f"({sorted(JOINT_SETS)})")
        joints, _ = convert(joints, match[0], COCO17)
    stem = path.stem
    if joints.shape[0] == 1:
        return [Motion(joints[0], fps, stem, source)]
    return [Motion(joints[p], fps, f"{stem}/p{p}", source) for p in range(joints.shape[0])]


def load_motions(path: str | Path, **kwargs) -> list[Motion]:
    """Load any supported motion file by its suffix; always a list of people.

    ``.bvh`` -> :func:`load_bvh`; ``.amc`` -> :func:`load_asf_amc` with the ``.asf`` of the same folder
    (``asf=`` to name it; CMU's ``<subject>_<take>.amc`` finds ``<subject>.asf``); ``.npz`` ->
    :func:`load_npz`; a folder of ``body3DScene_*.json`` -> :func:`load_panoptic`. ``kwargs`` go to the loader.

    Example:
        >>> load_motions("clip.xyz")
        Traceback (most recent call last):
        ...
        closecap.errors.InputError: clip.xyz: format: unknown motion file type (expected .bvh, .amc, .npz or a Panoptic folder)
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".bvh":
        return [load_bvh(path, **kwargs)]
    if suffix == ".npz":
        return load_npz(path, **kwargs)
    if suffix == ".amc":
        asf = kwargs.pop("asf", None)
        if asf is None:
            candidates = [path.with_suffix(".asf"), path.parent / (path.stem.split("_")[0] + ".asf")]
            candidates += sorted(path.parent.glob("*.asf"))
            asf = next((c for c in candidates if c.exists()), None)
            if asf is None:
                raise InputError(path, "asf", "no .asf skeleton next to the .amc; pass asf=")
        return [load_asf_amc(asf, path, **kwargs)]
    if path.is_dir():
        return load_panoptic(path, **kwargs)
    raise InputError(path, "format", "unknown motion file type (expected .bvh, .amc, .npz or a Panoptic folder)")

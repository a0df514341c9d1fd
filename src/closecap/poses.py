"""Typed containers for what flows through closecap: 2D detections in, 3D people out.

* :class:`Detections2D` — per frame, per view, the 2D people a detector found:
  ``(P_v, J, 3)`` arrays of ``(u_px, v_px, score)`` in the raw (distorted) image; score 0 = missing.
* :class:`Poses3D` — per frame, per tracked person, ``(J, 3)`` metres (NaN = not reconstructed)
  and ``(J,)`` confidences, stored dense as ``(T, P, J, 3)``.

Example:
    >>> det = Detections2D(camera_names=("a", "b"), frames=(0,), keypoints=(((np.zeros((1, 17, 3)),) * 2),))
    >>> det.num_frames, det.num_views, det.for_frame(0)[1].shape
    (1, 2, (1, 17, 3))
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from closecap.errors import InputError
from closecap.skeleton import COCO17, JointSet


@dataclass(frozen=True)
class Detections2D:
    """2D people per view and frame.

    Attributes:
        camera_names: ``V`` names, in the order of ``keypoints[t]``.
        frames: ``T`` frame numbers, strictly increasing.
        keypoints: ``T`` tuples of ``V`` arrays ``(P_v, J, 3)``: ``u_px, v_px`` raw-image pixels, score in [0, 1]
            (0 = joint not detected). ``P_v`` may be 0 (no file / nobody found in that view).
        joint_set: the joint set of ``J`` (COCO-17 inside closecap).
    """

    camera_names: tuple[str, ...]
    frames: tuple[int, ...]
    keypoints: tuple[tuple[np.ndarray, ...], ...]
    joint_set: JointSet = COCO17

    def __post_init__(self) -> None:
        object.__setattr__(self, "camera_names", tuple(self.camera_names))
        object.__setattr__(self, "frames", tuple(int(f) for f in self.frames))
        if len(self.frames) != len(self.keypoints):
            raise InputError(None, "frames", f"{len(self.frames)} frame numbers for {len(self.keypoints)} frames")
        if any(b <= a for a, b in zip(self.frames, self.frames[1:])):
            raise InputError(None, "frames", "frame numbers must be strictly increasing")
        J = self.joint_set.num_joints
        V = len(self.camera_names)
        clean = []
        for frame, views in zip(self.frames, self.keypoints):
            if len(views) != V:
                raise InputError(None, f"frame {frame}", f"expected {V} views, got {len(views)}")
            fixed = []
            for name, arr in zip(self.camera_names, views):
                arr = np.asarray(arr, dtype=float).reshape(-1, J, 3) if np.size(arr) else np.zeros((0, J, 3))
                if arr.ndim != 3 or arr.shape[1:] != (J, 3):
                    raise InputError(None, f"{name} frame {frame}", f"expected (P, {J}, 3), got {arr.shape}")
                if not np.all(np.isfinite(arr)):
                    raise InputError(None, f"{name} frame {frame}", "keypoints contain NaN or infinity")
                arr.setflags(write=False)
                fixed.append(arr)
            clean.append(tuple(fixed))
        object.__setattr__(self, "keypoints", tuple(clean))

    @property
    def num_frames(self) -> int:
        return len(self.frames)

    @property
    def num_views(self) -> int:
        return len(self.camera_names)

    def for_frame(self, frame: int) -> tuple[np.ndarray, ...]:
        """The ``V`` arrays ``(P_v, J, 3)`` of one frame number."""
        return self.keypoints[self.frames.index(frame)]

    def reorder(self, camera_names) -> "Detections2D":
        """Views reordered (and subset) to ``camera_names``."""
        idx = [self.camera_names.index(n) for n in camera_names]
        return Detections2D(tuple(camera_names), self.frames,
                            tuple(tuple(views[i] for i in idx) for views in self.keypoints), self.joint_set)


@dataclass(frozen=True)
class Poses3D:
    """3D people over frames, dense.

    Attributes:
        frames: ``(T,)`` int frame numbers.
        ids: ``(P,)`` int person ids (tracks), unique.
        joints: ``(T, P, J, 3)`` metres, world frame; NaN where a joint was not reconstructed or the
            person is absent in that frame.
        confidence: ``(T, P, J)`` in [0, 1]; 0 where ``joints`` is NaN.
        joint_set: joint set of ``J``.
    """

    frames: np.ndarray
    ids: np.ndarray
    joints: np.ndarray
    confidence: np.ndarray
    joint_set: JointSet = COCO17

    def __post_init__(self) -> None:
        frames = np.asarray(self.frames, dtype=np.int64).reshape(-1)
        ids = np.asarray(self.ids, dtype=np.int64).reshape(-1)
        T, P, J = len(frames), len(ids), self.joint_set.num_joints
        joints = np.asarray(self.joints, dtype=float)
        if joints.size == 0:
            joints = joints.reshape(T, P, J, 3)
        conf = np.asarray(self.confidence, dtype=float)
        if conf.size == 0:
            conf = conf.reshape(T, P, J)
        if joints.shape != (T, P, J, 3):
            raise InputError(None, "joints", f"expected shape {(T, P, J, 3)}, got {joints.shape}")
        if conf.shape != (T, P, J):
            raise InputError(None, "confidence", f"expected shape {(T, P, J)}, got {conf.shape}")
        if len(set(ids.tolist())) != P:
            raise InputError(None, "ids", "person ids must be unique")
        if np.any(np.diff(frames) <= 0):
            raise InputError(None, "frames", "frame numbers must be strictly increasing")
        missing = ~np.isfinite(joints).all(-1)
        joints = np.where(missing[..., None], np.nan, joints)
        conf = np.where(missing, 0.0, np.clip(np.nan_to_num(conf), 0.0, 1.0))
        for name, arr in (("frames", frames), ("ids", ids), ("joints", joints), ("confidence", conf)):
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)

    @property
    def num_frames(self) -> int:
        return len(self.frames)

    @property
    def num_people(self) -> int:
        return len(self.ids)

    @property
    def present(self) -> np.ndarray:
        """``(T, P)`` bool: the person has at least one reconstructed joint in that frame."""
        return np.isfinite(self.joints).all(-1).any(-1)

    @classmethod
    def from_frame_lists(cls, frames, people_per_frame, joint_set: JointSet = COCO17) -> "Poses3D":
        """Build from per-frame lists of ``(id, joints (J, 3), confidence (J,))``."""
        frames = [int(f) for f in frames]
        all_ids = sorted({int(pid) for people in people_per_frame for pid, _, _ in people})
        col = {pid: i for i, pid in enumerate(all_ids)}
        J = joint_set.num_joints
        joints = np.full((len(frames), len(all_ids), J, 3), np.nan)
        conf = np.zeros((len(frames), len(all_ids), J))
        for t, people in enumerate(people_per_frame):
            for pid, pj, pc in people:
                if np.isfinite(joints[t, col[int(pid)]]).any():
                    raise InputError(None, f"frame {frames[t]}", f"person id {pid} appears twice")
                joints[t, col[int(pid)]] = pj
                conf[t, col[int(pid)]] = pc
        return cls(np.array(frames, dtype=np.int64), np.array(all_ids, dtype=np.int64), joints, conf, joint_set)

    def frame_people(self, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """People present at frame index ``t``: ``ids (P_t,)``, ``joints (P_t, J, 3)``, ``confidence (P_t, J)``."""
        keep = self.present[t]
        return self.ids[keep], self.joints[t, keep], self.confidence[t, keep]

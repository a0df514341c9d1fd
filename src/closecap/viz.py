"""Pictures at the edge: 3D skeleton plots and 2D overlays (matplotlib, headless).

The core never imports this module.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from closecap.cameras import Rig
from closecap.poses import Poses3D

_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:olive")


def _figure_to_png(fig, path: str | Path) -> None:
    import io

    from closecap.config import atomic_write_bytes

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    atomic_write_bytes(path, buf.getvalue())


def plot_frame(pred: Poses3D, rig: Rig, path: str | Path, *, frame_index: int | None = None,
               gt: Poses3D | None = None, view: int = 0) -> int:
    """Save a PNG with a 3D view (cameras, predicted people coloured by id, ground truth in grey)
    and the reprojection of the prediction into camera ``view``. Returns the frame index drawn
    (default: the frame where the people are closest to each other)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if frame_index is None:
        frame_index = _closest_frame(gt if gt is not None else pred)
    bones = pred.joint_set.bone_indices  # (B, 2)
    fig = plt.figure(figsize=(12, 5.5))
    ax3d = fig.add_subplot(1, 2, 1, projection="3d")
    ax2d = fig.add_subplot(1, 2, 2)
    centers = rig.centers_world
    ax3d.scatter(centers[:, 0], centers[:, 1], centers[:, 2], marker="^", c="k", s=30)
    for name, c in zip(rig.names, centers):
        ax3d.text(c[0], c[1], c[2], name, fontsize=7)
    if gt is not None:
        t_gt = int(np.searchsorted(gt.frames, pred.frames[frame_index]))
        if t_gt < gt.num_frames and gt.frames[t_gt] == pred.frames[frame_index]:
            for joints in gt.joints[t_gt]:
                for a, b in bones:
                    ax3d.plot(*np.stack([joints[a], joints[b]]).T, c="0.6", lw=3, alpha=0.6)
    cam = rig[view]
    for p, pid in enumerate(pred.ids):
        joints = pred.joints[frame_index, p]
        if not np.isfinite(joints).any():
            continue
        color = _COLORS[int(pid) % len(_COLORS)]
        uv, depth = cam.project(joints)
        for a, b in bones:
            seg = np.stack([joints[a], joints[b]])
            if np.isfinite(seg).all():
                ax3d.plot(*seg.T, c=color, lw=1.5)
                ax2d.plot(uv[[a, b], 0], uv[[a, b], 1], c=color, lw=2)
        head = joints[0] if np.isfinite(joints[0]).all() else np.nanmean(joints, 0)
        ax3d.text(*head, f"id {pid}", color=color, fontsize=8)
    ax2d.set_xlim(0, cam.width)
    ax2d.set_ylim(cam.height, 0)
    ax2d.set_aspect("equal")
    ax2d.set_title(f"{cam.name}: reprojected prediction, frame {int(pred.frames[frame_index])}")
    ax3d.set_title("3D: prediction (colour = id), ground truth (grey)" if gt is not None else "3D prediction")
    ax3d.set_xlabel("x (m)")
    ax3d.set_ylabel("y (m)")
    ax3d.set_zlabel("z (m)")
    pts = pred.joints[frame_index][np.isfinite(pred.joints[frame_index]).all(-1)]
    if len(pts):
        mid = pts.mean(0)
        ax3d.set_xlim(mid[0] - 1.5, mid[0] + 1.5)
        ax3d.set_ylim(mid[1] - 1.5, mid[1] + 1.5)
        ax3d.set_zlim(0, 2.2)
    _figure_to_png(fig, path)
    plt.close(fig)
    return frame_index


def _closest_frame(poses: Poses3D) -> int:
    """Index of the frame where two people come closest (any joints); 0 with fewer than two people."""
    if poses.num_people < 2:
        return 0
    j = poses.joints  # (T, P, J, 3)
    d = np.linalg.norm(j[:, :, None, :, None] - j[:, None, :, None, :], axis=-1)  # (T, P, P, J, J)
    P = poses.num_people
    d[:, np.arange(P), np.arange(P)] = np.inf
    d = np.where(np.isfinite(d), d, np.inf).min(axis=(1, 2, 3, 4))
    return int(np.argmin(d)) if np.isfinite(d).any() else 0

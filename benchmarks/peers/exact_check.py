"""Sanity check of the Pose2Sim bridge on exact 2D input: MPJPE must be ~0.

Builds a small hand-made scene (a ring rig, people walking slowly with a standing COCO-17 template, exact
projections written as OpenPose BODY_25), runs :func:`pose2sim_runner.run_pose2sim` on it and prints per-joint
errors. This checks the calibration export, the camera / folder order, the frame renumbering and the TRC
(Y, Z, X) axis order, independently of closecap's synth and I/O modules.

Usage: ``.venv/bin/python benchmarks/peers/exact_check.py [--cameras 5] [--people 2] [--frames 40] [--distortion 0.0]``
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

import pose2sim_runner  # this script's folder is on sys.path when it runs as a script
from closecap.cameras import Camera, Rig, ring_rig
from closecap.skeleton import BODY25, COCO17

# A standing person, COCO-17 order, metres, z up, facing +x, feet at z = 0.
TEMPLATE_COCO17 = np.array([
    [0.10, 0.00, 1.62], [0.08, 0.04, 1.66], [0.08, -0.04, 1.66], [0.02, 0.08, 1.64], [0.02, -0.08, 1.64],
    [0.00, 0.20, 1.42], [0.00, -0.20, 1.42], [0.02, 0.25, 1.14], [0.02, -0.25, 1.14], [0.10, 0.25, 0.90],
    [0.10, -0.25, 0.90], [0.00, 0.11, 0.92], [0.00, -0.11, 0.92], [0.04, 0.12, 0.50], [0.04, -0.12, 0.50],
    [0.00, 0.12, 0.08], [0.00, -0.12, 0.08],
])


def coco17_to_body25(points: np.ndarray) -> np.ndarray:
    """``(..., 17, D)`` -> ``(..., 25, D)``: same-name joints, neck = mid-shoulder, mid_hip = mid-hip; feet NaN."""
    out = np.full(points.shape[:-2] + (25, points.shape[-1]), np.nan)
    for name in COCO17.joint_names:
        out[..., BODY25.index(name), :] = points[..., COCO17.index(name), :]
    out[..., BODY25.index("neck"), :] = points[..., COCO17.indices(["left_shoulder", "right_shoulder"]), :].mean(-2)
    out[..., BODY25.index("mid_hip"), :] = points[..., COCO17.indices(["left_hip", "right_hip"]), :].mean(-2)
    return out


def make_people(num_people: int, num_frames: int, rng: np.random.Generator) -> np.ndarray:
    """``(T, P, 17, 3)`` metres: people spaced on a circle of 0.8 m, each rotated and slowly walking."""
    t = np.arange(num_frames) / 30.0
    people = []
    for p in range(num_people):
        a = 2 * np.pi * p / num_people
        yaw = rng.uniform(-np.pi, np.pi)
        Rz = np.array([[np.cos(yaw), -np.sin(yaw), 0], [np.sin(yaw), np.cos(yaw), 0], [0, 0, 1]])
        base = np.array([0.8 * np.cos(a), 0.8 * np.sin(a), 0.0])
        drift = np.stack([0.2 * np.sin(0.7 * t + p), 0.2 * np.cos(0.5 * t + p), 0 * t], -1)  # (T, 3)
        people.append((TEMPLATE_COCO17 @ Rz.T)[None] + base + drift[:, None])
    return np.stack(people, 1)


def write_openpose_scene(rig: Rig, joints_world: np.ndarray, keypoints_dir: Path) -> None:
    """Exact BODY_25 OpenPose files ``<cam>/<cam>_<frame:012d>_keypoints.json`` (raw distorted pixels)."""
    body25 = coco17_to_body25(joints_world)  # (T, P, 25, 3)
    uv, depth = rig.project(np.nan_to_num(body25))  # (V, T, P, 25, 2)
    seen = np.isfinite(body25).all(-1)[None] & rig.in_image(uv, depth)  # (V, T, P, 25)
    for v, cam in enumerate(rig.cameras):
        (keypoints_dir / cam.name).mkdir(parents=True, exist_ok=True)
        for f in range(joints_world.shape[0]):
            people = []
            for p in range(joints_world.shape[1]):
                kp = np.concatenate([uv[v, f, p], seen[v, f, p, :, None].astype(float)], -1)
                kp[~seen[v, f, p]] = 0.0
                people.append({"person_id": [-1], "pose_keypoints_2d": kp.ravel().tolist()})
            doc = {"version": 1.3, "people": people}
            (keypoints_dir / cam.name / f"{cam.name}_{f:012d}_keypoints.json").write_text(json.dumps(doc))


def write_closecap_scene(rig: Rig, joints_world: np.ndarray, out_dir: Path) -> None:
    """The same exact scene written with closecap's own I/O (``closecap.io.scene.write_scene``)."""
    from closecap.io.scene import write_scene
    from closecap.poses import Detections2D, Poses3D

    T, P = joints_world.shape[:2]
    uv, depth = rig.project(joints_world)  # (V, T, P, 17, 2)
    seen = rig.in_image(uv, depth)  # (V, T, P, 17)
    kp = np.concatenate([uv, seen[..., None].astype(float)], -1)
    kp[~seen] = 0.0
    detections = Detections2D(rig.names, tuple(range(T)),
                              tuple(tuple(kp[v, t] for v in range(len(rig))) for t in range(T)))
    gt = Poses3D(np.arange(T), np.arange(P), joints_world, np.ones((T, P, 17)))
    write_scene(out_dir, rig, detections, gt, {"source": "benchmarks/peers/exact_check.py", "fps": 30})


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cameras", type=int, default=5)
    parser.add_argument("--people", type=int, default=2)
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--distortion", type=float, default=0.0, help="k1 of every camera")
    parser.add_argument("--raw-distorted", action="store_true")
    parser.add_argument("--scene-out", type=Path, default=None,
                        help="instead: write the exact scene as a closecap scene folder (closecap.io.scene) and stop")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    rig = ring_rig(args.cameras, name_format="view_{}")  # names sort differently from the order past 10
    if args.distortion:
        rig = Rig(tuple(Camera(c.name, c.K, [args.distortion, 0, 0, 0, 0], c.R, c.t, c.width, c.height)
                        for c in rig.cameras))
    gt = make_people(args.people, args.frames, rng)
    if args.scene_out is not None:
        write_closecap_scene(rig, gt, args.scene_out)
        print(f"wrote {args.scene_out}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        write_openpose_scene(rig, gt, Path(tmp) / "keypoints2d")
        run = pose2sim_runner.run_pose2sim(rig, Path(tmp) / "keypoints2d", Path(tmp) / "work",
                                           undistort=not args.raw_distorted)
    pred = run.poses
    print("timing s:", {k: round(v, 2) for k, v in run.seconds.items()})
    print("tracks:", pred.ids.tolist(), "present per track:", pred.present.sum(0).tolist(), "of", pred.num_frames)
    # Match each track to the GT person nearest on average, then per-joint errors.
    errs = []
    for p in range(pred.num_people):
        d = np.nanmean(np.linalg.norm(pred.joints[:, p, None] - gt, axis=-1), axis=(0, 2))  # (P_gt,)
        g = int(np.nanargmin(d))
        e = np.linalg.norm(pred.joints[:, p] - gt[:, g], axis=-1) * 1000  # (T, J) mm
        errs.append(e)
        print(f"track {pred.ids[p]} -> gt {g}: MPJPE {np.nanmean(e):.2f} mm, max {np.nanmax(e):.2f} mm, "
              f"joints given {int(np.isfinite(e).any(0).sum())}/17")
    return 0


if __name__ == "__main__":
    sys.exit(main())

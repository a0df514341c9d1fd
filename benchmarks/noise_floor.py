"""How close the geometric baseline is to the error floor that the simulated detector leaves on the held-out scenes.

An *oracle association* knows, from the simulator's trace, which detected keypoint was drawn around which
person's joint (``SimulationTrace.source_joint``). It triangulates each person's joints from exactly those
keypoints (RANSAC, the baseline's thresholds) and cleans the tracks like the baseline (outliers, gaps,
Butterworth, bone lengths). No method that associates 2D detections and triangulates them can do better than
perfect association, so its error is the floor of that family of methods; a second row keeps only the keypoints
whose only error is the detector's jitter (no gross error at all).

Scenes: those of ``benchmarks/volumetric.py`` (held-out takes, 2-4 people, contact fraction 0.7, occlusion-heavy
noise, the default 5-camera ring), seeds 500, 501, ...

Usage:
    .venv/bin/python benchmarks/noise_floor.py --scenes 12 --frames 60

Writes the "noise-floor" section of benchmarks/results.md (unless --no-write).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import update_section  # noqa: E402
from volumetric import EVAL, FIRST_SEED, pooled, pooled_bins  # noqa: E402

from closecap.baseline import BaselineConfig, reconstruct_baseline  # noqa: E402
from closecap.pipelines import default_rig  # noqa: E402
from closecap.metrics import evaluate  # noqa: E402
from closecap.poses import Poses3D  # noqa: E402
from closecap.synth.generate import SynthConfig  # noqa: E402
from closecap.synth.library import load_library  # noqa: E402
from closecap.synth.noise import JointStatus, NoiseConfig, simulate_detections  # noqa: E402
from closecap.synth.scenes import SceneConfig, compose_scene  # noqa: E402
from closecap.track import clean_tracks, enforce_bone_lengths  # noqa: E402
from closecap.triangulation import triangulate_ransac  # noqa: E402


def oracle_observations(trace, detections, num_people: int, correct_only: bool) -> tuple[np.ndarray, np.ndarray]:
    """Each person's own keypoints per view from the simulator's trace.

    Returns:
        ``uv (T, P, J, V, 2)`` raw pixels (NaN = none) and ``scores (T, P, J, V)``; with ``correct_only``, only
        keypoints whose status is CORRECT (ground truth + jitter).
    """
    T, V = len(detections.keypoints), len(detections.camera_names)
    J = detections.joint_set.num_joints
    uv = np.full((T, num_people, J, V, 2), np.nan)
    scores = np.zeros((T, num_people, J, V))
    for t in range(T):  # loops over frames and views only
        for v in range(V):
            kp = np.asarray(detections.keypoints[t][v], dtype=float)  # (Q, J, 3)
            if not len(kp):
                continue
            src = trace.source_joint[t][v]  # (Q, J, 2) (person, joint)
            own = (src[..., 0] >= 0) & (src[..., 1] == np.arange(J)) & (kp[..., 2] > 0)
            if correct_only:
                own &= trace.joint_status[t][v] == JointStatus.CORRECT
            q, j = np.nonzero(own)
            uv[t, src[q, j, 0], j, v] = kp[q, j, :2]
            scores[t, src[q, j, 0], j, v] = kp[q, j, 2]
    return uv, scores


def oracle_poses(gt: Poses3D, uv: np.ndarray, scores: np.ndarray, rig, config: BaselineConfig) -> Poses3D:
    """Triangulate the oracle's observations and clean them as the baseline cleans its tracks."""
    joints = triangulate_ransac(uv, scores, rig, config.ransac).points_world  # (T, P, J, 3)
    joints = np.where(np.isfinite(gt.joints).all(-1, keepdims=True), joints, np.nan)
    confidence = np.isfinite(joints).all(-1).astype(float)
    joints, confidence = clean_tracks(joints, confidence, config.track)
    if config.track.bone_iterations > 0:
        joints = enforce_bone_lengths(joints, gt.joint_set.bone_indices, config.track.bone_iterations)
    return Poses3D(gt.frames, gt.ids, joints, confidence, gt.joint_set)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=12)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    rig, library, config = default_rig(), load_library(), BaselineConfig()
    rows = {"geometric baseline": [], "oracle association": [], "oracle association, jitter-only keypoints": []}
    for i in range(args.scenes):
        cfg = SynthConfig(scene=SceneConfig(num_people=(2, 4), num_frames=args.frames, fps=30.0, contact_fraction=0.7),
                          noise=NoiseConfig.occlusion_heavy(), seed=FIRST_SEED + i, split="test")
        rng = np.random.default_rng(cfg.seed)  # the same draws as closecap.synth.generate.make_scene
        gt = compose_scene(library.split(cfg.split), rig, cfg.scene, rng)
        detections, trace = simulate_detections(gt.joints, rig, cfg.noise, rng, frames=gt.frames)
        rows["geometric baseline"].append(evaluate(reconstruct_baseline(detections, rig, config), gt, EVAL))
        for name, correct_only in (("oracle association", False), ("oracle association, jitter-only keypoints", True)):
            uv, scores = oracle_observations(trace, detections, gt.num_people, correct_only)
            rows[name].append(evaluate(oracle_poses(gt, uv, scores, rig, config), gt, EVAL))
        print(f"scene {FIRST_SEED + i}: " + ", ".join(f"{k} {v[-1].mpjpe_mm:.1f} mm" for k, v in rows.items()), flush=True)
    bins = {name: pooled_bins(results) for name, results in rows.items()}
    labels = [label for label, _, _, _ in next(iter(bins.values()))]
    contact = {name: b[0][3] for name, b in bins.items()}
    out = ["## Noise floor: the geometric baseline against perfect association (held-out scenes)", "",
           f"Command: `.venv/bin/python benchmarks/noise_floor.py --scenes {args.scenes} --frames {args.frames}`", "",
           f"{args.scenes} scenes of `benchmarks/volumetric.py` (held-out takes, {args.frames} frames, 2-4 people, "
           "occlusion-heavy noise, default 5-camera ring). The oracle takes each person's keypoints from the "
           "simulator's trace, triangulates them with the baseline's RANSAC and cleans the tracks as the baseline "
           "does; MPJPE over the joints each method outputs (joints missing: share of ground-truth joints without one).",
           "", "| method | MPJPE mm | joints missing | " + " | ".join(labels) + " |", "|---|---|---|" + "---|" * len(labels)]
    for name, results in rows.items():
        missing = np.mean([r.joints_missing for r in results])
        out.append(f"| {name} | {pooled(results)[0]:.1f} | {missing:.3f} | "
                   + " | ".join(f"{mp:.1f}" for _, _, _, mp in bins[name]) + " |")
    target = 0.7 * contact["geometric baseline"]
    out += ["", f"Issue 5 asks the network for <= 0.7 x the baseline at < 0.3 m, i.e. <= {target:.1f} mm. Perfect "
                f"association gives {contact['oracle association']:.1f} mm there, and keypoints with no gross error "
                f"at all {contact['oracle association, jitter-only keypoints']:.1f} mm: what is left is the "
                "detector's jitter (time-correlated, so smoothing removes only part of it), which association "
                "cannot remove. The baseline is already at this floor."]
    text = "\n".join(out)
    print(text)
    if not args.no_write:
        update_section("noise-floor", text)


if __name__ == "__main__":
    main()

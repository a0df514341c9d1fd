"""Run Pose2Sim 0.10.49 on a closecap scene folder and write its people as closecap-3d JSON.

Usage (closecap's venv; Pose2Sim runs in its own venv, created on first use)::

    .venv/bin/python benchmarks/peers/pose2sim_runner.py --scene SCENE --out PRED.json [--work DIR]

What it does:

1. Makes ``benchmarks/peers/.venv-pose2sim`` (``pip install pose2sim==0.10.49``; no torch is pulled).
2. Builds a Pose2Sim project under ``--work``: ``calibration/calib.toml`` (one section per camera, in the
   calibration's order), ``pose/camNN_json/camNN_FFFFFF.json`` (the scene's OpenPose BODY_25 files, frames
   renumbered 0..T-1, folder numbers = calibration order: Pose2Sim pairs cameras and folders by order only).
3. Runs ``personAssociation()``, ``triangulation()``, ``filtering()`` there (``_pose2sim_steps.py``), with
   Pose2Sim's default configuration except the keys in :func:`pose2sim_overrides`.
4. Reads ``pose-3d/*_P<n>_*_filt_butterworth.trc`` (each point = world (Y, Z, X), metres), restores the last
   frame that filtering drops from the unfiltered TRC, maps BODY_25 markers to COCO-17 (eyes and ears do not
   exist in Pose2Sim's BODY_25 skeleton: null) and writes closecap-3d JSON.

Lens distortion: Pose2Sim ignores it by default (and its person association always does). By default this
runner therefore undistorts the 2D keypoints with closecap's calibration and gives Pose2Sim a zero-distortion
calibration with the same ``K`` (exact, not a Pose2Sim approximation); ``--raw-distorted`` feeds the raw
pixels and the real distortion instead, i.e. Pose2Sim's out-of-the-box behaviour.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
POSE2SIM_VERSION = "0.10.49"
DEFAULT_VENV = HERE / ".venv-pose2sim"
STEPS_SCRIPT = HERE / "_pose2sim_steps.py"

# Pose2Sim BODY_25 marker -> COCO-17 joint. Pose2Sim's BODY_25 tree (skeletons.py) has no eyes or ears.
MARKER_TO_COCO17 = {
    "Nose": "nose",
    "LShoulder": "left_shoulder", "RShoulder": "right_shoulder",
    "LElbow": "left_elbow", "RElbow": "right_elbow",
    "LWrist": "left_wrist", "RWrist": "right_wrist",
    "LHip": "left_hip", "RHip": "right_hip",
    "LKnee": "left_knee", "RKnee": "right_knee",
    "LAnkle": "left_ankle", "RAnkle": "right_ankle",
}


def pose2sim_overrides(frame_rate_hz: int) -> dict:
    """The only keys changed from Pose2Sim's default ``Config.toml``, and why.

    * ``project.multi_person = true``: the scenes hold 2-4 people (default false = one person).
    * ``project.frame_rate``: the scene's rate (default ``auto`` reads a video, none here -> 30 fps);
      sets the Butterworth filter's sampling rate.
    * ``pose.pose_model = "BODY_25"``: the scene's 2D files are OpenPose BODY_25 (default is HALPE_26).
    * ``filtering.display_figures / save_filt_plots = false``: no Qt windows or PNGs on a headless run.
    * ``triangulation.make_c3d / filtering.make_c3d = false``: C3D copies of the TRC are not used.

    Everything else (association thresholds, reprojection threshold 15 px, likelihood threshold 0.3,
    interpolation of gaps < 20 frames, gap filling with the last value, Hampel outlier rejection,
    Butterworth 6 Hz order 4, ``frame_range = auto``) stays at Pose2Sim's default.
    """
    return {
        "project": {"multi_person": True, "frame_rate": int(frame_rate_hz)},
        "pose": {"pose_model": "BODY_25"},
        "triangulation": {"make_c3d": False},
        "filtering": {"display_figures": False, "save_filt_plots": False, "make_c3d": False},
    }


def ensure_venv(venv: Path = DEFAULT_VENV) -> Path:
    """Create ``venv`` with Pose2Sim installed if it is not there yet; return its python.

    Pose2Sim 0.10.49's dependencies (rtmlib, onnxruntime, openvino, opencv, PySide6, opensim, ...) need no
    torch, so a plain ``pip install`` is used; the venv is ~2 GB.
    """
    python = venv / "bin" / "python"
    if python.exists():
        check = subprocess.run([str(python), "-c", "import Pose2Sim.Pose2Sim"], capture_output=True)
        if check.returncode == 0:
            return python
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", f"pose2sim=={POSE2SIM_VERSION}"], check=True)
    return python


def _rodrigues(R: np.ndarray) -> np.ndarray:
    """``(3, 3)`` rotation -> ``(3,)`` axis-angle (radians), via OpenCV as Pose2Sim reads it."""
    import cv2

    return cv2.Rodrigues(np.asarray(R, float))[0].ravel()


def write_pose2sim_calibration(rig, path: Path, zero_distortion: bool) -> list[str]:
    """Write ``rig`` as a Pose2Sim calibration TOML; return the section names in file order.

    Pose2Sim reads ``matrix`` (3x3 px), ``distortions`` (k1 k2 p1 p2), ``rotation`` (Rodrigues,
    camera-from-world), ``translation`` (metres, camera-from-world) and ``size`` ([w, h] px) per section,
    in file order. Section ``i`` is named ``camNN`` (NN = i + 1) to match the pose folder ``camNN_json``.
    """
    import tomli_w

    doc, names = {}, []
    for i, cam in enumerate(rig.cameras):
        name = f"cam{i + 1:02d}"
        names.append(name)
        dist = np.zeros(4) if zero_distortion else np.asarray(cam.dist[:4], float)
        if not zero_distortion and abs(cam.dist[4]) > 0:
            print(f"warning: {cam.name}: k3 = {cam.dist[4]} dropped (Pose2Sim TOML holds 4 coefficients)", file=sys.stderr)
        doc[name] = {
            "name": name,
            "size": [float(cam.width), float(cam.height)],
            "matrix": np.asarray(cam.K, float).tolist(),
            "distortions": dist.tolist(),
            "rotation": _rodrigues(cam.R).tolist(),
            "translation": np.asarray(cam.t, float).tolist(),
            "fisheye": False,
        }
    doc["metadata"] = {"adjusted": False, "error": 0.0}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tomli_w.dumps(doc).encode())
    return names


_FRAME_RE = re.compile(r"(\d+)(?!.*\d)")


def scene_frames(keypoints_dir: Path, camera_names) -> list[int]:
    """Sorted union of the frame numbers of ``keypoints_dir/<cam>/*.json`` (last number in each name)."""
    frames = set()
    for name in camera_names:
        for f in (keypoints_dir / name).glob("*.json"):
            m = _FRAME_RE.search(f.stem)
            if m:
                frames.add(int(m.group(1)))
    return sorted(frames)


def write_pose_folders(rig, keypoints_dir: Path, pose_dir: Path, frames: list[int], undistort: bool) -> None:
    """Copy the scene's OpenPose files into Pose2Sim's ``pose/camNN_json/camNN_FFFFFF.json`` layout.

    Frame ``frames[k]`` becomes file number ``k`` (Pose2Sim iterates frames 0..T-1 by the last number in
    the file name). With ``undistort``, every keypoint with score > 0 is moved to its undistorted pixel
    position (same ``K``); a missing camera file stays missing (Pose2Sim then sees nobody there).
    """
    for v, cam in enumerate(rig.cameras):
        src_dir = keypoints_dir / cam.name
        if not src_dir.is_dir():
            raise FileNotFoundError(f"{src_dir}: no keypoint folder for camera {cam.name}")
        by_frame = {}
        for f in src_dir.glob("*.json"):
            m = _FRAME_RE.search(f.stem)
            if m:
                by_frame[int(m.group(1))] = f
        out_dir = pose_dir / f"cam{v + 1:02d}_json"
        out_dir.mkdir(parents=True, exist_ok=True)
        for k, frame in enumerate(frames):
            src = by_frame.get(frame)
            if src is None:
                continue
            doc = json.loads(src.read_text())
            if undistort:
                for person in doc.get("people", []):
                    kp = np.asarray(person.get("pose_keypoints_2d", []), float).reshape(-1, 3)  # (25, 3)
                    seen = kp[:, 2] > 0
                    if seen.any():
                        kp[seen, :2] = rig.subset([cam.name]).undistort(kp[None, seen, :2])[0]
                    person["pose_keypoints_2d"] = kp.ravel().tolist()
            (out_dir / f"cam{v + 1:02d}_{k:06d}.json").write_text(json.dumps(doc))


@dataclass(frozen=True)
class TrcTrack:
    """One person's markers from a Pose2Sim TRC.

    Attributes:
        person: Pose2Sim's person number (``_P<n>`` in the file name).
        frames: ``(T,)`` Pose2Sim frame numbers (0..T-1 renumbering of the scene's frames).
        marker_names: ``(M,)`` marker names.
        points_world: ``(T, M, 3)`` metres, closecap world frame; NaN where missing.
    """

    person: int
    frames: np.ndarray
    marker_names: tuple[str, ...]
    points_world: np.ndarray


def read_trc(path: Path) -> TrcTrack:
    """Read a Pose2Sim TRC: 5 header lines, then ``Frame#, Time, (a, b, c) per marker`` where
    ``(a, b, c) = (Y, Z, X)`` of the world point (Pose2Sim's z-up -> y-up swap), metres.
    An exact ``(0, 0, 0)`` is Pose2Sim's fill for a marker never triangulated: NaN here.
    """
    lines = path.read_text().splitlines()
    marker_names = tuple(m.strip() for m in lines[3].split("\t")[2::3] if m.strip())
    rows = [ln.split("\t") for ln in lines[5:] if ln.strip()]
    M = len(marker_names)
    frames = np.array([int(float(r[0])) for r in rows], dtype=np.int64)
    values = np.array([[float(x) if x.strip() else np.nan for x in r[2:2 + 3 * M]] for r in rows], float)
    yzx = values.reshape(len(rows), M, 3)
    points_world = yzx[..., [2, 0, 1]]  # (T, M, 3): X = c, Y = a, Z = b
    points_world[np.all(points_world == 0.0, axis=-1)] = np.nan
    m = re.search(r"_P(\d+)_", path.name)
    return TrcTrack(int(m.group(1)) if m else 0, frames, marker_names, points_world)


def collect_tracks(pose3d_dir: Path) -> list[TrcTrack]:
    """Filtered tracks, each completed with the frames filtering dropped (its last one) from the raw TRC."""
    tracks = []
    for filt in sorted(pose3d_dir.glob("*_filt_*.trc")):
        track = read_trc(filt)
        raw_path = next((p for p in pose3d_dir.glob(f"*_P{track.person}_*.trc") if "_filt_" not in p.name), None)
        if raw_path is not None:
            raw = read_trc(raw_path)
            extra = ~np.isin(raw.frames, track.frames)
            if extra.any() and raw.marker_names == track.marker_names:
                order = np.argsort(np.concatenate([track.frames, raw.frames[extra]]))
                track = TrcTrack(track.person,
                                 np.concatenate([track.frames, raw.frames[extra]])[order],
                                 track.marker_names,
                                 np.concatenate([track.points_world, raw.points_world[extra]])[order])
        tracks.append(track)
    return tracks


def tracks_to_poses(tracks: list[TrcTrack], scene_frame_numbers: list[int]):
    """Pose2Sim tracks -> :class:`closecap.poses.Poses3D` (COCO-17, metres) on the scene's frame numbers.

    A person is present in a frame when its TRC covers that frame; confidence 1 for every marker it gives.
    """
    from closecap.poses import Poses3D
    from closecap.skeleton import COCO17

    T, P, J = len(scene_frame_numbers), len(tracks), COCO17.num_joints
    joints = np.full((T, P, J, 3), np.nan)
    for p, track in enumerate(tracks):
        src = [track.marker_names.index(m) for m in MARKER_TO_COCO17 if m in track.marker_names]
        dst = COCO17.indices([MARKER_TO_COCO17[track.marker_names[i]] for i in src])
        keep = (track.frames >= 0) & (track.frames < T)
        rows = track.frames[keep]
        joints[rows[:, None], p, dst[None, :]] = track.points_world[keep][:, src]
    confidence = np.isfinite(joints).all(-1).astype(float)
    return Poses3D(np.asarray(scene_frame_numbers, np.int64), np.array([t.person for t in tracks], np.int64),
                   joints, confidence, COCO17)


@dataclass(frozen=True)
class Pose2SimRun:
    """Result of :func:`run_pose2sim`: ``poses`` (Poses3D, COCO-17), wall ``seconds`` per step and total."""

    poses: object
    seconds: dict


def run_pose2sim(rig, keypoints_dir: Path, work_dir: Path, frame_rate_hz: int = 30, undistort: bool = True,
                 venv: Path = DEFAULT_VENV):
    """Build the Pose2Sim project in ``work_dir`` (replaced), run the three steps, read the people back."""
    python = ensure_venv(venv)
    work_dir = Path(work_dir).resolve()
    project = work_dir / "project"
    if project.exists():
        shutil.rmtree(project)
    project.mkdir(parents=True)
    start = time.perf_counter()
    write_pose2sim_calibration(rig, project / "calibration" / "calib.toml", zero_distortion=undistort)
    frames = scene_frames(Path(keypoints_dir), rig.names)
    if not frames:
        raise FileNotFoundError(f"{keypoints_dir}: no OpenPose JSON files for cameras {rig.names}")
    write_pose_folders(rig, Path(keypoints_dir), project / "pose", frames, undistort)
    prepare_s = time.perf_counter() - start
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", MPLBACKEND="Agg")
    start = time.perf_counter()
    proc = subprocess.run([str(python), str(STEPS_SCRIPT), str(project), json.dumps(pose2sim_overrides(frame_rate_hz))],
                          capture_output=True, text=True, env=env, cwd=str(work_dir))
    total_s = time.perf_counter() - start
    (work_dir / "pose2sim_stdout.txt").write_text(proc.stdout + "\n--- stderr ---\n" + proc.stderr)
    if proc.returncode != 0:
        raise RuntimeError(f"Pose2Sim failed (log: {work_dir / 'pose2sim_stdout.txt'}):\n{proc.stderr[-2000:]}")
    step_seconds = json.loads(proc.stdout.strip().splitlines()[-1])["seconds"]
    tracks = collect_tracks(project / "pose-3d")
    poses = tracks_to_poses(tracks, frames)
    return Pose2SimRun(poses, {"prepare": prepare_s, **step_seconds, "pose2sim_process": total_s})


def _scene_frame_rate(scene: Path, default: int = 30) -> int:
    """The scene's frame rate from ``settings.json`` if it names one (``fps`` / ``frame_rate_hz``), else 30."""
    path = scene / "settings.json"
    if not path.exists():
        return default

    def find(obj):
        if isinstance(obj, dict):
            for key, value in obj.items():
                if key in ("fps", "frame_rate", "frame_rate_hz") and isinstance(value, (int, float)):
                    return value
                found = find(value)
                if found is not None:
                    return found
        return None

    found = find(json.loads(path.read_text()))
    return int(round(found)) if found else default


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scene", type=Path, required=True, help="closecap scene folder (calibration.json, keypoints2d/)")
    parser.add_argument("--out", type=Path, required=True, help="closecap-3d JSON to write")
    parser.add_argument("--work", type=Path, default=None, help="Pose2Sim project folder (default: benchmarks/peers/work/<scene>)")
    parser.add_argument("--fps", type=int, default=None, help="frame rate, Hz (default: from settings.json, else 30)")
    parser.add_argument("--raw-distorted", action="store_true",
                        help="give Pose2Sim raw distorted pixels + real distortion (its default handling) instead of undistorted input")
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV, help="Pose2Sim venv (created if missing)")
    args = parser.parse_args(argv)

    from closecap.io.calibration import load_rig
    from closecap.io.keypoints import write_poses

    scene = args.scene.resolve()
    rig = load_rig(scene / "calibration.json")
    work = args.work or HERE / "work" / scene.name
    fps = args.fps or _scene_frame_rate(scene)
    run = run_pose2sim(rig, scene / "keypoints2d", work, fps, undistort=not args.raw_distorted, venv=args.venv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    config = {"method": f"pose2sim=={POSE2SIM_VERSION}", "pose2sim_overrides": pose2sim_overrides(fps),
              "undistorted_input": not args.raw_distorted, "scene": str(scene), "project": str(Path(work).resolve())}
    write_poses(run.poses, args.out, config=config, fps=fps)
    present = run.poses.present
    print(f"pose2sim: {run.poses.num_people} tracks, {int(present.sum())} person-frames over {run.poses.num_frames} frames; "
          f"{sum(v for k, v in run.seconds.items() if k != 'pose2sim_process'):.1f} s -> {args.out}")
    (Path(work) / "timing.json").write_text(json.dumps(run.seconds, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

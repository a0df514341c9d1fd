"""File-level pipelines behind the CLI: ``closecap demo`` and ``closecap synth``.

Each reads inputs, calls the pure core, writes outputs atomically with their settings, and
returns a summary; the CLI only parses and prints.
"""
from __future__ import annotations

import time
from pathlib import Path

from closecap.cameras import Rig, ring_rig
from closecap.config import save_json
from closecap.errors import InputError
from closecap.io.scene import SceneFiles, write_scene


def default_rig() -> Rig:
    """The demo's rig: 5 HD cameras on a 4.5 m ring, 2.3 m high, looking at (0, 0, 1) m."""
    return ring_rig(5, radius_m=4.5, height_m=2.3, target_world=(0.0, 0.0, 1.0), focal_px=1100.0,
                    width=1920, height=1080)


def run_synth(out: str | Path, *, calib: str | Path | None = None, people: tuple[int, int] = (2, 4),
              frames: int = 300, fps: float = 30.0, seed: int = 0, noise: str = "realistic",
              split: str = "train", camera_type: str | None = None, contact_fraction: float | None = None) -> SceneFiles:
    """Synthesise a scene in the rig of ``calib`` (default :func:`default_rig`) and write it to ``out``."""
    from closecap.io.calibration import load_rig
    from closecap.synth.generate import SynthConfig, make_scene, noise_preset
    from closecap.synth.scenes import SceneConfig

    rig = load_rig(calib, camera_type=camera_type) if calib is not None else default_rig()
    scene = SceneConfig(num_people=tuple(people), num_frames=frames, fps=fps)
    if contact_fraction is not None:
        scene = scene.replace(contact_fraction=contact_fraction)
    config = SynthConfig(scene=scene, noise=noise_preset(noise), seed=seed, split=split)
    gt, detections = make_scene(rig, config)
    settings = {"synth": config.to_dict(), "noise_preset": noise,
                "calibration": str(calib) if calib is not None else "closecap.pipelines.default_rig()"}
    return write_scene(out, rig, detections, gt, settings)


def run_demo(out: str | Path = "closecap-demo", *, people: tuple[int, int] = (2, 3), frames: int = 90,
             seed: int = 0, noise: str = "realistic", method: str = "baseline", progress: bool = True) -> str:
    """The offline demo: a scene from held-out motion capture in the default 5-camera rig,
    reconstructed from its OpenPose files and scored against ground truth.

    Writes to ``out``: ``calibration.json``, ``keypoints2d/``, ``gt.json``, ``settings.json`` (the scene),
    ``pred.json`` + ``pred.config.json`` (the reconstruction), ``metrics.json``, ``frame.png``.
    ``method``: ``baseline`` or ``volumetric`` (the shipped network, :func:`closecap.reconstruct.default_model_path`).
    Returns the printed summary (metrics table and paths).
    """
    from closecap.io.keypoints import read_poses
    from closecap.metrics import evaluate, format_table
    from closecap.reconstruct import ReconstructConfig, reconstruct_files
    from closecap.viz import plot_frame

    if method not in ("baseline", "volumetric"):
        raise InputError(None, "--method", f"the demo runs baseline or volumetric, got {method!r}")
    out = Path(out)
    start = time.perf_counter()
    files = run_synth(out, people=people, frames=frames, seed=seed, noise=noise, split="test", contact_fraction=0.7)
    config = ReconstructConfig(method=method)
    pred = reconstruct_files(files.calibration, files.keypoints2d, out / "pred.json", config, progress=progress)
    gt = read_poses(files.gt)
    result = evaluate(pred, gt)
    save_json(out / "metrics.json", result.to_dict())
    from closecap.io.calibration import load_rig

    shown = plot_frame(pred, load_rig(files.calibration), out / "frame.png", gt=gt)
    elapsed = time.perf_counter() - start
    return "\n".join([
        f"closecap demo: {gt.num_people} people, {gt.num_frames} frames, 5 cameras, noise '{noise}', method '{config.method}'",
        format_table(result),
        f"outputs in {out}/: pred.json, gt.json, calibration.json, keypoints2d/, metrics.json, "
        f"frame.png (frame {int(pred.frames[shown])}); {elapsed:.1f} s",
    ])

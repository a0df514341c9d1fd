"""From a calibrated rig and 2D detections to 3D people: the one entry point every method plugs into.

``reconstruct(detections, rig, config)`` dispatches on ``config.method``; ``reconstruct_files`` is the
file-level pipeline behind ``closecap reconstruct`` (read, reconstruct, write atomically with the
config beside the output).
"""
from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np

from closecap.baseline import BaselineConfig, reconstruct_baseline
from closecap.cameras import Rig
from closecap.config import Config, save_json
from closecap.errors import InputError
from closecap.poses import Detections2D, Poses3D

METHODS = ("baseline", "volumetric", "volumetric-unconditional")
logger = logging.getLogger(__name__)


def default_model_path() -> Path:
    """The shipped conditional checkpoint (``closecap/data/volumetric_default.pt``, about 1 MB).

    Made by this project's own command, on the demo's 5-camera ring (see ``src/closecap/data/README.md``)::

        closecap train --out src/closecap/data/volumetric_default.pt --steps 3800 --seed 1

    Its input is rig-independent (heatmaps unprojected into metric cubes), so it also runs on other rigs; a
    model trained for the rig is better (``benchmarks/results.md``, section "volumetric-heldout-rig").
    """
    return Path(__file__).resolve().parent / "data" / "volumetric_default.pt"


@dataclasses.dataclass(frozen=True)
class ReconstructConfig(Config):
    """Settings of ``closecap reconstruct``."""

    method: str = "baseline"
    """Reconstruction method: ``baseline`` (geometric association + robust triangulation + tracking), or
    ``volumetric`` / ``volumetric-unconditional`` (the trained network of ``model_path``; the latter must be a
    checkpoint trained with ``unconditional=True``)."""
    baseline: BaselineConfig = BaselineConfig()
    """Settings of the geometric baseline (used when ``method == "baseline"``)."""
    model_path: str = ""
    """Checkpoint of ``closecap train`` for the volumetric methods; empty = the shipped default
    (:func:`default_model_path`, conditional only: ``volumetric-unconditional`` needs its own checkpoint)."""
    device: str = "auto"
    """Where the volumetric network runs: ``auto`` (CUDA when available), ``cpu`` or ``cuda``."""

    def __post_init__(self) -> None:
        if self.device not in ("auto", "cpu", "cuda"):
            raise InputError(None, "device", f"expected auto, cpu or cuda, got {self.device!r}")
        if self.method not in METHODS:
            raise InputError(None, "method", f"unknown method {self.method!r}; choose one of {list(METHODS)}")


def reconstruct(detections: Detections2D, rig: Rig, config: ReconstructConfig = ReconstructConfig(),
                progress: bool = False) -> Poses3D:
    """3D people per frame from 2D detections.

    Args:
        detections: per frame and view, ``(P_v, 17, 3)`` raw-image pixels + score; its cameras must be in ``rig``.
        rig: the calibrated cameras (metres).
        config: method and its settings.
        progress: show a progress bar over frames.

    Returns:
        :class:`Poses3D` with tracked ids, ``(T, P, 17, 3)`` metres in the rig's world frame.
    """
    missing = [n for n in detections.camera_names if n not in rig.names]
    if missing:
        raise InputError(None, "cameras", f"keypoints for cameras {missing} that are not in the calibration")
    sub_rig = rig.subset(detections.camera_names)
    if config.method == "baseline":
        return reconstruct_baseline(detections, sub_rig, config.baseline, progress=progress)
    shipped = not config.model_path and config.method == "volumetric"
    if not config.model_path and not shipped:
        raise InputError(None, "--model", f"method {config.method!r} needs a checkpoint: train one for your rig with "
                                          "`closecap train --calib CALIB --unconditional --out MODEL.pt`, then pass "
                                          "--model MODEL.pt")
    model_path = str(default_model_path()) if shipped else config.model_path
    try:
        from closecap.train import load_model
        from closecap.volumetric import VolumetricConfig, reconstruct_volumetric
    except ImportError as err:
        raise InputError(None, "method", f"{config.method!r} needs PyTorch: pip install torch==2.13.0 ({err})") from None
    model, train_config = load_model(model_path)
    if (config.method == "volumetric-unconditional") != bool(train_config.model.unconditional):
        kind = "unconditional" if train_config.model.unconditional else "conditional"
        raise InputError(model_path, "model.unconditional", f"this checkpoint is {kind}; it does not fit method {config.method!r}")
    from closecap.train import checkpoint_rig

    trained_for = checkpoint_rig(model_path)
    if trained_for is not None:
        problem = rig_difference(trained_for, sub_rig)
        advice = "train one for these cameras: `closecap train --calib CALIB --out MODEL.pt`"
        if problem and shipped:  # the generic default runs anywhere; say once that a model for the rig does better
            logger.warning("the shipped volumetric model was trained for the demo's 5-camera ring (%s); for better "
                           "results %s, then pass --model MODEL.pt", problem, advice)
        elif problem:  # a checkpoint trained for one rig, given another: most likely the wrong calibration or model
            raise InputError(model_path, "rig", f"this model was trained for another rig ({problem}); {advice}")
    volumetric = VolumetricConfig(baseline=config.baseline, track=config.baseline.track, device=config.device)
    return reconstruct_volumetric(detections, sub_rig, model, volumetric, progress=progress)


def rig_difference(trained: Rig, used: Rig, rotation_tol: float = 1e-3, position_tol_m: float = 0.01,
                   intrinsics_tol: float = 0.01) -> str:
    """Why the cameras of ``used`` are not cameras the model of rig ``trained`` knows ('' when they are).

    Each camera of ``used`` must be in ``trained`` by name with the same image size, intrinsics and
    distortion within ``intrinsics_tol`` (relative), rotation within ``rotation_tol`` (matrix entries) and
    centre within ``position_tol_m`` metres. Fewer cameras than at training time is fine.

    Example:
        >>> from closecap.cameras import ring_rig
        >>> rig_difference(ring_rig(5), ring_rig(5).subset(["cam00", "cam02"]))
        ''
        >>> rig_difference(ring_rig(5), ring_rig(5, radius_m=5.0))
        'camera cam00 is turned 3.2 degrees'
        >>> rig_difference(ring_rig(5), ring_rig(5, focal_px=900.0))
        'camera cam00 has other intrinsics or distortion'
    """
    for name in used.names:
        if name not in trained.names:
            return f"camera {name} is not one of {list(trained.names)}"
        a, b = trained.cameras[trained.index(name)], used.cameras[used.index(name)]
        if (a.width, a.height) != (b.width, b.height):
            return f"camera {name} has {b.width} x {b.height} images, not {a.width} x {a.height}"
        scale = max(float(np.abs(a.K).max()), 1.0)
        if np.abs(a.K - b.K).max() > intrinsics_tol * scale or np.abs(a.dist - b.dist).max() > intrinsics_tol:
            return f"camera {name} has other intrinsics or distortion"
        if np.abs(a.R - b.R).max() > rotation_tol:
            return f"camera {name} is turned {np.degrees(np.arccos(np.clip((np.trace(a.R @ b.R.T) - 1) / 2, -1, 1))):.1f} degrees"
        moved = float(np.linalg.norm(a.center_world - b.center_world))
        if moved > position_tol_m:
            return f"camera {name} is {moved:.2f} m from where it was"
    return ""


def reconstruct_files(calib_path: str | Path, keypoints_path: str | Path, out_path: str | Path,
                      config: ReconstructConfig = ReconstructConfig(), *, camera_type: str | None = None,
                      progress: bool = False) -> Poses3D:
    """Read a calibration and 2D keypoints, reconstruct, write ``out_path`` (``.json`` / ``.npz`` / ``.csv`` / ``.trc``)
    and ``<out stem>.config.json``. Nothing is written if any step fails."""
    from closecap.io.calibration import load_rig
    from closecap.io.keypoints import read_detections, write_poses

    out_path = Path(out_path)
    if out_path.suffix.lower() not in (".json", ".npz", ".csv", ".trc"):
        raise InputError(out_path, None, "output must end in .json, .npz, .csv or .trc")
    rig = load_rig(calib_path, camera_type=camera_type)
    detections = read_detections(keypoints_path, rig.names)
    poses = reconstruct(detections, rig, config, progress=progress)
    run_config = {"reconstruct": config.to_dict(), "calibration": str(calib_path), "keypoints2d": str(keypoints_path)}
    write_poses(poses, out_path, config=run_config, fps=config.baseline.track.fps)
    save_json(out_path.with_name(out_path.stem + ".config.json"), run_config)
    return poses

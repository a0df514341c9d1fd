"""A synthetic or recorded *scene folder*: one layout shared by ``closecap synth``, ``demo``, tests and benchmarks.

Layout::

    SCENE/calibration.json                                   closecap calibration (metres)
    SCENE/keypoints2d/<cam>/<cam>_<frame:012d>_keypoints.json OpenPose BODY_25, raw-image pixels
    SCENE/gt.json                                            closecap-3d ground truth (COCO-17, metres), if known
    SCENE/settings.json                                      how the scene was made (configs, seed)
"""
from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from closecap.cameras import Rig
from closecap.config import save_json
from closecap.errors import InputError
from closecap.poses import Detections2D, Poses3D


@dataclass(frozen=True)
class SceneFiles:
    """Paths of the parts of a scene folder."""

    root: Path

    @property
    def calibration(self) -> Path:
        return self.root / "calibration.json"

    @property
    def keypoints2d(self) -> Path:
        return self.root / "keypoints2d"

    @property
    def gt(self) -> Path:
        return self.root / "gt.json"

    @property
    def settings(self) -> Path:
        return self.root / "settings.json"


def write_scene(out_dir: str | Path, rig: Rig, detections: Detections2D, gt: Poses3D | None = None,
                settings: dict | None = None) -> SceneFiles:
    """Write a scene folder. The folder is assembled under a temporary name and renamed into place,
    so a failure leaves nothing half-written; an existing non-empty ``out_dir`` that is not a scene is refused."""
    from closecap.io.calibration import save_rig
    from closecap.io.keypoints import write_openpose, write_poses

    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / "calibration.json").exists():
        raise InputError(out_dir, None, "folder exists and is not a closecap scene; choose an empty or new folder")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        files = SceneFiles(tmp)
        save_rig(rig, files.calibration)
        write_openpose(detections, files.keypoints2d, joint_set="body25")
        if gt is not None:
            write_poses(gt, files.gt)
        save_json(files.settings, settings or {})
        if out_dir.exists():
            shutil.rmtree(out_dir)
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o777 & ~umask)  # mkdtemp makes 0700; a scene gets the usual permissions
        tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return SceneFiles(out_dir)

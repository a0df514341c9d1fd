"""closecap: markerless 3D motion capture of several people in close interaction.

The public API (everything the CLI does, from Python):

Example:
    >>> import closecap
    >>> rig = closecap.ring_rig(5)
    >>> gt, detections = closecap.make_scene(rig, closecap.SynthConfig(seed=1))
    >>> pred = closecap.reconstruct(detections, rig)
    >>> result = closecap.evaluate(pred, gt)
    >>> bool(result.recall_500mm > 0.9)
    True
"""
from closecap.cameras import Camera, Rig, ring_rig
from closecap.errors import CloseCapError, InputError
from closecap.io.calibration import load_rig, save_rig
from closecap.io.keypoints import read_detections, read_poses, write_openpose, write_poses
from closecap.metrics import EvalConfig, evaluate, format_table
from closecap.poses import Detections2D, Poses3D
from closecap.reconstruct import ReconstructConfig, reconstruct, reconstruct_files
from closecap.synth.generate import SynthConfig, make_scene

__version__ = "0.1.0"

__all__ = [
    "Camera", "Rig", "ring_rig", "CloseCapError", "InputError", "load_rig", "save_rig", "read_detections", "read_poses",
    "write_openpose", "write_poses", "EvalConfig", "evaluate", "format_table", "Detections2D", "Poses3D",
    "ReconstructConfig", "reconstruct", "reconstruct_files", "SynthConfig", "make_scene",
]

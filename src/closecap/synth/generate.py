"""One synthetic scene = motion capture composed in the user's rig + simulated detector output.

``make_scene(rig, config)`` returns ground-truth 3D people and the noisy 2D detections a real
detector would give in that rig; ``closecap synth`` and ``closecap demo`` write them with
:func:`closecap.io.scene.write_scene`.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from closecap.cameras import Rig
from closecap.config import Config
from closecap.errors import InputError
from closecap.poses import Detections2D, Poses3D
from closecap.synth.noise import NoiseConfig, simulate_detections
from closecap.synth.scenes import SceneConfig, compose_scene


@dataclasses.dataclass(frozen=True)
class SynthConfig(Config):
    """Settings of one synthetic scene."""

    scene: SceneConfig = SceneConfig()
    """How people and motions are composed (count, frames, distances)."""
    noise: NoiseConfig = NoiseConfig()
    """How the simulated 2D detector errs (default: fitted to a real detector)."""
    seed: int = 0
    """Seed of everything random in the scene; same seed, same scene."""
    split: str = "train"
    """Which part of the motion library to draw from: ``train`` or ``test`` (held-out takes)."""


def noise_preset(name: str) -> NoiseConfig:
    """Noise settings by name: ``realistic`` (default), ``none`` (exact), ``occlusion-heavy``, ``gaussian:<sigma_px>``.

    Example:
        >>> noise_preset("none") == NoiseConfig.none()
        True
    """
    if name == "realistic":
        return NoiseConfig()
    if name == "none":
        return NoiseConfig.none()
    if name == "occlusion-heavy":
        return NoiseConfig.occlusion_heavy()
    if name.startswith("gaussian:"):
        try:
            sigma = float(name.split(":", 1)[1])
        except ValueError:
            raise InputError(None, "noise", f"bad gaussian sigma in {name!r}; use e.g. gaussian:3") from None
        return NoiseConfig.gaussian(sigma)
    raise InputError(None, "noise", f"unknown noise preset {name!r}; use realistic, none, occlusion-heavy or gaussian:<px>")


def make_scene(rig: Rig, config: SynthConfig = SynthConfig(), library=None) -> tuple[Poses3D, Detections2D]:
    """Compose people from the motion library in ``rig`` and simulate the detector.

    Returns:
        ground truth :class:`Poses3D` (COCO-17, metres) and :class:`Detections2D` (raw-image pixels).
    """
    from closecap.synth.library import load_library

    library = load_library() if library is None else library
    rng = np.random.default_rng(config.seed)
    gt = compose_scene(library.split(config.split), rig, config.scene, rng)
    detections, _ = simulate_detections(gt.joints, rig, config.noise, rng, frames=gt.frames)
    return gt, detections

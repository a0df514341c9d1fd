"""Training of the conditional volumetric network on synthetic scenes: samples, losses, loop, checkpoints.

**Samples.** A scene = motion capture from the library's ``train`` split composed in the rig
(:func:`closecap.synth.scenes.compose_scene`) + the simulated detector (:func:`closecap.synth.noise.simulate_detections`,
realistic noise, the occlusion-heavy preset mixed in with probability ``occlusion_heavy_fraction``).
From ``frames_per_scene`` random frames, every person ``p`` gives one sample: the frame's 2D heatmaps
(rendered once per frame from the *noisy* keypoints) unprojected into a cube centred at ``p``'s
ground-truth mid-hip plus ``center_noise_m`` of Gaussian noise (at inference: the estimated centre),
anchors at the noisy centres of everyone, and ``p``'s ground truth.

**Losses** (here, not in the model):

* HEM: CornerNet's focal loss (Law & Deng 2018, eq. 1; ``alpha = 2``, ``beta = 4``) between HEM's
  sigmoid heatmaps and 3D Gaussians (``target_sigma_m``) at *all* people's joints, maximum over people;
  the positives are the voxels nearest to each joint inside the cube; normalised by their count.
* KLM: L1 (metres) between the soft-argmax joints and ``p``'s ground-truth joints inside the cube, plus
  (``klm_heatmap_weight``) the KL divergence from normalised Gaussians at ``p``'s joints to KLM's softmax
  (:func:`distribution_loss`).

**Checkpoints** are ``{"state_dict", "config", "rig", "version", "step", "optimizer"}`` (tensors, dicts,
lists, strings and numbers only: ``torch.load(path, weights_only=True)`` reads them), written atomically
every ``checkpoint_every`` steps and at the end, with ``<stem>.config.json`` beside them.

Example:
    >>> cfg = TrainConfig(steps=1, batch_size=2, model=ModelConfig(grid=VoxelGrid(2.0, 8), widths=(4, 8)))
    >>> cfg.to_dict()["model"]["grid"]
    {'size_m': 2.0, 'resolution': 8}
"""
from __future__ import annotations

import io
import itertools
import math
import pickle
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from closecap.cameras import Rig
from closecap.centers import anchor_volumes, centers_from_joints
from closecap.config import Config, atomic_write_bytes, save_json
from closecap.errors import CloseCapError, InputError
from closecap.io.calibration import rig_from_dict, rig_to_dict
from closecap.model import ModelConfig, VolumetricNet
from closecap.synth.noise import NoiseConfig, simulate_detections
from closecap.synth.rigs import RigConfig, random_rig
from closecap.synth.scenes import SceneConfig, compose_scene
from closecap.volumes import (VoxelGrid, distance_mask, gaussian_volume, render_rig_heatmaps, rig_tensors,
                              unproject_heatmaps)

CHECKPOINT_VERSION = 2  # 2: KLM has a per-joint residual gain on the HEM heatmaps
DEVICES = ("auto", "cpu", "cuda")
MAX_PEOPLE = 6  # scenes have 2-6 people (SceneConfig)


@dataclass(frozen=True)
class TrainConfig(Config):
    """Settings of :func:`train`: data, losses, optimisation."""

    model: ModelConfig = field(default_factory=ModelConfig)
    """The network (architecture, cube, input heatmap rendering)."""
    random_rigs: bool = False
    """Draw a new rig per scene from ``rig_config`` (generalises across rigs) instead of the rig given to :func:`train`."""
    rig_config: RigConfig = field(default_factory=RigConfig)
    """Ranges of the random rigs (``random_rigs`` only)."""
    scene: SceneConfig = field(default_factory=lambda: SceneConfig(num_frames=8, fps=30.0))
    """How training scenes are composed; short scenes at 30 fps (the noise model's frame rate) keep them varied."""
    noise: NoiseConfig = field(default_factory=NoiseConfig)
    """The simulated 2D detector (default: realistic)."""
    occlusion_heavy_fraction: float = 0.3
    """Fraction of scenes whose noise is :meth:`NoiseConfig.occlusion_heavy` instead of ``noise``."""
    split: str = "train"
    """Motion library split the scenes come from (``test`` is held out for evaluation)."""
    library_path: str = ""
    """Motion library file (:func:`closecap.synth.library.save_library`, e.g. from ``closecap train --motions DIR``);
    empty = the library shipped with closecap."""
    frames_per_scene: int = 2
    """Frames used from each scene (each gives one sample per person)."""
    center_noise_m: float = 0.05
    """Standard deviation of the cube and anchor centres around the ground-truth mid-hips, metres (per axis)."""
    target_sigma_m: float = 0.08
    """Sigma of HEM's 3D Gaussian targets, metres."""
    focal_alpha: float = 2.0
    """Focal loss exponent on the prediction (CornerNet alpha)."""
    focal_beta: float = 4.0
    """Focal loss exponent reducing the penalty of negatives near a joint (CornerNet beta)."""
    klm_weight: float = 10.0
    """Weight of KLM's L1 loss (metres) against HEM's focal loss."""
    klm_heatmap_weight: float = 0.5
    """Weight of KLM's distribution loss: the KL divergence from a 3D Gaussian (``target_sigma_m``) at *this*
    person's joint, normalised over the cube, to ``softmax(klm_logits)`` -- the very distribution the
    soft-argmax averages (nats; 0 = L1 alone). L1 through a soft-argmax has weak gradients when the mass is
    split between two people's joints (it moves the mean, not the mode); the KL term teaches KLM which peak
    is this person's directly (Sun et al. 2018, "Integral Human Pose Regression", combine both). A sigmoid focal
    loss here was worse in a first 750-step run: it leaves much softmax mass on the far voxels."""
    temporal_mask_fraction: float = 0.3
    """Fraction of samples whose HEM heatmaps are masked as by the inference's temporal filter (around the
    ground truth moved by ``temporal_jitter_m``), so that KLM learns to use masked input."""
    temporal_radius_m: float = 0.3
    """Radius of that mask, metres (use the inference's ``temporal_radius_m``)."""
    temporal_jitter_m: float = 0.05
    """Standard deviation of the mask centres around the ground truth, metres (last frame's error + motion)."""
    steps: int = 2000
    """Optimisation steps."""
    batch_size: int = 8
    """Person cubes per step."""
    lr: float = 1e-3
    """Adam learning rate (the peak, with ``lr_schedule``)."""
    lr_schedule: str = "cosine"
    """``cosine``: the rate follows half a cosine from ``lr`` at step 0 to 0 at ``steps`` (sharper final
    joints); ``constant``: ``lr`` throughout. Computed from the step, so resuming continues the schedule."""
    seed: int = 0
    """Seed of the scenes, the noise and the initial weights."""
    device: str = "auto"
    """``auto`` (CUDA when available), ``cpu`` or ``cuda``."""
    checkpoint_every: int = 100
    """Write the checkpoint every this many steps (and at the end)."""

    def __post_init__(self) -> None:
        if self.device not in DEVICES:
            raise InputError(None, "TrainConfig.device", f"expected one of {DEVICES}, got {self.device!r}")
        if self.lr_schedule not in ("cosine", "constant"):
            raise InputError(None, "TrainConfig.lr_schedule", f"expected 'cosine' or 'constant', got {self.lr_schedule!r}")
        if self.split not in ("train", "test"):
            raise InputError(None, "TrainConfig.split", f"expected 'train' or 'test', got {self.split!r}")
        for name in ("steps", "batch_size", "frames_per_scene", "checkpoint_every"):
            if int(getattr(self, name)) < 1:
                raise InputError(None, f"TrainConfig.{name}", f"must be >= 1, got {getattr(self, name)}")
        for name in ("occlusion_heavy_fraction", "temporal_mask_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise InputError(None, f"TrainConfig.{name}", f"must be in [0, 1], got {getattr(self, name)}")
        for name in ("target_sigma_m", "lr", "temporal_radius_m"):
            if not getattr(self, name) > 0:
                raise InputError(None, f"TrainConfig.{name}", f"must be > 0, got {getattr(self, name)}")


@dataclass(frozen=True)
class TrainBatch:
    """``B`` person cubes ready for :class:`~closecap.model.VolumetricNet` and the losses.

    Attributes:
        unprojected: ``(B, J, X, Y, Z)`` unprojected 2D heatmaps.
        anchors: ``(B, 2, X, Y, Z)`` anchor volumes.
        centers_world: ``(B, 3)`` metres, cube centres.
        person_joints: ``(B, J, 3)`` metres, ground truth of the cube's person (NaN = absent).
        people_joints: ``(B, 6, J, 3)`` metres, ground truth of everyone in the frame (NaN-padded).
        temporal_mask: ``(B, J, X, Y, Z)`` mask of HEM's heatmaps (ones where not simulated).
    """

    unprojected: torch.Tensor
    anchors: torch.Tensor
    centers_world: torch.Tensor
    person_joints: torch.Tensor
    people_joints: torch.Tensor
    temporal_mask: torch.Tensor

    def __len__(self) -> int:
        return int(self.unprojected.shape[0])

    def to(self, device) -> "TrainBatch":
        """A copy on ``device``."""
        return TrainBatch(*(getattr(self, n).to(device) for n in
                            ("unprojected", "anchors", "centers_world", "person_joints", "people_joints", "temporal_mask")))

    @staticmethod
    def cat(batches: list["TrainBatch"]) -> "TrainBatch":
        """Concatenate along the batch axis."""
        names = ("unprojected", "anchors", "centers_world", "person_joints", "people_joints", "temporal_mask")
        return TrainBatch(*(torch.cat([getattr(b, n) for b in batches]) for n in names))

    def take(self, index) -> "TrainBatch":
        """The cubes at ``index`` (a slice, an int array or a bool mask)."""
        names = ("unprojected", "anchors", "centers_world", "person_joints", "people_joints", "temporal_mask")
        return TrainBatch(*(getattr(self, n)[index] for n in names))


# ----------------------------------------------------------------------------- samples


def frame_samples(keypoints, people_world: np.ndarray, rig: Rig, config: TrainConfig, rng: np.random.Generator,
                  rig_torch: dict[str, torch.Tensor] | None = None) -> TrainBatch:
    """The training cubes of one frame: one per person present.

    Args:
        keypoints: ``V`` arrays ``(P_v, J, 3)`` noisy 2D people (raw image pixels, score), in ``rig``'s order.
        people_world: ``(P, J, 3)`` metres, ground truth (NaN = absent).
        rig: the cameras. config: the training settings. rng: randomness (centre noise, masks).
        rig_torch: :func:`closecap.volumes.rig_tensors` of ``rig`` (computed when ``None``).

    Returns:
        :class:`TrainBatch` of ``P'`` cubes (people with a centre), on the CPU.

    Example:
        >>> from closecap.cameras import ring_rig
        >>> rig = ring_rig(3, width=320, height=240, focal_px=200.0)
        >>> people = np.random.default_rng(0).normal(size=(2, 17, 3)) * 0.2 + [0.0, 0.0, 1.0]
        >>> uv, _ = rig.project(people)
        >>> views = [np.concatenate([uv[v], np.ones((2, 17, 1))], -1) for v in range(3)]
        >>> cfg = TrainConfig(model=ModelConfig(grid=VoxelGrid(2.0, 8), widths=(4, 8)))
        >>> batch = frame_samples(views, people, rig, cfg, np.random.default_rng(0))
        >>> len(batch), tuple(batch.unprojected.shape), tuple(batch.people_joints.shape)
        (2, (2, 17, 8, 8, 8), (2, 6, 17, 3))
    """
    model = config.model
    grid = model.grid
    people_world = np.asarray(people_world, dtype=float)
    centers = centers_from_joints(people_world)  # (P, 3)
    present = np.isfinite(centers).all(-1)
    people_world, centers = people_world[present], centers[present]
    P, J = people_world.shape[:2]
    noisy = torch.tensor(centers + rng.normal(0.0, config.center_noise_m, centers.shape), dtype=torch.float32)  # (P, 3)
    rig_torch = rig_tensors(rig) if rig_torch is None else rig_torch
    heatmaps = torch.from_numpy(render_rig_heatmaps(keypoints, rig.image_sizes, model.stride, model.heatmap_sigma_px))
    unprojected = unproject_heatmaps(heatmaps, **rig_torch, stride=model.stride, centers_world=noisy, grid=grid)
    anchors = anchor_volumes(noisy, grid, model.anchor_sigma_m)  # (P, 2, X, Y, Z)
    person = torch.tensor(people_world, dtype=torch.float32)  # (P, J, 3)
    everyone = torch.full((P, MAX_PEOPLE, J, 3), float("nan"))
    everyone[:, :P] = person[None]
    previous = person + torch.tensor(rng.normal(0.0, config.temporal_jitter_m, person.shape), dtype=torch.float32)
    masked = torch.tensor(rng.random(P) < config.temporal_mask_fraction)  # (P,)
    previous = torch.where(masked[:, None, None], previous, torch.full_like(previous, float("nan")))
    mask = distance_mask(previous, noisy, grid, config.temporal_radius_m)  # (P, J, X, Y, Z), ones when not masked
    return TrainBatch(unprojected, anchors, noisy, person, everyone, mask)


def scene_samples(config: TrainConfig, rng: np.random.Generator, rig: Rig | None = None, library=None) -> TrainBatch:
    """Compose one scene, simulate its detector, and cut ``frames_per_scene`` frames into person cubes.

    Args:
        config: the training settings. rng: randomness of the scene, the noise and the samples.
        rig: the cameras (required unless ``config.random_rigs``). library: the whole motion library
            (default: :func:`closecap.synth.library.load_library`); split ``config.split`` is used.
    """
    from closecap.synth.library import load_library

    library = (load_library(config.library_path or None) if library is None else library).split(config.split)
    if config.random_rigs:
        rig = random_rig(rng, config.rig_config)
    elif rig is None:
        raise InputError(None, "rig", "a rig is required unless TrainConfig.random_rigs is set")
    for _ in range(5):  # a random rig may leave nobody room; draw again
        try:
            scene = compose_scene(library, rig, config.scene, rng)
            break
        except CloseCapError:
            if not config.random_rigs:
                raise
            rig = random_rig(rng, config.rig_config)
    else:
        raise CloseCapError("training: could not compose a scene in 5 random rigs")
    noise = NoiseConfig.occlusion_heavy() if rng.random() < config.occlusion_heavy_fraction else config.noise
    detections, _ = simulate_detections(scene.joints, rig, noise, rng)
    count = min(int(config.frames_per_scene), scene.num_frames)
    frames = rng.choice(scene.num_frames, size=count, replace=False)
    rig_torch = rig_tensors(rig)
    return TrainBatch.cat([frame_samples(detections.keypoints[t], scene.joints[t], rig, config, rng, rig_torch)
                           for t in sorted(frames.tolist())])


def sample_stream(config: TrainConfig, rig: Rig | None, start_step: int = 0, library=None, *,
                  workers: int | None = None, address: str | None = None) -> Iterator[TrainBatch]:
    """Endless batches of ``config.batch_size`` cubes; scenes are drawn from ``rng([seed, scene index])``
    so a resumed run continues with fresh, reproducible scenes.

    With ``workers`` (or ``address``), the scenes are made on Ray workers
    (:func:`closecap.synth.distributed.train_scene_stream`): the same scenes in the same order, so the same
    batches as the serial stream."""
    pool: list[TrainBatch] = []
    first_scene = int(start_step) * 1_000
    if workers is not None or address is not None:
        from closecap.synth.distributed import train_scene_stream

        scenes = train_scene_stream(config, rig, first_scene, workers=workers, address=address)
    else:
        if library is None:
            from closecap.synth.library import load_library

            library = load_library(config.library_path or None)  # once, not per scene
        scenes = (scene_samples(config, np.random.default_rng([config.seed, index]), rig, library)
                  for index in itertools.count(first_scene))
    shuffle = np.random.default_rng([config.seed, start_step, 1])
    while True:
        while sum(len(b) for b in pool) < 2 * config.batch_size:
            pool.append(next(scenes))
        merged = TrainBatch.cat(pool)
        order = torch.from_numpy(shuffle.permutation(len(merged)))
        yield merged.take(order[: config.batch_size])
        pool = [merged.take(order[config.batch_size:])]


# ----------------------------------------------------------------------------- losses


def heatmap_targets(people_joints: torch.Tensor, centers_world: torch.Tensor, grid: VoxelGrid,
                    sigma_m: float) -> tuple[torch.Tensor, torch.Tensor]:
    """HEM's targets: Gaussians at all people's joints and the voxels nearest to them.

    Args:
        people_joints: ``(B, Q, J, 3)`` metres (NaN = absent). centers_world: ``(B, 3)`` cube centres.
        grid: the cube. sigma_m: Gaussian sigma, metres.

    Returns:
        ``target (B, J, X, Y, Z)`` in [0, 1] (maximum over people; 1 at the positives) and
        ``positive (B, J, X, Y, Z)`` bool (the voxel nearest to each joint inside the cube).

    Example:
        >>> t, pos = heatmap_targets(torch.tensor([[[[0.1, 0.0, 0.0]]]]), torch.zeros(1, 3), VoxelGrid(1.0, 4), 0.1)
        >>> int(pos.sum()), float(t.max())
        (1, 1.0)
    """
    B, Q, J, _ = people_joints.shape
    R = int(grid.resolution)
    flat = people_joints.reshape(B, Q * J, 3)
    target = gaussian_volume(flat, centers_world, grid, sigma_m).reshape(B, Q, J, R, R, R).amax(1)  # (B, J, X, Y, Z)
    inside = grid.contains(flat, centers_world)  # (B, Q*J)
    rel = flat - centers_world[:, None, :]
    index = torch.floor((rel + 0.5 * float(grid.size_m)) / grid.voxel_size_m).clamp(0, R - 1)
    index = torch.nan_to_num(index).long()  # (B, Q*J, 3)
    linear = (index[..., 0] * R + index[..., 1]) * R + index[..., 2]  # (B, Q*J)
    channel = torch.arange(J, device=flat.device).repeat(Q)[None].expand(B, -1)  # (B, Q*J)
    batch = torch.arange(B, device=flat.device)[:, None].expand(-1, Q * J)
    positive = torch.zeros(B, J, R * R * R, dtype=torch.bool, device=flat.device)
    positive[batch[inside], channel[inside], linear[inside]] = True
    positive = positive.reshape(B, J, R, R, R)
    return torch.where(positive, torch.ones_like(target), target), positive


def focal_loss(logits: torch.Tensor, target: torch.Tensor, positive: torch.Tensor, alpha: float = 2.0,
               beta: float = 4.0) -> torch.Tensor:
    """CornerNet focal loss on Gaussian targets, summed and divided by the number of positives (>= 1).

    Args:
        logits: ``(B, J, X, Y, Z)`` raw predictions. target: same shape, in [0, 1].
        positive: same shape, bool. alpha, beta: the exponents.

    Example:
        >>> t = torch.zeros(1, 1, 2, 2, 2); pos = torch.zeros_like(t, dtype=torch.bool); pos[0, 0, 0, 0, 0] = True
        >>> good = torch.where(pos, torch.tensor(8.0), torch.tensor(-8.0))
        >>> bool(focal_loss(good, t, pos) < focal_loss(-good, t, pos))
        True
    """
    prob = torch.sigmoid(logits)
    log_p, log_not_p = F.logsigmoid(logits), F.logsigmoid(-logits)
    pos_loss = -((1 - prob) ** alpha) * log_p
    neg_loss = -((1 - target) ** beta) * (prob ** alpha) * log_not_p
    total = torch.where(positive, pos_loss, neg_loss).sum()
    return total / positive.sum().clamp(min=1)


def joint_l1_loss(joints_world: torch.Tensor, target_world: torch.Tensor, centers_world: torch.Tensor,
                  grid: VoxelGrid) -> torch.Tensor:
    """Mean L1 (metres, summed over x y z) over joints whose ground truth is finite and inside the cube.

    ``joints_world``, ``target_world``: ``(B, J, 3)``; ``centers_world``: ``(B, 3)``. 0 when no joint counts.

    Example:
        >>> float(joint_l1_loss(torch.zeros(1, 1, 3), torch.full((1, 1, 3), 0.1), torch.zeros(1, 3), VoxelGrid()))
        0.30000001192092896
    """
    valid = grid.contains(target_world, centers_world)  # (B, J)
    diff = (joints_world - torch.nan_to_num(target_world)).abs().sum(-1)  # (B, J)
    return torch.where(valid, diff, torch.zeros_like(diff)).sum() / valid.sum().clamp(min=1)


def distribution_loss(logits: torch.Tensor, target_world: torch.Tensor, centers_world: torch.Tensor, grid: VoxelGrid,
                      sigma_m: float) -> torch.Tensor:
    """Mean KL divergence (nats) from normalised 3D Gaussians at the targets to ``softmax(logits)`` per joint.

    Args:
        logits: ``(B, J, X, Y, Z)``. target_world: ``(B, J, 3)`` metres (joints outside the cube or NaN do
            not count). centers_world: ``(B, 3)`` metres. grid: the cube. sigma_m: the Gaussians' sigma.

    Returns:
        Scalar, 0 when no joint counts; 0 exactly when the softmax equals the normalised Gaussian.

    Example:
        >>> grid, c = VoxelGrid(1.0, 8), torch.zeros(1, 3)
        >>> t = torch.tensor([[[0.1, 0.0, -0.2]]])
        >>> exact = torch.log(gaussian_volume(t, c, grid, 0.1))
        >>> float(distribution_loss(exact, t, c, grid, 0.1)) < 1e-5 < float(distribution_loss(-exact, t, c, grid, 0.1))
        True
    """
    B, J = logits.shape[:2]
    valid = grid.contains(target_world, centers_world)  # (B, J)
    target = gaussian_volume(torch.nan_to_num(target_world), centers_world, grid, sigma_m).reshape(B, J, -1)
    target = target / target.sum(-1, keepdim=True).clamp(min=1e-12)
    log_q = F.log_softmax(logits.reshape(B, J, -1), dim=-1)
    kl = (target * (torch.log(target.clamp(min=1e-12)) - log_q)).sum(-1)  # (B, J)
    return torch.where(valid, kl, torch.zeros_like(kl)).sum() / valid.sum().clamp(min=1)


@dataclass(frozen=True)
class Losses:
    """One step's losses: ``total`` (differentiable), ``hem`` (focal), ``klm_m`` (mean L1, metres),
    ``klm_heatmap`` (KLM's auxiliary focal loss)."""

    total: torch.Tensor
    hem: float
    klm_m: float
    klm_heatmap: float


def compute_losses(model: VolumetricNet, batch: TrainBatch, config: TrainConfig) -> Losses:
    """Forward ``batch`` through ``model`` and compute both losses (see the module docstring).

    Example:
        >>> cfg = TrainConfig(model=ModelConfig(grid=VoxelGrid(2.0, 8), widths=(4, 8)))
        >>> z = torch.zeros(1, 17, 8, 8, 8)
        >>> batch = TrainBatch(z, torch.zeros(1, 2, 8, 8, 8), torch.zeros(1, 3), torch.zeros(1, 17, 3),
        ...                    torch.zeros(1, 6, 17, 3), torch.ones_like(z))
        >>> losses = compute_losses(VolumetricNet(cfg.model), batch, cfg)
        >>> bool(losses.total > 0)
        True
    """
    grid = config.model.grid
    out = model(batch.unprojected, None if config.model.unconditional else batch.anchors, batch.centers_world,
                batch.temporal_mask)
    target, positive = heatmap_targets(batch.people_joints, batch.centers_world, grid, config.target_sigma_m)
    hem = focal_loss(out.hem_logits, target, positive, config.focal_alpha, config.focal_beta)
    klm = joint_l1_loss(out.joints_world, batch.person_joints, batch.centers_world, grid)
    total = hem + config.klm_weight * klm
    klm_heatmap = torch.zeros(())
    if config.klm_heatmap_weight > 0:
        klm_heatmap = distribution_loss(out.klm_logits, batch.person_joints, batch.centers_world, grid,
                                        config.target_sigma_m)
        total = total + config.klm_heatmap_weight * klm_heatmap
    return Losses(total, float(hem.detach()), float(klm.detach()), float(klm_heatmap.detach()))


# ----------------------------------------------------------------------------- checkpoints


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available else CPU; ``cuda`` without CUDA raises :class:`InputError`."""
    if name not in DEVICES:
        raise InputError(None, "device", f"expected one of {DEVICES}, got {name!r}")
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError(None, "device", "cuda requested but not available")
    return torch.device("cuda" if name == "cuda" or (name == "auto" and torch.cuda.is_available()) else "cpu")


def save_checkpoint(path: str | Path, model: VolumetricNet, config: TrainConfig, rig: Rig | None, step: int,
                    optimizer: torch.optim.Optimizer | None = None) -> None:
    """Write the checkpoint atomically (``torch.save`` into memory, then rename) and ``<stem>.config.json``."""
    path = Path(path)
    payload = {
        "version": CHECKPOINT_VERSION,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "config": config.to_dict(),
        "rig": None if rig is None else rig_to_dict(rig),
        "step": int(step),
        "optimizer": None if optimizer is None else _cpu(optimizer.state_dict()),
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(path, buffer.getvalue())
    save_json(path.with_name(path.stem + ".config.json"),
              {"train": config.to_dict(), "version": CHECKPOINT_VERSION, "step": int(step),
               "rig": None if rig is None else rig_to_dict(rig)})


def _cpu(obj):
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_cpu(v) for v in obj)
    return obj


def load_checkpoint(path: str | Path) -> dict:
    """The raw checkpoint dict, read with ``weights_only=True``; :class:`InputError` if unreadable."""
    path = Path(path)
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as err:
        raise InputError(path, None, f"cannot read checkpoint: {err}") from None
    if not isinstance(data, dict) or data.get("version") != CHECKPOINT_VERSION:
        raise InputError(path, "version", f"expected a closecap checkpoint of version {CHECKPOINT_VERSION}")
    for key in ("state_dict", "config", "rig"):
        if key not in data:
            raise InputError(path, key, "missing")
    return data


def load_model(path: str | Path, device: str = "cpu") -> tuple[VolumetricNet, TrainConfig]:
    """A trained network (eval mode, on ``device``) and the config it was trained with.

    Example:
        >>> import tempfile, pathlib
        >>> cfg = TrainConfig(model=ModelConfig(grid=VoxelGrid(2.0, 8), widths=(4, 8)))
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "m.pt"
        >>> save_checkpoint(path, VolumetricNet(cfg.model), cfg, None, step=0)
        >>> model, config = load_model(path)
        >>> config.to_dict() == cfg.to_dict(), model.training
        (True, False)
    """
    data = load_checkpoint(path)
    config = TrainConfig.from_dict(data["config"], source=str(path))
    model = VolumetricNet(config.model)
    try:
        model.load_state_dict(data["state_dict"])
    except RuntimeError as err:
        raise InputError(path, "state_dict", f"does not match its config: {err}") from None
    return model.to(resolve_device(device)).eval(), config


def checkpoint_rig(path: str | Path) -> Rig | None:
    """The rig a checkpoint was trained for, or ``None`` (trained on random rigs)."""
    data = load_checkpoint(path)
    return None if data["rig"] is None else rig_from_dict(data["rig"], str(path))


# ----------------------------------------------------------------------------- loop


@dataclass(frozen=True)
class TrainResult:
    """Summary of :func:`train`: steps done, last losses (mean over the last 20 steps), seconds, samples/s."""

    steps: int
    hem_loss: float
    klm_loss_m: float
    seconds: float
    samples_per_second: float


def learning_rate(config: TrainConfig, step: int) -> float:
    """The rate of step ``step`` (0-based) under ``config.lr_schedule``.

    Example:
        >>> cfg = TrainConfig(lr=1e-3, steps=100)
        >>> learning_rate(cfg, 0), round(learning_rate(cfg, 50), 6), learning_rate(cfg.replace(lr_schedule="constant"), 99)
        (0.001, 0.0005, 0.001)
    """
    if config.lr_schedule == "constant":
        return float(config.lr)
    return float(config.lr) * 0.5 * (1.0 + math.cos(math.pi * min(int(step), int(config.steps)) / int(config.steps)))


def train(config: TrainConfig, out_path: str | Path, rig: Rig | None = None, *, resume: bool = False,
          progress: bool = True, library=None, workers: int | None = None, address: str | None = None) -> TrainResult:
    """Train :class:`~closecap.model.VolumetricNet` on synthetic scenes and write the checkpoint.

    Args:
        config: see :class:`TrainConfig`.
        out_path: checkpoint path (``.pt``); ``<stem>.config.json`` is written beside it.
        rig: the rig to train for (stored in the checkpoint); required unless ``config.random_rigs``.
        resume: continue from ``out_path`` when it exists (its config must equal ``config`` except ``steps``).
        progress: show a tqdm bar with the losses.
        library: motion library (default: the packaged one).
        workers, address: make the training scenes on that many Ray workers (a local Ray instance, or the
            cluster at ``address``) instead of in this process; the same batches either way.

    Returns:
        :class:`TrainResult`.
    """
    out_path = Path(out_path)
    if rig is None and not config.random_rigs:
        raise InputError(None, "rig", "a rig is required unless TrainConfig.random_rigs is set")
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    model = VolumetricNet(config.model).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    start = 0
    if resume and out_path.exists():
        data = load_checkpoint(out_path)
        saved = TrainConfig.from_dict(data["config"], source=str(out_path))
        if saved.replace(steps=config.steps).to_dict() != config.to_dict():
            raise InputError(out_path, "config", "differs from the checkpoint's (only steps may change on --resume)")
        model.load_state_dict(data["state_dict"])
        if data.get("optimizer") is not None:
            optimizer.load_state_dict(data["optimizer"])
        start = int(data.get("step", 0))
    stream = sample_stream(config, rig, start, library, workers=workers, address=address)
    steps = range(start, int(config.steps))
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=int(config.steps), initial=start, desc="train", unit="step")
    history: list[tuple[float, float]] = []
    begin = time.perf_counter()
    samples = 0
    step = start
    model.train()
    for step in steps:
        batch = next(stream).to(device)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(config, step)
        losses = compute_losses(model, batch, config)
        optimizer.zero_grad(set_to_none=True)
        losses.total.backward()
        optimizer.step()
        samples += len(batch)
        history.append((losses.hem, losses.klm_m))
        if bar is not None:
            bar.update(1)
            bar.set_postfix(hem=f"{losses.hem:.3f}", klm_cm=f"{100 * losses.klm_m:.1f}", klm_hm=f"{losses.klm_heatmap:.3f}")
        if (step + 1) % config.checkpoint_every == 0:
            save_checkpoint(out_path, model, config, rig if not config.random_rigs else None, step + 1, optimizer)
    done = max(int(config.steps), start)
    save_checkpoint(out_path, model, config, rig if not config.random_rigs else None, done, optimizer)
    if bar is not None:
        bar.close()
    seconds = time.perf_counter() - begin
    recent = np.array(history[-20:]) if history else np.full((1, 2), np.nan)
    return TrainResult(done, float(recent[:, 0].mean()), float(recent[:, 1].mean()), seconds,
                       samples / seconds if seconds > 0 else float("nan"))

